package gcp

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/keyless-dev/keyless/pkg/annotations"
	"github.com/keyless-dev/keyless/pkg/cloud"
	"github.com/keyless-dev/keyless/pkg/cloud/internal/ratetest"
	"github.com/keyless-dev/keyless/pkg/fakecloud"
	fakegcp "github.com/keyless-dev/keyless/pkg/fakecloud/gcp"
)

// TestLimitCountsEveryRequest runs many Ensures at once and checks that
// the HTTP requests sent (each read-modify-write redone after a 409
// included) never outpace the limiter.
func TestLimitCountsEveryRequest(t *testing.T) {
	tests := []struct {
		name   string
		limit  rate.Limit
		burst  int
		faults fakecloud.Faults
	}{
		{name: "20/s, burst 1", limit: 20, burst: 1},
		{name: "40/s, burst 5", limit: 40, burst: 5},
		{name: "20/s, burst 1, a third of the writes 409 and redone", limit: 20, burst: 1, faults: fakecloud.Faults{Conflict: 0.3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sim := fakegcp.New()
			sim.EnablePool(pool)
			var conns []cloud.Connection
			for i := range 11 {
				email := fmt.Sprintf("app-%d@%s.iam.gserviceaccount.com", i, project)
				sim.AddServiceAccount(email)
				conns = append(conns, cloud.Connection{
					Subject: cloud.Subject{Namespace: "default", Name: fmt.Sprintf("app-%d", i)},
					GCP:     &annotations.GCPServiceAccount{Email: email, Project: project, Name: fmt.Sprintf("app-%d", i)},
				})
			}
			srv := httptest.NewServer(sim)
			t.Cleanup(srv.Close)
			var sent requests
			p, err := New(t.Context(), Options{
				WorkloadPool: pool, Endpoint: srv.URL, HTTPClient: sent.client(),
				MaxAttempts: 30, Backoff: time.Millisecond, MaxBackoff: 4 * time.Millisecond,
				Limiter: rate.NewLimiter(tt.limit, tt.burst),
			})
			if err != nil {
				t.Fatal(err)
			}

			if _, err := p.Ensure(t.Context(), conns[0]); err != nil {
				t.Fatal(err)
			}
			sent.WarmedUp()
			sim.SetFaults(tt.faults)
			var wg sync.WaitGroup
			for _, c := range conns[1:] {
				wg.Go(func() {
					if _, err := p.Ensure(t.Context(), c); err != nil {
						t.Errorf("Ensure %s: %v", c.Subject.Name, err)
					}
				})
			}
			wg.Wait()
			sent.Check(t, tt.limit, tt.burst, 15)
		})
	}
}

// TestLimitWaitHonoursContext: a context that ends before a token comes
// ends the call at once, and nothing reaches IAM.
func TestLimitWaitHonoursContext(t *testing.T) {
	tests := ratetest.EndingContexts()
	for _, tt := range tests {
		t.Run(tt.Name, func(t *testing.T) {
			sim := fakegcp.New()
			sim.AddServiceAccount(gsa)
			sim.EnablePool(pool)
			var got requests
			srv := httptest.NewServer(got.Record(sim))
			t.Cleanup(srv.Close)
			l := rate.NewLimiter(0.1, 1)
			l.Allow() // the next token is 10s away
			p, err := New(t.Context(), Options{WorkloadPool: pool, Endpoint: srv.URL, WithoutAuthentication: true, Limiter: l})
			if err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			if _, err := p.Ensure(tt.Ctx(t), conn("app")); err == nil {
				t.Error("Ensure succeeded, want an error")
			}
			if d := time.Since(start); d > time.Second {
				t.Errorf("Ensure returned after %v, want it at once", d)
			}
			if n := got.Count(); n != 0 {
				t.Errorf("%d requests reached IAM, want none", n)
			}
		})
	}
}

// TestLimitWithDefaultCredentials: with Application Default Credentials
// (here a service account key whose token URI is a local server), the IAM
// requests carry the token and each takes a token of the limiter; the
// token requests take none.
func TestLimitWithDefaultCredentials(t *testing.T) {
	var tokenRequests int
	var mu sync.Mutex
	tokens := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		mu.Lock()
		tokenRequests++
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"access_token":"adc-token","token_type":"Bearer","expires_in":3600}`))
	}))
	t.Cleanup(tokens.Close)
	t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", serviceAccountKey(t, tokens.URL+"/token"))

	sim := fakegcp.New()
	sim.AddServiceAccount(gsa)
	sim.EnablePool(pool)
	var got requests
	var unauthenticated int
	srv := httptest.NewServer(got.Record(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer adc-token" {
			mu.Lock()
			unauthenticated++
			mu.Unlock()
		}
		sim.ServeHTTP(w, r)
	})))
	t.Cleanup(srv.Close)

	const burst = 100
	l := rate.NewLimiter(0.001, burst)
	p, err := New(t.Context(), Options{WorkloadPool: pool, Endpoint: srv.URL, Limiter: l})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"a", "b"} {
		if _, err := p.Ensure(t.Context(), conn(name)); err != nil {
			t.Fatalf("Ensure %s: %v", name, err)
		}
	}
	used := int(math.Round(burst - l.Tokens()))
	if n := got.Count(); n == 0 || used != n {
		t.Errorf("the limiter gave %d tokens for %d IAM requests, want one each", used, n)
	}
	if tokenRequests == 0 {
		t.Error("no token requests, want the credentials to have fetched one")
	}
	if unauthenticated > 0 {
		t.Errorf("%d IAM requests without the token", unauthenticated)
	}
}

// serviceAccountKey writes a service account key file with a fresh key.
func serviceAccountKey(t *testing.T, tokenURI string) string {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(map[string]string{
		"type": "service_account", "project_id": project, "private_key_id": "k1",
		"private_key":  string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})),
		"client_email": "keyless@" + project + ".iam.gserviceaccount.com", "client_id": "1", "token_uri": tokenURI,
	})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "key.json")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// requests records the requests sent (see ratetest.Requests).
type requests struct{ ratetest.Requests }

// client returns an HTTP client recording the requests it sends.
func (a *requests) client() *http.Client {
	return &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		a.Add()
		return http.DefaultTransport.RoundTrip(r)
	})}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
