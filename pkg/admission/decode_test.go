package admission

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	sigsjson "sigs.k8s.io/json"

	"github.com/keyless-dev/keyless/pkg/mutation"
)

// apiServerReview is the AdmissionReview the API server posts for an
// UPDATE from old to obj, encoded as it encodes them (encoding/json over
// the API types).
func apiServerReview(t testing.TB, gvk metav1.GroupVersionKind, obj, old runtime.Object, dryRun bool) []byte {
	t.Helper()
	m := obj.(metav1.Object)
	body, err := json.Marshal(admissionv1.AdmissionReview{
		TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"},
		Request: &admissionv1.AdmissionRequest{
			UID: types.UID("uid-" + m.GetName()), Kind: gvk, Namespace: m.GetNamespace(), Name: m.GetName(),
			Operation: admissionv1.Update, Object: runtime.RawExtension{Object: obj},
			OldObject: runtime.RawExtension{Object: old}, DryRun: &dryRun,
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return body
}

// decodeAsEncodingJSON decodes body as encoding/json reads it: the review,
// then its object and old object.
func decodeAsEncodingJSON(t *testing.T, body []byte) (*request, *mutation.Workload, *mutation.Workload) {
	t.Helper()
	var r review
	if err := json.Unmarshal(body, &r); err != nil {
		t.Fatalf("encoding/json: %v", err)
	}
	var obj, old mutation.Workload
	if err := json.Unmarshal(r.Request.Object, &obj); err != nil {
		t.Fatalf("encoding/json, the object: %v", err)
	}
	if err := json.Unmarshal(r.Request.OldObject, &old); err != nil {
		t.Fatalf("encoding/json, the old object: %v", err)
	}
	return r.Request, &obj, &old
}

// FuzzDecodeAsEncodingJSON: every review the API server can send for the
// kinds Keyless admits decodes in the single pass, to what encoding/json
// reads from it, whatever the names, annotations and labels hold.
func FuzzDecodeAsEncodingJSON(f *testing.F) {
	f.Add(uint8(0), "orders", "keyless.dev/aws-role", "orders-api", "app", "web", "orders", "keyless.dev/cleanup", false)
	f.Add(uint8(1), "web", "keyless.dev/gcp-service-account", "a@p.iam.gserviceaccount.com", "azure.workload.identity/use", "true", "", "", true)
	f.Add(uint8(2), "nightly", "keyless.dev/azure-identity", "<&>\u2028\"\\", "Keyless.dev/aws-role", "ü", "sa", "f", false)
	f.Add(uint8(1), "x", "keyless.dev/aws-role", "\xff\xfe", "\x00", "\ufffd", "\u212a", "K", true)
	f.Fuzz(func(t *testing.T, kind uint8, name, key, value, labelKey, labelValue, sa, finalizer string, deleting bool) {
		meta := metav1.ObjectMeta{Name: name, Namespace: "shop", Annotations: map[string]string{key: value, "Annotations": value},
			Labels: map[string]string{labelKey: labelValue}}
		if finalizer != "" {
			meta.Finalizers = []string{finalizer, "kubernetes"}
		}
		if deleting {
			meta.DeletionTimestamp = &metav1.Time{}
		}
		tmpl := corev1.PodTemplateSpec{
			ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{labelKey: labelValue}, Annotations: map[string]string{key: value}},
			Spec: corev1.PodSpec{ServiceAccountName: sa, DeprecatedServiceAccount: strings.ToUpper(sa),
				NodeSelector: map[string]string{labelKey: value}, Containers: []corev1.Container{{Name: "app", Image: value}}},
		}
		var obj, old runtime.Object
		var gvk metav1.GroupVersionKind
		switch kind % 3 {
		case 0:
			gvk = metav1.GroupVersionKind{Version: "v1", Kind: "ServiceAccount"}
			obj = &corev1.ServiceAccount{ObjectMeta: meta}
			old = &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name, Annotations: map[string]string{value: key}}}
		case 1:
			gvk = metav1.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"}
			obj = &appsv1.Deployment{ObjectMeta: meta, Spec: appsv1.DeploymentSpec{Template: tmpl}}
			old = &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: name}}
		default:
			gvk = metav1.GroupVersionKind{Group: "batch", Version: "v1", Kind: "CronJob"}
			obj = &batchv1.CronJob{ObjectMeta: meta, Spec: batchv1.CronJobSpec{JobTemplate: batchv1.JobTemplateSpec{
				Spec: batchv1.JobSpec{Template: tmpl}}}}
			old = &batchv1.CronJob{ObjectMeta: meta}
		}
		body := apiServerReview(t, gvk, obj, old, deleting)
		wantReq, wantObj, wantOld := decodeAsEncodingJSON(t, body)

		got, err := decodeReview(body)
		if err != nil {
			t.Fatalf("decodeReview: %v\n%s", err, body)
		}
		if got.obj == nil {
			t.Fatalf("the single pass did not take the review\n%s", body)
		}
		if !reflect.DeepEqual(got.obj, wantObj) {
			t.Errorf("the object decoded as\n%+v\nwant\n%+v\n%s", got.obj, wantObj, body)
		}
		var gotOld mutation.Workload
		if err := DecodeObject(got.OldObject, &gotOld); err != nil || !reflect.DeepEqual(&gotOld, wantOld) {
			t.Errorf("the old object decoded as %+v, %v; want %+v", gotOld, err, wantOld)
		}
		got.obj, got.Object, wantReq.Object = nil, nil, nil
		if !reflect.DeepEqual(got, wantReq) {
			t.Errorf("the request decoded as\n%+v\nwant\n%+v", got, wantReq)
		}
	})
}

// TestDecodeOddBodiesAsEncodingJSON: bodies the API server never sends
// (a name given twice, text that is not UTF-8) decode as encoding/json
// decodes them, so no object is refused that was admitted before, and
// Keyless's own writes are never refused for what they carry.
func TestDecodeOddBodiesAsEncodingJSON(t *testing.T) {
	const envelope = `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u","kind":{"group":"apps","kind":"Deployment"},"operation":"CREATE","object":%s}}`
	tests := []struct {
		name   string
		object string
	}{
		{"an annotation given twice", `{"metadata":{"annotations":{"keyless.dev/aws-role":"a","keyless.dev/aws-role":"b"}}}`},
		{"annotations given twice", `{"metadata":{"annotations":{"keyless.dev/aws-role":"a"},"annotations":{"keyless.dev/gcp-service-account":"b"}}}`},
		{"metadata given twice", `{"metadata":{"name":"a","generateName":"g-"},"metadata":{"name":"b"}}`},
		{"a pod template given twice", `{"spec":{"template":{"spec":{"serviceAccountName":"x"}},"template":{"metadata":{"labels":{"a":"b"}}}}}`},
		{"a name given twice in what Keyless skips", `{"metadata":{"managedFields":[{"fieldsV1":{"f:a":{},"f:a":{}}}]}}`},
		{"text that is not UTF-8", "{\"metadata\":{\"annotations\":{\"keyless.dev/aws-role\":\"a\xff\",\"k\xfe\":\"v\"}}}"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := []byte(strings.Replace(envelope, "%s", tt.object, 1))
			var want struct {
				Request struct {
					Object mutation.Workload `json:"object"`
				} `json:"request"`
			}
			if err := json.Unmarshal(body, &want); err != nil {
				t.Fatal(err)
			}
			got, err := decodeReview(body)
			if err != nil {
				t.Fatalf("decodeReview: %v", err)
			}
			if got.obj == nil || !reflect.DeepEqual(*got.obj, want.Request.Object) {
				t.Errorf("decoded %+v, want %+v", got.obj, want.Request.Object)
			}
		})
	}
}

// TestDecodeMatchesNamesExactly: the API server reads "metadata", not
// "Metadata"; so does the webhook.
func TestDecodeMatchesNamesExactly(t *testing.T) {
	body := []byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u","kind":{"group":"apps","kind":"Deployment"},"operation":"CREATE","object":{"Metadata":{"annotations":{"keyless.dev/aws-role":"a"}},"metadata":{"name":"web"}}}}`)
	r, err := decodeReview(body)
	if err != nil {
		t.Fatal(err)
	}
	if r.obj == nil || r.obj.Metadata.Name != "web" || r.obj.Metadata.Annotations != nil {
		t.Errorf("decoded %+v, want the object named web without annotations", r.obj)
	}
}

// FuzzDecodeAsTheAPIServer: whatever bytes an object holds, when the API
// server's reader (sigs.k8s.io/json, case-sensitive) takes them, the
// webhook reads the same fields from them.
func FuzzDecodeAsTheAPIServer(f *testing.F) {
	f.Add([]byte(`{"metadata":{"name":"web","annotations":{"keyless.dev/aws-role":"a"}},"spec":{"template":{"spec":{"serviceAccountName":"orders"}}}}`))
	f.Add([]byte(`{"Metadata":{"annotations":{"keyless.dev/aws-role":"a"}},"metadata":{"name":"web","Annotations":{"x":"y"}}}`))
	f.Add([]byte(`{"metadata":{"annotations":{"a":"1"},"annotations":{"b":"2"},"finalizers":["x"],"finalizers":null}}`))
	f.Add([]byte(`{"spec":{"jobTemplate":{"spec":{"template":{"metadata":{"labels":{"a":"b"}},"spec":{"serviceAccount":"s","nodeSelector":{}}}}}}}`))
	f.Add([]byte(`{"metadata":{"name":"a"},"metadata":null,"spec":{"template":{"spec":{"serviceAccountName":"x"}},"template":null}}`))
	f.Add([]byte("{\"metadata\":{\"name\":\"\\u00e9\\ud800\xff\",\"deletionTimestamp\":\"2026-12-06T00:00:00Z\"}}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var want mutation.Workload
		if sigsjson.UnmarshalCaseSensitivePreserveInts(data, &want) != nil {
			return
		}
		var got mutation.Workload
		if err := DecodeObject(data, &got); err != nil {
			t.Fatalf("the API server reads %s; the webhook: %v", data, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s\nreads as\n%+v\nfor the API server as\n%+v", data, got, want)
		}
	})
}
