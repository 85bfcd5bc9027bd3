package azure

import (
	"testing"

	"github.com/keyless-dev/keyless/pkg/cloud"
)

// TestRemoveLeavesAdopted: a credential Keyless adopted (the same issuer
// and subject under a name that is not Keyless's) is never deleted, even
// when Remove gets its ID, as the controller passes the recorded one:
// Remove deletes only by Keyless's own name.
func TestRemoveLeavesAdopted(t *testing.T) {
	for _, name := range []string{"made-by-hand", "terraform-ns-app", CredentialName("staging", "ns", "app")} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, nil)
			e.seed(t, name, testIssuer, subject("ns", "app"))
			c := conn("ns", "app")
			res, err := e.p.Ensure(ctx(t), c)
			if err != nil || res.Action != cloud.Adopted {
				t.Fatalf("Ensure = %+v, %v; want Adopted", res, err)
			}
			for _, known := range []string{res.ID, ""} {
				c.KnownID = known
				got, err := e.p.Remove(ctx(t), c)
				if err != nil || got.Action != cloud.Absent {
					t.Errorf("Remove with known ID %q = %+v, %v; want Absent", known, got, err)
				}
			}
			creds := e.sim.Credentials(testSub, testRG, testUAMI)
			if len(creds) != 1 || creds[0].Name != name || creds[0].Subject != subject("ns", "app") {
				t.Errorf("credentials %+v, want %s as it was", creds, name)
			}
		})
	}
}
