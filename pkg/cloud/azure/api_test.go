package azure

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/keyless-dev/keyless/pkg/cloud"
)

// TestClientsPerSubscriptionBounded: the subscription of an identity comes
// from a ServiceAccount's annotation, so tenants choose it; the clients
// kept per subscription stay within maxSubscriptions however many they
// name, and a subscription whose clients were dropped works as before.
func TestClientsPerSubscriptionBounded(t *testing.T) {
	sim := newSim()
	o := serve(t, sim)
	clients := sdkClients(o.Credential, o.clientOptions())
	p := newProvider(o, clients.get)

	if res, err := p.Ensure(ctx(t), conn("ns", "app")); err != nil || res.Action != cloud.Created {
		t.Fatalf("Ensure = %+v, %v; want Created", res, err)
	}
	for i := range 2 * maxSubscriptions {
		c := conn("ns", "app")
		c.Azure.SubscriptionID = fmt.Sprintf("%08x-0000-0000-0000-000000000000", i+100)
		if _, err := p.Ensure(ctx(t), c); err == nil {
			t.Fatalf("Ensure in subscription %s with no identity succeeded", c.Azure.SubscriptionID)
		}
		if n := clients.len(); n > maxSubscriptions {
			t.Fatalf("clients of %d subscriptions kept, want at most %d", n, maxSubscriptions)
		}
	}
	if clients.holds(testSub) {
		t.Fatalf("the clients of %s are still kept after %d other subscriptions", testSub, 2*maxSubscriptions)
	}
	if res, err := p.Ensure(ctx(t), conn("ns", "app")); err != nil || res.Action != cloud.Unchanged {
		t.Errorf("Ensure after its clients were dropped = %+v, %v; want Unchanged", res, err)
	}
	if res, err := p.Remove(ctx(t), conn("ns", "app")); err != nil || res.Action != cloud.Deleted {
		t.Errorf("Remove = %+v, %v; want Deleted", res, err)
	}
}

// TestClientCacheDropsLeastRecentlyUsed: a subscription in use keeps its
// clients; the one unused longest goes first.
func TestClientCacheDropsLeastRecentlyUsed(t *testing.T) {
	tests := []struct {
		name     string
		uses     []string
		wantKept []string
		wantMade int
	}{
		{"within the bound", []string{"a", "b", "c"}, []string{"a", "b", "c"}, 3},
		{"oldest dropped", []string{"a", "b", "c", "d"}, []string{"b", "c", "d"}, 4},
		{"a used again is kept", []string{"a", "b", "c", "a", "d"}, []string{"a", "c", "d"}, 4},
		{"case does not matter", []string{"a", "A", "b", "c", "d"}, []string{"b", "c", "d"}, 4},
		{"dropped then used again: made anew", []string{"a", "b", "c", "d", "a"}, []string{"a", "c", "d"}, 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			made := 0
			c := newClientCache(3, func(string) (armClients, error) {
				made++
				return armClients{}, nil
			})
			for _, sub := range tt.uses {
				if _, err := c.get(sub); err != nil {
					t.Fatal(err)
				}
			}
			var kept []string
			for _, sub := range []string{"a", "b", "c", "d"} {
				if c.holds(sub) {
					kept = append(kept, sub)
				}
			}
			if !slices.Equal(kept, tt.wantKept) || c.len() != len(tt.wantKept) || made != tt.wantMade {
				t.Errorf("kept %v (len %d), made %d; want %v, made %d", kept, c.len(), made, tt.wantKept, tt.wantMade)
			}
		})
	}
}

// TestClientCacheKeepsNoFailure: a subscription whose clients could not
// be made takes no place.
func TestClientCacheKeepsNoFailure(t *testing.T) {
	c := newClientCache(3, func(sub string) (armClients, error) {
		if strings.HasPrefix(sub, "bad") {
			return armClients{}, fmt.Errorf("no clients for %s", sub)
		}
		return armClients{}, nil
	})
	if _, err := c.get("bad-1"); err == nil {
		t.Fatal("get(bad-1) succeeded")
	}
	if c.len() != 0 {
		t.Errorf("len %d after a failure, want 0", c.len())
	}
}
