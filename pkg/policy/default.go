package policy

// DefaultRuleName names the rule of Default().
const DefaultRuleName = "namespace-prefix"

// Default returns the policy used when none is configured: in every
// namespace, connections may only use identities named after the namespace
// (its name, or its name followed by "-"), in enforce mode.
func Default() *Policy {
	return newPolicy(Spec{ExistingViolations: Report, Rules: defaultRules()})
}

// defaultRules is built anew on each call: the slices must not be shared
// between policies. Keep it in step with DefaultYAML (a test checks).
func defaultRules() []Rule {
	return []Rule{{
		Name: DefaultRuleName,
		Mode: Enforce,
		AWSRoles: []string{
			// By name: in the root path, then in any path. A pattern's last
			// segment is matched against the role name alone, so
			// "${namespace}-*" never matches "orders-x/payments-admin".
			"${namespace}", "${namespace}-*",
			"*/${namespace}", "*/${namespace}-*",
			// By ARN, in any partition and account.
			"arn:*:iam::*:role/${namespace}", "arn:*:iam::*:role/${namespace}-*",
			"arn:*:iam::*:role/*/${namespace}", "arn:*:iam::*:role/*/${namespace}-*",
		},
		AzureIdentities:    []string{"*/*/${namespace}", "*/*/${namespace}-*"},
		GCPServiceAccounts: []string{"${namespace}@*", "${namespace}-*@*"},
	}}
}

// DefaultYAML is Default() written as a commented document, to ship as a
// starting point. Parse(DefaultYAML) equals Default().
var DefaultYAML = []byte(`# Keyless connection policy: which cloud identities the connections
# (keyless.dev/... annotations) in each namespace may use.
#
# This is the built-in default, which Keyless also applies when no policy is
# configured: in every namespace, a connection may only use an identity named
# after the namespace, that is named NAMESPACE or NAMESPACE-something.
#
# Patterns: "*" matches any run of characters and "?" exactly one;
# ${namespace} and ${serviceAccount} stand for the namespace and the
# ServiceAccount of the connection. Quote patterns: a YAML value that starts
# with "*" is an alias.
apiVersion: keyless.dev/v1alpha1
kind: ConnectionPolicy
spec:
  # What the controller does with a binding that a policy change made
  # illegal: report (stop repairing it and report it) or remove (delete the
  # cloud object).
  existingViolations: report
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
        # Role names, optionally with a path ("service-role/orders-api").
        # The last segment of a pattern matches the role name only; a "*"
        # before it may span several path segments.
        - "${namespace}"
        - "${namespace}-*"
        - "*/${namespace}"
        - "*/${namespace}-*"
        # Role ARNs, in any partition and account.
        - "arn:*:iam::*:role/${namespace}"
        - "arn:*:iam::*:role/${namespace}-*"
        - "arn:*:iam::*:role/*/${namespace}"
        - "arn:*:iam::*:role/*/${namespace}-*"
      # Managed identities as SUBSCRIPTION/RESOURCEGROUP/NAME.
      azureIdentities:
        - "*/*/${namespace}"
        - "*/*/${namespace}-*"
      # Google service accounts by email.
      gcpServiceAccounts:
        - "${namespace}@*"
        - "${namespace}-*@*"
`)
