package aws

import (
	"strings"
	"testing"

	"github.com/keyless-dev/keyless/pkg/fakecloud"
)

func TestErrorShapes(t *testing.T) {
	tests := []struct {
		name    string
		setup   func(*Server, Association)
		method  string
		path    string // "{id}" is replaced by the seeded association's ID
		body    any
		status  int
		errType string
		message string
	}{
		{name: "unknown cluster", method: "GET", path: "/clusters/nope",
			status: 404, errType: "ResourceNotFoundException", message: "No cluster found for name: nope."},
		{name: "list on unknown cluster", method: "GET", path: "/clusters/nope/pod-identity-associations",
			status: 404, errType: "ResourceNotFoundException", message: "No cluster found for name: nope."},
		{name: "unknown association", method: "GET", path: assocPath + "/a-0000000000000000x",
			status: 404, errType: "ResourceNotFoundException", message: "a-0000000000000000x"},
		{name: "short association ID", method: "DELETE", path: assocPath + "/a-123",
			status: 400, errType: "InvalidParameterException", message: "should be 19 characters long"},
		{name: "missing namespace", method: "POST", path: assocPath, body: createBody("", "sa", testRole),
			status: 400, errType: "InvalidParameterException", message: "namespace is required"},
		{name: "not a role ARN", method: "POST", path: assocPath, body: createBody("ns", "other", "orders"),
			status: 400, errType: "InvalidParameterException", message: "not a valid IAM role ARN"},
		{name: "role in another account", method: "POST", path: assocPath,
			body:   createBody("ns", "other", "arn:aws:iam::999999999999:role/orders"),
			status: 400, errType: "InvalidParameterException", message: "same account as the cluster"},
		{name: "role not seeded", setup: func(s *Server, _ Association) { s.AddRole("arn:aws:iam::111122223333:role/other") },
			method: "POST", path: assocPath, body: createBody("ns", "other", testRole),
			status: 400, errType: "InvalidParameterException", message: "Role provided in the request does not exist"},
		{name: "second association of a ServiceAccount", method: "POST", path: assocPath, body: createBody("ns", "sa", testRole),
			status: 409, errType: "ResourceInUseException", message: "Association already exists: a-"},
		{name: "limit", setup: func(s *Server, _ Association) { s.SetLimit(1) },
			method: "POST", path: assocPath, body: createBody("ns", "other", testRole),
			status: 400, errType: "ResourceLimitExceededException", message: "limit of 1"},
		{name: "maxResults too large", method: "GET", path: assocPath + "?maxResults=101",
			status: 400, errType: "InvalidParameterException", message: "maxResults"},
		{name: "bad nextToken", method: "GET", path: assocPath + "?nextToken=zzz",
			status: 400, errType: "InvalidParameterException", message: "nextToken"},
		{name: "throttled", setup: func(s *Server, _ Association) { s.SetFaults(fakecloud.Faults{Throttle: 1}) },
			method: "POST", path: assocPath, body: createBody("ns", "other", testRole),
			status: 429, errType: "ThrottlingException", message: "Rate exceeded"},
		{name: "server error", setup: func(s *Server, _ Association) { s.SetFaults(fakecloud.Faults{ServerError: 1}) },
			method: "DELETE", path: assocPath + "/{id}",
			status: 500, errType: "ServerException", message: "internal error"},
		{name: "unknown operation", method: "PUT", path: "/clusters/prod",
			status: 404, errType: "UnknownOperationException", message: "Unknown operation"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newTestServer()
			a := seed(t, s, "ns", "sa")
			if tt.setup != nil {
				tt.setup(s, a)
			}
			r := call(t, s, tt.method, strings.ReplaceAll(tt.path, "{id}", a.AssociationID), tt.body)
			if r.status != tt.status {
				t.Errorf("status %d, want %d", r.status, tt.status)
			}
			if typ, suffix, _ := strings.Cut(r.errType, ":"); typ != tt.errType || !strings.HasPrefix(suffix, "http://internal.amazon.com/coral/") {
				t.Errorf("X-Amzn-ErrorType %q, want %s:http://internal.amazon.com/coral/...", r.errType, tt.errType)
			}
			if msg, _ := r.body["message"].(string); !strings.Contains(msg, tt.message) {
				t.Errorf("message %q, want it to contain %q", msg, tt.message)
			}
			if got := s.Associations(); len(got) != 1 || got[0].AssociationID != a.AssociationID {
				t.Errorf("associations after a failed call: %+v, want only the seeded %s", got, a.AssociationID)
			}
		})
	}
}
