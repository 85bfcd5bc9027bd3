// Package aws simulates the EKS Pod Identity API on the wire (restJson1), for
// the real aws-sdk-go-v2 EKS client to talk to through its BaseEndpoint.
//
// It serves DescribeCluster and the five pod identity association
// operations with EKS's JSON shapes, HTTP codes and error types (in the
// X-Amzn-ErrorType header and the "message" body member), the one
// association per (cluster, namespace, service account) rule, the
// per-cluster limit, clientRequestToken idempotency and real pagination.
//
// clientRequestToken is as strict as AWS's idempotency contract: within
// TokenLifetime of its first use, a Create with the same token and the same
// parameters makes nothing and answers the association that token made,
// even when that association has been deleted since; the same token with
// other parameters is refused (400 InvalidParameterException). A client that
// re-creates a deleted association must therefore use a new token. After
// TokenLifetime the token is forgotten and counts as new.
//
// List pages over all of a cluster's associations and filters each page
// afterwards, so a filtered List may answer an empty page with a nextToken.
// That is the pessimistic reading of the API: a client that follows
// nextToken here also works against a server that filters first.
package aws

import (
	"math/rand/v2"
	"net/http"
	"sync"
	"time"

	"github.com/keyless-dev/keyless/pkg/fakecloud"
)

// DefaultLimit is EKS's quota of pod identity associations per cluster.
const DefaultLimit = 5000

// Server is the simulated EKS endpoint. Safe for concurrent use.
type Server struct {
	mux    *http.ServeMux
	faults *fakecloud.Injector
	calls  fakecloud.Calls

	mu       sync.Mutex
	clusters map[string]*cluster
	roles    map[string]bool // nil: any well-formed role ARN is accepted
	limit    int
	rnd      *rand.Rand
	seq      uint64
	created  int // associations made by CreatePodIdentityAssociation, replays excluded
	now      func() time.Time
}

type cluster struct {
	name, account, region, partition string
	createdAt                        time.Time
	assocs                           map[string]*record  // by association ID
	tokens                           map[string]tokenUse // by clientRequestToken
}

// record is a stored association and its place in list order.
type record struct {
	Association
	seq uint64
}

// TokenLifetime is how long a clientRequestToken is remembered. EKS does not
// publish it; EC2 documents that its client tokens stay valid for at least
// 24 hours, and the simulator takes that.
const TokenLifetime = 24 * time.Hour

// tokenUse remembers what a clientRequestToken created, and when.
type tokenUse struct {
	params string
	first  Association // the answer to the first request
	at     time.Time
}

// New returns a simulator with no clusters, no faults and the default limit.
// IDs come from a fixed seed, so runs are repeatable.
func New() *Server {
	s := &Server{
		mux:      http.NewServeMux(),
		faults:   fakecloud.NewInjector(1),
		clusters: map[string]*cluster{},
		limit:    DefaultLimit,
		rnd:      rand.New(rand.NewPCG(1, 2)),
		now:      time.Now,
	}
	const base = "/clusters/{name}/pod-identity-associations"
	s.handle("GET /clusters/{name}", "DescribeCluster", s.describeCluster)
	s.handle("POST "+base, "CreatePodIdentityAssociation", s.create)
	s.handle("GET "+base, "ListPodIdentityAssociations", s.list)
	s.handle("GET "+base+"/{id}", "DescribePodIdentityAssociation", s.describe)
	s.handle("POST "+base+"/{id}", "UpdatePodIdentityAssociation", s.update)
	s.handle("DELETE "+base+"/{id}", "DeletePodIdentityAssociation", s.delete)
	s.mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		writeError(w, http.StatusNotFound, "UnknownOperationException", "Unknown operation", "")
	})
	return s
}

// ServeHTTP serves the EKS API.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// handle counts each call and injects faults before the operation runs, so
// a faulted call changes nothing.
func (s *Server) handle(pattern, op string, h http.HandlerFunc) {
	s.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		s.calls.Inc(op)
		s.faults.Delay()
		f := s.faults.Faults()
		switch {
		case s.faults.Roll(f.Throttle):
			writeError(w, http.StatusTooManyRequests, "ThrottlingException", "Rate exceeded", "")
		case s.faults.Roll(f.ServerError):
			writeError(w, http.StatusInternalServerError, "ServerException", "An internal error occurred. Please try again.", "")
		default:
			h(w, r)
		}
	})
}

func (s *Server) describeCluster(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.cluster(w, r)
	if !ok {
		return
	}
	writeJSON(w, map[string]any{"cluster": map[string]any{
		"name":            c.name,
		"arn":             "arn:" + c.partition + ":eks:" + c.region + ":" + c.account + ":cluster/" + c.name,
		"createdAt":       epoch(c.createdAt),
		"version":         "1.33",
		"platformVersion": "eks.1",
		"status":          "ACTIVE",
	}})
}

// cluster finds the cluster named in the path or answers 404. Callers hold s.mu.
func (s *Server) cluster(w http.ResponseWriter, r *http.Request) (*cluster, bool) {
	name := r.PathValue("name")
	c, ok := s.clusters[name]
	if !ok {
		writeError(w, http.StatusNotFound, "ResourceNotFoundException", "No cluster found for name: "+name+".", name)
	}
	return c, ok
}
