package aws

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/keyless-dev/keyless/pkg/cloud"
)

// TestClusterARNWithoutAccount: a role given by name needs the cluster's
// account; a cluster ARN that is not an ARN, or names no account, is an
// error rather than an ARN with an empty account.
func TestClusterARNWithoutAccount(t *testing.T) {
	for _, clusterARN := range []string{"arn:aws:eks:us-west-2::cluster/prod", "not-an-arn"} {
		t.Run(clusterARN, func(t *testing.T) {
			e := newEnv(t, func(next http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if r.Method != http.MethodGet || r.URL.Path != "/clusters/"+testCluster {
						next.ServeHTTP(w, r)
						return
					}
					w.Header().Set("Content-Type", "application/json")
					_, _ = w.Write([]byte(`{"cluster":{"name":"prod","arn":"` + clusterARN + `","status":"ACTIVE"}}`))
				})
			})
			_, err := e.p.Ensure(context.Background(), conn("ns", "sa", role("orders")))
			if !errors.Is(err, cloud.ErrInvalid) || !strings.Contains(err.Error(), "which names no account") {
				t.Errorf("Ensure: %v, want %v saying the cluster ARN names no account", err, cloud.ErrInvalid)
			}
			if n := len(e.sim.Associations()); n != 0 {
				t.Errorf("%d associations made, want none", n)
			}
		})
	}
}
