package mutation

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	jsonpatch "github.com/evanphx/json-patch/v5"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/keyless-dev/keyless/pkg/annotations"
)

// Values used throughout the tests.
const (
	awsRole   = "orders-api"
	azureName = "orders-api"
	azureRG   = "shop-rg"
	gcpEmail  = "orders-api@my-project.iam.gserviceaccount.com"
	gcpEmail2 = "payments@my-project.iam.gserviceaccount.com"
	clientID  = "11111111-2222-3333-4444-555555555555"
	tenantID  = "99999999-8888-7777-6666-555555555555"
)

// parseOpts are the cluster settings of every test: Azure identities given
// by name live in azureRG.
var parseOpts = annotations.Options{AzureDefaultResourceGroup: azureRG}

// ---- Builders -----------------------------------------------------------

// part changes the metadata or the pod template of a workload under construction.
type part func(meta *metav1.ObjectMeta, tmpl *corev1.PodTemplateSpec)

func build(meta *metav1.ObjectMeta, tmpl *corev1.PodTemplateSpec, name string, parts []part) {
	meta.Name, meta.Namespace = name, "shop"
	tmpl.Spec.Containers = []corev1.Container{{Name: "app", Image: "example.com/" + name + ":1"}}
	for _, p := range parts {
		p(meta, tmpl)
	}
}

func deployment(name string, parts ...part) *appsv1.Deployment {
	d := &appsv1.Deployment{TypeMeta: metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"}}
	d.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}}
	d.Spec.Template.Labels = map[string]string{"app": name}
	build(&d.ObjectMeta, &d.Spec.Template, name, parts)
	return d
}

func job(name string, parts ...part) *batchv1.Job {
	j := &batchv1.Job{TypeMeta: metav1.TypeMeta{APIVersion: "batch/v1", Kind: "Job"}}
	j.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyNever
	build(&j.ObjectMeta, &j.Spec.Template, name, parts)
	return j
}

func cronJob(name string, parts ...part) *batchv1.CronJob {
	c := &batchv1.CronJob{TypeMeta: metav1.TypeMeta{APIVersion: "batch/v1", Kind: "CronJob"}}
	c.Spec.Schedule = "0 3 * * *"
	c.Spec.JobTemplate.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyOnFailure
	build(&c.ObjectMeta, &c.Spec.JobTemplate.Spec.Template, name, parts)
	return c
}

// annotated adds annotations, given as key, value, key, value...
func annotated(kv ...string) part {
	return func(meta *metav1.ObjectMeta, _ *corev1.PodTemplateSpec) {
		meta.Annotations = with(meta.Annotations, kv)
	}
}

func aws() part   { return annotated(annotations.KeyAWSRole, awsRole) }
func azure() part { return annotated(annotations.KeyAzureIdentity, azureName) }
func gcp() part   { return annotated(annotations.KeyGCPServiceAccount, gcpEmail) }

// injected sets keyless.dev/injected, as an earlier admission left it.
func injected(items ...string) part {
	return annotated(annotations.KeyInjected, annotations.FormatList(items))
}

// generateName replaces the name by a generateName.
func generateName(prefix string) part {
	return func(meta *metav1.ObjectMeta, _ *corev1.PodTemplateSpec) { meta.Name, meta.GenerateName = "", prefix }
}

// runsAs sets the template's serviceAccountName.
func runsAs(sa string) part {
	return func(_ *metav1.ObjectMeta, t *corev1.PodTemplateSpec) { t.Spec.ServiceAccountName = sa }
}

// runsAsBoth sets serviceAccountName and the deprecated serviceAccount, as
// the API server sends a template (it fills in the deprecated alias).
func runsAsBoth(sa string) part {
	return func(_ *metav1.ObjectMeta, t *corev1.PodTemplateSpec) {
		t.Spec.ServiceAccountName, t.Spec.DeprecatedServiceAccount = sa, sa
	}
}

// labels adds template labels; with no arguments it sets them to nil.
func labels(kv ...string) part {
	return func(_ *metav1.ObjectMeta, t *corev1.PodTemplateSpec) {
		if len(kv) == 0 {
			t.Labels = nil
			return
		}
		t.Labels = with(t.Labels, kv)
	}
}

// nodeSelector adds template nodeSelector entries.
func nodeSelector(kv ...string) part {
	return func(_ *metav1.ObjectMeta, t *corev1.PodTemplateSpec) {
		t.Spec.NodeSelector = with(t.Spec.NodeSelector, kv)
	}
}

func with(m map[string]string, kv []string) map[string]string {
	if m == nil {
		m = map[string]string{}
	}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

func serviceAccount(name string, annots ...string) *corev1.ServiceAccount {
	sa := &corev1.ServiceAccount{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ServiceAccount"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "shop"},
	}
	if len(annots) > 0 {
		sa.Annotations = with(nil, annots)
	}
	return sa
}

// ---- Mutating documents --------------------------------------------------

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// mutateWorkload decodes doc as the webhook does and returns ForWorkload's answer.
func mutateWorkload(t *testing.T, doc []byte, opts WorkloadOptions) (Patch, string, field.ErrorList) {
	t.Helper()
	var w Workload
	if err := json.Unmarshal(doc, &w); err != nil {
		t.Fatalf("decoding the workload: %v", err)
	}
	conns, errs := annotations.Parse(w.Metadata.Annotations, parseOpts)
	if len(errs) > 0 {
		t.Fatalf("test input has invalid annotations: %v", errs)
	}
	return ForWorkload(&w, conns, opts)
}

// mutateServiceAccount decodes doc as the webhook does and returns ForServiceAccount's answer.
func mutateServiceAccount(t *testing.T, doc []byte, opts ServiceAccountOptions) (Patch, field.ErrorList) {
	t.Helper()
	var sa ServiceAccount
	if err := json.Unmarshal(doc, &sa); err != nil {
		t.Fatalf("decoding the ServiceAccount: %v", err)
	}
	conns, errs := annotations.Parse(sa.Metadata.Annotations, parseOpts)
	if len(errs) > 0 {
		t.Fatalf("test input has invalid annotations: %v", errs)
	}
	return ForServiceAccount(&sa, conns, opts)
}

// apply applies p to doc strictly: an "add" needs its parent and a
// "remove" its target, as in the API server.
func apply(t *testing.T, doc []byte, p Patch) []byte {
	t.Helper()
	raw, err := p.JSON()
	if err != nil {
		t.Fatalf("encoding the patch: %v", err)
	}
	if raw == nil {
		return doc
	}
	jp, err := jsonpatch.DecodePatch(raw)
	if err != nil {
		t.Fatalf("the patch is not a JSON patch: %v\n%s", err, raw)
	}
	out, err := jp.Apply(doc)
	if err != nil {
		t.Fatalf("applying the patch failed: %v\npatch: %s\ndoc: %s", err, raw, doc)
	}
	return out
}

// generic decodes a JSON document into maps and slices.
func generic(t *testing.T, doc []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(doc, &m); err != nil {
		t.Fatalf("decoding %s: %v", doc, err)
	}
	return m
}

// annotationsOf returns the metadata.annotations of a generic document.
func annotationsOf(doc map[string]any) map[string]any {
	meta, _ := doc["metadata"].(map[string]any)
	a, _ := meta["annotations"].(map[string]any)
	return a
}

// withoutConnections deletes every connection annotation from doc and keeps
// the bookkeeping ones, as a user removing the connections does.
func withoutConnections(t *testing.T, doc []byte) []byte {
	t.Helper()
	m := generic(t, doc)
	a := annotationsOf(m)
	for _, k := range annotations.UserKeys() {
		delete(a, k)
	}
	return mustJSON(t, m)
}

// pointer follows a JSON pointer in a generic document and returns the map
// holding the last token, and that token (unescaped); nil when a parent is missing.
func pointer(doc map[string]any, ptr string) (map[string]any, string) {
	tokens := strings.Split(strings.TrimPrefix(ptr, "/"), "/")
	for i, tok := range tokens {
		tokens[i] = strings.NewReplacer("~1", "/", "~0", "~").Replace(tok)
	}
	m := doc
	for _, tok := range tokens[:len(tokens)-1] {
		next, ok := m[tok].(map[string]any)
		if !ok {
			return nil, ""
		}
		m = next
	}
	return m, tokens[len(tokens)-1]
}

// ---- What Keyless may remove -----------------------------------------------

// markedPaths maps each keyless.dev/injected item to the JSON pointers it
// covers in an object whose pod template is at base ("" for a ServiceAccount),
// and the value Keyless writes there ("" for any value).
func markedPaths(base string) map[string]map[string]string {
	if base == "" {
		return map[string]map[string]string{
			annotations.InjectedGCPServiceAccount: {"/metadata/annotations/" + escape(annotations.GKEServiceAccount): ""},
			annotations.InjectedAzureClientID:     {"/metadata/annotations/" + escape(annotations.AzureClientIDAnnotation): ""},
			annotations.InjectedAzureTenantID:     {"/metadata/annotations/" + escape(annotations.AzureTenantIDAnnotation): ""},
		}
	}
	return map[string]map[string]string{
		annotations.InjectedServiceAccountName: {base + "/spec/serviceAccountName": "", base + "/spec/serviceAccount": ""},
		annotations.InjectedAzureUseLabel:      {base + "/metadata/labels/" + escape(annotations.AzureUseLabel): "true"},
		annotations.InjectedGKENodeSelector:    {base + "/spec/nodeSelector/" + escape(annotations.GKEMetadataServerNodeSelector): "true"},
	}
}

// templateBase is the JSON pointer of a generic workload's pod template.
func templateBase(doc map[string]any) string {
	spec, _ := doc["spec"].(map[string]any)
	if _, ok := spec["jobTemplate"]; ok {
		return "/spec/jobTemplate/spec/template"
	}
	return "/spec/template"
}

// checkRemovals fails for a "remove" in p of a path that doc's
// keyless.dev/injected does not list; base is as for markedPaths.
func checkRemovals(t *testing.T, doc []byte, base string, p Patch) {
	t.Helper()
	a := annotationsOf(generic(t, doc))
	list, hasList := a[annotations.KeyInjected].(string)
	allowed := map[string]bool{}
	if hasList {
		allowed["/metadata/annotations/"+escape(annotations.KeyInjected)] = true
	}
	paths := markedPaths(base)
	for _, item := range annotations.ParseList(list) {
		for ptr := range paths[item] {
			allowed[ptr] = true
		}
	}
	for _, op := range p {
		if op.Op == "remove" && !allowed[op.Path] {
			t.Errorf("patch removes %s, which keyless.dev/injected (%q) does not record", op.Path, list)
		}
	}
}

// userPart is what the user wrote in doc: doc without the keyless.dev
// annotations and without what keyless.dev/injected records, normalized so
// that equal objects compare equal (see normalize).
func userPart(t *testing.T, doc []byte) any {
	t.Helper()
	m := generic(t, doc)
	a := annotationsOf(m)
	list, _ := a[annotations.KeyInjected].(string)
	base := ""
	if _, isWorkload := m["spec"]; isWorkload {
		base = templateBase(m)
	}
	meta, _ := m["metadata"].(map[string]any)
	name, _ := meta["name"].(string)
	if name == "" {
		gen, _ := meta["generateName"].(string)
		name = strings.TrimRight(gen, "-")
	}
	paths := markedPaths(base)
	for _, item := range annotations.ParseList(list) {
		for ptr, value := range paths[item] {
			parent, key := pointer(m, ptr)
			if parent == nil {
				continue
			}
			if item == annotations.InjectedServiceAccountName {
				value = name // Keyless set the workload's own name
			}
			if v, ok := parent[key]; ok && (value == "" || v == value) {
				delete(parent, key)
			}
		}
	}
	for k := range a {
		if strings.HasPrefix(k, annotations.Prefix) {
			delete(a, k)
		}
	}
	return normalize(m)
}

// normalize drops null values and empty maps, which the API server does
// not keep (the fields are omitempty), and a serviceAccountName or
// serviceAccount of "default", which means the same as none.
func normalize(v any) any {
	switch v := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, x := range v {
			if (k == "serviceAccountName" || k == "serviceAccount") && x == "default" {
				continue
			}
			x = normalize(x)
			if x == nil {
				continue
			}
			if sub, ok := x.(map[string]any); ok && len(sub) == 0 {
				continue
			}
			out[k] = x
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = normalize(x)
		}
		return out
	}
	return v
}

// ---- Golden files ---------------------------------------------------------

// indented formats JSON for a golden file; nil becomes [] (no patch).
func indented(t *testing.T, raw []byte) []byte {
	t.Helper()
	if raw == nil {
		return []byte("[]\n")
	}
	var b bytes.Buffer
	if err := json.Indent(&b, raw, "", "  "); err != nil {
		t.Fatal(err)
	}
	b.WriteByte('\n')
	return b.Bytes()
}

func patchJSON(t *testing.T, p Patch) []byte {
	t.Helper()
	raw, err := p.JSON()
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// checkErrs fails unless errs is empty when want is "", or has an error
// containing want otherwise.
func checkErrs(t *testing.T, errs field.ErrorList, want string) {
	t.Helper()
	switch {
	case want == "" && len(errs) > 0:
		t.Errorf("unexpected errors: %v", errs)
	case want != "" && len(errs) == 0:
		t.Errorf("no error, want one containing %q", want)
	case want != "" && !strings.Contains(errs.ToAggregate().Error(), want):
		t.Errorf("errors = %v, want one containing %q", errs, want)
	}
}
