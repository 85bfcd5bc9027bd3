// Package policy decides who may bind which cloud identity: a versioned
// ConnectionPolicy document of rules, each selecting namespaces and
// constraining the identities their connections may use, in one of three
// modes. Evaluation is pure: the caller supplies the cluster's own account,
// subscription and project, the namespace's labels, the names of existing
// namespaces (for namespace ownership) and, for the
// one-identity-one-ServiceAccount rule, the other bindings.
//
// The webhook evaluates it at admission, the controller before every cloud
// write, and `keyless check` offline, with the same code.
package policy

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/keyless-dev/keyless/pkg/annotations"
)

// APIVersion and Kind of the document.
const (
	APIVersion = "keyless.dev/v1alpha1"
	Kind       = "ConnectionPolicy"
)

// Mode is what a rule does about a violation.
type Mode string

// Modes.
const (
	// Enforce denies at admission and refuses the cloud write at reconcile.
	Enforce Mode = "enforce"
	// Warn admits with an admission warning (shown by kubectl).
	Warn Mode = "warn"
	// Audit admits silently and records an Event and a metric.
	Audit Mode = "audit"
)

// ExistingViolations says what the controller does with a binding that a
// policy change made illegal.
type ExistingViolations string

// ExistingViolations values.
const (
	// Report stops repairing the binding and reports it (the default).
	Report ExistingViolations = "report"
	// Remove deletes the cloud object.
	Remove ExistingViolations = "remove"
)

// Document is the YAML file.
type Document struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Spec       Spec   `json:"spec"`
}

// Spec holds the rules; every rule must hold (they are ANDed).
type Spec struct {
	// ExistingViolations: report (default) or remove.
	ExistingViolations ExistingViolations `json:"existingViolations,omitempty"`
	// AllowRetain selects the namespaces whose connections may use
	// keyless.dev/deletion-policy: retain, which leaves cloud objects behind
	// that the policy can then no longer see or revoke. Nil (the key left
	// out) allows it nowhere; an empty selector ({}) everywhere.
	AllowRetain *NamespaceSelector `json:"allowRetain,omitempty"`
	Rules       []Rule             `json:"rules"`
}

// RuleAllowRetain is Violation.Rule of a retain that Spec.AllowRetain does
// not allow; it is always enforced.
const RuleAllowRetain = "allowRetain"

// Rule is one constraint on the namespaces it selects.
type Rule struct {
	// Name identifies the rule in messages, Events and metrics.
	Name string `json:"name"`
	// Mode: enforce (default), warn or audit.
	Mode Mode `json:"mode,omitempty"`
	// Namespaces selects where the rule applies; empty selects every namespace.
	Namespaces NamespaceSelector `json:"namespaces,omitempty"`

	// Allowed identities per cloud. A cloud left out is not constrained by
	// this rule; a cloud with an empty list allows nothing (a key with no
	// value is an error, since it could mean either). Patterns use "*"
	// (any run of characters) and "?" (one), and may contain ${namespace}
	// and ${serviceAccount}.
	//
	// Namespace ownership: a match of a pattern with ${namespace} does not
	// count for namespace NS when the rule's ${namespace} patterns of that
	// cloud also match the identity for a longer existing namespace whose
	// name starts with NS (with any ServiceAccount): "team-prod-admin"
	// belongs to namespace "team-prod", not "team", while "team-prod"
	// exists. Patterns without ${namespace} are not affected.
	//
	// AWS: role ARNs ("arn:aws:iam::123456789012:role/${namespace}-*") or
	// names with path ("${namespace}-*", "service-role/${namespace}-*").
	// ARN patterns match ARN connections. Name patterns match roles in the
	// cluster's own account (Cluster.AWSAccount): bare names, and ARNs in
	// that account by their PATH/NAME; with the account unknown, no ARN.
	// The last segment of a pattern matches the role name alone, without
	// case; a "*" before it may span path segments. So "${namespace}-*"
	// matches roles in the root path only, "*/${namespace}-*" those in any
	// other. The connection's target role (keyless.dev/aws-target-role), if
	// any, must match too.
	AWSRoles []string `json:"awsRoles,omitempty"`
	// Azure: "SUBSCRIPTION/RESOURCEGROUP/NAME" ("*/team-*/${namespace}-*"),
	// or "RESOURCEGROUP/NAME" for identities in the cluster's subscription
	// (Cluster.AzureSubscription), matched part by part without case
	// (Unicode folding, as ARM compares); a connection without a
	// subscription is in the cluster's.
	AzureIdentities []string `json:"azureIdentities,omitempty"`
	// GCP: service-account emails ("${namespace}-*@my-project.iam.gserviceaccount.com"),
	// matched exactly, "*" never spanning the "@"; or account IDs without
	// "@" ("${namespace}-*") for accounts in the cluster's project
	// (Cluster.GCPProject).
	GCPServiceAccounts []string `json:"gcpServiceAccounts,omitempty"`

	// UniqueIdentity: one cloud identity may be bound by at most one
	// ServiceAccount in the cluster.
	UniqueIdentity bool `json:"uniqueIdentity,omitempty"`
	// RequireNamespaceLabel: connections only in namespaces that carry this
	// label ("key" or "key=value"), i.e. that opted in.
	RequireNamespaceLabel string `json:"requireNamespaceLabel,omitempty"`
	// RequireConnection: every workload in the selected namespaces must have
	// at least one connection.
	RequireConnection bool `json:"requireConnection,omitempty"`
}

// NamespaceSelector selects namespaces by name patterns and labels; both,
// when given, must match. Names, when given, must not be empty.
type NamespaceSelector struct {
	Names    []string              `json:"names,omitempty"`
	Selector *metav1.LabelSelector `json:"selector,omitempty"`
}

// Input is what one evaluation looks at: one ServiceAccount's (or
// workload's) connections in one namespace.
type Input struct {
	Namespace       string
	NamespaceLabels map[string]string
	ServiceAccount  string
	// Workload is "Kind/name" when a workload is admitted; empty for a
	// ServiceAccount. RequireConnection applies to workloads only.
	Workload    string
	Connections annotations.Connections
	// Cluster is where the cluster's own identities live.
	Cluster Cluster
	// Namespaces returns the names of the existing namespaces that start
	// with prefix, for namespace ownership; nil knows none.
	Namespaces func(prefix string) []string
	// OtherBindings lists, per identity key (see IdentityKey), the
	// ServiceAccounts ("namespace/name") other than this one that bind it.
	OtherBindings func(identityKey string) []string
}

// Cluster is the cluster's own AWS account, Azure subscription and GCP
// project; an empty field is unknown. Name patterns, two-part Azure
// patterns and GCP patterns without "@" match only identities there, and
// IdentityKey resolves bare names to them.
type Cluster struct {
	// AWSAccount is the 12-digit account of the EKS cluster.
	AWSAccount string
	// AzureSubscription is the subscription of identities given by name.
	AzureSubscription string
	// GCPProject is the project of the Workload Identity pool.
	GCPProject string
}

// Violation is one broken rule.
type Violation struct {
	Rule string
	Mode Mode
	// Cloud is "aws", "azure", "gcp", or "" for rules about the namespace
	// or the workload.
	Cloud string
	// Message says what is wrong and what would be allowed.
	Message string
}
