package mutation

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/keyless-dev/keyless/pkg/annotations"

	"github.com/keyless-dev/keyless/pkg/internal/golden"
)

// on is the usual workload setting: the GKE nodeSelector is added.
var on = WorkloadOptions{GKENodeSelector: true}

// workloadTests also drive the property tests; name is the golden file stem
// under testdata/workload/.
var workloadTests = []struct {
	name    string
	obj     any
	opts    WorkloadOptions
	wantSA  string // the ServiceAccount the pods run as
	wantErr string // a part of the error; "" for none
}{
	{
		name:   "deployment-three-connections",
		obj:    deployment("orders", aws(), azure(), gcp()),
		opts:   on,
		wantSA: "orders",
	},
	{
		name:   "nil-labels-and-node-selector",
		obj:    job("migrate", azure(), gcp(), runsAs("migrate-sa"), labels()),
		opts:   on,
		wantSA: "migrate-sa",
	},
	{
		name:   "existing-labels-and-node-selector",
		obj:    deployment("orders", azure(), gcp(), runsAs("orders-sa"), labels("tier", "web"), nodeSelector("disktype", "ssd")),
		opts:   on,
		wantSA: "orders-sa",
	},
	{
		name:   "default-service-account",
		obj:    deployment("orders", aws(), runsAsBoth("default")),
		opts:   on,
		wantSA: "orders",
	},
	{
		name:   "explicit-service-account",
		obj:    deployment("orders", aws(), gcp(), runsAs("orders-sa")),
		opts:   on,
		wantSA: "orders-sa",
	},
	{
		name:    "deny-default-service-account",
		obj:     deployment("orders", aws()),
		opts:    WorkloadOptions{DenyDefaultServiceAccount: true, GKENodeSelector: true},
		wantErr: `spec.template.spec.serviceAccountName: Required value: a workload with keyless.dev connections must run as its own ServiceAccount`,
	},
	{
		name:    "deny-default-service-account-named-default",
		obj:     deployment("orders", aws(), runsAsBoth("default")),
		opts:    WorkloadOptions{DenyDefaultServiceAccount: true},
		wantErr: `spec.template.spec.serviceAccountName: Required value`,
	},
	{
		name:   "deny-default-service-account-explicit",
		obj:    deployment("orders", aws(), azure(), runsAs("orders-sa")),
		opts:   WorkloadOptions{DenyDefaultServiceAccount: true},
		wantSA: "orders-sa",
	},
	{
		name:   "gke-node-selector-off",
		obj:    deployment("orders", gcp(), runsAs("orders-sa")),
		opts:   WorkloadOptions{},
		wantSA: "orders-sa",
	},
	{
		name:   "user-set-azure-label-true",
		obj:    deployment("orders", azure(), runsAs("orders-sa"), labels(annotations.AzureUseLabel, "true")),
		opts:   on,
		wantSA: "orders-sa",
	},
	{
		name:   "user-set-azure-label-true-with-injection",
		obj:    deployment("orders", azure(), gcp(), labels(annotations.AzureUseLabel, "true")),
		opts:   on,
		wantSA: "orders",
	},
	{
		name:    "user-set-azure-label-false",
		obj:     deployment("orders", azure(), runsAs("orders-sa"), labels(annotations.AzureUseLabel, "false")),
		opts:    on,
		wantErr: `spec.template.metadata.labels[azure.workload.identity/use]: Invalid value: "false": keyless.dev/azure-identity needs azure.workload.identity/use="true" here`,
	},
	{
		name:   "user-set-node-selector-true",
		obj:    deployment("orders", gcp(), runsAs("orders-sa"), nodeSelector(annotations.GKEMetadataServerNodeSelector, "true")),
		opts:   on,
		wantSA: "orders-sa",
	},
	{
		name:    "user-set-node-selector-false",
		obj:     deployment("orders", gcp(), runsAs("orders-sa"), nodeSelector(annotations.GKEMetadataServerNodeSelector, "false")),
		opts:    on,
		wantErr: `spec.template.spec.nodeSelector[iam.gke.io/gke-metadata-server-enabled]: Invalid value: "false"`,
	},
	{
		name:   "cronjob",
		obj:    cronJob("nightly", aws(), azure(), gcp(), labels()),
		opts:   on,
		wantSA: "nightly",
	},
	{
		name:    "cronjob-deny-default",
		obj:     cronJob("nightly", gcp()),
		opts:    WorkloadOptions{DenyDefaultServiceAccount: true},
		wantErr: `spec.jobTemplate.spec.template.spec.serviceAccountName: Required value`,
	},
	{
		name:   "generate-name",
		obj:    deployment("orders", generateName("orders-"), azure()),
		opts:   on,
		wantSA: "orders",
	},
	{
		name:    "generate-name-only-dashes",
		obj:     deployment("orders", generateName("-"), azure()),
		opts:    on,
		wantErr: `spec.template.spec.serviceAccountName: Required value`,
	},
	{
		name:   "job-create",
		obj:    job("migrate", azure(), gcp(), labels()),
		opts:   on,
		wantSA: "migrate",
	},
	{
		name:    "job-update-adds-connection",
		obj:     job("migrate", azure(), runsAs("migrate-sa")),
		opts:    WorkloadOptions{GKENodeSelector: true, TemplateImmutable: true},
		wantErr: `spec.template: Forbidden: the pod template of a Job cannot change after it is created`,
	},
	{
		name:    "job-update-adds-default-service-account",
		obj:     job("migrate", aws()),
		opts:    WorkloadOptions{GKENodeSelector: true, TemplateImmutable: true},
		wantErr: `spec.template: Forbidden`,
	},
	{
		// AWS needs no template change: a Job may gain it, through its ServiceAccount.
		name:   "job-update-adds-aws-with-own-service-account",
		obj:    job("migrate", aws(), runsAs("migrate-sa")),
		opts:   WorkloadOptions{GKENodeSelector: true, TemplateImmutable: true},
		wantSA: "migrate-sa",
	},
	{
		name: "job-update-removes-connection",
		obj: job("migrate", runsAsBoth("migrate"), labels(annotations.AzureUseLabel, "true"),
			injected(annotations.InjectedServiceAccountName, annotations.InjectedAzureUseLabel)),
		opts:   WorkloadOptions{GKENodeSelector: true, TemplateImmutable: true},
		wantSA: "migrate",
	},
	{
		name: "job-update-removes-one-of-two-connections",
		obj: job("migrate", gcp(), runsAsBoth("migrate"), labels(annotations.AzureUseLabel, "true"),
			nodeSelector(annotations.GKEMetadataServerNodeSelector, "true"),
			injected(annotations.InjectedServiceAccountName, annotations.InjectedAzureUseLabel, annotations.InjectedGKENodeSelector)),
		opts:   WorkloadOptions{GKENodeSelector: true, TemplateImmutable: true},
		wantSA: "migrate",
	},
	{
		name: "job-update-unchanged",
		obj: job("migrate", azure(), runsAsBoth("migrate"), labels(annotations.AzureUseLabel, "true"),
			injected(annotations.InjectedServiceAccountName, annotations.InjectedAzureUseLabel)),
		opts:   WorkloadOptions{GKENodeSelector: true, TemplateImmutable: true},
		wantSA: "migrate",
	},
	{
		name: "removed-all-connections",
		obj: deployment("orders", runsAsBoth("orders"), labels(annotations.AzureUseLabel, "true"),
			nodeSelector(annotations.GKEMetadataServerNodeSelector, "true", "disktype", "ssd"),
			injected(annotations.InjectedServiceAccountName, annotations.InjectedAzureUseLabel, annotations.InjectedGKENodeSelector)),
		opts: on,
	},
	{
		name: "removed-one-connection",
		obj: deployment("orders", azure(), runsAsBoth("orders"), labels(annotations.AzureUseLabel, "true"),
			nodeSelector(annotations.GKEMetadataServerNodeSelector, "true"),
			injected(annotations.InjectedServiceAccountName, annotations.InjectedAzureUseLabel, annotations.InjectedGKENodeSelector)),
		opts:   on,
		wantSA: "orders",
	},
	{
		// The user moved the workload to another ServiceAccount after
		// Keyless set it: that is theirs now, and the record goes.
		name:   "removed-connections-service-account-changed-by-user",
		obj:    deployment("orders", runsAsBoth("orders-v2"), injected(annotations.InjectedServiceAccountName)),
		opts:   on,
		wantSA: "orders-v2",
	},
	{
		// An item Keyless does not know is dropped from the record; nothing
		// else is touched.
		name:   "removed-connections-record-lists-unknown-items",
		obj:    deployment("orders", runsAs("orders-sa"), injected("something-else")),
		opts:   on,
		wantSA: "orders-sa",
	},
	{
		name:   "connection-changed-keeps-injections",
		obj:    deployment("orders", aws(), runsAsBoth("orders"), injected(annotations.InjectedServiceAccountName)),
		opts:   on,
		wantSA: "orders",
	},
	{
		name:   "no-connections",
		obj:    deployment("orders", annotated("example.com/owner", "team-a")),
		opts:   on,
		wantSA: "",
	},
}

func TestForWorkload(t *testing.T) {
	for _, tt := range workloadTests {
		t.Run(tt.name, func(t *testing.T) {
			doc := indented(t, mustJSON(t, tt.obj))
			golden.Check(t, filepath.Join("workload", tt.name+".input.json"), doc)

			p, sa, errs := mutateWorkload(t, doc, tt.opts)
			checkErrs(t, errs, tt.wantErr)
			if tt.wantErr != "" {
				if p != nil {
					t.Errorf("patch = %v with errors, want none", p)
				}
				return
			}
			if sa != tt.wantSA && !(tt.wantSA == "" && sa == "default") {
				t.Errorf("ServiceAccount = %q, want %q", sa, tt.wantSA)
			}
			golden.Check(t, filepath.Join("workload", tt.name+".patch.json"), indented(t, patchJSON(t, p)))
			checkRemovals(t, doc, templateBase(generic(t, doc)), p)
			apply(t, doc, p)
		})
	}
}

// TestForWorkloadPaths pins the JSON pointers that matter, independently of
// the golden files: a missing map is added whole, an existing one per key,
// and every "/" in a key is escaped as "~1".
func TestForWorkloadPaths(t *testing.T) {
	tests := []struct {
		name      string
		obj       any
		wantPaths []string
	}{
		{
			name: "nil maps are added whole",
			obj:  job("migrate", azure(), gcp(), runsAs("migrate-sa"), labels()),
			wantPaths: []string{
				"add /spec/template/metadata/labels",
				"add /spec/template/spec/nodeSelector",
				"add /metadata/annotations/keyless.dev~1injected",
			},
		},
		{
			name: "existing maps get one key each",
			obj:  deployment("orders", azure(), gcp(), runsAs("orders-sa"), nodeSelector("disktype", "ssd")),
			wantPaths: []string{
				"add /spec/template/metadata/labels/azure.workload.identity~1use",
				"add /spec/template/spec/nodeSelector/iam.gke.io~1gke-metadata-server-enabled",
				"add /metadata/annotations/keyless.dev~1injected",
			},
		},
		{
			name: "cronjob template",
			obj:  cronJob("nightly", azure()),
			wantPaths: []string{
				"add /spec/jobTemplate/spec/template/spec/serviceAccountName",
				"add /spec/jobTemplate/spec/template/metadata/labels",
				"add /metadata/annotations/keyless.dev~1injected",
			},
		},
		{
			name: "default in both fields",
			obj:  deployment("orders", aws(), runsAsBoth("default")),
			wantPaths: []string{
				"add /spec/template/spec/serviceAccountName",
				"add /spec/template/spec/serviceAccount",
				"add /metadata/annotations/keyless.dev~1injected",
			},
		},
		{
			name: "removal",
			obj: deployment("orders", runsAsBoth("orders"), labels(annotations.AzureUseLabel, "true"),
				nodeSelector(annotations.GKEMetadataServerNodeSelector, "true"),
				injected(annotations.InjectedServiceAccountName, annotations.InjectedAzureUseLabel, annotations.InjectedGKENodeSelector)),
			wantPaths: []string{
				"remove /spec/template/spec/serviceAccountName",
				"remove /spec/template/spec/serviceAccount",
				"remove /spec/template/metadata/labels/azure.workload.identity~1use",
				"remove /spec/template/spec/nodeSelector/iam.gke.io~1gke-metadata-server-enabled",
				"remove /metadata/annotations/keyless.dev~1injected",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, _, errs := mutateWorkload(t, mustJSON(t, tt.obj), on)
			if len(errs) > 0 {
				t.Fatal(errs)
			}
			var got []string
			for _, op := range p {
				got = append(got, op.Op+" "+op.Path)
			}
			if strings.Join(got, "\n") != strings.Join(tt.wantPaths, "\n") {
				t.Errorf("operations:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.wantPaths, "\n"))
			}
		})
	}
}

func TestForWorkloadWithoutTemplate(t *testing.T) {
	tests := []struct {
		name    string
		doc     string
		wantErr string
	}{
		{"connected", `{"metadata":{"name":"x","annotations":{"keyless.dev/aws-role":"orders-api"}},"spec":{}}`,
			"spec.template: Required value: a workload with keyless.dev connections needs a pod template"},
		{"unconnected", `{"metadata":{"name":"x"},"spec":{}}`, ""},
		{"cronjob without template", `{"metadata":{"name":"x","annotations":{"keyless.dev/aws-role":"orders-api"}},"spec":{"jobTemplate":{"spec":{}}}}`,
			"spec.template: Required value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, _, errs := mutateWorkload(t, []byte(tt.doc), on)
			checkErrs(t, errs, tt.wantErr)
			if len(p) != 0 {
				t.Errorf("patch = %v, want none", p)
			}
		})
	}
}

func TestEscape(t *testing.T) {
	tests := []struct{ key, want string }{
		{"app", "app"},
		{"azure.workload.identity/use", "azure.workload.identity~1use"},
		{"a~b", "a~0b"},
		{"a~1/b", "a~01~1b"},
		{"/", "~1"},
	}
	for _, tt := range tests {
		if got := escape(tt.key); got != tt.want {
			t.Errorf("escape(%q) = %q, want %q", tt.key, got, tt.want)
		}
	}
}
