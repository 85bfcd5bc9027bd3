package aws

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
)

const (
	testCluster = "prod"
	testAccount = "111122223333"
	testRole    = "arn:aws:iam::111122223333:role/orders"
	assocPath   = "/clusters/prod/pod-identity-associations"
)

// newTestServer returns a simulator with cluster "prod" in us-east-1.
func newTestServer() *Server {
	s := New()
	s.AddCluster(testCluster, testAccount, "us-east-1")
	return s
}

// reply is a decoded answer.
type reply struct {
	status  int
	errType string // X-Amzn-ErrorType
	body    map[string]any
}

func call(t *testing.T, s *Server, method, path string, body any) reply {
	t.Helper()
	var b bytes.Buffer
	if body != nil {
		if err := json.NewEncoder(&b).Encode(body); err != nil {
			t.Fatal(err)
		}
	}
	req := httptest.NewRequest(method, path, &b)
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, req)
	r := reply{status: rec.Code, errType: rec.Header().Get("X-Amzn-ErrorType")}
	if err := json.Unmarshal(rec.Body.Bytes(), &r.body); err != nil {
		t.Fatalf("%s %s: body %q is not JSON: %v", method, path, rec.Body.String(), err)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("%s %s: Content-Type %q, want application/json", method, path, ct)
	}
	return r
}

// assoc returns the "association" member of a reply.
func (r reply) assoc() map[string]any {
	a, _ := r.body["association"].(map[string]any)
	return a
}

func createBody(ns, sa, role string) map[string]any {
	return map[string]any{"namespace": ns, "serviceAccount": sa, "roleArn": role}
}

// seed adds a foreign association or fails the test.
func seed(t *testing.T, s *Server, ns, sa string) Association {
	t.Helper()
	a, err := s.AddAssociation(testCluster, ns, sa, testRole, nil)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

var _ http.Handler = (*Server)(nil)
