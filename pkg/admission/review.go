package admission

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	jsonv1 "github.com/go-json-experiment/json/v1"

	"github.com/keyless-dev/keyless/pkg/internal/jsonstr"
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
		request
		// Object, shallower than request.Object, takes "object".
		Object *mutation.Workload `json:"object"`
	} `json:"request"`
}

// decodeReview tries the single pass first; anything it cannot take as is
// (an error, a missing or null object) goes the general way, which gives
// the same answers and messages as before.
//
// The single pass decodes with the objects' decoder (DecodeObject); what
// it refuses, the general way decodes the review's envelope with
// encoding/json, for its messages, and the object again with
// DecodeObject.
func decodeReview(body []byte) (*request, error) {
	var f fastReview
	if err := DecodeObject(body, &f); err == nil && f.APIVersion == "admission.k8s.io/v1" &&
		f.Kind == "AdmissionReview" && f.Request != nil && f.Request.UID != "" && f.Request.Object != nil {
		r := &f.Request.request
		r.obj = f.Request.Object
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

// DecodeObject decodes an admitted object, a review that carries one, or
// an object `keyless check` reads, in one pass (encoding/json validates
// the whole body, then decodes it), and reads it as the API server reads
// the objects it stores (FuzzDecodeAsTheAPIServer): field names match
// exactly, not folded as encoding/json folds them; a name given twice
// merges as in encoding/json (a string keeps its last value, a null after
// an object leaves it), and text that is not UTF-8 reads as U+FFFD. The
// API server's own encoding of an object has none of these, so its bodies
// decode exactly as encoding/json decodes them (FuzzDecodeAsEncodingJSON).
func DecodeObject(data []byte, v any) error { return jsonv2.Unmarshal(data, v, objectOptions) }

var objectOptions = jsonv2.JoinOptions(jsontext.AllowDuplicateNames(true), jsontext.AllowInvalidUTF8(true),
	jsonv1.MergeWithLegacySemantics(true)) // a null leaves a struct as it was

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

// appendReview writes the AdmissionReview that carries resp, as
// encoding/json would write it, to b.
func appendReview(b []byte, resp *response) ([]byte, error) {
	b = append(b, `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","response":{"uid":`...)
	b = jsonstr.Append(b, resp.UID)
	if resp.Allowed {
		b = append(b, `,"allowed":true`...)
	} else {
		b = append(b, `,"allowed":false`...)
	}
	if resp.PatchType != "" {
		b = append(b, `,"patchType":`...)
		b = jsonstr.Append(b, resp.PatchType)
	}
	if len(resp.Patch) > 0 {
		b = append(b, `,"patch":"`...)
		b = base64.StdEncoding.AppendEncode(b, resp.Patch)
		b = append(b, '"')
	}
	if len(resp.Warnings) > 0 || resp.Status != nil {
		// Only refusals and warnings: rare enough for encoding/json.
		tail, err := json.Marshal(struct {
			Warnings []string `json:"warnings,omitempty"`
			Status   *status  `json:"status,omitempty"`
		}{resp.Warnings, resp.Status})
		if err != nil {
			return nil, err
		}
		b = append(b, ',')
		b = append(b, tail[1:len(tail)-1]...) // without the braces
	}
	return append(b, "}}"...), nil
}
