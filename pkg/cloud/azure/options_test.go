package azure

import (
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	azfake "github.com/Azure/azure-sdk-for-go/sdk/azcore/fake"

	"github.com/keyless-dev/keyless/pkg/cloud"
)

func TestNewValidates(t *testing.T) {
	tests := []struct {
		name    string
		change  func(o *Options)
		wantErr []string // each must appear; none: valid
	}{
		{"valid", func(*Options) {}, nil},
		{"default credential", func(o *Options) { o.Credential = nil }, nil},
		{"http endpoint allowed", func(o *Options) { o.Endpoint = "http://127.0.0.1:1"; o.InsecureAllowHTTP = true }, nil},
		{"subscription not a GUID", func(o *Options) { o.SubscriptionID = "my-sub" }, []string{"SubscriptionID", "GUID"}},
		{"issuer over http", func(o *Options) { o.IssuerURL = "http://oidc.example.com/" }, []string{"IssuerURL", "https", "trailing slash"}},
		{"issuer missing", func(o *Options) { o.IssuerURL = "" }, []string{"IssuerURL"}},
		{"cluster missing", func(o *Options) { o.ClusterName = "" }, []string{"ClusterName"}},
		{"http endpoint refused", func(o *Options) { o.Endpoint = "http://127.0.0.1:1" }, []string{"Endpoint", "InsecureAllowHTTP"}},
		{"authority host not a URL", func(o *Options) { o.AuthorityHost = "login" }, []string{"AuthorityHost"}},
		{"negative timeout", func(o *Options) { o.Timeout = -time.Second }, []string{"Timeout -1s is negative"}},
		{"every problem at once", func(o *Options) { o.SubscriptionID = ""; o.ClusterName = "" }, []string{"SubscriptionID", "ClusterName"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := Options{SubscriptionID: testSub, IssuerURL: testIssuer, ClusterName: testCluster, Credential: &azfake.TokenCredential{}}
			tt.change(&o)
			p, err := New(o)
			if len(tt.wantErr) == 0 {
				if err != nil || p == nil {
					t.Fatalf("New: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("New accepted invalid options")
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not mention %q: %v", w, err)
				}
			}
		})
	}
}

func TestPlainHTTPEndpoint(t *testing.T) {
	e := newEnv(t, nil) // for the simulator only
	srv := httptest.NewServer(e.sim)
	t.Cleanup(srv.Close)
	o := testOptions(srv.URL, nil)
	o.InsecureAllowHTTP = true
	p, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	res, err := p.Ensure(ctx(t), conn("ns", "app"))
	if err != nil || res.Action != cloud.Created {
		t.Errorf("got %+v, %v; want Created", res, err)
	}
}
