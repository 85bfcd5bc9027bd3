package check_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/go-logr/logr"

	"github.com/keyless-dev/keyless/pkg/admission"
	"github.com/keyless-dev/keyless/pkg/annotations"
	"github.com/keyless-dev/keyless/pkg/check"
	"github.com/keyless-dev/keyless/pkg/mutation"
	"github.com/keyless-dev/keyless/pkg/policy"
	"github.com/keyless-dev/keyless/pkg/workload"
)

// TestSameVerdictAsWebhook runs each case through the webhook's handler,
// with the cluster holding the case's earlier objects, and through Check,
// with the earlier objects before it in the input, and compares the
// verdicts on the last object: allowed or denied, the denial messages, and
// the patch.
func TestSameVerdictAsWebhook(t *testing.T) {
	const sa = "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: %s\n  namespace: %s\n  annotations: {%s}\n"
	const deploy = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: %s\n  namespace: %s\n  annotations: {%s}\n" +
		"spec:\n  template:\n    spec:\n      %s\n      containers: [{name: app, image: app}]\n"
	ns := &namespaceDoc{name: "shop", labels: "team: shop"}
	tests := []struct {
		name    string
		policy  string // a policy document; empty: the default policy
		earlier []string
		object  string
		denied  bool
	}{
		{name: "ServiceAccount with a role of its namespace",
			object: fmt.Sprintf(sa, "api", "shop", `keyless.dev/aws-role: shop-api`)},
		{name: "ServiceAccount with another namespace's role",
			object: fmt.Sprintf(sa, "api", "shop", `keyless.dev/aws-role: billing-api`), denied: true},
		{name: "the default ServiceAccount",
			object: fmt.Sprintf(sa, "default", "shop", `keyless.dev/aws-role: shop-api`), denied: true},
		{name: "misspelt key",
			object: fmt.Sprintf(sa, "api", "shop", `keyless.dev/aws-rol: shop-api`), denied: true},
		// The API server reads "metadata" only: another namespace's role
		// under "Metadata" is nothing, for the webhook and for check.
		{name: "a field name in another case",
			object: fmt.Sprintf(sa, "api", "shop", `example.com/team: shop`) +
				"Metadata:\n  annotations: {keyless.dev/aws-role: billing-api}\n"},
		{name: "Deployment without a ServiceAccount gets its own",
			object: fmt.Sprintf(deploy, "web", "shop", `keyless.dev/gcp-service-account: shop-web@shop-project.iam.gserviceaccount.com`, "")},
		{name: "Deployment with a Google service account of another project",
			object: fmt.Sprintf(deploy, "web", "shop", `keyless.dev/gcp-service-account: shop-web@other.iam.gserviceaccount.com`, "serviceAccountName: web"), denied: true},
		{name: "Deployment against the ServiceAccount's own role",
			earlier: []string{fmt.Sprintf(sa, "api", "shop", `keyless.dev/aws-role: shop-api`)},
			object:  fmt.Sprintf(deploy, "web", "shop", `keyless.dev/aws-role: shop-other`, "serviceAccountName: api"), denied: true},
		{name: "Deployment against another Deployment's Azure identity",
			earlier: []string{fmt.Sprintf(deploy, "one", "shop", `keyless.dev/azure-identity: shop-one, keyless.dev/azure-resource-group: rg`, "serviceAccountName: api")},
			object:  fmt.Sprintf(deploy, "two", "shop", `keyless.dev/azure-identity: shop-two, keyless.dev/azure-resource-group: rg`, "serviceAccountName: api"), denied: true},
		{name: "ServiceAccount against its Deployment",
			earlier: []string{fmt.Sprintf(deploy, "one", "shop", `keyless.dev/aws-role: shop-one`, "serviceAccountName: api")},
			object:  fmt.Sprintf(sa, "api", "shop", `keyless.dev/aws-role: shop-two`), denied: true},
		{name: "same identity as the earlier Deployment",
			earlier: []string{fmt.Sprintf(deploy, "one", "shop", `keyless.dev/aws-role: shop-one`, "serviceAccountName: api")},
			object:  fmt.Sprintf(deploy, "two", "shop", `keyless.dev/aws-role: shop-one`, "serviceAccountName: api")},
		{name: "identity bound elsewhere, uniqueIdentity",
			policy: "apiVersion: keyless.dev/v1alpha1\nkind: ConnectionPolicy\nspec:\n  rules:\n" +
				"  - name: one-each\n    uniqueIdentity: true\n",
			earlier: []string{fmt.Sprintf(sa, "one", "shop", `keyless.dev/aws-role: shop-api`)},
			object:  fmt.Sprintf(sa, "two", "shop", `keyless.dev/aws-role: shop-api`), denied: true},
		{name: "warn and audit modes",
			policy: "apiVersion: keyless.dev/v1alpha1\nkind: ConnectionPolicy\nspec:\n  rules:\n" +
				"  - name: gcp-warn\n    mode: warn\n    gcpServiceAccounts: ['*@prod.iam.gserviceaccount.com']\n" +
				"  - name: aws-audit\n    mode: audit\n    awsRoles: [prod-*]\n",
			object: fmt.Sprintf(deploy, "web", "shop", `keyless.dev/aws-role: shop-web, keyless.dev/gcp-service-account: shop-web@shop-project.iam.gserviceaccount.com`, "serviceAccountName: web")},
		{name: "requireConnection in a labelled namespace",
			policy: "apiVersion: keyless.dev/v1alpha1\nkind: ConnectionPolicy\nspec:\n  rules:\n" +
				"  - name: connect\n    namespaces: {selector: {matchLabels: {team: shop}}}\n    requireConnection: true\n",
			object: fmt.Sprintf(deploy, "web", "shop", `keyless.dev/restart-on-ready: "false"`, "serviceAccountName: web"), denied: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := check.Options{Cluster: testCluster, Policy: policy.Default()}
			if tt.policy != "" {
				p, err := policy.ParseNamed("policy.yaml", []byte(tt.policy))
				if err != nil {
					t.Fatalf("policy: %v", err)
				}
				opts.Policy = p
			}
			input := ns.yaml() + "---\n" + strings.Join(append(slices.Clone(tt.earlier), tt.object), "---\n")
			docs, errs := check.Decode("in.yaml", []byte(input))
			if len(errs) > 0 {
				t.Fatalf("Decode: %v", errs[0])
			}
			last := docs[len(docs)-1]

			report := check.Check(docs, opts)
			var checkDenials []string
			for _, v := range report.Violations {
				if v.Kind == last.Kind && v.Name == last.Name && v.Mode == string(policy.Enforce) {
					checkDenials = append(checkDenials, v.Message)
				}
			}
			var checkPatch []string
			for _, o := range report.Objects {
				if o.Kind == last.Kind && o.Name == last.Name {
					for _, c := range o.Changes {
						checkPatch = append(checkPatch, c.Op+" "+c.Path)
					}
				}
			}

			allowed, message, patch := webhookVerdict(t, opts, newClusterOf(t, docs[:len(docs)-1], ns, opts), last)
			if allowed == tt.denied {
				t.Errorf("webhook allowed = %v (%s), want %v", allowed, message, !tt.denied)
			}
			if allowed != (len(checkDenials) == 0) {
				t.Fatalf("webhook allowed = %v (%s), check denials %q", allowed, message, checkDenials)
			}
			for _, d := range checkDenials {
				if !strings.Contains(message, d) {
					t.Errorf("check's denial %q is not the webhook's: %s", d, message)
				}
			}
			if allowed && !slices.Equal(patch, checkPatch) {
				t.Errorf("patches differ:\nwebhook %q\ncheck   %q", patch, checkPatch)
			}
		})
	}
}

// webhookVerdict sends doc to the webhook handler as a CREATE.
func webhookVerdict(t *testing.T, opts check.Options, lookup admission.Lookup, doc check.Document) (bool, string, []string) {
	t.Helper()
	group, _, _ := strings.Cut(doc.APIVersion, "/")
	if !strings.Contains(doc.APIVersion, "/") {
		group = ""
	}
	h := &admission.Handler{
		Options: admission.Options{Parse: opts.Parse, Cluster: opts.Cluster, Workload: opts.Workload,
			ServiceAccount: opts.ServiceAccount},
		Lookup: lookup,
		Log:    logr.Discard(),
		Policy: func() *policy.Policy { return opts.Policy },
	}
	req := map[string]any{"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": map[string]any{
		"uid": "1", "kind": map[string]string{"group": group, "kind": doc.Kind}, "namespace": doc.Namespace,
		"name": doc.Name, "operation": "CREATE", "object": json.RawMessage(doc.JSON)}}
	body, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, admission.Path, bytes.NewReader(body)))
	var out struct {
		Response struct {
			Allowed bool   `json:"allowed"`
			Patch   []byte `json:"patch"`
			Status  *struct {
				Message string `json:"message"`
			} `json:"status"`
		} `json:"response"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
		t.Fatalf("webhook answer %q: %v", rec.Body.String(), err)
	}
	var ops []struct{ Op, Path string }
	if len(out.Response.Patch) > 0 {
		if err := json.Unmarshal(out.Response.Patch, &ops); err != nil {
			t.Fatal(err)
		}
	}
	var patch []string
	for _, op := range ops {
		patch = append(patch, op.Op+" "+op.Path)
	}
	msg := ""
	if out.Response.Status != nil {
		msg = out.Response.Status.Message
	}
	return out.Response.Allowed, msg, patch
}

type namespaceDoc struct{ name, labels string }

func (n *namespaceDoc) yaml() string {
	return fmt.Sprintf("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: %s\n  labels: {%s}\n", n.name, n.labels)
}

// clusterOf is a cluster holding objects, read the way the webhook's cache
// index reads a real one.
type clusterOf struct {
	labels          map[string]string
	serviceAccounts map[string]map[string]string // by namespace/name
	users           map[string][]workload.User   // by namespace/ServiceAccount
	bindings        map[string][]string          // by identity key
	namespaces      []string
}

func newClusterOf(t *testing.T, docs []check.Document, ns *namespaceDoc, opts check.Options) *clusterOf {
	t.Helper()
	c := &clusterOf{labels: map[string]string{"kubernetes.io/metadata.name": ns.name, "team": "shop"},
		serviceAccounts: map[string]map[string]string{}, users: map[string][]workload.User{},
		bindings: map[string][]string{}, namespaces: []string{ns.name}}
	for _, d := range docs {
		if d.Kind == "Namespace" {
			continue
		}
		var w mutation.Workload
		if err := json.Unmarshal(d.JSON, &w); err != nil {
			t.Fatal(err)
		}
		conns, errs := annotations.Parse(w.Metadata.Annotations, opts.Parse)
		if len(errs) > 0 {
			t.Fatalf("earlier object %s/%s: %v", d.Kind, d.Name, errs)
		}
		sa := d.Name
		if d.Kind == "ServiceAccount" {
			c.serviceAccounts[d.Namespace+"/"+d.Name] = w.Metadata.Annotations
		} else {
			tmpl, _ := w.PodTemplate()
			sa = tmpl.ServiceAccountName()
			key := d.Namespace + "/" + sa
			c.users[key] = append(c.users[key], workload.User{Kind: d.Kind, Name: d.Name, Annotations: w.Metadata.Annotations})
		}
		for _, k := range policy.IdentityKeys(conns, opts.Cluster) {
			c.bindings[k] = append(c.bindings[k], d.Namespace+"/"+sa)
		}
	}
	return c
}

func (c *clusterOf) ServiceAccountAnnotations(_ context.Context, namespace, name string) (map[string]string, bool, error) {
	a, ok := c.serviceAccounts[namespace+"/"+name]
	return maps.Clone(a), ok, nil
}

func (c *clusterOf) Users(_ context.Context, namespace, serviceAccount string) ([]workload.User, error) {
	return c.users[namespace+"/"+serviceAccount], nil
}

func (c *clusterOf) NamespaceLabels(context.Context, string) (map[string]string, error) {
	return c.labels, nil
}

func (c *clusterOf) Bindings(_ context.Context, key string) ([]string, error) {
	return slices.Clone(c.bindings[key]), nil
}

func (c *clusterOf) Namespaces(_ context.Context, prefix string) ([]string, error) {
	var out []string
	for _, n := range c.namespaces {
		if strings.HasPrefix(n, prefix) {
			out = append(out, n)
		}
	}
	return out, nil
}
