package policy

import (
	"fmt"
	"strings"
	"sync"

	"github.com/keyless-dev/keyless/pkg/annotations"
)

// Cloud names, as in Violation.Cloud and IdentityKey.
const (
	CloudAWS   = "aws"
	CloudAzure = "azure"
	CloudGCP   = "gcp"
)

// Evaluate returns every violated rule, in rule order, for one
// ServiceAccount or workload. It does no I/O: the caller supplies the
// namespace's labels and, for UniqueIdentity, the other bindings.
func (p *Policy) Evaluate(in Input) []Violation {
	if p == nil {
		p = defaultPolicy()
	}
	var vs []Violation
	for i := range p.spec.Rules {
		r, c := &p.spec.Rules[i], &p.compiled[i]
		if !c.selects(r, in.Namespace, in.NamespaceLabels) {
			continue
		}
		vs = append(vs, r.evaluate(c, in)...)
	}
	return vs
}

// defaultPolicy is what a nil *Policy evaluates.
var defaultPolicy = sync.OnceValue(Default)

func (r *Rule) evaluate(c *compiledRule, in Input) []Violation {
	var vs []Violation
	add := func(cloud, format string, args ...any) {
		vs = append(vs, Violation{Rule: r.Name, Mode: r.mode(), Cloud: cloud,
			Message: fmt.Sprintf("rule %q: ", r.Name) + fmt.Sprintf(format, args...)})
	}
	conns := in.Connections
	v := &vars{namespace: in.Namespace, serviceAccount: in.ServiceAccount}
	notAllowed := func(cloud, what, id string, pats []string) {
		add(cloud, "%s %q is not allowed in namespace %q; %s", what, id, in.Namespace, allowed(pats, v))
	}

	if r.AWSRoles != nil {
		// The target role is checked too: it is the identity the pods end
		// up with.
		for _, role := range []struct {
			what string
			r    *annotations.AWSRole
		}{{"AWS role", conns.AWS}, {"AWS target role", conns.AWSTargetRole}} {
			if role.r != nil && !anyAWS(c.aws, role.r, v) {
				notAllowed(CloudAWS, role.what, role.r.String(), r.AWSRoles)
			}
		}
	}
	if a := conns.Azure; a != nil && r.AzureIdentities != nil {
		sub := subscriptionOf(a, in.AzureSubscription)
		if !anyAzure(c.azure, sub, a, v) {
			notAllowed(CloudAzure, "Azure identity", azureName(sub, a), r.AzureIdentities)
		}
	}
	if g := conns.GCP; g != nil && r.GCPServiceAccounts != nil {
		if !anyGCP(c.gcp, g.Email, v) {
			notAllowed(CloudGCP, "GCP service account", g.Email, r.GCPServiceAccounts)
		}
	}

	if r.UniqueIdentity && in.OtherBindings != nil {
		for _, cloud := range []string{CloudAWS, CloudAzure, CloudGCP} {
			key := IdentityKey(cloud, conns, in.AzureSubscription)
			if key == "" {
				continue
			}
			if others := in.OtherBindings(key); len(others) > 0 {
				add(cloud, "%s is already bound by %s %s; a cloud identity may be bound by one ServiceAccount only",
					describeIdentity(cloud, conns, in.AzureSubscription), plural(len(others), "ServiceAccount"), quoteList(others))
			}
		}
	}

	if r.RequireNamespaceLabel != "" && !conns.Empty() && !hasLabel(in.NamespaceLabels, r.RequireNamespaceLabel) {
		add("", "namespace %q has no label %s, which opts a namespace in to cloud connections; label it (kubectl label namespace %s %s) or remove the connection",
			in.Namespace, requiredLabelText(r.RequireNamespaceLabel), in.Namespace, labelArg(r.RequireNamespaceLabel))
	}

	if r.RequireConnection && in.Workload != "" && conns.Empty() {
		add("", "%s in namespace %q has no connection, but every workload here needs one; add %s, %s or %s",
			in.Workload, in.Namespace, annotations.KeyAWSRole, annotations.KeyAzureIdentity, annotations.KeyGCPServiceAccount)
	}
	return vs
}

// mode defaults an unset mode to Enforce, for rules not made by Parse.
func (r *Rule) mode() Mode {
	if r.Mode == "" {
		return Enforce
	}
	return r.Mode
}

func anyAWS(pats []awsPattern, r *annotations.AWSRole, v *vars) bool {
	arn := ""
	if r.Account != "" {
		arn = r.String()
	}
	for i := range pats {
		if pats[i].match(r, arn, v) {
			return true
		}
	}
	return false
}

func anyAzure(pats []azurePattern, sub string, a *annotations.AzureIdentity, v *vars) bool {
	for i := range pats {
		if pats[i].match(sub, a.ResourceGroup, a.Name, v) {
			return true
		}
	}
	return false
}

func anyGCP(pats []gcpPattern, email string, v *vars) bool {
	for i := range pats {
		if pats[i].match(email, v) {
			return true
		}
	}
	return false
}

// allowed lists the patterns with the templates written out.
func allowed(pats []string, v *vars) string {
	if len(pats) == 0 {
		return "this rule allows none here"
	}
	out := make([]string, len(pats))
	for i, p := range pats {
		out[i] = substitute(p, v)
	}
	return "allowed: " + quoteList(out)
}

func subscriptionOf(a *annotations.AzureIdentity, configured string) string {
	if a.SubscriptionID != "" {
		return a.SubscriptionID
	}
	return configured
}

// azureName is SUBSCRIPTION/RESOURCEGROUP/NAME, the form patterns use, or
// RESOURCEGROUP/NAME when no subscription is known.
func azureName(sub string, a *annotations.AzureIdentity) string {
	if sub == "" {
		return a.ResourceGroup + "/" + a.Name
	}
	return sub + "/" + a.ResourceGroup + "/" + a.Name
}

func describeIdentity(cloud string, c annotations.Connections, azureSub string) string {
	switch cloud {
	case CloudAWS:
		return fmt.Sprintf("AWS role %q", c.AWS.String())
	case CloudAzure:
		return fmt.Sprintf("Azure identity %q", azureName(subscriptionOf(c.Azure, azureSub), c.Azure))
	default:
		return fmt.Sprintf("GCP service account %q", c.GCP.Email)
	}
}

// IdentityKey returns the canonical, case-folded key of one cloud's
// identity of c, "" when c has none (or cloud is unknown): "aws:" and the
// ARN, or PATH/NAME for a bare name; "azure:SUBSCRIPTION/RESOURCEGROUP/NAME"
// (with azureSubscription when c names none); "gcp:" and the email.
func IdentityKey(cloud string, c annotations.Connections, azureSubscription string) string {
	switch {
	case cloud == CloudAWS && c.AWS != nil:
		return "aws:" + lower(c.AWS.String())
	case cloud == CloudAzure && c.Azure != nil:
		return "azure:" + lower(subscriptionOf(c.Azure, azureSubscription)+"/"+c.Azure.ResourceGroup+"/"+c.Azure.Name)
	case cloud == CloudGCP && c.GCP != nil:
		return "gcp:" + lower(c.GCP.Email)
	}
	return ""
}

// hasLabel checks "key" (present, any value) or "key=value".
func hasLabel(l map[string]string, req string) bool {
	key, want, hasValue := strings.Cut(req, "=")
	got, ok := l[key]
	return ok && (!hasValue || got == want)
}

func requiredLabelText(req string) string {
	if strings.Contains(req, "=") {
		return fmt.Sprintf("%q", req)
	}
	return fmt.Sprintf("%q (any value)", req)
}

// labelArg is the argument to kubectl label.
func labelArg(req string) string {
	if strings.Contains(req, "=") {
		return req
	}
	return req + "=true"
}

func plural(n int, s string) string {
	if n == 1 {
		return s
	}
	return s + "s"
}
