package admission

import (
	"encoding/json"
	"errors"
	"fmt"
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
}

func (r *request) dryRun() bool { return r.DryRun != nil && *r.DryRun }

func decodeReview(body []byte) (*request, error) {
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
