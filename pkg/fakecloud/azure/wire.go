package azure

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// JSON shapes of Microsoft.ManagedIdentity as ARM sends them.

const (
	providerNS     = "Microsoft.ManagedIdentity"
	identityType   = providerNS + "/userAssignedIdentities"
	credentialType = identityType + "/federatedIdentityCredentials"
)

type identityJSON struct {
	ID         string            `json:"id"`
	Name       string            `json:"name"`
	Type       string            `json:"type"`
	Location   string            `json:"location"`
	Tags       map[string]string `json:"tags"`
	Properties identityProps     `json:"properties"`
}

type identityProps struct {
	TenantID       string `json:"tenantId"`
	PrincipalID    string `json:"principalId"`
	ClientID       string `json:"clientId"`
	IsolationScope string `json:"isolationScope"`
}

type credentialJSON struct {
	ID         string          `json:"id"`
	Name       string          `json:"name"`
	Type       string          `json:"type"`
	Properties credentialProps `json:"properties"`
	SystemData systemData      `json:"systemData"`
}

type credentialProps struct {
	Issuer    string   `json:"issuer"`
	Subject   string   `json:"subject"`
	Audiences []string `json:"audiences"`
}

type systemData struct {
	CreatedAt      time.Time `json:"createdAt"`
	LastModifiedAt time.Time `json:"lastModifiedAt"`
}

// putBody is a PUT request body; Properties is a pointer to tell "missing" apart.
type putBody struct {
	Properties *credentialProps `json:"properties"`
}

type listJSON struct {
	Value    []credentialJSON `json:"value"`
	NextLink string           `json:"nextLink,omitempty"`
}

// cloudError is ARM's CloudError, with the status and headers it travels with.
type cloudError struct {
	Code    string `json:"code"`
	Message string `json:"message"`

	status     int
	retryAfter int // seconds, for 429
}

func (e *cloudError) Error() string { return fmt.Sprintf("%d %s: %s", e.status, e.Code, e.Message) }

func newError(status int, code, format string, args ...any) *cloudError {
	return &cloudError{status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

func identityID(sub, rg, name string) string {
	// The service returns "resourcegroups" in lower case.
	return "/subscriptions/" + sub + "/resourcegroups/" + rg + "/providers/" + identityType + "/" + name
}

func concurrentWrites(sub, rg, name string) *cloudError {
	return newError(http.StatusConflict, "ConcurrentFederatedIdentityCredentialsWritesForSingleManagedIdentity",
		"Too many Federated Identity Credentials are written concurrently for the managed identity '%s'. "+
			"Concurrent Federated Identity Credentials writes under the same managed identity are not supported.",
		strings.ToLower(identityID(sub, rg, name)))
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v) // the client is gone if this fails
}

func writeError(w http.ResponseWriter, e *cloudError) {
	if e.retryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(e.retryAfter))
	}
	writeJSON(w, e.status, struct {
		Error *cloudError `json:"error"`
	}{e})
}
