package admission

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/keyless-dev/keyless/pkg/annotations"
	"github.com/keyless-dev/keyless/pkg/workload"
)

// Annotation shortcuts.
const (
	kAWS  = annotations.KeyAWSRole
	kAz   = annotations.KeyAzureIdentity
	kGCP  = annotations.KeyGCPServiceAccount
	kProp = annotations.KeyPropagated
)

func TestHandlerRejectsBadBodies(t *testing.T) {
	valid := string(admissionReview(t, "CREATE", deployment("orders", kAWS, awsRole)))
	tests := []struct {
		name        string
		method      string
		contentType string
		body        string
		wantCode    int
		wantBody    string
	}{
		{name: "empty body", body: "", wantCode: 400, wantBody: "decoding AdmissionReview"},
		{name: "not JSON", body: "{not json", wantCode: 400, wantBody: "decoding AdmissionReview"},
		{name: "truncated review", body: valid[:len(valid)/2], wantCode: 400, wantBody: "decoding AdmissionReview"},
		{name: "JSON array", body: `[1,2,3]`, wantCode: 400, wantBody: "decoding AdmissionReview"},
		{name: "JSON string", body: `"AdmissionReview"`, wantCode: 400, wantBody: "decoding AdmissionReview"},
		{name: "JSON null", body: `null`, wantCode: 400, wantBody: "expected an admission.k8s.io/v1 AdmissionReview"},
		{name: "another object", body: `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"x"}}`, wantCode: 400,
			wantBody: `got apiVersion "v1" kind "Pod"`},
		{name: "fields of the wrong type", body: `{"apiVersion":1,"kind":"AdmissionReview"}`, wantCode: 400,
			wantBody: "decoding AdmissionReview"},
		{name: "no request", body: `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}`, wantCode: 400,
			wantBody: "has no request"},
		{name: "null request", body: `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":null}`, wantCode: 400,
			wantBody: "has no request"},
		{name: "request not an object", body: `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":"x"}`, wantCode: 400,
			wantBody: "decoding AdmissionReview"},
		{name: "request without uid", body: `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"operation":"CREATE"}}`,
			wantCode: 400, wantBody: "has no uid"},
		{name: "v1beta1", body: strings.Replace(valid, "admission.k8s.io/v1", "admission.k8s.io/v1beta1", 1), wantCode: 400,
			wantBody: `got apiVersion "admission.k8s.io/v1beta1"`},
		{name: "wrong kind", body: strings.Replace(valid, `"kind":"AdmissionReview"`, `"kind":"AdmissionRequest"`, 1), wantCode: 400,
			wantBody: `kind "AdmissionRequest"`},
		{name: "GET", method: http.MethodGet, body: valid, wantCode: 405, wantBody: "POSTed"},
		{name: "text/plain", contentType: "text/plain", body: valid, wantCode: 415, wantBody: `"text/plain" is not application/json`},
		{name: "no content type", contentType: "-", body: valid, wantCode: 200},
		{name: "json with charset", contentType: "application/json; charset=utf-8", body: valid, wantCode: 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			method, ct := tt.method, tt.contentType
			if method == "" {
				method = http.MethodPost
			}
			r := httptest.NewRequest(method, Path, strings.NewReader(tt.body))
			switch ct {
			case "":
				r.Header.Set("Content-Type", "application/json")
			case "-":
			default:
				r.Header.Set("Content-Type", ct)
			}
			w := httptest.NewRecorder()
			newHandler(nil).ServeHTTP(w, r)
			if w.Code != tt.wantCode {
				t.Fatalf("HTTP status = %d, want %d; body: %s", w.Code, tt.wantCode, w.Body)
			}
			if tt.wantCode == 200 {
				decodeResponse(t, w, testUID)
				return
			}
			if !strings.Contains(w.Body.String(), tt.wantBody) {
				t.Errorf("body = %q, want it to contain %q", w.Body, tt.wantBody)
			}
		})
	}
}

func TestHandlerRejectsLargeBodies(t *testing.T) {
	body := append(admissionReview(t, "CREATE", deployment("orders")), bytes.Repeat([]byte(" "), maxBody)...)
	w := post(newHandler(nil), body)
	if w.Code != http.StatusBadRequest {
		t.Errorf("HTTP status = %d, want 400", w.Code)
	}
}

// TestHandlerObjectDoesNotDecode: a well-formed review whose object is not
// the kind it claims is answered, with code 400, rather than failing the
// HTTP request.
func TestHandlerObjectDoesNotDecode(t *testing.T) {
	tests := []struct {
		name   string
		kind   string // group/kind
		object string // raw JSON; "" leaves the field out
	}{
		{"annotations not a map", "apps/Deployment", `{"metadata":{"name":"x","annotations":"keyless.dev/aws-role=x"}}`},
		{"annotation value not a string", "apps/Deployment", `{"metadata":{"name":"x","annotations":{"keyless.dev/aws-role":7}}}`},
		{"template not an object", "batch/Job", `{"metadata":{"name":"x"},"spec":{"template":[]}}`},
		{"object an array", "apps/StatefulSet", `[]`},
		{"object a string", "batch/CronJob", `"x"`},
		{"no object", "apps/DaemonSet", ``},
		{"service account annotations a list", "/ServiceAccount", `{"metadata":{"name":"x","annotations":["a"]}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			group, kind, _ := strings.Cut(tt.kind, "/")
			req := map[string]any{"uid": testUID, "kind": map[string]string{"group": group, "kind": kind},
				"namespace": ns, "operation": "CREATE"}
			if tt.object != "" {
				req["object"] = json.RawMessage(tt.object)
			}
			body, _ := json.Marshal(map[string]any{"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": req})
			resp := decodeResponse(t, post(newHandler(nil), body), testUID)
			if resp.Allowed || resp.Result == nil || resp.Result.Code != http.StatusBadRequest {
				t.Fatalf("response = %+v, want refused with code 400", resp)
			}
			if !strings.Contains(resp.Result.Message, "does not decode") {
				t.Errorf("message = %q, want it to say the object does not decode", resp.Result.Message)
			}
		})
	}
}

func TestHandler(t *testing.T) {
	// The ServiceAccount "orders" as the controller leaves it: its AWS
	// role copied from the workloads, its GCP account written by its owner.
	propagatedSA := map[string]string{kAWS: awsRole2, kGCP: gcpEmail, kProp: "aws-role"}

	tests := []struct {
		name        string
		lookup      *fakeLookup
		operation   string // CREATE when empty
		obj         any
		wantAllowed bool
		wantCode    int32    // status code when refused
		wantMsg     []string // parts of the status message
		wantPatch   string   // the JSON patch; "" for none
	}{
		{
			name: "invalid annotations",
			obj: deployment("orders", annotations.Prefix+"aws-rol", awsRole, kGCP, "Orders@my-project.iam.gserviceaccount.com",
				annotations.KeyAzureClientID, "not-a-guid"),
			wantCode: 403,
			wantMsg: []string{
				"keyless: ",
				`metadata.annotations[keyless.dev/aws-rol]: Forbidden: unknown Keyless annotation; did you mean "keyless.dev/aws-role"?`,
				"metadata.annotations[keyless.dev/azure-client-id]",
				`metadata.annotations[keyless.dev/gcp-service-account]: Invalid value: "Orders@my-project.iam.gserviceaccount.com": must be lower case`,
			},
		},
		{
			name:        "valid deployment",
			obj:         deployment("orders", kAWS, awsRole, kAz, "orders-api", kGCP, gcpEmail),
			wantAllowed: true,
			wantPatch: `[{"op":"add","path":"/spec/template/spec/serviceAccountName","value":"orders"},` +
				`{"op":"add","path":"/spec/template/metadata/labels/azure.workload.identity~1use","value":"true"},` +
				`{"op":"add","path":"/spec/template/spec/nodeSelector","value":{"iam.gke.io/gke-metadata-server-enabled":"true"}},` +
				`{"op":"add","path":"/metadata/annotations/keyless.dev~1injected","value":"azure-use-label,gke-node-selector,service-account-name"}]`,
		},
		{
			name:        "valid deployment update, already mutated",
			operation:   "UPDATE",
			obj:         runningAs(deployment("orders", kAWS, awsRole, annotations.KeyInjected, "service-account-name"), "orders"),
			wantAllowed: true,
		},
		{
			name:        "unannotated deployment",
			obj:         deployment("orders", "example.com/team", "a"),
			wantAllowed: true,
		},
		{
			name:        "deployment without annotations",
			obj:         deployment("orders"),
			wantAllowed: true,
		},
		{
			name:        "not a workload",
			obj:         configMap("settings", kAWS, "not checked"),
			wantAllowed: true,
		},
		{
			name:        "DELETE",
			operation:   "DELETE",
			obj:         deployment("orders", annotations.Prefix+"aws-rol", "invalid but deleted"),
			wantAllowed: true,
		},
		{
			name:        "CONNECT",
			operation:   "CONNECT",
			obj:         deployment("orders", kAWS, awsRole),
			wantAllowed: true,
		},
		{
			name:        "service account",
			obj:         serviceAccount("orders", kGCP, gcpEmail),
			wantAllowed: true,
			wantPatch: `[{"op":"add","path":"/metadata/annotations/iam.gke.io~1gcp-service-account","value":"` + gcpEmail + `"},` +
				`{"op":"add","path":"/metadata/annotations/keyless.dev~1injected","value":"gcp-service-account"}]`,
		},
		{
			name:     "service account with invalid annotations",
			obj:      serviceAccount("orders", annotations.Prefix+"gcp", gcpEmail),
			wantCode: 403,
			wantMsg:  []string{`did you mean "keyless.dev/gcp-service-account"?`},
		},
		{
			name:      "job update adding a connection",
			operation: "UPDATE",
			obj:       job("migrate", kAz, "orders-api"),
			wantCode:  403,
			wantMsg:   []string{"spec.template: Forbidden: the pod template of a Job cannot change after it is created"},
		},
		{
			name:        "job create adding a connection",
			obj:         job("migrate", kAWS, awsRole),
			wantAllowed: true,
			wantPatch: `[{"op":"add","path":"/spec/template/spec/serviceAccountName","value":"migrate"},` +
				`{"op":"add","path":"/metadata/annotations/keyless.dev~1injected","value":"service-account-name"}]`,
		},

		// Conflicts through the ServiceAccount's own annotations.
		{
			name:     "service account's own annotation names another AWS role",
			lookup:   &fakeLookup{serviceAccounts: map[string]map[string]string{"orders": {kAWS: awsRole2}}},
			obj:      deployment("orders", kAWS, awsRole),
			wantCode: 403,
			wantMsg: []string{
				`metadata.annotations[keyless.dev/aws-role]: Forbidden: ServiceAccount orders is already connected to AWS role "` +
					awsRole2 + `" by its own annotations`,
			},
		},
		{
			name:        "service account's own annotation names the same AWS role",
			lookup:      &fakeLookup{serviceAccounts: map[string]map[string]string{"orders": {kAWS: awsRole}}},
			obj:         runningAs(deployment("orders", kAWS, awsRole), "orders"),
			wantAllowed: true,
		},
		{
			name:        "another role on the service account, but propagated by Keyless",
			lookup:      &fakeLookup{serviceAccounts: map[string]map[string]string{"orders": propagatedSA}},
			obj:         runningAs(deployment("orders", kAWS, awsRole), "orders"),
			wantAllowed: true,
		},
		{
			name:     "propagated keys are skipped, the owner's are checked",
			lookup:   &fakeLookup{serviceAccounts: map[string]map[string]string{"orders": propagatedSA}},
			obj:      runningAs(deployment("orders", kAWS, awsRole, kGCP, gcpOther), "orders"),
			wantCode: 403,
			wantMsg:  []string{`Google service account "` + gcpEmail + `" by its own annotations`},
		},
		{
			name:        "service account annotations that do not parse are not a conflict",
			lookup:      &fakeLookup{serviceAccounts: map[string]map[string]string{"orders": {kAWS: "arn:nope"}}},
			obj:         runningAs(deployment("orders", kAWS, awsRole), "orders"),
			wantAllowed: true,
		},

		// Conflicts through other workloads.
		{
			name: "another workload with a different GCP account",
			lookup: &fakeLookup{users: map[string][]workload.User{
				"orders": {user("Deployment", "other", kGCP, gcpOther)},
			}},
			obj:      runningAs(deployment("orders", kGCP, gcpEmail), "orders"),
			wantCode: 403,
			wantMsg: []string{
				`metadata.annotations[keyless.dev/gcp-service-account]: Forbidden: ServiceAccount orders is already connected to ` +
					`Google service account "` + gcpOther + `" by Deployment/other`,
			},
		},
		{
			name: "another workload with the same GCP account",
			lookup: &fakeLookup{users: map[string][]workload.User{
				"orders": {user("Deployment", "other", kGCP, gcpEmail, kAWS, awsRole2)},
			}},
			obj:         runningAs(deployment("orders", kGCP, gcpEmail), "orders"),
			wantAllowed: true,
			wantPatch: `[{"op":"add","path":"/spec/template/spec/nodeSelector","value":{"iam.gke.io/gke-metadata-server-enabled":"true"}},` +
				`{"op":"add","path":"/metadata/annotations/keyless.dev~1injected","value":"gke-node-selector"}]`,
		},
		{
			name: "the workload itself in the users list",
			lookup: &fakeLookup{users: map[string][]workload.User{
				"orders": {user("Deployment", "orders", kGCP, gcpOther)}, // its version before this update
			}},
			operation:   "UPDATE",
			obj:         runningAs(deployment("orders", kGCP, gcpEmail), "orders"),
			wantAllowed: true,
			wantPatch: `[{"op":"add","path":"/spec/template/spec/nodeSelector","value":{"iam.gke.io/gke-metadata-server-enabled":"true"}},` +
				`{"op":"add","path":"/metadata/annotations/keyless.dev~1injected","value":"gke-node-selector"}]`,
		},
		{
			name: "a workload of another kind with the same name is another workload",
			lookup: &fakeLookup{users: map[string][]workload.User{
				"orders": {user("StatefulSet", "orders", kGCP, gcpOther)},
			}},
			obj:      runningAs(deployment("orders", kGCP, gcpEmail), "orders"),
			wantCode: 403,
			wantMsg:  []string{"by StatefulSet/orders"},
		},
		{
			name: "other workloads with invalid annotations are not a conflict",
			lookup: &fakeLookup{users: map[string][]workload.User{
				"orders": {user("Deployment", "other", kGCP, "Not-An-Email")},
			}},
			obj:         runningAs(deployment("orders", kGCP, gcpEmail), "orders"),
			wantAllowed: true,
			wantPatch: `[{"op":"add","path":"/spec/template/spec/nodeSelector","value":{"iam.gke.io/gke-metadata-server-enabled":"true"}},` +
				`{"op":"add","path":"/metadata/annotations/keyless.dev~1injected","value":"gke-node-selector"}]`,
		},
		{
			name: "every conflict at once",
			lookup: &fakeLookup{
				serviceAccounts: map[string]map[string]string{"orders": {kAWS: awsRole2}},
				users: map[string][]workload.User{"orders": {
					user("Deployment", "other", kGCP, gcpOther),
					user("CronJob", "nightly", kAz, "payments"),
				}},
			},
			obj:      deployment("orders", kAWS, awsRole, kAz, "orders-api", kGCP, gcpEmail),
			wantCode: 403,
			wantMsg: []string{
				`AWS role "` + awsRole2 + `" by its own annotations`,
				`Google service account "` + gcpOther + `" by Deployment/other`,
				`Azure identity "shop-rg/payments" by CronJob/nightly`,
			},
		},
		{
			name: "a service account conflicting with a workload that uses it",
			lookup: &fakeLookup{users: map[string][]workload.User{
				"orders": {user("Deployment", "api", kAWS, awsRole2)},
			}},
			obj:      serviceAccount("orders", kAWS, awsRole),
			wantCode: 403,
			wantMsg:  []string{`this ServiceAccount is already connected to AWS role "` + awsRole2 + `" by Deployment/api`},
		},
		{
			name:     "lookup error",
			lookup:   &fakeLookup{err: errors.New("cache not started")},
			obj:      deployment("orders", kAWS, awsRole),
			wantCode: 500,
			wantMsg:  []string{"keyless: cache not started"},
		},
		{
			name:     "lookup error on a service account",
			lookup:   &fakeLookup{err: errors.New("cache not started")},
			obj:      serviceAccount("orders", kAWS, awsRole),
			wantCode: 500,
			wantMsg:  []string{"cache not started"},
		},
		{
			name:        "lookup is not consulted for an unconnected object",
			lookup:      &fakeLookup{err: errors.New("must not be called")},
			obj:         deployment("orders", "example.com/team", "a"),
			wantAllowed: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			op := tt.operation
			if op == "" {
				op = "CREATE"
			}
			resp := decodeResponse(t, post(newHandler(tt.lookup), admissionReview(t, op, tt.obj)), testUID)
			if resp.Allowed != tt.wantAllowed {
				t.Fatalf("allowed = %v, want %v; response: %+v", resp.Allowed, tt.wantAllowed, resp.Result)
			}
			if !tt.wantAllowed {
				if resp.Result.Code != tt.wantCode {
					t.Errorf("code = %d, want %d", resp.Result.Code, tt.wantCode)
				}
				for _, want := range tt.wantMsg {
					if !strings.Contains(resp.Result.Message, want) {
						t.Errorf("message = %q\nwant it to contain %q", resp.Result.Message, want)
					}
				}
			}
			if got := string(resp.Patch); got != tt.wantPatch {
				t.Errorf("patch = %s\nwant    %s", got, tt.wantPatch)
			}
		})
	}
}

func TestDenialListsEveryProblem(t *testing.T) {
	errs := field.ErrorList{
		field.Invalid(field.NewPath("a"), "x", "bad"),
		field.Forbidden(field.NewPath("b"), "no"),
	}
	if got, want := denial(errs), `keyless: a: Invalid value: "x": bad; b: Forbidden: no`; got != want {
		t.Errorf("denial = %q, want %q", got, want)
	}
}

// TestMetricLabelsAreBounded: the kind and operation of a review come from
// whoever can reach the webhook, so they must not each make a new series.
func TestMetricLabelsAreBounded(t *testing.T) {
	h := newHandler(nil)
	beforeRequests, beforeDuration := series(requestsTotal), series(duration)
	for i := range 50 {
		body := fmt.Sprintf(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":`+
			`{"uid":"u","kind":{"group":"x","kind":"Kind%d"},"operation":"OP%d","object":{}}}`, i, i)
		if w := post(h, []byte(body)); w.Code != http.StatusOK {
			t.Fatalf("HTTP status = %d", w.Code)
		}
	}
	if grown := series(requestsTotal) - beforeRequests; grown > 1 {
		t.Errorf("50 reviews of made-up kinds and operations added %d series to keyless_admission_requests_total", grown)
	}
	if grown := series(duration) - beforeDuration; grown > 1 {
		t.Errorf("50 reviews of made-up kinds added %d series to keyless_admission_duration_seconds", grown)
	}
}

func series(c prometheus.Collector) int {
	ch := make(chan prometheus.Metric, 1024)
	go func() { c.Collect(ch); close(ch) }()
	n := 0
	for range ch {
		n++
	}
	return n
}
