// Package azure simulates Azure Resource Manager for Microsoft.ManagedIdentity:
// user-assigned identities (read only) and their federated identity
// credentials, on the wire, with the service's rules and error bodies.
//
// Writes to the credentials of one identity hold that identity for the
// injected latency or the write window; a second write arriving meanwhile
// gets the service's 409 ConcurrentFederatedIdentityCredentialsWritesForSingleManagedIdentity.
// The bearer token is not checked.
package azure

import (
	"net/http"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/keyless-dev/keyless/pkg/fakecloud"
)

// Operation names counted by Calls.
const (
	OpGetIdentity      = "GetIdentity"
	OpGetCredential    = "GetCredential"
	OpPutCredential    = "PutCredential"
	OpDeleteCredential = "DeleteCredential"
	OpListCredentials  = "ListCredentials"
)

// apiVersions are the api-version values the simulator accepts; read only.
var apiVersions = []string{"2024-11-30", "2023-01-31"}

var apiVersionShape = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}(-preview)?$`)

// Server is the simulator, an http.Handler. Safe for concurrent use.
type Server struct {
	faults *fakecloud.Injector
	calls  fakecloud.Calls

	mu         sync.Mutex
	identities map[string]*identity
	writing    map[string]bool // identity keys with a write in flight
	overlaps   int
	written    int // PUTs applied
	window     time.Duration
	pageSize   int
	// maxPageSize caps pages whatever $top says; 0: no cap.
	maxPageSize int
	retryAfter  int
	tenantID    string
}

// NewServer returns an empty simulator with a fixed fault seed, pages of 10
// credentials unless $top says otherwise, and Retry-After: 1 on throttling.
func NewServer() *Server {
	return &Server{
		faults:     fakecloud.NewInjector(1),
		identities: map[string]*identity{},
		writing:    map[string]bool{},
		pageSize:   10,
		retryAfter: 1,
		tenantID:   guid("keyless-fakearm-tenant"),
	}
}

// ServeHTTP answers one ARM request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rt, ok := parseRoute(r.URL.Path)
	if !ok {
		writeError(w, newError(http.StatusNotFound, "InvalidResourceType",
			"The resource type could not be found in the namespace '%s' for path '%s'.", providerNS, r.URL.Path))
		return
	}
	op := rt.op(r.Method)
	if op == "" {
		writeError(w, newError(http.StatusMethodNotAllowed, "MethodNotAllowed",
			"The requested resource does not support http method '%s'.", r.Method))
		return
	}
	s.calls.Inc(op)
	if err := checkAPIVersion(r.URL.Query().Get("api-version")); err != nil {
		writeError(w, err)
		return
	}
	write := op == OpPutCredential || op == OpDeleteCredential
	if err := s.fault(rt, write); err != nil {
		writeError(w, err)
		return
	}
	switch op {
	case OpGetIdentity:
		s.getIdentity(w, rt)
	case OpGetCredential:
		s.getCredential(w, rt)
	case OpListCredentials:
		s.list(w, r, rt)
	default:
		s.write(w, r, rt, op)
	}
}

func checkAPIVersion(v string) *cloudError {
	switch {
	case v == "":
		return newError(http.StatusBadRequest, "MissingApiVersionParameter",
			"The api-version query parameter (?api-version=) is required for all requests.")
	case !apiVersionShape.MatchString(v):
		return newError(http.StatusBadRequest, "InvalidApiVersionParameter",
			"The api-version '%s' is invalid. The supported versions are '%s'.", v, strings.Join(apiVersions, ","))
	}
	for _, ok := range apiVersions {
		if v == ok {
			return nil
		}
	}
	return newError(http.StatusBadRequest, "NoRegisteredProviderFound",
		"No registered resource provider found for location 'eastus' and API version '%s' for type 'userAssignedIdentities'. "+
			"The supported api-versions are '%s'.", v, strings.Join(apiVersions, ", "))
}

// fault picks an injected fault, before anything changes.
func (s *Server) fault(rt route, write bool) *cloudError {
	f := s.faults.Faults()
	switch {
	case s.faults.Roll(f.Throttle):
		s.mu.Lock()
		after := s.retryAfter
		s.mu.Unlock()
		e := newError(http.StatusTooManyRequests, "TooManyRequests",
			"The request is being throttled. Please retry after %d seconds.", after)
		e.retryAfter = after
		return e
	case s.faults.Roll(f.ServerError):
		return newError(http.StatusInternalServerError, "InternalServerError",
			"Encountered internal server error. Please retry the request.")
	case write && s.faults.Roll(f.Conflict):
		return concurrentWrites(rt.sub, rt.rg, rt.identity)
	}
	return nil
}

// route is a parsed request path; segments are matched case-insensitively, as ARM does.
type route struct {
	sub, rg, identity string
	list              bool   // .../federatedIdentityCredentials
	credential        string // .../federatedIdentityCredentials/{name}
}

func parseRoute(path string) (route, bool) {
	seg := strings.Split(strings.Trim(path, "/"), "/")
	fixed := map[int]string{0: "subscriptions", 2: "resourceGroups", 4: "providers", 5: providerNS, 6: "userAssignedIdentities", 8: "federatedIdentityCredentials"}
	if len(seg) < 8 || len(seg) > 10 {
		return route{}, false
	}
	for i, want := range fixed {
		if i < len(seg) && !strings.EqualFold(seg[i], want) {
			return route{}, false
		}
	}
	rt := route{sub: seg[1], rg: seg[3], identity: seg[7], list: len(seg) == 9}
	if len(seg) == 10 {
		rt.credential = seg[9]
	}
	for _, s := range []string{rt.sub, rt.rg, rt.identity} {
		if s == "" {
			return route{}, false
		}
	}
	return rt, len(seg) != 10 || rt.credential != ""
}

func (rt route) op(method string) string {
	switch {
	case method == http.MethodGet && rt.list:
		return OpListCredentials
	case rt.list:
		return ""
	case method == http.MethodGet && rt.credential == "":
		return OpGetIdentity
	case rt.credential == "":
		return ""
	case method == http.MethodGet:
		return OpGetCredential
	case method == http.MethodPut:
		return OpPutCredential
	case method == http.MethodDelete:
		return OpDeleteCredential
	}
	return ""
}
