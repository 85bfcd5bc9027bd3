package azure

import (
	"strings"
	"testing"

	"github.com/keyless-dev/keyless/pkg/cloud"
)

func TestRemove(t *testing.T) {
	tests := []struct {
		name      string
		setup     func(t *testing.T, e env)
		identity  string
		want      cloud.Action
		wantCreds int
	}{
		{name: "deletes ours", setup: ensureOnce, want: cloud.Deleted},
		{name: "nothing there", want: cloud.Absent},
		{name: "adopted credential left alone", want: cloud.Absent, wantCreds: 1, setup: func(t *testing.T, e env) {
			e.seed(t, "made-by-hand", testIssuer, subject("ns", "app"))
			ensureOnce(t, e)
		}},
		{name: "other ServiceAccounts' credentials kept", want: cloud.Deleted, wantCreds: 1, setup: func(t *testing.T, e env) {
			ensureOnce(t, e)
			if _, err := e.p.Ensure(ctx(t), conn("ns", "other")); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "identity gone", identity: "uami-gone", want: cloud.Absent},
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
			res, err := e.p.Remove(ctx(t), c)
			if err != nil {
				t.Fatal(err)
			}
			if res.Action != tt.want {
				t.Errorf("action %q, want %q", res.Action, tt.want)
			}
			if tt.want == cloud.Deleted && !strings.HasSuffix(res.ID, "/federatedIdentityCredentials/"+CredentialName(testCluster, "ns", "app")) {
				t.Errorf("ID %q does not name the deleted credential", res.ID)
			}
			if got := len(e.sim.Credentials(testSub, testRG, testUAMI)); got != tt.wantCreds {
				t.Errorf("%d credentials left, want %d", got, tt.wantCreds)
			}
			if _, ok := e.ours("ns", "app"); ok {
				t.Error("Keyless's credential for ns/app is still there")
			}
		})
	}
}
