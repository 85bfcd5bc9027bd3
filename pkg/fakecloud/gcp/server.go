// Package gcp simulates the Google IAM v1 REST API for service-account IAM
// policies on the wire, for the real google.golang.org/api/iam/v1 client to
// talk to through option.WithEndpoint (the endpoint must end with "/").
//
// It serves POST /v1/projects/{project or -}/serviceAccounts/{email}:getIamPolicy
// and :setIamPolicy with Google's JSON error envelope, etag concurrency
// (409 ABORTED on a stale etag; a set without etag is unconditional), the
// workload pool check on Kubernetes members (400 "Identity Pool does not
// exist", failing the whole set), conditional bindings and policy versions.
//
// Versions: a policy with a conditional binding is version 3, any other
// non-empty policy version 1, an empty one has no version and etag "ACAB".
// Read with options.requestedPolicyVersion below 3, a conditional policy is
// answered as Google documents today ("troubleshooting withcond"): version
// 1, each conditional binding's role suffixed "_withcond_HASH" and its
// condition hidden. (Older servers answered 400 "Requested policy version
// (1) cannot be less than the existing policy version (3)" instead.) A set
// with an etag and a version below 3 is refused when the stored or the sent
// policy has conditions; a set without etag skips those checks.
//
// Faults (SetFaults) come before any state change. Conflict applies to sets
// that carry an etag: the etag really moves, as if another writer had come
// first, and the set gets the 409. Deny makes an account answer 403; no
// credentials are checked otherwise.
package gcp

import (
	"net/http"
	"strings"
	"sync"

	"github.com/keyless-dev/keyless/pkg/fakecloud"
)

// Operation names, as counted by Calls.
const (
	OpGetIamPolicy = "GetIamPolicy"
	OpSetIamPolicy = "SetIamPolicy"
)

// emptyEtag is the etag Google gives a policy that was never written.
const emptyEtag = "ACAB"

// Server is the simulated IAM endpoint. Safe for concurrent use.
type Server struct {
	mux    *http.ServeMux
	faults *fakecloud.Injector
	calls  fakecloud.Calls

	mu       sync.Mutex
	accounts map[string]*account // by lower-case email
	pools    map[string]bool     // enabled workload pools
	seq      uint64              // etag counter
}

// account is a Google service account and its policy, kept at version 3.
type account struct {
	policy Policy
	denied bool // every call on it answers 403
}

// New returns a simulator with no service accounts, no pools and no faults.
func New() *Server {
	s := &Server{
		mux:      http.NewServeMux(),
		faults:   fakecloud.NewInjector(1),
		accounts: map[string]*account{},
		pools:    map[string]bool{},
	}
	s.mux.HandleFunc("POST /v1/projects/{project}/serviceAccounts/{rest}", s.route)
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, notFound("The requested URL "+r.URL.Path+" was not found on this server."))
	})
	return s
}

// ServeHTTP serves the IAM API.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// route splits "EMAIL:verb", counts the call and injects faults before the
// operation runs, so a faulted call changes nothing.
func (s *Server) route(w http.ResponseWriter, r *http.Request) {
	rest := r.PathValue("rest")
	i := strings.LastIndexByte(rest, ':')
	if i < 0 {
		writeError(w, notFound("The requested URL "+r.URL.Path+" was not found on this server."))
		return
	}
	email, verb := rest[:i], rest[i+1:]
	var op string
	var h func(http.ResponseWriter, *http.Request, *account, string)
	switch verb {
	case "getIamPolicy":
		op, h = OpGetIamPolicy, s.getPolicy
	case "setIamPolicy":
		op, h = OpSetIamPolicy, s.setPolicy
	default:
		writeError(w, notFound("The requested URL "+r.URL.Path+" was not found on this server."))
		return
	}
	s.calls.Inc(op)
	s.faults.Delay()
	f := s.faults.Faults()
	switch {
	case s.faults.Roll(f.Throttle):
		writeError(w, throttled(op))
		return
	case s.faults.Roll(f.ServerError):
		writeError(w, serverError(s.faults.Roll(0.5)))
		return
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	email = strings.ToLower(email)
	a := s.accounts[email]
	if p := r.PathValue("project"); a == nil || (p != "-" && p != projectOf(email)) {
		writeError(w, notFound("Not found; Gaia id not found for email "+email))
		return
	}
	if a.denied {
		writeError(w, denied(op, email))
		return
	}
	h(w, r, a, email)
}

// projectOf returns the project of NAME@PROJECT.iam.gserviceaccount.com.
func projectOf(email string) string {
	_, domain, _ := strings.Cut(email, "@")
	p, _ := strings.CutSuffix(domain, ".iam.gserviceaccount.com")
	return p
}
