package azure

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

const (
	sub    = "00000000-0000-0000-0000-000000000001"
	rg     = "rg-apps"
	uami   = "uami-web"
	issuer = "https://oidc.example.com/cluster/"
	aud    = "api://AzureADTokenExchange"
	v      = "?api-version=2024-11-30"
)

func identityPath() string {
	return "/subscriptions/" + sub + "/resourceGroups/" + rg + "/providers/Microsoft.ManagedIdentity/userAssignedIdentities/" + uami
}

func credPath(name string) string { return identityPath() + "/federatedIdentityCredentials/" + name }

func putBodyFor(subject string, audiences ...string) string {
	b, _ := json.Marshal(map[string]any{"properties": map[string]any{"issuer": issuer, "subject": subject, "audiences": audiences}})
	return string(b)
}

// reply is a decoded answer: the status, headers and JSON body.
type reply struct {
	status int
	header http.Header
	body   map[string]any
}

func (r reply) errorCode() string    { return r.str("error", "code") }
func (r reply) errorMessage() string { return r.str("error", "message") }

// str walks nested objects by key.
func (r reply) str(keys ...string) string {
	var cur any = r.body
	for _, k := range keys {
		m, ok := cur.(map[string]any)
		if !ok {
			return ""
		}
		cur = m[k]
	}
	s, _ := cur.(string)
	return s
}

func newTestServer(t *testing.T) (*Server, *httptest.Server) {
	t.Helper()
	s := NewServer()
	s.AddIdentity(sub, rg, uami, "11111111-1111-1111-1111-111111111111")
	hs := httptest.NewServer(s)
	t.Cleanup(hs.Close)
	return s, hs
}

// call sends a request; url is a path on hs or an absolute URL.
func call(t *testing.T, hs *httptest.Server, method, url, body string) reply {
	t.Helper()
	if strings.HasPrefix(url, "/") {
		url = hs.URL + url
	}
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := hs.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	r := reply{status: resp.StatusCode, header: resp.Header}
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &r.body); err != nil {
			t.Fatalf("%s %s: body is not JSON: %q", method, url, raw)
		}
	}
	return r
}
