package policy

// DefaultRuleName names the rule of Default().
const DefaultRuleName = "namespace-prefix"

// Default returns the policy used when none is configured: in every
// namespace, connections may only use identities named after the namespace
// (its name, or its name followed by "-") in the cluster's own AWS account,
// Azure subscription and GCP project, in enforce mode. Namespace ownership
// keeps two namespaces from sharing one: "team-prod-x" belongs to
// "team-prod", never to "team". Retain is allowed nowhere.
func Default() *Policy {
	return newPolicy(Spec{ExistingViolations: Report, Rules: defaultRules()})
}

// defaultRules is built anew on each call: the slices must not be shared
// between policies. Keep it in step with DefaultYAML and
// the chart's default policy, deploy/chart/keyless/values.yaml (tests check).
func defaultRules() []Rule {
	return []Rule{{
		Name: DefaultRuleName,
		Mode: Enforce,
		// Names only: they match in the cluster's own account, subscription
		// and project, never elsewhere.
		AWSRoles:           []string{"${namespace}", "${namespace}-*", "*/${namespace}", "*/${namespace}-*"},
		AzureIdentities:    []string{"*/${namespace}", "*/${namespace}-*"},
		GCPServiceAccounts: []string{"${namespace}", "${namespace}-*"},
	}}
}

// DefaultYAML is Default() written as a commented document, to ship as a
// starting point. Parse(DefaultYAML) equals Default().
var DefaultYAML = []byte(`# Keyless connection policy: which cloud identities the connections
# (keyless.dev/... annotations) in each namespace may use.
#
# This is the built-in default, which Keyless also applies when no policy is
# configured: in every namespace, a connection may only use an identity named
# after the namespace, that is named NAMESPACE or NAMESPACE-something, in the
# cluster's own AWS account (--aws-account-id), Azure subscription
# (--azure-subscription-id) and GCP project (that of --gcp-workload-pool).
# Identities anywhere else need a rule that names them.
#
# Patterns: "*" matches any run of characters and "?" exactly one;
# ${namespace} and ${serviceAccount} stand for the namespace and the
# ServiceAccount of the connection. Quote patterns: a YAML value that starts
# with "*" is an alias.
#
# Namespace ownership: where the ${namespace} patterns match an identity for
# several existing namespaces, only the longest name counts. While namespace
# "team-prod" exists, "team-prod-admin" belongs to it and not to "team", so
# two namespaces never share an identity. Keyless checks again at every
# reconcile, so a namespace created later takes its identities back
# (existingViolations says whether the older binding is reported or
# removed). The limit: whoever may create namespace X may claim the X-*
# identities of the namespace whose name X extends. Where tenants create
# their own namespaces, add requireNamespaceLabel with a label only admins
# set, or list each team's identities in rules of their own.
apiVersion: keyless.dev/v1alpha1
kind: ConnectionPolicy
spec:
  # What the controller does with a binding that a policy change made
  # illegal: report (stop repairing it and report it) or remove (delete the
  # cloud object).
  existingViolations: report
  # Namespaces that may use keyless.dev/deletion-policy: retain, which leaves
  # cloud objects behind that the policy can no longer see or revoke. Left
  # out, as here: nowhere. {} allows it everywhere; to select some:
  #   allowRetain:
  #     names: ["platform-*"]
  #     selector: {matchLabels: {keyless.dev/retain: "allowed"}}
  # Every rule must hold. "rules: []" allows every identity everywhere.
  rules:
    - name: namespace-prefix
      # enforce: deny at admission and refuse the cloud write;
      # warn: admit with a warning; audit: admit and record an Event.
      mode: enforce
      # No "namespaces": the rule applies in every namespace. To narrow it:
      #   namespaces:
      #     names: ["team-*"]
      #     selector: {matchLabels: {keyless.dev/policy: default}}
      awsRoles:
        # Role names, optionally with a path ("service-role/orders-api"),
        # of roles in the cluster's account: bare names, and ARNs in that
        # account (only once --aws-account-id is set). The last segment of a
        # pattern matches the role name only; a "*" before it may span
        # several path segments. Roles of other accounts need ARN patterns,
        # e.g. "arn:aws:iam::123456789012:role/${namespace}-*".
        - "${namespace}"
        - "${namespace}-*"
        - "*/${namespace}"
        - "*/${namespace}-*"
      # Managed identities as RESOURCEGROUP/NAME, in the cluster's
      # subscription. Other subscriptions need SUBSCRIPTION/RESOURCEGROUP/NAME.
      azureIdentities:
        - "*/${namespace}"
        - "*/${namespace}-*"
      # Google service account IDs (the part before "@"), in the cluster's
      # project. Other projects need email patterns, e.g.
      # "${namespace}-*@my-project.iam.gserviceaccount.com".
      gcpServiceAccounts:
        - "${namespace}"
        - "${namespace}-*"
`)
