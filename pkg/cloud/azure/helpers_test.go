package azure

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	azfake "github.com/Azure/azure-sdk-for-go/sdk/azcore/fake"

	"github.com/keyless-dev/keyless/pkg/annotations"
	"github.com/keyless-dev/keyless/pkg/cloud"
	fakearm "github.com/keyless-dev/keyless/pkg/fakecloud/azure"
)

const (
	testSub      = "00000000-0000-0000-0000-000000000001"
	testRG       = "rg-apps"
	testUAMI     = "uami-web"
	testClientID = "11111111-1111-1111-1111-111111111111"
	testIssuer   = "https://oidc.example.com/cluster/"
	testCluster  = "prod"
)

// env is the real armmsi clients talking to the ARM simulator over TLS.
type env struct {
	sim *fakearm.Server
	p   *Provider
}

// newEnv starts the simulator with one identity; wrap, if given, sits in
// front of it to tamper with requests.
func newEnv(t *testing.T, wrap func(http.Handler) http.Handler) env {
	t.Helper()
	sim := newSim()
	// Pages of 10 whatever $top asks, so that listings follow nextLink.
	sim.SetMaxPageSize(10)
	var h http.Handler = sim
	if wrap != nil {
		h = wrap(sim)
	}
	srv := httptest.NewTLSServer(h)
	t.Cleanup(srv.Close)
	p, err := New(testOptions(srv.URL, srv.Client()))
	if err != nil {
		t.Fatal(err)
	}
	return env{sim: sim, p: p}
}

// newSim is the simulator with the test identity.
func newSim() *fakearm.Server {
	sim := fakearm.NewServer()
	sim.AddIdentity(testSub, testRG, testUAMI, testClientID)
	return sim
}

// serve starts h over TLS for the test and returns options pointing at it.
func serve(t *testing.T, h http.Handler) Options {
	t.Helper()
	srv := httptest.NewTLSServer(h)
	t.Cleanup(srv.Close)
	return testOptions(srv.URL, srv.Client())
}

// testOptions points the provider at endpoint; client, if not nil, is the TLS server's.
func testOptions(endpoint string, client *http.Client) Options {
	o := Options{
		SubscriptionID: testSub, IssuerURL: testIssuer, ClusterName: testCluster,
		Endpoint: endpoint, Credential: &azfake.TokenCredential{},
		// A throttling Retry-After (1s) exceeds MaxRetryDelay, so 429s come back to the caller at once.
		MaxRetries: 1, RetryDelay: time.Millisecond, MaxRetryDelay: 10 * time.Millisecond,
	}
	if client != nil {
		o.Transport = client // never a typed nil in the interface
	}
	return o
}

func conn(ns, sa string) cloud.Connection {
	return cloud.Connection{
		Subject: cloud.Subject{Namespace: ns, Name: sa},
		Azure:   &annotations.AzureIdentity{ResourceGroup: testRG, Name: testUAMI},
	}
}

func subject(ns, sa string) string { return "system:serviceaccount:" + ns + ":" + sa }

// ours is the credential Keyless names for ns/sa, as the simulator holds it.
func (e env) ours(ns, sa string) (fakearm.Credential, bool) {
	name := CredentialName(testCluster, ns, sa)
	for _, c := range e.sim.Credentials(testSub, testRG, testUAMI) {
		if c.Name == name {
			return c, true
		}
	}
	return fakearm.Credential{}, false
}

func (e env) seed(t *testing.T, name, issuer, subject string) {
	t.Helper()
	c := fakearm.Credential{Name: name, Issuer: issuer, Subject: subject, Audiences: []string{Audience}}
	if err := e.sim.PutCredential(testSub, testRG, testUAMI, c); err != nil {
		t.Fatal(err)
	}
}

func (e env) puts() int { return e.sim.Calls()[fakearm.OpPutCredential] }

// untilDone retries f while its error is not permanent, as the controller
// would, and returns the transient errors it saw on the way.
func untilDone(t *testing.T, f func() (cloud.Result, error)) (cloud.Result, []error, error) {
	t.Helper()
	var transient []error
	for range 100 {
		res, err := f()
		if err == nil || cloud.Permanent(err) {
			return res, transient, err
		}
		transient = append(transient, err)
	}
	t.Errorf("no success after 100 tries; last error: %v", transient[len(transient)-1])
	return cloud.Result{}, transient, transient[len(transient)-1]
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}
