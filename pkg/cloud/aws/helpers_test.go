package aws

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eks"

	"github.com/keyless-dev/keyless/pkg/annotations"
	"github.com/keyless-dev/keyless/pkg/cloud"
	fakeeks "github.com/keyless-dev/keyless/pkg/fakecloud/aws"
)

const (
	testCluster = "prod"
	testAccount = "111122223333"
	testRegion  = "us-west-2"
)

// env is a provider whose real EKS client talks to a simulator.
type env struct {
	sim    *fakeeks.Server
	client *eks.Client
	hooks  *hooked
	p      *Provider
	// known is the ID of the last mustEnsure, as the controller records it.
	known string
}

// newEnv starts a simulator with cluster "prod". wrap, if not nil, sits
// in front of the simulator on the wire.
func newEnv(t *testing.T, wrap func(http.Handler) http.Handler) *env {
	t.Helper()
	sim := fakeeks.New()
	sim.AddCluster(testCluster, testAccount, testRegion)
	var h http.Handler = sim
	if wrap != nil {
		h = wrap(sim)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	client := eks.New(eks.Options{
		Region: testRegion, BaseEndpoint: aws.String(srv.URL),
		Credentials: aws.AnonymousCredentials{}, RetryMaxAttempts: 1,
	})
	hooks := &hooked{eksAPI: client}
	return &env{sim: sim, client: client, hooks: hooks, p: newProvider(hooks, testCluster, testRegion)}
}

// hooked is the test seam: it runs hooks around single EKS calls.
type hooked struct {
	eksAPI
	beforeCreate func()
	loseCreate   bool // the create happens, its answer is lost
	beforeDelete func()
}

var errLost = errors.New("read tcp 127.0.0.1:80: connection reset by peer")

func (h *hooked) CreatePodIdentityAssociation(ctx context.Context, in *eks.CreatePodIdentityAssociationInput, o ...func(*eks.Options)) (*eks.CreatePodIdentityAssociationOutput, error) {
	if h.beforeCreate != nil {
		h.beforeCreate()
	}
	out, err := h.eksAPI.CreatePodIdentityAssociation(ctx, in, o...)
	if err == nil && h.loseCreate {
		return nil, errLost
	}
	return out, err
}

func (h *hooked) DeletePodIdentityAssociation(ctx context.Context, in *eks.DeletePodIdentityAssociationInput, o ...func(*eks.Options)) (*eks.DeletePodIdentityAssociationOutput, error) {
	if h.beforeDelete != nil {
		h.beforeDelete()
	}
	return h.eksAPI.DeletePodIdentityAssociation(ctx, in, o...)
}

// role is a role given by name, as the annotation "NAME" parses.
func role(name string) annotations.AWSRole { return annotations.AWSRole{Path: "/", Name: name} }

// roleARN is the ARN a role name resolves to in the test cluster's account.
func roleARN(name string) string { return "arn:aws:iam::" + testAccount + ":role/" + name }

func conn(ns, sa string, r annotations.AWSRole) cloud.Connection {
	return cloud.Connection{Subject: cloud.Subject{Namespace: ns, Name: sa}, AWS: &cloud.AWSConnection{Role: r}}
}

// keylessTags are the tags the provider puts on what it creates in "prod".
var keylessTags = map[string]string{TagManagedBy: ManagedByValue, TagCluster: testCluster}

// seed adds an association as someone else would, or fails the test.
func (e *env) seed(t *testing.T, ns, sa, roleARN string, tags map[string]string) fakeeks.Association {
	t.Helper()
	a, err := e.sim.AddAssociation(testCluster, ns, sa, roleARN, tags)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// mustEnsure runs Ensure and fails the test on an error.
func (e *env) mustEnsure(t *testing.T, c cloud.Connection) cloud.Result {
	t.Helper()
	res, err := e.p.Ensure(context.Background(), c)
	if err != nil {
		t.Fatalf("Ensure(%s/%s): %v", c.Subject.Namespace, c.Subject.Name, err)
	}
	e.known = res.ID
	return res
}

// writes counts the calls that may change the cloud, a Create that EKS
// refuses with 409 included.
func (e *env) writes() int {
	c := e.sim.Calls()
	return c["CreatePodIdentityAssociation"] + c["UpdatePodIdentityAssociation"] + c["DeletePodIdentityAssociation"]
}
