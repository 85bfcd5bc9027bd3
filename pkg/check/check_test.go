package check_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keyless-dev/keyless/pkg/check"
	"github.com/keyless-dev/keyless/pkg/policy"

	"github.com/keyless-dev/keyless/pkg/internal/golden"
)

// testCluster is the cluster of the test data: its AWS account and GCP
// project.
var testCluster = policy.Cluster{AWSAccount: "123456789012", GCPProject: "shop-project"}

func loadPolicy(t *testing.T, name string) *policy.Policy {
	t.Helper()
	path := filepath.Join("testdata", name)
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	p, err := policy.ParseNamed(path, raw)
	if err != nil {
		t.Fatalf("policy: %v", err)
	}
	return p
}

func TestGolden(t *testing.T) {
	tests := []struct {
		name       string
		files      []string
		policy     string
		opts       func(*check.Options)
		wantFailed bool
		wantErrors int
		wantWarns  int
	}{
		{name: "valid", files: []string{"valid.yaml"}},
		{name: "valid-options", files: []string{"valid.yaml"}, opts: func(o *check.Options) {
			o.Workload.GKENodeSelector = true
			o.GCPWorkloadPool = "shop-project.svc.id.goog"
			o.ServiceAccount.AzureTenantID = "99999999-8888-7777-6666-555555555555"
		}},
		{name: "typo", files: []string{"typo.yaml"}, wantFailed: true, wantErrors: 2},
		{name: "conflict", files: []string{"conflict.yaml"}, wantFailed: true, wantErrors: 2},
		{name: "default-policy", files: []string{"default-policy.yaml"}, wantFailed: true, wantErrors: 2},
		{name: "warn", files: []string{"warn.yaml"}, policy: "policy.yaml", wantWarns: 2},
		{name: "selector", files: []string{"selector.yaml"}, policy: "policy.yaml", wantFailed: true, wantErrors: 1, wantWarns: 2},
		{name: "multi", files: []string{"multi.yaml"}, opts: func(o *check.Options) { o.Cluster.GCPProject = "billing-project" }},
		{name: "require", files: []string{"require.yaml"}, policy: "require-policy.yaml", wantFailed: true, wantErrors: 1},
		{name: "deny-default", files: []string{"valid.yaml", "warn.yaml"}, opts: func(o *check.Options) {
			o.Workload.DenyDefaultServiceAccount = true
		}, wantFailed: true, wantErrors: 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var paths []string
			for _, f := range tt.files {
				paths = append(paths, filepath.Join("testdata", f))
			}
			docs, err := check.Load(paths, nil)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			opts := check.Options{Cluster: testCluster}
			if tt.policy != "" {
				opts.Policy = loadPolicy(t, tt.policy)
			}
			if tt.opts != nil {
				tt.opts(&opts)
			}
			r := check.Check(docs, opts)
			if r.Failed() != tt.wantFailed || r.Summary.Errors != tt.wantErrors || r.Summary.Warnings != tt.wantWarns {
				t.Errorf("Failed() = %v with %d errors and %d warnings, want %v, %d and %d",
					r.Failed(), r.Summary.Errors, r.Summary.Warnings, tt.wantFailed, tt.wantErrors, tt.wantWarns)
			}
			var text, js bytes.Buffer
			if err := check.WriteText(&text, r); err != nil {
				t.Fatal(err)
			}
			if err := check.WriteJSON(&js, r); err != nil {
				t.Fatal(err)
			}
			golden.Check(t, filepath.Join("golden", tt.name+".txt"), text.Bytes())
			golden.Check(t, filepath.Join("golden", tt.name+".json"), js.Bytes())
		})
	}
}

// TestUnreadable checks that unreadable input is reported at FILE:LINE:COLUMN.
func TestUnreadable(t *testing.T) {
	tests := []struct {
		name string
		// files are read from testdata/ when they exist there, else
		// written from input.
		file, input string
		want        []string
	}{
		{name: "broken YAML in the second document", file: "broken.yaml",
			want: []string{"testdata/broken.yaml:16:5: invalid YAML: did not find expected key"}},
		{name: "unquoted boolean annotation", file: "unquoted.yaml",
			want: []string{`testdata/unquoted.yaml:8:35: Deployment/tags: metadata.annotations[keyless.dev/aws-session-tags] is a boolean (false), but the values of annotations must be strings; quote it: "false"`}},
		{name: "tab in the indentation", file: "tab.yaml", input: "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n\tname: x\n",
			want: []string{"tab.yaml:4:1: invalid YAML: found character that cannot start any token (a tab in the indentation; YAML indents with spaces only)"}},
		{name: "no kind", file: "nokind.yaml", input: "apiVersion: v1\nmetadata:\n  name: x\n",
			want: []string{"nokind.yaml:1:1: the object has no kind; every Kubernetes object needs apiVersion and kind"}},
		{name: "not a mapping, and a good document after it", file: "list.yaml",
			input: "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: a}\n---\n- a\n- b\n---\napiVersion: v1\nkind: ConfigMap\n",
			want:  []string{"list.yaml:5:1: expected a Kubernetes object (a mapping with apiVersion, kind and metadata), found a list"}},
		{name: "duplicate key", file: "dup.yaml",
			input: "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: a\n  name: b\n",
			want:  []string{`dup.yaml:5:3: mapping key "name" already defined at line 4`}},
		{name: "annotations not a mapping", file: "annots.yaml",
			input: "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: a\n  annotations:\n    - keyless.dev/aws-role\n",
			want:  []string{"annots.yaml:6:5: ServiceAccount/a: metadata.annotations must be a mapping of strings, found a list"}},
		{name: "JSON syntax", file: "bad.json", input: "{\"apiVersion\": \"v1\",\n  \"kind\": \"ServiceAccount\" \"metadata\": {}}\n",
			want: []string{`bad.json:2:28: invalid JSON: invalid character '"' after object key:value pair`}},
		{name: "JSON cut short", file: "short.json", input: "{\"apiVersion\": \"v1\",\n",
			want: []string{"short.json:2:1: invalid JSON: unexpected end of input: a JSON value is not closed"}},
		{name: "missing file", file: "missing.yaml",
			want: []string{"missing.yaml: no such file or directory"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join("testdata", tt.file)
			if tt.input != "" {
				dir := t.TempDir()
				path = filepath.Join(dir, tt.file)
				if err := os.WriteFile(path, []byte(tt.input), 0o644); err != nil {
					t.Fatal(err)
				}
				t.Chdir(dir)
				path = tt.file
			} else if tt.file == "missing.yaml" {
				t.Chdir(t.TempDir())
				path = tt.file
			}
			_, err := check.Load([]string{path}, nil)
			if err == nil {
				t.Fatal("Load succeeded, want an error")
			}
			got := strings.Split(err.Error(), "\n")
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("error:\n%s\nwant:\n%s", err, strings.Join(tt.want, "\n"))
			}
		})
	}
}

func TestDecode(t *testing.T) {
	t.Run("JSON stream and a List are split into objects with their lines", func(t *testing.T) {
		in := `{"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "a", "namespace": "x"}}
{"apiVersion": "v1", "kind": "List", "items": [
  {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "b"}},
  {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "c"}}
]}
`
		docs, errs := check.Decode("in.json", []byte(in))
		if len(errs) > 0 {
			t.Fatal(errs)
		}
		var got []string
		for _, d := range docs {
			got = append(got, d.Kind+"/"+d.Name+"@"+itoa(d.Line)+":"+itoa(d.Column))
		}
		want := "ServiceAccount/a@1:1 ServiceAccount/b@3:3 Deployment/c@4:3"
		if strings.Join(got, " ") != want {
			t.Errorf("got %s, want %s", strings.Join(got, " "), want)
		}
	})
	t.Run("stdin holding JSON", func(t *testing.T) {
		docs, errs := check.Decode(check.StdinName, []byte(`  {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "n"}}`))
		if len(errs) > 0 || len(docs) != 1 || docs[0].Name != "n" || docs[0].Column != 3 {
			t.Errorf("got %+v, %v", docs, errs)
		}
	})
	t.Run("empty documents and a typed list", func(t *testing.T) {
		in := "---\n# nothing\n---\napiVersion: apps/v1\nkind: DeploymentList\nitems:\n- apiVersion: apps/v1\n  kind: Deployment\n  metadata:\n    name: d\n---\n"
		docs, errs := check.Decode("in.yaml", []byte(in))
		if len(errs) > 0 || len(docs) != 1 || docs[0].Name != "d" || docs[0].Line != 7 {
			t.Errorf("got %+v, %v", docs, errs)
		}
		var obj map[string]any
		if err := json.Unmarshal(docs[0].JSON, &obj); err != nil || obj["kind"] != "Deployment" {
			t.Errorf("JSON = %s, %v", docs[0].JSON, err)
		}
	})
}

func itoa(i int) string {
	b, _ := json.Marshal(i)
	return string(b)
}

func TestLoadDirectory(t *testing.T) {
	dir := t.TempDir()
	write := func(rel, content string) {
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	sa := func(name string) string {
		return "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: " + name + "\n"
	}
	write("b.yaml", sa("b"))
	write("a/c.yml", sa("c"))
	write("a/a.json", `{"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "a"}}`)
	write("README.md", "# not a manifest: skipped")
	write(".git/x.yaml", "not: [valid") // hidden directories are skipped
	docs, err := check.Load([]string{dir, "-"}, strings.NewReader(sa("stdin")))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, d := range docs {
		rel, _ := filepath.Rel(dir, d.File)
		if d.File == check.StdinName {
			rel = d.File
		}
		got = append(got, rel+":"+d.Name)
	}
	want := "a/a.json:a a/c.yml:c b.yaml:b <stdin>:stdin"
	if strings.Join(got, " ") != want {
		t.Errorf("got %s, want %s", strings.Join(got, " "), want)
	}

	empty := t.TempDir()
	if _, err := check.Load([]string{empty}, nil); err == nil || !strings.Contains(err.Error(), "no *.yaml, *.yml or *.json files") {
		t.Errorf("empty directory: err = %v", err)
	}
}

// TestOptions checks the settings that change the verdict.
func TestOptions(t *testing.T) {
	const byName = `apiVersion: v1
kind: ServiceAccount
metadata:
  name: api
  namespace: shop
  annotations:
    keyless.dev/azure-identity: shop-api
`
	docs, errs := check.Decode("sa.yaml", []byte(byName))
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	r := check.Check(docs, check.Options{})
	// The missing key's position is that of the annotations.
	if !r.Failed() || r.Violations[0].Rule != check.RuleAnnotations || r.Violations[0].Line != 6 {
		t.Fatalf("without a default resource group: %+v", r.Violations)
	}
	opts := check.Options{Cluster: policy.Cluster{AzureSubscription: "00000000-0000-0000-0000-00000000000a"}}
	opts.Parse.AzureDefaultResourceGroup = "shop-rg"
	r = check.Check(docs, opts)
	if r.Failed() || len(r.Objects) != 1 || len(r.Objects[0].CloudObjects) != 1 {
		t.Fatalf("with a default resource group: %+v", r)
	}
	if got := r.Objects[0].CloudObjects[0].Identity; got != "shop-rg/shop-api" {
		t.Errorf("identity = %q", got)
	}

	// No namespace: --namespace decides, and a note says so.
	docs, _ = check.Decode("sa.yaml", []byte(strings.Replace(byName, "  namespace: shop\n", "", 1)))
	opts.DefaultNamespace = "shop"
	r = check.Check(docs, opts)
	if r.Failed() || r.Objects[0].Namespace != "shop" || len(r.Notes) != 1 {
		t.Errorf("default namespace: %+v", r)
	}
	opts.DefaultNamespace = ""
	r = check.Check(docs, opts)
	if !r.Failed() || r.Objects[0].Namespace != "default" {
		t.Errorf("namespace \"default\", where the default policy wants default-*: %+v", r)
	}
}

func TestServiceAccountAfterItsWorkload(t *testing.T) {
	const in = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
  namespace: shop
  annotations:
    keyless.dev/gcp-service-account: shop-api@p-123456.iam.gserviceaccount.com
spec:
  template:
    spec:
      serviceAccountName: api
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: api
  namespace: shop
  annotations:
    keyless.dev/gcp-service-account: shop-other@p-123456.iam.gserviceaccount.com
`
	docs, errs := check.Decode("in.yaml", []byte(in))
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	r := check.Check(docs, check.Options{Cluster: policy.Cluster{GCPProject: "p-123456"}})
	if len(r.Violations) != 1 {
		t.Fatalf("violations: %+v", r.Violations)
	}
	v := r.Violations[0]
	want := `this ServiceAccount is already connected to Google service account "shop-api@p-123456.iam.gserviceaccount.com" by Deployment/api`
	if v.Kind != "ServiceAccount" || v.Rule != check.RuleConflict || v.Line != 19 || !strings.Contains(v.Message, want) {
		t.Errorf("violation %+v, want one on the ServiceAccount at line 19 saying %q", v, want)
	}
	if !r.Objects[0].Admitted || r.Objects[0].CreatesServiceAccount == nil || len(r.Objects[0].CloudObjects) != 1 {
		t.Errorf("the Deployment, admitted first, gets a ServiceAccount and its cloud object: %+v", r.Objects[0])
	}
}

func TestObjectThatDoesNotDecode(t *testing.T) {
	docs, errs := check.Decode("in.yaml", []byte("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: x\nspec:\n  template: oops\n"))
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	r := check.Check(docs, check.Options{})
	if !r.Failed() || r.Violations[0].Rule != check.RuleObject || r.Violations[0].Line != 1 {
		t.Errorf("violations: %+v", r.Violations)
	}
}

// TestNamespaceOwnership: the namespaces of the input, as Namespace
// documents or as the namespaces of its objects, exist for the policy.
func TestNamespaceOwnership(t *testing.T) {
	const team = `apiVersion: v1
kind: ServiceAccount
metadata:
  name: app
  namespace: team
  annotations:
    keyless.dev/aws-role: team-prod-admin
`
	tests := []struct {
		name   string
		extra  string
		failed bool
	}{
		{"no longer namespace", "", false},
		{"a Namespace document", "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: team-prod\n", true},
		{"an object in the namespace", "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: x\n  namespace: team-prod\n", true},
		{"an unrelated namespace", "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: prod-team\n", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := team
			if tt.extra != "" {
				in += "---\n" + tt.extra
			}
			docs, errs := check.Decode("in.yaml", []byte(in))
			if len(errs) > 0 {
				t.Fatal(errs)
			}
			r := check.Check(docs, check.Options{Cluster: testCluster})
			if r.Failed() != tt.failed {
				t.Fatalf("Failed() = %v, want %v: %+v", r.Failed(), tt.failed, r.Violations)
			}
			if tt.failed && !strings.Contains(r.Violations[0].Message, `belongs to namespace "team-prod"`) {
				t.Errorf("message %q", r.Violations[0].Message)
			}
		})
	}
}
