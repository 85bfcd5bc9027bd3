package aws

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/keyless-dev/keyless/pkg/cloud"
)

// TestCreateAfterDeletionWithLostID: Keyless lost the ID of an association
// it made (a status removed, a crash before the record), and the
// association was deleted since. EKS answers a create with the same token
// with the deleted association for 24 hours; Ensure must notice and make a
// live one, not report the dead one as created.
func TestCreateAfterDeletionWithLostID(t *testing.T) {
	for _, tt := range []struct {
		name    string
		age     time.Duration // of the first association when the second create comes
		deleted bool
	}{
		{name: "deleted an hour ago", age: time.Hour, deleted: true},
		{name: "deleted a minute ago", age: time.Minute, deleted: true},
		{name: "still there, made an hour ago", age: time.Hour},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, nil)
			var mu sync.Mutex
			now := time.Now().Add(-tt.age)
			e.sim.SetClock(func() time.Time { mu.Lock(); defer mu.Unlock(); return now })
			c := conn("shop", "api", role("orders-api"))
			first := e.mustEnsure(t, c)
			if tt.deleted {
				if _, err := e.p.Remove(context.Background(), withID(c, first.ID)); err != nil {
					t.Fatal(err)
				}
			}
			mu.Lock()
			now = time.Now()
			mu.Unlock()

			second := e.mustEnsure(t, c) // no KnownID: the ID was lost
			live := e.sim.Associations()
			if len(live) != 1 {
				t.Fatalf("%d associations, want 1: %+v", len(live), live)
			}
			if second.ID != live[0].AssociationID {
				t.Errorf("Ensure reported %s (%s), but the live association is %s", second.ID, second.Action, live[0].AssociationID)
			}
			if tt.deleted == (second.ID == first.ID) {
				t.Errorf("second ID %s, first %s: want a new association only after a deletion", second.ID, first.ID)
			}
		})
	}
}

func withID(c cloud.Connection, id string) cloud.Connection {
	c.KnownID = id
	return c
}
