package azure

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/keyless-dev/keyless/pkg/cloud"
	fakearm "github.com/keyless-dev/keyless/pkg/fakecloud/azure"
)

func TestEnsure(t *testing.T) {
	ours := CredentialName(testCluster, "ns", "app")
	tests := []struct {
		name      string
		setup     func(t *testing.T, e env)
		known     string // the credential whose ID the caller knows; "" on a first sync
		knownID   string // or this ID
		identity  string // default testUAMI
		want      cloud.Action
		wantErr   error
		wantCalls map[string]int // to credentials, exactly
		wantCreds int
	}{
		{name: "first sync: a Get and a PUT", want: cloud.Created, wantCalls: calls(1, 1, 0), wantCreds: 1},
		{name: "first sync, ours already there: a crash before recording", want: cloud.Unchanged, wantCalls: calls(0, 1, 0), wantCreds: 1,
			setup: func(t *testing.T, e env) { e.seed(t, ours, testIssuer, subject("ns", "app")) }},
		{name: "first sync, ours drifted: updated", want: cloud.Updated, wantCalls: calls(1, 1, 0), wantCreds: 1,
			setup: func(t *testing.T, e env) { e.seed(t, ours, testIssuer, subject("ns", "other")) }},
		{name: "first sync: adopt a foreign credential", want: cloud.Adopted, wantCalls: calls(1, 1, 1), wantCreds: 1,
			setup: func(t *testing.T, e env) { e.seed(t, "made-by-hand", testIssuer, subject("ns", "app")) }},
		{name: "first sync: foreign credential for someone else", want: cloud.Created, wantCalls: calls(1, 1, 0), wantCreds: 2,
			setup: func(t *testing.T, e env) { e.seed(t, "made-by-hand", testIssuer, subject("ns", "other")) }},
		{name: "first sync: the 20th", want: cloud.Created, wantCalls: calls(1, 1, 0), wantCreds: 20, setup: seedOthers(19)},
		{name: "first sync: the 21st is refused, listed over two pages", wantErr: cloud.ErrLimit, wantCalls: calls(1, 1, 2), wantCreds: 20,
			setup: seedOthers(20)},
		{name: "first sync: the 21st adopts a foreign credential", want: cloud.Adopted, wantCalls: calls(1, 1, 2), wantCreds: 20,
			setup: func(t *testing.T, e env) {
				seedOthers(19)(t, e)
				e.seed(t, "made-by-hand", testIssuer, subject("ns", "app"))
			}},
		{name: "resync: unchanged", known: ours, want: cloud.Unchanged, wantCalls: calls(0, 1, 0), wantCreds: 1, setup: ensureOnce},
		{name: "resync: subject changed", known: ours, want: cloud.Updated, wantCalls: calls(1, 1, 0), wantCreds: 1,
			setup: func(t *testing.T, e env) { e.seed(t, ours, testIssuer, subject("ns", "other")) }},
		{name: "resync: issuer without trailing slash", known: ours, want: cloud.Updated, wantCalls: calls(1, 1, 0), wantCreds: 1,
			setup: func(t *testing.T, e env) { e.seed(t, ours, strings.TrimSuffix(testIssuer, "/"), subject("ns", "app")) }},
		{name: "resync: deleted out of band", known: ours, want: cloud.Created, wantCalls: calls(1, 1, 0), wantCreds: 1,
			setup: func(t *testing.T, e env) {
				ensureOnce(t, e)
				e.sim.DeleteCredential(testSub, testRG, testUAMI, ours)
			}},
		{name: "resync: deleted, and a foreign credential in its place", known: ours, want: cloud.Adopted, wantCalls: calls(1, 1, 1), wantCreds: 1,
			setup: func(t *testing.T, e env) { e.seed(t, "made-by-hand", testIssuer, subject("ns", "app")) }},
		{name: "resync: deleted, and the identity full", known: ours, wantErr: cloud.ErrLimit, wantCalls: calls(1, 1, 2), wantCreds: 20,
			setup: seedOthers(20)},
		{name: "resync: adopted", known: "made-by-hand", want: cloud.Adopted, wantCalls: calls(0, 1, 0), wantCreds: 1,
			setup: func(t *testing.T, e env) { e.seed(t, "made-by-hand", testIssuer, subject("ns", "app")) }},
		{name: "resync: adopted one now trusts another subject", known: "made-by-hand", want: cloud.Created, wantCalls: calls(1, 1, 1), wantCreds: 2,
			setup: func(t *testing.T, e env) { e.seed(t, "made-by-hand", testIssuer, subject("ns", "other")) }},
		{name: "resync: adopted one deleted", known: "made-by-hand", want: cloud.Created, wantCalls: calls(1, 1, 1), wantCreds: 1},
		{name: "resync: the ID of another identity's credential", knownID: "/subscriptions/" + testSub +
			"/resourcegroups/" + testRG + "/providers/Microsoft.ManagedIdentity/userAssignedIdentities/uami-old/federatedIdentityCredentials/made-by-hand",
			want: cloud.Unchanged, wantCalls: calls(0, 1, 0), wantCreds: 1,
			setup: func(t *testing.T, e env) { e.seed(t, ours, testIssuer, subject("ns", "app")) }},
		{name: "missing identity", identity: "uami-gone", wantErr: cloud.ErrNotFound, wantCalls: calls(0, 0, 0)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, nil)
			if tt.setup != nil {
				tt.setup(t, e)
			}
			c := conn("ns", "app")
			if tt.identity != "" {
				c.Azure.Name = tt.identity
			}
			c.KnownID = tt.knownID
			if tt.known != "" {
				c.KnownID = credentialID(tt.known)
			}
			before := e.sim.Calls()
			res, err := e.p.Ensure(ctx(t), c)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Fatalf("error %v, want %v", err, tt.wantErr)
			}
			if res.Action != tt.want {
				t.Errorf("action %q, want %q", res.Action, tt.want)
			}
			got := diff(e.sim.Calls(), before)
			if got[fakearm.OpGetIdentity] > 1 {
				t.Errorf("%d identity lookups, want at most 1", got[fakearm.OpGetIdentity])
			}
			delete(got, fakearm.OpGetIdentity)
			if fmt.Sprint(got) != fmt.Sprint(tt.wantCalls) {
				t.Errorf("calls %v, want %v", got, tt.wantCalls)
			}
			if got := len(e.sim.Credentials(testSub, testRG, testUAMI)); got != tt.wantCreds {
				t.Errorf("%d credentials, want %d", got, tt.wantCreds)
			}
			if errors.Is(err, cloud.ErrLimit) && !strings.Contains(err.Error(), "already has 20 federated credentials, the most Azure allows; "+
				"remove unused ones or use another identity") {
				t.Errorf("the limit error does not say what to do: %v", err)
			}
			if err != nil {
				return
			}
			if res.ClientID != testClientID {
				t.Errorf("client ID %q, want %q", res.ClientID, testClientID)
			}
			if !trusted(e, res.ID) {
				t.Errorf("result ID %q is not a credential trusting ns/app: %+v", res.ID, e.sim.Credentials(testSub, testRG, testUAMI))
			}
			// The next resync, given the ID as the controller records it, reads one credential.
			c.KnownID = res.ID
			before = e.sim.Calls()
			again, err := e.p.Ensure(ctx(t), c)
			wantAgain := cloud.Unchanged
			if res.Action == cloud.Adopted {
				wantAgain = cloud.Adopted
			}
			if err != nil || again.Action != wantAgain || again.ID != res.ID {
				t.Errorf("resync with the ID: %+v, %v; want %s of %s", again, err, wantAgain, res.ID)
			}
			if got := diff(e.sim.Calls(), before); fmt.Sprint(got) != fmt.Sprint(calls(0, 1, 0)) {
				t.Errorf("resync with the ID: calls %v, want %v", got, calls(0, 1, 0))
			}
		})
	}
}

// calls is a count of credential calls, leaving out those that are zero.
func calls(puts, gets, lists int) map[string]int {
	out := map[string]int{}
	for op, n := range map[string]int{fakearm.OpPutCredential: puts, fakearm.OpGetCredential: gets, fakearm.OpListCredentials: lists} {
		if n > 0 {
			out[op] = n
		}
	}
	return out
}

// credentialID is the resource ID Azure gives the test identity's credential name.
func credentialID(name string) string {
	return "/subscriptions/" + testSub + "/resourcegroups/" + testRG +
		"/providers/Microsoft.ManagedIdentity/userAssignedIdentities/" + testUAMI + "/federatedIdentityCredentials/" + name
}

func ensureOnce(t *testing.T, e env) {
	t.Helper()
	if _, err := e.p.Ensure(ctx(t), conn("ns", "app")); err != nil {
		t.Fatal(err)
	}
}

func seedOthers(n int) func(t *testing.T, e env) {
	return func(t *testing.T, e env) {
		for i := range n {
			e.seed(t, fmt.Sprintf("other-%02d", i), testIssuer, subject("ns", fmt.Sprintf("other-%02d", i)))
		}
	}
}

// trusted reports whether id names a credential that trusts ns/app exactly.
func trusted(e env, id string) bool {
	for _, c := range e.sim.Credentials(testSub, testRG, testUAMI) {
		if c.ID == id {
			return c.Issuer == testIssuer && c.Subject == subject("ns", "app") && len(c.Audiences) == 1 && c.Audiences[0] == Audience
		}
	}
	return false
}

func TestEnsureAdoptsAfterRacingWrite(t *testing.T) {
	// Someone else creates the same issuer+subject just before our PUT.
	tests := []struct {
		name      string
		known     string
		wantCalls map[string]int
	}{
		{name: "first sync", wantCalls: calls(1, 1, 1)},
		{name: "resync after ours was deleted", known: CredentialName(testCluster, "ns", "app"), wantCalls: calls(1, 1, 1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var e env
			var raced atomic.Bool
			e = newEnv(t, func(next http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if r.Method == http.MethodPut && raced.CompareAndSwap(false, true) {
						c := fakearm.Credential{Name: "made-by-hand", Issuer: testIssuer, Subject: subject("ns", "app"), Audiences: []string{Audience}}
						if err := e.sim.PutCredential(testSub, testRG, testUAMI, c); err != nil {
							t.Error(err)
						}
					}
					next.ServeHTTP(w, r)
				})
			})
			c := conn("ns", "app")
			if tt.known != "" {
				c.KnownID = credentialID(tt.known)
			}
			res, err := e.p.Ensure(ctx(t), c)
			if err != nil || res.Action != cloud.Adopted || res.ID != credentialID("made-by-hand") {
				t.Fatalf("got %+v, %v; want the racing credential adopted", res, err)
			}
			got := e.sim.Calls()
			delete(got, fakearm.OpGetIdentity)
			if fmt.Sprint(got) != fmt.Sprint(tt.wantCalls) {
				t.Errorf("calls %v, want %v", got, tt.wantCalls)
			}
			if n := len(e.sim.Credentials(testSub, testRG, testUAMI)); n != 1 {
				t.Errorf("%d credentials, want 1", n)
			}
		})
	}
}

// TestLimitRefusal: whatever Azure says when it refuses a first write, a
// listing tells the limit apart from other refusals.
func TestLimitRefusal(t *testing.T) {
	tests := []struct {
		name      string
		others    int
		status    int
		code, msg string
		want      error
		contains  string
	}{
		{name: "400, unknown wording, full", others: 20, status: 400, code: "BadRequest", msg: "Quota exceeded.", want: cloud.ErrLimit,
			contains: "already has 20 federated credentials, the most Azure allows; remove unused ones or use another identity"},
		{name: "409, other code, full", others: 20, status: 409, code: "Conflict", msg: "Too many credentials.", want: cloud.ErrLimit},
		{name: "400, not full", others: 19, status: 400, code: "BadRequest", msg: "Something else is wrong.", want: cloud.ErrInvalid,
			contains: "Something else is wrong."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, func(next http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if r.Method != http.MethodPut {
						next.ServeHTTP(w, r)
						return
					}
					w.Header().Set("Content-Type", "application/json")
					w.WriteHeader(tt.status)
					fmt.Fprintf(w, `{"error":{"code":%q,"message":%q}}`, tt.code, tt.msg)
				})
			})
			seedOthers(tt.others)(t, e)
			_, err := e.p.Ensure(ctx(t), conn("ns", "app"))
			if !errors.Is(err, tt.want) || !strings.Contains(fmt.Sprint(err), tt.contains) {
				t.Errorf("error %v, want %v saying %q", err, tt.want, tt.contains)
			}
		})
	}
}

func TestIdentityLookupCached(t *testing.T) {
	e := newEnv(t, nil)
	for _, sa := range []string{"a", "b", "c"} {
		if _, err := e.p.Ensure(ctx(t), conn("ns", sa)); err != nil {
			t.Fatal(err)
		}
	}
	if n := e.sim.Calls()[fakearm.OpGetIdentity]; n != 1 {
		t.Errorf("%d identity lookups for three ServiceAccounts, want 1", n)
	}
	// The identity is deleted and made again with a new client ID.
	e.sim.RemoveIdentity(testSub, testRG, testUAMI)
	if _, err := e.p.Ensure(ctx(t), conn("ns", "a")); !errors.Is(err, cloud.ErrNotFound) {
		t.Fatalf("after deleting the identity: %v, want ErrNotFound", err)
	}
	e.sim.AddIdentity(testSub, testRG, testUAMI, "22222222-2222-2222-2222-222222222222")
	res, err := e.p.Ensure(ctx(t), conn("ns", "a"))
	if err != nil || res.ClientID != "22222222-2222-2222-2222-222222222222" || res.Action != cloud.Created {
		t.Errorf("got %+v, %v; want Created with the new client ID", res, err)
	}
}
