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
	"encoding/json"
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

// Lookup reads cached cluster state for the conflict checks.
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
	if req.Operation != "CREATE" && req.Operation != "UPDATE" {
		return &response{Allowed: true}, outcomeAllowed
	}
	var (
		patch    mutation.Patch
		errs     field.ErrorList
		err      error
		warnings []string
	)
	switch {
	case req.Kind.Group == "" && req.Kind.Kind == "ServiceAccount":
		patch, errs, err = h.serviceAccount(ctx, req, &warnings)
	case isWorkload(req.Kind.Group, req.Kind.Kind):
		patch, errs, err = h.workload(ctx, req, &warnings)
	default:
		return &response{Allowed: true}, outcomeAllowed
	}
	switch {
	case errors.Is(err, errBadObject):
		return &response{Status: &status{Code: http.StatusBadRequest, Reason: "BadRequest",
			Message: "keyless: " + err.Error()}}, outcomeInvalid
	case err != nil:
		return &response{Status: &status{Code: http.StatusInternalServerError, Reason: "InternalError",
			Message: "keyless: " + err.Error()}}, outcomeError
	case len(errs) > 0:
		return &response{Status: &status{Code: http.StatusForbidden, Reason: "Forbidden",
			Message: denial(errs)}}, outcomeDenied
	case len(patch) == 0:
		return &response{Allowed: true, Warnings: warnings}, outcomeAllowed
	}
	raw, err := patch.JSON()
	if err != nil {
		return &response{Status: &status{Code: http.StatusInternalServerError, Reason: "InternalError",
			Message: "keyless: encoding the patch: " + err.Error()}}, outcomeError
	}
	return &response{Allowed: true, PatchType: "JSONPatch", Patch: raw, Warnings: warnings}, outcomeMutated
}

func isWorkload(group, kind string) bool {
	switch group + "/" + kind {
	case "apps/Deployment", "apps/StatefulSet", "apps/DaemonSet", "batch/Job", "batch/CronJob":
		return true
	}
	return false
}

// jsonContentType is shared by every answer; net/http only reads it.
var jsonContentType = []string{"application/json"}

// errBadObject marks an object in the review that does not decode.
var errBadObject = errors.New("the object in the AdmissionReview does not decode")

func (h *Handler) workload(ctx context.Context, req *request, warnings *[]string) (mutation.Patch, field.ErrorList, error) {
	var obj mutation.Workload
	if req.obj != nil {
		obj = *req.obj
	} else if err := json.Unmarshal(req.Object, &obj); err != nil {
		return nil, nil, fmt.Errorf("%w: %w", errBadObject, err)
	}
	conns, errs := annotations.Parse(obj.Metadata.Annotations, h.Options.Parse)
	if len(errs) > 0 {
		return nil, tolerated(req, obj.Metadata, errs), nil
	}
	opts := h.Options.Workload
	opts.TemplateImmutable = req.Kind.Kind == "Job" && req.Operation == "UPDATE"
	if old := req.oldObject(); old != nil {
		if t, _ := old.PodTemplate(); t != nil {
			opts.RestartedAt = t.Metadata.Annotations[annotations.KeyRestartedAt]
		}
	}
	patch, sa, errs := mutation.ForWorkload(&obj, conns, opts)
	if len(errs) > 0 {
		return patch, errs, nil
	}
	if !conns.Empty() {
		self := workload.User{Kind: req.Kind.Kind, Name: obj.Name()}
		errs, err := h.conflicts(ctx, req.Namespace, sa, self, conns)
		if err != nil || len(errs) > 0 {
			return patch, errs, err
		}
	}
	errs, err := h.checkPolicy(ctx, req, sa, req.Kind.Kind+"/"+obj.Name(), conns, warnings)
	return patch, errs, err
}

func (h *Handler) serviceAccount(ctx context.Context, req *request, warnings *[]string) (mutation.Patch, field.ErrorList, error) {
	var obj mutation.ServiceAccount
	if req.obj != nil {
		obj.Metadata = req.obj.Metadata
	} else if err := json.Unmarshal(req.Object, &obj); err != nil {
		return nil, nil, fmt.Errorf("%w: %w", errBadObject, err)
	}
	conns, errs := annotations.Parse(obj.Metadata.Annotations, h.Options.Parse)
	if len(errs) > 0 {
		return nil, tolerated(req, obj.Metadata, errs), nil
	}
	if obj.Metadata.Name == "default" && !h.newConnections(req, conns).Empty() {
		return nil, field.ErrorList{field.Forbidden(field.NewPath("metadata", "annotations"),
			"Keyless does not connect a namespace's \"default\" ServiceAccount: every pod that names no "+
				"ServiceAccount runs as it, so its identity would go to all of them; put the keyless.dev "+
				"annotations on the workload instead (Keyless then gives it a ServiceAccount of its own), "+
				"or on a ServiceAccount made for the workload")}, nil
	}
	patch, errs := mutation.ForServiceAccount(&obj, conns, h.Options.ServiceAccount)
	if len(errs) > 0 || conns.Empty() {
		return patch, errs, nil
	}
	users, err := h.Lookup.Users(ctx, req.Namespace, obj.Metadata.Name)
	if err != nil {
		return nil, nil, err
	}
	if errs := conflictsWithUsers(conns, workload.User{Kind: "ServiceAccount", Name: obj.Metadata.Name},
		"this ServiceAccount", users, h.Options.Parse); len(errs) > 0 {
		return patch, errs, nil
	}
	errs, err = h.checkPolicy(ctx, req, obj.Metadata.Name, "", conns, warnings)
	return patch, errs, err
}

// tolerated returns the annotation errors of an object that must be denied
// for them: none for an UPDATE of an object being deleted, or one that
// leaves the keyless.dev annotations as they were. Such updates are
// Keyless's own finalizer and status writes, or edits unrelated to Keyless,
// and refusing them after a configuration change (a default resource group
// removed, say) would leave ServiceAccounts and namespaces stuck in deletion.
func tolerated(req *request, meta mutation.ObjectMeta, errs field.ErrorList) field.ErrorList {
	if req.Operation != "UPDATE" {
		return errs
	}
	if meta.DeletionTimestamp != nil {
		return nil
	}
	if old := req.oldObject(); old != nil && sameKeylessAnnotations(old.Metadata.Annotations, meta.Annotations) {
		return nil
	}
	return errs
}

// sameKeylessAnnotations compares the keyless.dev/ keys of a and b.
func sameKeylessAnnotations(a, b map[string]string) bool {
	for k, v := range a {
		if strings.HasPrefix(k, annotations.Prefix) {
			if w, ok := b[k]; !ok || w != v {
				return false
			}
		}
	}
	for k := range b {
		if _, ok := a[k]; strings.HasPrefix(k, annotations.Prefix) && !ok {
			return false
		}
	}
	return true
}

// newConnections keeps the connections of conns that an UPDATE adds or
// changes (all of them on a CREATE, or when the old object is unreadable).
func (h *Handler) newConnections(req *request, conns annotations.Connections) annotations.Connections {
	if old := req.oldObject(); old != nil {
		before, _ := annotations.Parse(old.Metadata.Annotations, h.Options.Parse)
		return onlyChanged(conns, before)
	}
	return conns
}

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
