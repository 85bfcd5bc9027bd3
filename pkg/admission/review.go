package admission

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/keyless-dev/keyless/pkg/mutation"
)

// review decodes only what the handler reads from an admission.k8s.io/v1
// AdmissionReview; the objects stay raw until the handler knows their kind.
type review struct {
	APIVersion string   `json:"apiVersion"`
	Kind       string   `json:"kind"`
	Request    *request `json:"request"`
}

type request struct {
	UID  string `json:"uid"`
	Kind struct {
		Group string `json:"group"`
		Kind  string `json:"kind"`
	} `json:"kind"`
	Namespace string          `json:"namespace"`
	Name      string          `json:"name"`
	Operation string          `json:"operation"`
	Object    json.RawMessage `json:"object"`
	OldObject json.RawMessage `json:"oldObject"`
	DryRun    *bool           `json:"dryRun"`

	// obj is the object already decoded by decodeReview's single pass, or
	// nil when the handler must decode Object itself.
	obj *mutation.Workload
}

func (r *request) dryRun() bool { return r.DryRun != nil && *r.DryRun }

// fastReview decodes the object in the same pass as the review, into the
// view that covers every kind the handler reads (a ServiceAccount's is its
// metadata): one validation and one decoding of the body instead of two each.
type fastReview struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Request    *struct {
		UID  string `json:"uid"`
		Kind struct {
			Group string `json:"group"`
			Kind  string `json:"kind"`
		} `json:"kind"`
		Namespace string             `json:"namespace"`
		Name      string             `json:"name"`
		Operation string             `json:"operation"`
		Object    *mutation.Workload `json:"object"`
		OldObject json.RawMessage    `json:"oldObject"`
		DryRun    *bool              `json:"dryRun"`
	} `json:"request"`
}

// decodeReview tries the single pass first; anything it cannot take as is
// (an error, a missing or null object) goes the general way, which gives
// the same answers and messages as before.
func decodeReview(body []byte) (*request, error) {
	var f fastReview
	if err := json.Unmarshal(body, &f); err == nil && f.APIVersion == "admission.k8s.io/v1" &&
		f.Kind == "AdmissionReview" && f.Request != nil && f.Request.UID != "" && f.Request.Object != nil {
		q := f.Request
		r := &request{UID: q.UID, Namespace: q.Namespace, Name: q.Name, Operation: q.Operation,
			OldObject: q.OldObject, DryRun: q.DryRun, obj: q.Object}
		r.Kind.Group, r.Kind.Kind = q.Kind.Group, q.Kind.Kind
		return r, nil
	}
	return decodeReviewSlow(body)
}

func decodeReviewSlow(body []byte) (*request, error) {
	var r review
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, fmt.Errorf("decoding AdmissionReview: %w", err)
	}
	if r.APIVersion != "admission.k8s.io/v1" || r.Kind != "AdmissionReview" {
		return nil, fmt.Errorf("expected an admission.k8s.io/v1 AdmissionReview, got apiVersion %q kind %q", r.APIVersion, r.Kind)
	}
	if r.Request == nil {
		return nil, errors.New("the AdmissionReview has no request")
	}
	if r.Request.UID == "" {
		return nil, errors.New("the AdmissionReview request has no uid")
	}
	return r.Request, nil
}

// response is the admission.k8s.io/v1 AdmissionResponse fields Keyless sets.
type response struct {
	UID       string   `json:"uid"`
	Allowed   bool     `json:"allowed"`
	PatchType string   `json:"patchType,omitempty"`
	Patch     []byte   `json:"patch,omitempty"`
	Warnings  []string `json:"warnings,omitempty"`
	Status    *status  `json:"status,omitempty"`
}

type status struct {
	Code    int32  `json:"code"`
	Reason  string `json:"reason,omitempty"`
	Message string `json:"message"`
}

func encodeReview(resp *response) ([]byte, error) {
	return json.Marshal(struct {
		APIVersion string    `json:"apiVersion"`
		Kind       string    `json:"kind"`
		Response   *response `json:"response"`
	}{"admission.k8s.io/v1", "AdmissionReview", resp})
}
