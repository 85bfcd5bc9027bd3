package admission

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/keyless-dev/keyless/pkg/annotations"
	"github.com/keyless-dev/keyless/pkg/mutation"
	"github.com/keyless-dev/keyless/pkg/policy"
	"github.com/keyless-dev/keyless/pkg/workload"
)

// Values used throughout the tests.
const (
	awsRole  = "orders-api"
	awsRole2 = "arn:aws:iam::123456789012:role/payments"
	gcpEmail = "orders-api@my-project.iam.gserviceaccount.com"
	gcpOther = "payments@my-project.iam.gserviceaccount.com"
	azureRG  = "shop-rg"
	ns       = "shop"
)

// testCluster is the cluster's own account, subscription and project.
var testCluster = policy.Cluster{AWSAccount: "123456789012", AzureSubscription: "00000000-0000-0000-0000-000000000001", GCPProject: "my-project"}

// fakeLookup answers from maps: ServiceAccount annotations by name (a
// missing name is a missing ServiceAccount) and users by ServiceAccount.
type fakeLookup struct {
	serviceAccounts map[string]map[string]string
	users           map[string][]workload.User
	labels          map[string]string
	bindings        map[string][]string
	namespaces      []string
	err             error
	namespacesErr   error
}

func (f *fakeLookup) Namespaces(_ context.Context, prefix string) ([]string, error) {
	var out []string
	for _, n := range f.namespaces {
		if strings.HasPrefix(n, prefix) {
			out = append(out, n)
		}
	}
	return out, cmp.Or(f.err, f.namespacesErr)
}

func (f *fakeLookup) NamespaceLabels(context.Context, string) (map[string]string, error) {
	return f.labels, f.err
}

func (f *fakeLookup) Bindings(_ context.Context, key string) ([]string, error) {
	return f.bindings[key], f.err
}

func (f *fakeLookup) ServiceAccountAnnotations(_ context.Context, namespace, name string) (map[string]string, bool, error) {
	if f.err != nil {
		return nil, false, f.err
	}
	if namespace != ns {
		return nil, false, errors.New("fakeLookup: unexpected namespace " + namespace)
	}
	a, ok := f.serviceAccounts[name]
	return a, ok, nil
}

func (f *fakeLookup) Users(_ context.Context, namespace, serviceAccount string) ([]workload.User, error) {
	if f.err != nil {
		return nil, f.err
	}
	if namespace != ns {
		return nil, errors.New("fakeLookup: unexpected namespace " + namespace)
	}
	return f.users[serviceAccount], nil
}

// newHandler is a handler with the usual settings and lookup l (nil: an
// empty cluster).
func newHandler(l *fakeLookup) *Handler {
	if l == nil {
		l = &fakeLookup{}
	}
	return &Handler{
		Options: Options{
			Parse:    annotations.Options{AzureDefaultResourceGroup: azureRG},
			Cluster:  testCluster,
			Workload: mutation.WorkloadOptions{GKENodeSelector: true},
		},
		Lookup: l,
	}
}

// ---- Objects ---------------------------------------------------------------

func deployment(name string, annots ...string) *appsv1.Deployment {
	d := &appsv1.Deployment{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Annotations: pairs(annots)},
	}
	d.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}}
	d.Spec.Template.Labels = map[string]string{"app": name}
	d.Spec.Template.Spec.Containers = []corev1.Container{{Name: "app", Image: "example.com/" + name + ":1"}}
	return d
}

// runningAs sets the Deployment's ServiceAccount as the API server sends it.
func runningAs(d *appsv1.Deployment, sa string) *appsv1.Deployment {
	d.Spec.Template.Spec.ServiceAccountName, d.Spec.Template.Spec.DeprecatedServiceAccount = sa, sa
	return d
}

func job(name string, annots ...string) *batchv1.Job {
	j := &batchv1.Job{
		TypeMeta:   metav1.TypeMeta{APIVersion: "batch/v1", Kind: "Job"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Annotations: pairs(annots)},
	}
	j.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyNever
	j.Spec.Template.Spec.Containers = []corev1.Container{{Name: "app", Image: "example.com/" + name + ":1"}}
	return j
}

func serviceAccount(name string, annots ...string) *corev1.ServiceAccount {
	return &corev1.ServiceAccount{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ServiceAccount"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Annotations: pairs(annots)},
	}
}

func configMap(name string, annots ...string) *corev1.ConfigMap {
	return &corev1.ConfigMap{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Annotations: pairs(annots)},
	}
}

func user(kind, name string, annots ...string) workload.User {
	return workload.User{Kind: kind, Name: name, UID: "uid-" + name, Annotations: pairs(annots)}
}

func pairs(kv []string) map[string]string {
	if len(kv) == 0 {
		return nil
	}
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

// ---- Reviews ----------------------------------------------------------------

// admissionReview builds the body the API server posts for obj. The group
// and kind come from obj's TypeMeta.
func admissionReview(t testing.TB, operation string, obj any) []byte {
	t.Helper()
	raw, err := json.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	var tm struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
		Metadata   struct {
			Name string `json:"name"`
		} `json:"metadata"`
	}
	if err := json.Unmarshal(raw, &tm); err != nil {
		t.Fatal(err)
	}
	group, version := "", tm.APIVersion
	if i := strings.IndexByte(tm.APIVersion, '/'); i >= 0 {
		group, version = tm.APIVersion[:i], tm.APIVersion[i+1:]
	}
	req := map[string]any{
		"uid":       testUID,
		"kind":      map[string]string{"group": group, "version": version, "kind": tm.Kind},
		"resource":  map[string]string{"group": group, "version": version, "resource": "things"},
		"namespace": ns,
		"name":      tm.Metadata.Name,
		"operation": operation,
		"userInfo":  map[string]any{"username": "alice"},
		"object":    json.RawMessage(raw),
		"dryRun":    false,
	}
	if operation == "DELETE" {
		req["object"] = nil
		req["oldObject"] = json.RawMessage(raw)
	}
	body, err := json.Marshal(map[string]any{
		"apiVersion": "admission.k8s.io/v1",
		"kind":       "AdmissionReview",
		"request":    req,
	})
	if err != nil {
		t.Fatal(err)
	}
	return body
}

// post sends body to h as the API server does and returns the recorder.
func post(h http.Handler, body []byte) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodPost, Path, bytes.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// decodeResponse fails unless w holds a well-formed AdmissionReview answer
// to the request with uid; it decodes it with the API's own types, so that
// the wire format is checked too.
func decodeResponse(t testing.TB, w *httptest.ResponseRecorder, uid string) *admissionv1.AdmissionResponse {
	t.Helper()
	if w.Code != http.StatusOK {
		t.Fatalf("HTTP status = %d, want 200; body: %s", w.Code, w.Body)
	}
	if ct := w.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
	var rr admissionv1.AdmissionReview
	dec := json.NewDecoder(bytes.NewReader(w.Body.Bytes()))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&rr); err != nil {
		t.Fatalf("the answer is not an AdmissionReview: %v\n%s", err, w.Body)
	}
	if rr.APIVersion != "admission.k8s.io/v1" || rr.Kind != "AdmissionReview" || rr.Response == nil || rr.Request != nil {
		t.Fatalf("the answer is not an admission.k8s.io/v1 AdmissionReview with only a response: %s", w.Body)
	}
	resp := rr.Response
	if string(resp.UID) != uid {
		t.Errorf("response uid = %q, want %q", resp.UID, uid)
	}
	switch {
	case resp.Allowed && resp.Result != nil:
		t.Errorf("allowed with a status: %s", w.Body)
	case !resp.Allowed && (resp.Result == nil || resp.Result.Message == "" || resp.Result.Code == 0):
		t.Errorf("refused without a status code and message: %s", w.Body)
	case !resp.Allowed && resp.Patch != nil:
		t.Errorf("refused with a patch: %s", w.Body)
	case (resp.PatchType != nil) != (resp.Patch != nil):
		t.Errorf("patch and patchType must come together: %s", w.Body)
	case resp.PatchType != nil && *resp.PatchType != admissionv1.PatchTypeJSONPatch:
		t.Errorf("patchType = %q, want JSONPatch", *resp.PatchType)
	}
	return resp
}

const testUID = "705ab4f5-6393-11e8-b7cc-42010a800002"
