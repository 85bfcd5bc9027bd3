// Package admission serves the mutating admission webhook: it decodes an
// AdmissionReview once and only as far as needed, validates the keyless.dev
// annotations, checks that the ServiceAccount is not connected elsewhere, and
// answers with a JSON patch computed from what has to change.
//
// The handler makes no cloud call and writes nothing: it reads only cached
// cluster state through Lookup.
package admission

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/keyless-dev/keyless/pkg/annotations"
	"github.com/keyless-dev/keyless/pkg/mutation"
	"github.com/keyless-dev/keyless/pkg/policy"
	"github.com/keyless-dev/keyless/pkg/workload"
)

// Path is where the webhook is served.
const Path = "/mutate"

// maxBody bounds a request body: the API server sends at most a few MiB.
const maxBody = 7 << 20

// Lookup reads cached cluster state for the conflict checks. The maps and
// slices it returns may be the cache's own: the Decider reads them, never
// changes them.
type Lookup interface {
	// ServiceAccountAnnotations returns the annotations of a ServiceAccount,
	// and false when it does not exist.
	ServiceAccountAnnotations(ctx context.Context, namespace, name string) (map[string]string, bool, error)
	// Users lists the connected workloads that run as the ServiceAccount.
	Users(ctx context.Context, namespace, serviceAccount string) ([]workload.User, error)
	// NamespaceLabels returns the labels of a namespace.
	NamespaceLabels(ctx context.Context, namespace string) (map[string]string, error)
	// Bindings lists the ServiceAccounts ("namespace/name") that bind the
	// identity with the given policy.IdentityKey.
	Bindings(ctx context.Context, identityKey string) ([]string, error)
	// Namespaces lists the names of the existing namespaces that start with
	// prefix, for the policy's namespace ownership.
	Namespaces(ctx context.Context, prefix string) ([]string, error)
}

// Options are the cluster-wide settings the handler applies.
type Options struct {
	Parse annotations.Options
	// Cluster is where the cluster's own identities live, for policy matching.
	Cluster        policy.Cluster
	Workload       mutation.WorkloadOptions
	ServiceAccount mutation.ServiceAccountOptions
}

// Handler is the webhook's http.Handler.
type Handler struct {
	Options Options
	Lookup  Lookup
	Log     logr.Logger
	// Policy returns the policy in force; nil means no policy checks.
	Policy func() *policy.Policy
	// Audit is told about audit-mode violations of admitted objects (not
	// for dry runs); nil ignores them.
	Audit func(namespace, kind, name string, v policy.Violation)
}

// ServeHTTP answers one AdmissionReview.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	if r.Method != http.MethodPost {
		h.fail(w, http.StatusMethodNotAllowed, "admission reviews are POSTed")
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/json") {
		h.fail(w, http.StatusUnsupportedMediaType, fmt.Sprintf("content type %q is not application/json", ct))
		return
	}
	buf := getBuffer()
	defer putBuffer(buf)
	body, err := readBody(r, (*buf)[:0])
	if err != nil {
		h.fail(w, http.StatusBadRequest, "reading the request body failed or it is larger than 7 MiB")
		return
	}
	*buf = body
	req, err := decodeReview(body)
	if err != nil {
		h.fail(w, http.StatusBadRequest, err.Error())
		return
	}

	resource, operation := metricLabels(req)
	resp, outcome := h.review(r.Context(), req)
	resp.UID = req.UID
	// Nothing decoded points into the body, so its buffer takes the answer.
	out, err := appendReview(body[:0], resp)
	if err != nil {
		h.fail(w, http.StatusInternalServerError, "encoding the response failed")
		return
	}
	*buf = out
	w.Header()["Content-Type"] = jsonContentType
	_, _ = w.Write(out)

	observe(resource, operation, outcome, time.Since(start).Seconds())
	if outcome != outcomeAllowed && outcome != outcomeMutated {
		h.Log.V(1).Info("admission refused", "resource", resource, "namespace", req.Namespace,
			"name", req.Name, "outcome", outcome, "message", resp.Status.Message)
	}
}

func (h *Handler) fail(w http.ResponseWriter, code int, msg string) {
	requestsTotal.WithLabelValues("unknown", "", outcomeInvalid).Inc()
	h.Log.V(1).Info("bad admission request", "code", code, "message", msg)
	http.Error(w, msg, code)
}

// review decides one request.
func (h *Handler) review(ctx context.Context, req *request) (*response, string) {
	if req.Operation != "CREATE" && req.Operation != "UPDATE" ||
		!(req.Kind.Group == "" && req.Kind.Kind == "ServiceAccount" || IsWorkload(req.Kind.Group, req.Kind.Kind)) {
		return &response{Allowed: true}, outcomeAllowed
	}
	in := Input{Operation: req.Operation, Group: req.Kind.Group, Kind: req.Kind.Kind,
		Namespace: req.Namespace, Object: req.obj, OldObject: req.OldObject}
	if in.Object == nil {
		in.Object = new(mutation.Workload)
		if err := DecodeObject(req.Object, in.Object); err != nil {
			return &response{Status: &status{Code: http.StatusBadRequest, Reason: "BadRequest",
				Message: "keyless: " + fmt.Errorf("%w: %w", errBadObject, err).Error()}}, outcomeInvalid
		}
	}
	d := Decider{Options: h.Options, Lookup: h.Lookup}
	if h.Policy != nil {
		d.Policy = h.Policy()
	}
	dec, err := d.Decide(ctx, &in)
	if err != nil {
		return &response{Status: &status{Code: http.StatusInternalServerError, Reason: "InternalError",
			Message: "keyless: " + err.Error()}}, outcomeError
	}
	var warnings []string
	errs := h.verdict(req, dec.Violations, &warnings)
	if len(dec.Denials) > 0 {
		errs = make(field.ErrorList, len(dec.Denials))
		for i, dn := range dec.Denials {
			errs[i] = dn.Err
		}
	}
	switch {
	case len(errs) > 0:
		return &response{Status: &status{Code: http.StatusForbidden, Reason: "Forbidden",
			Message: denial(errs)}}, outcomeDenied
	case len(dec.Patch) == 0:
		return &response{Allowed: true, Warnings: warnings}, outcomeAllowed
	}
	raw, err := dec.Patch.JSON()
	if err != nil {
		return &response{Status: &status{Code: http.StatusInternalServerError, Reason: "InternalError",
			Message: "keyless: encoding the patch: " + err.Error()}}, outcomeError
	}
	return &response{Allowed: true, PatchType: "JSONPatch", Patch: raw, Warnings: warnings}, outcomeMutated
}

// jsonContentType is shared by every answer; net/http only reads it.
var jsonContentType = []string{"application/json"}

// errBadObject marks an object in the review that does not decode.
var errBadObject = errors.New("the object in the AdmissionReview does not decode")

func denial(errs field.ErrorList) string {
	var b strings.Builder
	b.WriteString("keyless: ")
	for i, e := range errs {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(e.Error())
	}
	return b.String()
}
