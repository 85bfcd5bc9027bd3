package aws

import (
	"regexp"
	"testing"

	"github.com/keyless-dev/keyless/pkg/fakecloud"
)

var assocID = regexp.MustCompile(`^a-[a-z0-9]{17}$`)

func TestDescribeCluster(t *testing.T) {
	s := newTestServer()
	r := call(t, s, "GET", "/clusters/prod", nil)
	c, _ := r.body["cluster"].(map[string]any)
	want := map[string]any{"name": "prod", "arn": "arn:aws:eks:us-east-1:111122223333:cluster/prod", "status": "ACTIVE"}
	for k, v := range want {
		if c[k] != v {
			t.Errorf("cluster.%s = %v, want %v", k, c[k], v)
		}
	}
	if _, ok := c["createdAt"].(float64); !ok {
		t.Errorf("cluster.createdAt = %v, want epoch seconds as a number", c["createdAt"])
	}
}

func TestAssociationLifecycle(t *testing.T) {
	s := newTestServer()
	target := "arn:aws:iam::444455556666:role/data"
	body := createBody("ns", "sa", testRole)
	body["targetRoleArn"] = target
	body["tags"] = map[string]string{"team": "a"}
	a := call(t, s, "POST", assocPath, body).assoc()
	id, _ := a["associationId"].(string)
	if !assocID.MatchString(id) {
		t.Fatalf("associationId %q, want a- and 17 lowercase alphanumerics", id)
	}
	steps := []struct {
		name   string
		method string
		body   any
		want   map[string]any
	}{
		{"describe", "GET", nil, map[string]any{
			"associationArn": "arn:aws:eks:us-east-1:111122223333:podidentityassociation/prod/" + id,
			"clusterName":    "prod", "namespace": "ns", "serviceAccount": "sa", "roleArn": testRole,
			"targetRoleArn": target, "disableSessionTags": false}},
		{"update role keeps target", "POST", map[string]any{"roleArn": "arn:aws:iam::111122223333:role/new"},
			map[string]any{"roleArn": "arn:aws:iam::111122223333:role/new", "targetRoleArn": target}},
		{"empty targetRoleArn unsets it", "POST", map[string]any{"targetRoleArn": "", "disableSessionTags": true},
			map[string]any{"targetRoleArn": nil, "externalId": nil, "disableSessionTags": true}},
		{"delete answers the association", "DELETE", nil, map[string]any{"associationId": id}},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			r := call(t, s, st.method, assocPath+"/"+id, st.body)
			if r.status != 200 {
				t.Fatalf("status %d (%s): %v", r.status, r.errType, r.body)
			}
			got := r.assoc()
			for k, v := range st.want {
				if got[k] != v {
					t.Errorf("%s = %v, want %v", k, got[k], v)
				}
			}
			if tags, _ := got["tags"].(map[string]any); tags["team"] != "a" {
				t.Errorf("tags = %v, want team=a", got["tags"])
			}
			for _, k := range []string{"createdAt", "modifiedAt"} {
				if _, ok := got[k].(float64); !ok {
					t.Errorf("%s = %v, want epoch seconds as a number", k, got[k])
				}
			}
		})
	}
	if got := s.Associations(); len(got) != 0 {
		t.Errorf("after delete: %+v, want none", got)
	}
}

func TestExternalIDWithTargetRole(t *testing.T) {
	s := newTestServer()
	body := createBody("ns", "sa", testRole)
	body["targetRoleArn"] = "arn:aws:iam::444455556666:role/data"
	if a := call(t, s, "POST", assocPath, body).assoc(); a["externalId"] == nil {
		t.Errorf("externalId missing with targetRoleArn set: %v", a)
	}
	if a := call(t, s, "POST", assocPath, createBody("ns", "plain", testRole)).assoc(); a["externalId"] != nil {
		t.Errorf("externalId %v without targetRoleArn, want none", a["externalId"])
	}
}

func TestClientRequestToken(t *testing.T) {
	tests := []struct {
		name    string
		role    string
		status  int
		sameID  bool
		errType string
	}{
		{name: "same token and parameters: the same association", role: testRole, status: 200, sameID: true},
		{name: "same token, other parameters: refused", role: "arn:aws:iam::111122223333:role/other",
			status: 400, errType: "InvalidParameterException"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newTestServer()
			first := createBody("ns", "sa", testRole)
			first["clientRequestToken"] = "tok-1"
			id := call(t, s, "POST", assocPath, first).assoc()["associationId"]
			again := createBody("ns", "sa", tt.role)
			again["clientRequestToken"] = "tok-1"
			r := call(t, s, "POST", assocPath, again)
			if r.status != tt.status {
				t.Fatalf("status %d (%s %v), want %d", r.status, r.errType, r.body, tt.status)
			}
			if tt.sameID && r.assoc()["associationId"] != id {
				t.Errorf("retry answered %v, want the first association %v", r.assoc()["associationId"], id)
			}
			if n := len(s.Associations()); n != 1 {
				t.Errorf("%d associations, want 1", n)
			}
			if n := s.Created(); n != 1 {
				t.Errorf("Created() = %d, want 1: a retry makes nothing", n)
			}
		})
	}
}

func TestCallsCountFaultedCalls(t *testing.T) {
	s := newTestServer()
	call(t, s, "GET", assocPath, nil)
	s.SetFaults(fakecloud.Faults{Throttle: 1})
	call(t, s, "POST", assocPath, createBody("ns", "sa", testRole))
	got := s.Calls()
	if got["ListPodIdentityAssociations"] != 1 || got["CreatePodIdentityAssociation"] != 1 {
		t.Errorf("calls %v, want one List and one (throttled) Create", got)
	}
	if n := len(s.Associations()); n != 0 {
		t.Errorf("a throttled Create left %d associations, want 0", n)
	}
}

func TestOutOfBandChanges(t *testing.T) {
	s := newTestServer()
	a := seed(t, s, "ns", "sa")
	if err := s.SetRole(testCluster, a.AssociationID, "arn:aws:iam::111122223333:role/drift"); err != nil {
		t.Fatal(err)
	}
	if got := call(t, s, "GET", assocPath+"/"+a.AssociationID, nil).assoc()["roleArn"]; got != "arn:aws:iam::111122223333:role/drift" {
		t.Errorf("roleArn after drift %v", got)
	}
	if err := s.DeleteAssociation(testCluster, a.AssociationID); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteAssociation(testCluster, a.AssociationID); err == nil {
		t.Error("second out-of-band delete succeeded, want an error")
	}
}
