package gcp

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/keyless-dev/keyless/pkg/fakecloud"
)

const (
	email    = "app@demo-project.iam.gserviceaccount.com"
	pool     = "demo-project.svc.id.goog"
	role     = "roles/iam.workloadIdentityUser"
	member   = "serviceAccount:demo-project.svc.id.goog[default/app]"
	resource = "/v1/projects/-/serviceAccounts/" + email
)

// newServer returns a simulator with the demo account and pool.
func newServer() *Server {
	s := New()
	s.AddServiceAccount(email)
	s.EnablePool(pool)
	return s
}

// post sends one request and returns the status and body.
func post(t *testing.T, s *Server, path, body string) (int, string) {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
	w := httptest.NewRecorder()
	s.ServeHTTP(w, r)
	return w.Code, w.Body.String()
}

func get(t *testing.T, s *Server, version string) Policy {
	t.Helper()
	code, body := post(t, s, resource+":getIamPolicy?alt=json&options.requestedPolicyVersion="+version, "")
	if code != http.StatusOK {
		t.Fatalf("getIamPolicy: %d %s", code, body)
	}
	var p Policy
	if err := json.Unmarshal([]byte(body), &p); err != nil {
		t.Fatalf("getIamPolicy body %s: %v", body, err)
	}
	return p
}

func set(t *testing.T, s *Server, p Policy) (int, string) {
	t.Helper()
	b, err := json.Marshal(setRequest{Policy: &p})
	if err != nil {
		t.Fatal(err)
	}
	return post(t, s, resource+":setIamPolicy?alt=json", string(b))
}

// decodeError checks Google's error envelope and returns its error member.
func decodeError(t *testing.T, code int, body string) errorBody {
	t.Helper()
	var e errorJSON
	if err := json.Unmarshal([]byte(body), &e); err != nil {
		t.Fatalf("error body %s: %v", body, err)
	}
	b := e.Error
	if b.Code != code || b.Status == "" || b.Message == "" || len(b.Errors) != 1 ||
		b.Errors[0].Domain != "global" || b.Errors[0].Reason == "" || b.Errors[0].Message != b.Message {
		t.Errorf("error envelope = %s, want code %d, status, message and one global errors item", body, code)
	}
	return b
}

var conditional = Binding{
	Role:      "roles/iam.serviceAccountTokenCreator",
	Members:   []string{"user:ops@example.com"},
	Condition: &Expr{Title: "expires", Expression: `request.time < timestamp("2030-01-01T00:00:00Z")`},
}

func faults(throttle, server, conflict float64) fakecloud.Faults {
	return fakecloud.Faults{Throttle: throttle, ServerError: server, Conflict: conflict}
}
