package azure

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/keyless-dev/keyless/pkg/cloud"
	fakearm "github.com/keyless-dev/keyless/test/fakecloud/azure"
)

func TestEnsure(t *testing.T) {
	tests := []struct {
		name      string
		setup     func(t *testing.T, e env)
		sa        string
		identity  string // default testUAMI
		want      cloud.Action
		wantErr   error
		wantPuts  int
		wantCreds int
	}{
		{name: "create", want: cloud.Created, wantPuts: 1, wantCreds: 1},
		{name: "unchanged", setup: ensureOnce, want: cloud.Unchanged, wantCreds: 1},
		{name: "crash after create", want: cloud.Unchanged, wantCreds: 1, setup: func(t *testing.T, e env) {
			e.seed(t, CredentialName(testCluster, "ns", "app"), testIssuer, subject("ns", "app"))
		}},
		{name: "drift: subject changed", want: cloud.Updated, wantPuts: 1, wantCreds: 1, setup: func(t *testing.T, e env) {
			e.seed(t, CredentialName(testCluster, "ns", "app"), testIssuer, subject("ns", "other"))
		}},
		{name: "drift: issuer without trailing slash", want: cloud.Updated, wantPuts: 1, wantCreds: 1, setup: func(t *testing.T, e env) {
			e.seed(t, CredentialName(testCluster, "ns", "app"), strings.TrimSuffix(testIssuer, "/"), subject("ns", "app"))
		}},
		{name: "drift: deleted out of band", want: cloud.Created, wantPuts: 1, wantCreds: 1, setup: func(t *testing.T, e env) {
			ensureOnce(t, e)
			e.sim.DeleteCredential(testSub, testRG, testUAMI, CredentialName(testCluster, "ns", "app"))
		}},
		{name: "adopt a foreign credential", want: cloud.Adopted, wantCreds: 1, setup: func(t *testing.T, e env) {
			e.seed(t, "made-by-hand", testIssuer, subject("ns", "app"))
		}},
		{name: "foreign credential for someone else", want: cloud.Created, wantPuts: 1, wantCreds: 2, setup: func(t *testing.T, e env) {
			e.seed(t, "made-by-hand", testIssuer, subject("ns", "other"))
		}},
		{name: "19 others, over two pages", want: cloud.Created, wantPuts: 1, wantCreds: 20, setup: seedOthers(19)},
		{name: "20 others: the limit, without a PUT", wantErr: cloud.ErrLimit, wantCreds: 20, setup: seedOthers(20)},
		{name: "missing identity", identity: "uami-gone", wantErr: cloud.ErrNotFound},
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
			puts := e.puts()
			res, err := e.p.Ensure(ctx(t), c)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Fatalf("error %v, want %v", err, tt.wantErr)
			}
			if res.Action != tt.want {
				t.Errorf("action %q, want %q", res.Action, tt.want)
			}
			if got := e.puts() - puts; got != tt.wantPuts {
				t.Errorf("%d PUTs, want %d", got, tt.wantPuts)
			}
			if got := len(e.sim.Credentials(testSub, testRG, testUAMI)); got != tt.wantCreds {
				t.Errorf("%d credentials, want %d", got, tt.wantCreds)
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
		})
	}
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
	// Someone else creates the same issuer+subject between our LIST and PUT.
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
	res, err := e.p.Ensure(ctx(t), conn("ns", "app"))
	if err != nil || res.Action != cloud.Adopted || !strings.HasSuffix(res.ID, "/made-by-hand") {
		t.Fatalf("got %+v, %v; want the racing credential adopted", res, err)
	}
	if n := len(e.sim.Credentials(testSub, testRG, testUAMI)); n != 1 {
		t.Errorf("%d credentials, want 1", n)
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
