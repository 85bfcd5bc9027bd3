package policy

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/keyless-dev/keyless/pkg/annotations"
)

// Cloud names, as in Violation.Cloud and IdentityKey: annotations.Clouds's.
const (
	CloudAWS   = annotations.CloudAWS
	CloudAzure = annotations.CloudAzure
	CloudGCP   = annotations.CloudGCP
)

// IdentityKeys returns the IdentityKey of each of c's identities, in
// annotations.Clouds's order.
func IdentityKeys(c annotations.Connections, cl Cluster) []string {
	var keys []string
	for _, cloud := range annotations.Clouds {
		if k := IdentityKey(cloud.Name, c, cl); k != "" {
			keys = append(keys, k)
		}
	}
	return keys
}

// Evaluate returns every violated rule, in rule order, then a retain that
// Spec.AllowRetain does not allow. It does no I/O: the caller supplies the
// namespace's labels, the existing namespaces and, for UniqueIdentity, the
// other bindings.
func (p *Policy) Evaluate(in Input) []Violation {
	if p == nil {
		p = defaultPolicy()
	}
	e := &evaluation{in: in, v: &vars{namespace: in.Namespace, serviceAccount: in.ServiceAccount}}
	var vs []Violation
	for i := range p.spec.Rules {
		r, c := &p.spec.Rules[i], &p.compiled[i]
		if !c.namespaces.selects(in.Namespace, in.NamespaceLabels) {
			continue
		}
		vs = append(vs, r.evaluate(c, e)...)
	}
	if in.Connections.Retain && !p.RetainAllowed(in.Namespace, in.NamespaceLabels) {
		vs = append(vs, Violation{Rule: RuleAllowRetain, Mode: Enforce, Message: fmt.Sprintf(
			"%s: namespace %q may not use %s: retain, which keeps cloud objects beyond the policy's reach once the "+
				"connection goes away; remove the annotation (or set it to delete), or ask an admin to select the "+
				"namespace in the policy's spec.allowRetain", RuleAllowRetain, in.Namespace, annotations.KeyDeletionPolicy)})
	}
	return vs
}

// defaultPolicy is what a nil *Policy evaluates.
var defaultPolicy = sync.OnceValue(Default)

// evaluation is one call of Evaluate, shared by its rules.
type evaluation struct {
	in     Input
	v      *vars
	longer []string // nil until asked for
	asked  bool
}

// longerNamespaces are the existing namespaces whose names start with the
// input's and are longer, longest first: the candidate owners of an
// identity that a ${namespace} pattern gives the input's namespace.
func (e *evaluation) longerNamespaces() []string {
	if e.asked {
		return e.longer
	}
	e.asked = true
	if e.in.Namespaces == nil {
		return nil
	}
	ns := e.in.Namespace
	for _, n := range e.in.Namespaces(ns) {
		if len(n) > len(ns) && strings.HasPrefix(n, ns) {
			e.longer = append(e.longer, n)
		}
	}
	slices.SortFunc(e.longer, func(a, b string) int { return cmp.Or(cmp.Compare(len(b), len(a)), cmp.Compare(a, b)) })
	return e.longer
}

// allows decides whether one cloud's n patterns allow an identity in the
// input's namespace; match(i, v) matches pattern i with the templates of v.
// A match of a pattern without ${namespace} allows it. A match of one with
// ${namespace} allows it unless the ${namespace} patterns also match it
// for a longer existing namespace, which then owns it.
func (e *evaluation) allows(n int, namespaced func(i int) bool, match func(i int, v *vars) bool) (ok bool, owner string) {
	templated := false
	for i := range n {
		if match(i, e.v) {
			if !namespaced(i) {
				return true, ""
			}
			templated = true
		}
	}
	if !templated {
		return false, ""
	}
	for _, other := range e.longerNamespaces() {
		v := &vars{namespace: other, serviceAccount: e.v.serviceAccount, anyServiceAccount: true}
		for i := range n {
			if namespaced(i) && match(i, v) {
				return false, other
			}
		}
	}
	return true, ""
}

func (r *Rule) evaluate(c *compiledRule, e *evaluation) []Violation {
	var vs []Violation
	add := func(cloud, format string, args ...any) {
		vs = append(vs, Violation{Rule: r.Name, Mode: r.mode(), Cloud: cloud,
			Message: fmt.Sprintf("rule %q: ", r.Name) + fmt.Sprintf(format, args...)})
	}
	in := e.in
	conns := in.Connections
	notAllowed := func(cloud, what, id, why string, pats []string) {
		add(cloud, "%s %q is not allowed in namespace %q; %s%s", what, id, in.Namespace, why, allowed(pats, e.v))
	}

	if r.AWSRoles != nil {
		// The target role is checked too: it is the identity the pods end
		// up with.
		for _, role := range []struct {
			what string
			r    *annotations.AWSRole
		}{{"AWS role", conns.AWS}, {"AWS target role", conns.AWSTargetRole}} {
			if role.r == nil {
				continue
			}
			if ok, why := e.allowsAWS(c.aws, role.r); !ok {
				notAllowed(CloudAWS, role.what, role.r.String(), why, r.AWSRoles)
			}
		}
	}
	if a := conns.Azure; a != nil && r.AzureIdentities != nil {
		if ok, why := e.allowsAzure(c.azure, a); !ok {
			notAllowed(CloudAzure, "Azure identity", azureName(subscriptionOf(a, in.Cluster.AzureSubscription), a), why, r.AzureIdentities)
		}
	}
	if g := conns.GCP; g != nil && r.GCPServiceAccounts != nil {
		if ok, why := e.allowsGCP(c.gcp, g.Email); !ok {
			notAllowed(CloudGCP, "GCP service account", g.Email, why, r.GCPServiceAccounts)
		}
	}

	if r.UniqueIdentity && in.OtherBindings != nil {
		for _, cl := range annotations.Clouds {
			cloud := cl.Name
			key := IdentityKey(cloud, conns, in.Cluster)
			if key == "" {
				continue
			}
			if others := in.OtherBindings(key); len(others) > 0 {
				add(cloud, "%s is already bound by %s; a cloud identity may be bound by one ServiceAccount only",
					describeIdentity(cloud, conns, in.Cluster), describeBindings(in.Namespace, others))
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

// allowsAWS decides a role; why, when refused, says why beyond the list of
// allowed patterns ("" when the list says it all), ending in "; ".
func (e *evaluation) allowsAWS(pats []awsPattern, r *annotations.AWSRole) (ok bool, why string) {
	arn := ""
	if r.Account != "" {
		arn = r.String()
	}
	account := e.in.Cluster.AWSAccount
	inCluster := r.Account == "" || (account != "" && r.Account == account)
	decide := func(inCluster bool) (bool, string) {
		return e.allows(len(pats), func(i int) bool { return pats[i].namespaced },
			func(i int, v *vars) bool { return pats[i].match(r, arn, inCluster, v) })
	}
	return outcome(inCluster, decide, func() string {
		if account == "" {
			return "name patterns match role ARNs only in the cluster's own AWS account, which is not configured: " +
				"set --aws-account-id, or allow the ARN with an ARN pattern; "
		}
		return fmt.Sprintf("name patterns match role ARNs only in the cluster's AWS account %s, not %s: "+
			"allow roles of another account with an ARN pattern, e.g. %q; ", account, r.Account, arn)
	})
}

// outcome turns decide (does a pattern allow the identity, as if it were
// in the cluster's own account or not; which longer namespace owns it) into
// the answer: allowed, owned by a longer namespace, or refused. When only
// being outside the cluster's account refuses it, outside says why.
func outcome(inCluster bool, decide func(inCluster bool) (bool, string), outside func() string) (bool, string) {
	ok, owner := decide(inCluster)
	switch {
	case ok:
		return true, ""
	case owner != "":
		return false, ownedBy(owner)
	case inCluster:
		return false, ""
	}
	if would, owner := decide(true); !would && owner == "" {
		return false, "" // no name pattern is near: the list says it all
	}
	return false, outside()
}

// allowsAzure is allowsAWS for an Azure identity.
func (e *evaluation) allowsAzure(pats []azurePattern, a *annotations.AzureIdentity) (ok bool, why string) {
	cluster := e.in.Cluster.AzureSubscription
	sub := subscriptionOf(a, cluster)
	inCluster := a.SubscriptionID == "" || (cluster != "" && strings.EqualFold(a.SubscriptionID, cluster))
	val := azureValue{sub: foldCase(sub), rg: foldCase(a.ResourceGroup), name: foldCase(a.Name)}
	decide := func(inCluster bool) (bool, string) {
		val.inCluster = inCluster
		return e.allows(len(pats), func(i int) bool { return pats[i].namespaced },
			func(i int, v *vars) bool { return pats[i].match(&val, foldVars(v)) })
	}
	return outcome(inCluster, decide, func() string {
		if cluster == "" {
			return "RESOURCEGROUP/NAME patterns match identities only in the cluster's own subscription, which is not " +
				"configured: set --azure-subscription-id, or allow the identity with a SUBSCRIPTION/RESOURCEGROUP/NAME pattern; "
		}
		return fmt.Sprintf("RESOURCEGROUP/NAME patterns match identities only in the cluster's subscription %s, not %s: "+
			"allow identities of another subscription with a SUBSCRIPTION/RESOURCEGROUP/NAME pattern, e.g. %q; ",
			cluster, a.SubscriptionID, azureName(sub, a))
	})
}

// allowsGCP is allowsAWS for a Google service account.
func (e *evaluation) allowsGCP(pats []gcpPattern, email string) (ok bool, why string) {
	id, project := gcpParts(email)
	cluster := e.in.Cluster.GCPProject
	inCluster := cluster != "" && project == cluster
	decide := func(inCluster bool) (bool, string) {
		return e.allows(len(pats), func(i int) bool { return pats[i].namespaced },
			func(i int, v *vars) bool { return pats[i].match(email, id, inCluster, v) })
	}
	return outcome(inCluster, decide, func() string {
		if cluster == "" {
			return "patterns without \"@\" match service accounts only in the cluster's own project, which is not " +
				"configured: set --gcp-workload-pool, or allow the account with an email pattern; "
		}
		return fmt.Sprintf("patterns without \"@\" match service accounts only in the cluster's project %s, not %s: "+
			"allow accounts of another project with an email pattern, e.g. %q; ", cluster, project, email)
	})
}

// gcpParts splits NAME@PROJECT.iam.gserviceaccount.com.
func gcpParts(email string) (id, project string) {
	id, domain, _ := strings.Cut(email, "@")
	project, _ = strings.CutSuffix(domain, ".iam.gserviceaccount.com")
	return id, project
}

// ownedBy explains a refusal by namespace ownership.
func ownedBy(owner string) string {
	return fmt.Sprintf("it belongs to namespace %q, for which the ${namespace} patterns match it too (the longest "+
		"namespace name wins); use an identity whose name does not start with %q, or ask an admin to allow this one "+
		"by a pattern without ${namespace}; ", owner, owner)
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

func describeIdentity(cloud string, c annotations.Connections, cl Cluster) string {
	switch cloud {
	case CloudAWS:
		return fmt.Sprintf("AWS role %q", c.AWS.String())
	case CloudAzure:
		return fmt.Sprintf("Azure identity %q", azureName(subscriptionOf(c.Azure, cl.AzureSubscription), c.Azure))
	default:
		return fmt.Sprintf("GCP service account %q", c.GCP.Email)
	}
}

// IdentityKey returns the canonical key of one cloud's identity of c, ""
// when c has none (or cloud is unknown), so that every spelling of one
// identity has one key:
//   - "aws:ACCOUNT/name": IAM role names are unique in an account whatever
//     their path, and compare without case; a bare name is in cl's account
//     (empty while unknown, so that a bare name and an ARN then differ).
//   - "azure:SUBSCRIPTION/RESOURCEGROUP/NAME", case-folded as ARM compares
//     (Unicode included), with cl's subscription when c names none.
//   - "gcp:" and the lower-cased email.
func IdentityKey(cloud string, c annotations.Connections, cl Cluster) string {
	switch {
	case cloud == CloudAWS && c.AWS != nil:
		account := c.AWS.Account
		if account == "" {
			account = cl.AWSAccount
		}
		return "aws:" + account + "/" + lower(c.AWS.Name)
	case cloud == CloudAzure && c.Azure != nil:
		return "azure:" + foldCase(subscriptionOf(c.Azure, cl.AzureSubscription)+"/"+c.Azure.ResourceGroup+"/"+c.Azure.Name)
	case cloud == CloudGCP && c.GCP != nil:
		return "gcp:" + lower(c.GCP.Email)
	}
	return ""
}

// describeBindings names the ServiceAccounts ("namespace/name") of
// namespace and counts those of other namespaces: a denial goes to a
// tenant, who may not read other namespaces.
func describeBindings(namespace string, others []string) string {
	var here []string
	elsewhere := 0
	for _, o := range others {
		if strings.HasPrefix(o, namespace+"/") {
			here = append(here, o)
		} else {
			elsewhere++
		}
	}
	var parts []string
	if len(here) > 0 {
		parts = append(parts, plural(len(here), "ServiceAccount")+" "+quoteList(here))
	}
	switch {
	case elsewhere == 1:
		parts = append(parts, "a ServiceAccount in another namespace")
	case elsewhere > 1:
		parts = append(parts, fmt.Sprintf("%d ServiceAccounts in other namespaces", elsewhere))
	}
	return strings.Join(parts, " and ")
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

// Binds reports whether in's connections bind the identity with key (see
// IdentityKey) in a way the policy lets stand: no enforce-mode violation
// about that cloud or the namespace, uniqueIdentity aside. For
// uniqueIdentity, a binding the policy refuses in its own namespace (the
// controller does not make it, or removes it) must not keep the identity
// from the namespace that owns it.
func (p *Policy) Binds(in Input, key string) bool {
	in.OtherBindings = nil // no uniqueIdentity: it is what asks
	for _, cl := range annotations.Clouds {
		if IdentityKey(cl.Name, in.Connections, in.Cluster) != key {
			continue
		}
		for _, v := range p.Evaluate(in) {
			if v.Mode == Enforce && (v.Cloud == cl.Name || v.Cloud == "") {
				return false
			}
		}
		return true
	}
	return false
}
