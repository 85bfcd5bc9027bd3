package aws

import (
	"testing"
	"time"
)

// TestClientRequestTokenAfterDelete: a token is bound to its first answer
// for TokenLifetime, whatever happened to the association since.
func TestClientRequestTokenAfterDelete(t *testing.T) {
	tests := []struct {
		name      string
		later     time.Duration // from the first Create to the second
		role      string
		status    int
		wantFirst bool // the second answer is the deleted association
		wantMade  int  // associations made in all
	}{
		{name: "same token and parameters: the deleted association again", later: time.Minute,
			role: testRole, status: 200, wantFirst: true, wantMade: 1},
		{name: "just before the lifetime ends: still the deleted association", later: TokenLifetime - time.Second,
			role: testRole, status: 200, wantFirst: true, wantMade: 1},
		{name: "same token, other parameters: refused", later: time.Minute,
			role: "arn:aws:iam::111122223333:role/other", status: 400, wantMade: 1},
		{name: "token expired: a new association", later: TokenLifetime,
			role: testRole, status: 200, wantMade: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newTestServer()
			now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
			s.SetClock(func() time.Time { return now })
			first := createBody("ns", "sa", testRole)
			first["clientRequestToken"] = "tok-1"
			id, _ := call(t, s, "POST", assocPath, first).assoc()["associationId"].(string)
			if err := s.DeleteAssociation(testCluster, id); err != nil {
				t.Fatal(err)
			}
			now = now.Add(tt.later)
			again := createBody("ns", "sa", tt.role)
			again["clientRequestToken"] = "tok-1"
			r := call(t, s, "POST", assocPath, again)
			if r.status != tt.status {
				t.Fatalf("status %d (%s %v), want %d", r.status, r.errType, r.body, tt.status)
			}
			if got := r.assoc()["associationId"]; r.status == 200 && (got == id) != tt.wantFirst {
				t.Errorf("answered %v; the first association was %v, want it again = %t", got, id, tt.wantFirst)
			}
			if n := s.Created(); n != tt.wantMade {
				t.Errorf("Created() = %d, want %d", n, tt.wantMade)
			}
			if n, want := len(s.Associations()), tt.wantMade-1; n != want {
				t.Errorf("%d associations, want %d", n, want)
			}
		})
	}
}
