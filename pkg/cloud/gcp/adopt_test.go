package gcp

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/keyless-dev/keyless/pkg/cloud"
	fakegcp "github.com/keyless-dev/keyless/pkg/fakecloud/gcp"
)

// TestAdoptedWhenAlreadyThere: a member that was in the policy before the
// call is Adopted, so that the controller, which alone knows whether it
// wrote the member earlier, can leave one it did not write alone. A member
// this call may have written itself is Created.
func TestAdoptedWhenAlreadyThere(t *testing.T) {
	tests := []struct {
		name     string
		setup    func(*testing.T, *Provider, *fakegcp.Server)
		wrap     func(sim func() *fakegcp.Server) func(http.Handler) http.Handler
		want     cloud.Action
		wantSets int // by the call under test, refused ones included
	}{
		{name: "granted by another tool (or another cluster of the pool)", want: cloud.Adopted,
			setup: func(t *testing.T, _ *Provider, sim *fakegcp.Server) {
				seed(t, sim, tokenCreator, fakegcp.Binding{Role: Role, Members: []string{ksa("web")}})
			}},
		{name: "granted by Keyless in an earlier call", want: cloud.Adopted,
			setup: func(t *testing.T, p *Provider, _ *fakegcp.Server) {
				if r, err := p.Ensure(t.Context(), conn("web")); err != nil || r.Action != cloud.Created {
					t.Fatalf("first Ensure = %+v, %v; want Created", r, err)
				}
			}},
		{name: "not there: created", want: cloud.Created, wantSets: 1},
		{name: "added by another writer between read and write (409)", want: cloud.Adopted, wantSets: 1,
			wrap: func(sim func() *fakegcp.Server) func(http.Handler) http.Handler {
				return onFirstSet(func(next http.Handler, w http.ResponseWriter, r *http.Request) {
					if err := sim().SetPolicy(gsa, fakegcp.Policy{Bindings: []fakegcp.Binding{{Role: Role, Members: []string{ksa("web")}}}}); err != nil {
						t.Error(err)
					}
					next.ServeHTTP(w, r) // the etag no longer matches: 409 ABORTED
				})
			}},
		{name: "our write landed but its answer was a 503", want: cloud.Created, wantSets: 1,
			wrap: func(func() *fakegcp.Server) func(http.Handler) http.Handler {
				return onFirstSet(func(next http.Handler, w http.ResponseWriter, r *http.Request) {
					next.ServeHTTP(httptest.NewRecorder(), r)
					w.Header().Set("Content-Type", "application/json")
					w.WriteHeader(http.StatusServiceUnavailable)
					_, _ = w.Write([]byte(`{"error":{"code":503,"message":"The service is currently unavailable.","status":"UNAVAILABLE"}}`))
				})
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var wrap func(http.Handler) http.Handler
			var sim *fakegcp.Server // set before any request
			if tt.wrap != nil {
				wrap = tt.wrap(func() *fakegcp.Server { return sim })
			}
			p, sim := newEnvWith(t, Options{}, wrap)
			if tt.setup != nil {
				tt.setup(t, p, sim)
			}
			sets := sim.Calls()[fakegcp.OpSetIamPolicy]
			got, err := p.Ensure(t.Context(), conn("web"))
			if err != nil {
				t.Fatal(err)
			}
			if got.Action != tt.want {
				t.Errorf("Ensure = %s, want %s", got.Action, tt.want)
			}
			if n := sim.Calls()[fakegcp.OpSetIamPolicy] - sets; n != tt.wantSets {
				t.Errorf("%d setIamPolicy calls, want %d", n, tt.wantSets)
			}
			if n := count(policy(t, sim), ksa("web")); n != 1 {
				t.Errorf("member granted %d times, want once", n)
			}
		})
	}
}

// onFirstSet hands the first setIamPolicy request to f and passes the rest on.
func onFirstSet(f func(next http.Handler, w http.ResponseWriter, r *http.Request)) func(http.Handler) http.Handler {
	var once sync.Once
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			first := false
			if strings.HasSuffix(r.URL.Path, ":setIamPolicy") {
				once.Do(func() { first = true })
			}
			if first {
				f(next, w, r)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}
