package gcp

import (
	"encoding/json"
	"fmt"
	"net/http"
)

// apiError is one of Google's errors: HTTP code, canonical status, the
// legacy reason of errors[0], and the message.
type apiError struct {
	code   int
	status string
	reason string
	msg    string
}

// errorJSON is Google's error envelope.
type errorJSON struct {
	Error errorBody `json:"error"`
}

type errorBody struct {
	Code    int         `json:"code"`
	Message string      `json:"message"`
	Errors  []errorItem `json:"errors"`
	Status  string      `json:"status"`
}

type errorItem struct {
	Message string `json:"message"`
	Domain  string `json:"domain"`
	Reason  string `json:"reason"`
}

func writeError(w http.ResponseWriter, e apiError) {
	writeJSON(w, e.code, errorJSON{errorBody{
		Code:    e.code,
		Message: e.msg,
		Errors:  []errorItem{{Message: e.msg, Domain: "global", Reason: e.reason}},
		Status:  e.status,
	}})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v) // the client may have gone; nothing to do
}

func badRequest(msg string) apiError {
	return apiError{http.StatusBadRequest, "INVALID_ARGUMENT", "badRequest", msg}
}

func notFound(msg string) apiError {
	return apiError{http.StatusNotFound, "NOT_FOUND", "notFound", msg}
}

func poolMissing(pool string) apiError {
	return badRequest("Identity Pool does not exist (" + pool + "). Please check that you specified a valid resource name as returned in the `name` attribute in the configuration API.")
}

func aborted(sent, current string) apiError {
	return apiError{http.StatusConflict, "ABORTED", "aborted",
		"There were concurrent policy changes. Please retry the whole read-modify-write with exponential backoff. " +
			fmt.Sprintf("The request's ETag '%s' did not match the current policy's ETag '%s'.", sent, current)}
}

func denied(op, email string) apiError {
	perm := "iam.serviceAccounts.getIamPolicy"
	if op == OpSetIamPolicy {
		perm = "iam.serviceAccounts.setIamPolicy"
	}
	return apiError{http.StatusForbidden, "PERMISSION_DENIED", "forbidden",
		fmt.Sprintf("Permission '%s' denied on resource (or it may not exist).", perm) +
			" Resource: projects/-/serviceAccounts/" + email}
}

func throttled(op string) apiError {
	kind := "Read"
	if op == OpSetIamPolicy {
		kind = "Write"
	}
	return apiError{http.StatusTooManyRequests, "RESOURCE_EXHAUSTED", "rateLimitExceeded",
		fmt.Sprintf("Quota exceeded for quota metric '%s requests' and limit '%s requests per minute' of service 'iam.googleapis.com' for consumer 'project_number:123456789012'.", kind, kind)}
}

func serverError(unavailable bool) apiError {
	if unavailable {
		return apiError{http.StatusServiceUnavailable, "UNAVAILABLE", "backendError", "The service is currently unavailable."}
	}
	return apiError{http.StatusInternalServerError, "INTERNAL", "backendError", "Internal error encountered."}
}
