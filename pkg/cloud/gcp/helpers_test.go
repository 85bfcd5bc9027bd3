package gcp

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/keyless-dev/keyless/pkg/annotations"
	"github.com/keyless-dev/keyless/pkg/cloud"
	fakegcp "github.com/keyless-dev/keyless/pkg/fakecloud/gcp"
)

const (
	gsa     = "app@demo-project.iam.gserviceaccount.com"
	pool    = "demo-project.svc.id.goog"
	project = "demo-project"
)

// newEnv returns a provider using the real IAM client against a simulator
// holding gsa and the enabled pool.
func newEnv(t *testing.T, o Options) (*Provider, *fakegcp.Server) {
	t.Helper()
	return newEnvWith(t, o, nil)
}

// newEnvWith is newEnv with wrap, if given, in front of the simulator.
func newEnvWith(t *testing.T, o Options, wrap func(http.Handler) http.Handler) (*Provider, *fakegcp.Server) {
	t.Helper()
	sim := fakegcp.New()
	sim.AddServiceAccount(gsa)
	sim.EnablePool(pool)
	var h http.Handler = sim
	if wrap != nil {
		h = wrap(sim)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	o.WorkloadPool, o.Endpoint, o.WithoutAuthentication = pool, srv.URL, true
	if o.Backoff == 0 {
		o.Backoff, o.MaxBackoff = time.Millisecond, 4*time.Millisecond
	}
	p, err := New(t.Context(), o)
	if err != nil {
		t.Fatal(err)
	}
	return p, sim
}

func conn(name string) cloud.Connection {
	return cloud.Connection{
		Subject: cloud.Subject{Namespace: "default", Name: name},
		GCP:     &annotations.GCPServiceAccount{Email: gsa, Project: project, Name: "app"},
	}
}

func subject(name string) cloud.Subject { return cloud.Subject{Namespace: "default", Name: name} }

// ksa is the member of ServiceAccount default/name.
func ksa(name string) string { return fmt.Sprintf("serviceAccount:%s[default/%s]", pool, name) }

// seed writes bindings to gsa's policy out of band.
func seed(t *testing.T, sim *fakegcp.Server, bindings ...fakegcp.Binding) {
	t.Helper()
	if err := sim.SetPolicy(gsa, fakegcp.Policy{Bindings: bindings}); err != nil {
		t.Fatal(err)
	}
}

func policy(t *testing.T, sim *fakegcp.Server) fakegcp.Policy {
	t.Helper()
	p, ok := sim.Policy(gsa)
	if !ok {
		t.Fatalf("no service account %s", gsa)
	}
	return p
}

// count returns how often m appears in unconditional Role bindings.
func count(p fakegcp.Policy, m string) int {
	n := 0
	for _, b := range p.Bindings {
		if b.Role != Role || b.Condition != nil {
			continue
		}
		for _, x := range b.Members {
			if x == m {
				n++
			}
		}
	}
	return n
}

var (
	tokenCreator = fakegcp.Binding{Role: "roles/iam.serviceAccountTokenCreator", Members: []string{"user:ops@example.com"}}
	condGrant    = fakegcp.Binding{Role: Role, Members: []string{ksa("batch")},
		Condition: &fakegcp.Expr{Title: "office hours", Expression: `request.time.getHours("Europe/Berlin") < 18`}}
	condOther = fakegcp.Binding{Role: "roles/iam.serviceAccountUser", Members: []string{"group:devs@example.com"},
		Condition: &fakegcp.Expr{Title: "until 2030", Description: "temporary", Expression: `request.time < timestamp("2030-01-01T00:00:00Z")`}}
)
