// Package check validates Kubernetes manifests offline with the functions
// the webhook and the controller run: it parses the keyless.dev
// annotations, computes the webhook's patch, the ServiceAccounts and cloud
// objects the controller would create, the conflicts between the objects of
// the set, and the connection policy's verdict.
//
// Check is pure: it takes decoded documents and options and returns a
// Report; Load and Decode read the input, WriteText and WriteJSON render.
package check

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/keyless-dev/keyless/pkg/admission"
	"github.com/keyless-dev/keyless/pkg/annotations"
	"github.com/keyless-dev/keyless/pkg/mutation"
	"github.com/keyless-dev/keyless/pkg/policy"
	"github.com/keyless-dev/keyless/pkg/propagation"
	"github.com/keyless-dev/keyless/pkg/workload"
)

// Options are the cluster settings the check assumes; they mirror the
// flags of `keyless serve`.
type Options struct {
	Parse          annotations.Options
	Workload       mutation.WorkloadOptions
	ServiceAccount mutation.ServiceAccountOptions
	// Policy is the connection policy; nil means policy.Default().
	Policy *policy.Policy
	// Cluster is the cluster's own AWS account, Azure subscription (of
	// identities given by name) and GCP project, for the policy.
	Cluster policy.Cluster
	// GCPWorkloadPool is the cluster's Workload Identity pool,
	// PROJECT.svc.id.goog; empty when unknown.
	GCPWorkloadPool string
	// DefaultNamespace is the namespace of objects that name none; empty
	// means "default".
	DefaultNamespace string
}

// Rules of the violations that do not come from the policy. They are
// always enforced: the webhook denies the object.
const (
	// RuleObject: the object does not decode into what Keyless reads.
	RuleObject = "object"
	// RuleAnnotations: invalid keyless.dev annotations.
	RuleAnnotations = admission.RuleAnnotations
	// RuleMutation: the webhook cannot make the object match its
	// connections (a user value in the way, no pod template, "default").
	RuleMutation = admission.RuleMutation
	// RuleConflict: a ServiceAccount would be connected to two identities
	// of one cloud.
	RuleConflict = admission.RuleConflict
)

// Report is the outcome of a check.
type Report struct {
	// Objects are the workloads and ServiceAccounts that Keyless would look
	// at or change, in input order.
	Objects []Object `json:"objects"`
	// Violations in input order, then rule order.
	Violations []Violation `json:"violations"`
	// Notes are limits of the offline check that may matter here.
	Notes   []string `json:"notes,omitempty"`
	Summary Summary  `json:"summary"`
}

// Summary counts what was checked and found.
type Summary struct {
	// Documents is the number of objects in the input.
	Documents int `json:"documents"`
	// Objects is the number of workloads and ServiceAccounts among them.
	Objects int `json:"objects"`
	// Errors counts the violations in enforce mode; Warnings those in warn
	// mode; Audits those in audit mode.
	Errors   int `json:"errors"`
	Warnings int `json:"warnings"`
	Audits   int `json:"audits"`
}

// Failed reports whether the webhook would deny an object of the set.
func (r *Report) Failed() bool { return r.Summary.Errors > 0 }

// Object is what Keyless would do with one workload or ServiceAccount.
type Object struct {
	File      string `json:"file"`
	Line      int    `json:"line"`
	Kind      string `json:"kind"`
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	// ServiceAccount is, for a workload, the ServiceAccount its pods run as
	// once admitted.
	ServiceAccount string `json:"serviceAccount,omitempty"`
	// ServiceAccountSource says, for an admitted connected workload, where
	// that ServiceAccount comes from: "input", "created" (by the controller,
	// for this workload: see CreatesServiceAccount), or "shared" (created by
	// the controller for an earlier workload of the input).
	ServiceAccountSource string `json:"serviceAccountSource,omitempty"`
	// Connected reports keyless.dev connection annotations on the object.
	Connected bool `json:"connected"`
	// Admitted is false when the webhook would deny the object.
	Admitted bool `json:"admitted"`
	// Changes is the webhook's patch, one field per change.
	Changes []Change `json:"changes"`
	// CreatesServiceAccount is the ServiceAccount the controller would
	// create for this workload, when the input does not hold it.
	CreatesServiceAccount *ServiceAccountChanges `json:"createsServiceAccount,omitempty"`
	// ControllerChanges are, for a ServiceAccount of the input, what the
	// controller copies to it from its workloads, and what the webhook
	// then adds.
	ControllerChanges []Change `json:"controllerChanges,omitempty"`
	// CloudObjects are what the controller would create in the clouds for
	// this object's connections.
	CloudObjects []CloudObject `json:"cloudObjects"`
}

// ServiceAccountChanges describes a ServiceAccount the controller creates.
type ServiceAccountChanges struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	// For lists the workloads it is created for, "Kind/name".
	For     []string `json:"for"`
	Changes []Change `json:"changes"`
}

// Change is one changed field.
type Change struct {
	// Op is "add", "replace" or "remove", as in a JSON patch.
	Op string `json:"op"`
	// Path is the field's JSON pointer.
	Path string `json:"path"`
	// Field is the field's path for people: spec.template.metadata.labels[KEY].
	Field string `json:"field"`
	// Value is the new value; absent for a removal.
	Value *string `json:"value,omitempty"`
}

// CloudObject is an object the controller would create in a cloud.
type CloudObject struct {
	// Cloud is "aws", "azure" or "gcp".
	Cloud string `json:"cloud"`
	// Type is PodIdentityAssociation, FederatedIdentityCredential or
	// WorkloadIdentityUserBinding.
	Type string `json:"type"`
	// ServiceAccount is the Kubernetes ServiceAccount, "namespace/name".
	ServiceAccount string `json:"serviceAccount"`
	// Identity is the cloud identity, as the controller records it.
	Identity    string `json:"identity"`
	Description string `json:"description"`
}

// Violation is one problem with an object.
type Violation struct {
	File      string `json:"file"`
	Line      int    `json:"line"`
	Kind      string `json:"kind"`
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	// Rule is the policy rule's name, or RuleObject, RuleAnnotations,
	// RuleMutation or RuleConflict.
	Rule string `json:"rule"`
	// Mode is enforce, warn or audit.
	Mode string `json:"mode"`
	// Cloud is "aws", "azure" or "gcp" when the problem is one cloud's.
	Cloud string `json:"cloud,omitempty"`
	// Field is the field path the problem is about, when known.
	Field   string `json:"field,omitempty"`
	Message string `json:"message"`
}

// item is one workload or ServiceAccount under check.
type item struct {
	doc        *Document
	obj        *Object
	group      string
	object     *mutation.Workload // as decoded for the webhook
	workload   bool
	annots     map[string]string
	conns      annotations.Connections
	valid      bool // the annotations parsed
	sa         string
	patch      mutation.Patch
	violations []Violation
}

func (it *item) ref() string { return it.obj.Kind + "/" + it.obj.Name }
func (it *item) key() string { return it.obj.Namespace + "/" + it.sa }

// saState is what the webhook would find in the cluster for one
// ServiceAccount while the set is applied in order.
type saState struct {
	// annotations are the ServiceAccount's, once admitted.
	annotations map[string]string
	admitted    bool
	users       []*item
	doc         *item // the ServiceAccount in the input, if any
}

// Check validates the documents as one set, applied in order.
func Check(docs []Document, opts Options) *Report {
	if opts.Policy == nil {
		opts.Policy = policy.Default()
	}
	if opts.DefaultNamespace == "" {
		opts.DefaultNamespace = "default"
	}
	r := &Report{Objects: []Object{}, Violations: []Violation{}}
	r.Summary.Documents = len(docs)

	nsLabels := map[string]map[string]string{}
	var items []*item
	for i := range docs {
		d := &docs[i]
		group := "" // the core group's apiVersion is "v1"
		if g, _, ok := strings.Cut(d.APIVersion, "/"); ok {
			group = g
		}
		switch {
		case group == "" && d.Kind == "Namespace":
			var ns struct {
				Metadata struct {
					Labels map[string]string `json:"labels"`
				} `json:"metadata"`
			}
			_ = admission.DecodeObject(d.JSON, &ns)
			nsLabels[d.Name] = ns.Metadata.Labels
		case group == "" && d.Kind == "ServiceAccount", admission.IsWorkload(group, d.Kind):
			items = append(items, newItem(d, group, opts))
		}
	}
	r.Summary.Objects = len(items)

	// The namespaces that exist once the set is applied, for the policy's
	// namespace ownership: those of the input and those objects are in.
	namespaces := slices.Collect(maps.Keys(nsLabels))
	for _, it := range items {
		namespaces = append(namespaces, it.obj.Namespace)
	}
	slices.Sort(namespaces)
	namespaces = slices.Compact(namespaces)

	c := &checker{opts: opts, nsLabels: nsLabels, namespaces: namespaces, states: map[string]*saState{}, notes: map[string]bool{}}
	c.decider = admission.Decider{Lookup: cluster{c}, Policy: opts.Policy, Options: admission.Options{
		Parse: opts.Parse, Cluster: opts.Cluster, Workload: opts.Workload, ServiceAccount: opts.ServiceAccount}}
	c.index(items)
	for _, it := range items {
		c.admit(it)
	}
	c.controller(items)

	for _, it := range items {
		if it.obj.Connected || len(it.obj.Changes) > 0 || len(it.violations) > 0 ||
			it.obj.CreatesServiceAccount != nil || len(it.obj.ControllerChanges) > 0 {
			r.Objects = append(r.Objects, *it.obj)
		}
		for _, v := range it.violations {
			switch policy.Mode(v.Mode) {
			case policy.Warn:
				r.Summary.Warnings++
			case policy.Audit:
				r.Summary.Audits++
			default:
				r.Summary.Errors++
			}
			r.Violations = append(r.Violations, v)
		}
	}
	unnamespaced := 0
	for _, it := range items {
		if it.doc.Namespace == "" {
			unnamespaced++
		}
	}
	if unnamespaced > 0 {
		c.notes[fmt.Sprintf("%d object(s) name no namespace and were checked as in namespace %q", unnamespaced, opts.DefaultNamespace)] = true
	}
	r.Notes = slices.Sorted(maps.Keys(c.notes))
	return r
}

// newItem decodes one object and parses its annotations. The ServiceAccount
// of a connected workload is the one the webhook's mutation gives it.
func newItem(d *Document, group string, opts Options) *item {
	ns := d.Namespace
	if ns == "" {
		ns = opts.DefaultNamespace
	}
	it := &item{doc: d, group: group, workload: d.Kind != "ServiceAccount", valid: true, obj: &Object{
		File: d.File, Line: d.Line, Kind: d.Kind, Namespace: ns, Name: d.Name,
		Changes: []Change{}, CloudObjects: []CloudObject{},
	}}
	var w mutation.Workload
	if err := admission.DecodeObject(d.JSON, &w); err != nil {
		it.valid = false
		it.fail(RuleObject, "", fmt.Sprintf("the %s does not decode: %v", d.Kind, err))
		return it
	}
	it.object = &w
	it.annots = w.Metadata.Annotations
	it.sa = d.Name
	if it.workload {
		it.obj.Name = w.Name()
		it.sa = "default"
		if tmpl, _ := w.PodTemplate(); tmpl != nil && tmpl.ServiceAccountName() != "" {
			it.sa = tmpl.ServiceAccountName()
		}
	}
	var errs field.ErrorList
	if it.conns, errs = annotations.Parse(it.annots, opts.Parse); len(errs) > 0 {
		it.valid = false
		it.obj.Connected = true
		return it
	}
	it.obj.Connected = !it.conns.Empty()
	if it.workload && it.obj.Connected {
		if _, name, _ := mutation.ForWorkload(&w, it.conns, opts.Workload); name != "" {
			it.sa = name
		}
	}
	return it
}

func (it *item) fail(rule, path, msg string) {
	it.add(Violation{Rule: rule, Mode: string(policy.Enforce), Field: path, Message: msg})
}

func (it *item) add(v Violation) {
	v.File, v.Kind, v.Namespace, v.Name = it.obj.File, it.obj.Kind, it.obj.Namespace, it.obj.Name
	v.Line, _ = it.doc.Position(v.Field)
	it.violations = append(it.violations, v)
}

// checker holds the state of one check.
type checker struct {
	opts     Options
	decider  admission.Decider
	nsLabels map[string]map[string]string
	// namespaces are the names of the namespaces, sorted.
	namespaces []string
	states     map[string]*saState
	// bindings lists, per identity key, the ServiceAccounts of the set
	// that bind it.
	bindings map[string]map[string]bool
	notes    map[string]bool
}

func (c *checker) state(key string) *saState {
	s := c.states[key]
	if s == nil {
		s = &saState{}
		c.states[key] = s
	}
	return s
}

// index records which ServiceAccounts of the set bind which identities,
// for the policy's uniqueness rule, and the ServiceAccounts of the input.
func (c *checker) index(items []*item) {
	c.bindings = map[string]map[string]bool{}
	for _, it := range items {
		if !it.workload {
			if s := c.state(it.key()); s.doc == nil {
				s.doc = it
			}
		}
		if !it.valid || it.conns.Empty() {
			continue
		}
		for _, k := range policy.IdentityKeys(it.conns, c.opts.Cluster) {
			if c.bindings[k] == nil {
				c.bindings[k] = map[string]bool{}
			}
			c.bindings[k][it.key()] = true
		}
	}
}

// admit decides one object with the webhook's decision code, against
// what was admitted before it when the set is applied in order.
func (c *checker) admit(it *item) {
	if it.object != nil && c.reviewed(it) {
		in := admission.Input{Operation: "CREATE", Group: it.group, Kind: it.obj.Kind,
			Namespace: it.obj.Namespace, Object: it.object}
		dec, _ := c.decider.Decide(context.Background(), &in) // the in-memory cluster never fails
		it.patch = dec.Patch
		for _, d := range dec.Denials {
			it.add(Violation{Rule: d.Rule, Mode: string(policy.Enforce), Cloud: d.Cloud,
				Field: d.Err.Field, Message: d.Err.Error()})
		}
		c.addPolicyViolations(it, dec.Violations)
	}
	it.obj.Admitted = true
	for _, v := range it.violations {
		if policy.Mode(v.Mode) == policy.Enforce {
			it.obj.Admitted = false
		}
	}
	if it.workload {
		it.obj.ServiceAccount = it.sa
	}
	if !it.obj.Admitted {
		return
	}
	it.obj.Changes = patchChanges(it.patch)
	if it.conns.Empty() || !it.valid {
		return
	}
	s := c.state(it.key())
	if it.workload {
		s.users = append(s.users, it)
		return
	}
	s.annotations, s.admitted = it.annots, true
}

// cluster is the cluster as the webhook would find it while the set is
// applied in order: the objects admitted so far.
type cluster struct{ c *checker }

func (v cluster) ServiceAccountAnnotations(_ context.Context, namespace, name string) (map[string]string, bool, error) {
	s := v.c.states[namespace+"/"+name]
	if s == nil || !s.admitted {
		return nil, false, nil
	}
	return s.annotations, true, nil
}

func (v cluster) Users(_ context.Context, namespace, serviceAccount string) ([]workload.User, error) {
	s := v.c.states[namespace+"/"+serviceAccount]
	if s == nil {
		return nil, nil
	}
	return users(s.users), nil
}

func (v cluster) NamespaceLabels(_ context.Context, namespace string) (map[string]string, error) {
	all := map[string]string{"kubernetes.io/metadata.name": namespace}
	maps.Copy(all, v.c.nsLabels[namespace])
	return all, nil
}

func (v cluster) Bindings(_ context.Context, identityKey string) ([]string, error) {
	return slices.Sorted(maps.Keys(v.c.bindings[identityKey])), nil
}

func (v cluster) Namespaces(_ context.Context, prefix string) ([]string, error) {
	return workload.WithPrefix(v.c.namespaces, prefix), nil
}

// OnboardedLabel on a namespace makes the webhook review its workloads
// without keyless.dev annotations too, for the policy's requireConnection
// rules (see the onboarded.keyless.dev webhook in deploy/chart/keyless/templates/webhook.yaml).
const OnboardedLabel = "keyless.dev/onboarded"

// reviewed reports whether the webhook sees the object (its match
// conditions): objects with keyless.dev annotations, and workloads in
// onboarded namespaces, for the policy's requireConnection rules.
func (c *checker) reviewed(it *item) bool {
	if annotations.HasPrefixed(it.annots) {
		return true
	}
	if !it.workload {
		return false
	}
	ns := it.obj.Namespace
	labels, known := c.nsLabels[ns]
	if !known && requiresConnection(c.opts.Policy) {
		c.notes[fmt.Sprintf("namespace %q is not in the input, so its workloads without keyless.dev annotations "+
			"were not checked against requireConnection rules; the webhook reviews them only in namespaces labelled %s=true",
			ns, OnboardedLabel)] = true
	}
	return known && labels[OnboardedLabel] == "true" && ns != "kube-system" && ns != "keyless-system"
}

func requiresConnection(p *policy.Policy) bool {
	for _, r := range p.Rules() {
		if r.RequireConnection {
			return true
		}
	}
	return false
}

// addPolicyViolations reports the policy's verdict on the object.
func (c *checker) addPolicyViolations(it *item, vs []policy.Violation) {
	ns := it.obj.Namespace
	if _, known := c.nsLabels[ns]; !known && usesLabels(c.opts.Policy) && (len(vs) > 0 || !it.conns.Empty()) {
		c.notes[fmt.Sprintf("namespace %q is not in the input, so the policy saw only its label "+
			"kubernetes.io/metadata.name=%s; add the Namespace to the input to check its other labels", ns, ns)] = true
	}
	for _, v := range vs {
		path := ""
		if cl := annotations.CloudNamed(v.Cloud); cl != nil && it.annots[cl.Key] != "" {
			path = field.NewPath("metadata", "annotations").Key(cl.Key).String()
		}
		it.add(Violation{Rule: v.Rule, Mode: string(v.Mode), Cloud: v.Cloud, Field: path, Message: v.Message})
	}
}

// usesLabels reports whether p depends on namespace labels.
func usesLabels(p *policy.Policy) bool {
	if a := p.AllowRetain(); a != nil && a.Selector != nil {
		return true
	}
	for _, r := range p.Rules() {
		if r.Namespaces.Selector != nil || r.RequireNamespaceLabel != "" {
			return true
		}
	}
	return false
}

// controller works out what the controller would do once the set is
// admitted: create the ServiceAccounts of connected workloads that the
// input does not hold, copy the workloads' connections to those it does,
// and create the cloud objects of each connected ServiceAccount. The cloud
// objects are listed on the ServiceAccount when it is in the input, else on
// the workload it is created for.
func (c *checker) controller(items []*item) {
	inInput := func(s *saState) bool { return s.doc != nil && s.doc.obj.Admitted }
	for _, it := range items {
		if !it.workload || !it.obj.Admitted || !it.obj.Connected {
			continue
		}
		switch s := c.states[it.key()]; {
		case inInput(s):
			it.obj.ServiceAccountSource = "input"
		case s.users[0] == it:
			it.obj.ServiceAccountSource = "created"
		default:
			it.obj.ServiceAccountSource = "shared"
		}
	}
	for _, k := range slices.Sorted(maps.Keys(c.states)) {
		s := c.states[k]
		var owner *item
		var final map[string]string
		switch {
		case len(s.users) > 0 && s.users[0].sa == "default":
			continue // the webhook never lets a connected workload run as "default"
		case len(s.users) > 0 && !inInput(s):
			owner = s.users[0]
			created, _ := propagation.Propagate(nil, users(s.users), c.opts.Parse)
			final = c.webhookOnServiceAccount(owner.obj.Namespace, owner.sa, created)
			sac := &ServiceAccountChanges{Namespace: owner.obj.Namespace, Name: owner.sa,
				Changes: []Change{change("add", "/metadata/labels/app.kubernetes.io~1managed-by", "keyless")}}
			sac.Changes = append(sac.Changes, diffAnnotations(nil, final)...)
			for _, u := range s.users {
				sac.For = append(sac.For, u.ref())
			}
			owner.obj.CreatesServiceAccount = sac
		case inInput(s):
			owner = s.doc
			current := applyAnnotations(maps.Clone(owner.annots), owner.patch)
			final = current
			if len(s.users) > 0 {
				propagated, _ := propagation.Propagate(current, users(s.users), c.opts.Parse)
				final = c.webhookOnServiceAccount(owner.obj.Namespace, owner.obj.Name, propagated)
				owner.obj.ControllerChanges = diffAnnotations(current, final)
			}
		default:
			continue
		}
		owner.obj.CloudObjects = c.cloudObjects(owner.obj.Namespace, owner.sa, final)
	}
}

// users are the items as the controller sees them.
func users(items []*item) []workload.User {
	out := make([]workload.User, len(items))
	for i, it := range items {
		out[i] = workload.User{Kind: it.obj.Kind, Name: it.obj.Name, Annotations: it.annots}
	}
	return out
}

// webhookOnServiceAccount applies the webhook's mutation to a
// ServiceAccount's annotations, as it happens when the controller writes
// them.
func (c *checker) webhookOnServiceAccount(namespace, name string, annots map[string]string) map[string]string {
	conns, errs := annotations.Parse(annots, c.opts.Parse)
	if len(errs) > 0 {
		return annots
	}
	sa := &mutation.ServiceAccount{Metadata: mutation.ObjectMeta{Name: name, Namespace: namespace, Annotations: annots}}
	patch, errs := mutation.ForServiceAccount(sa, conns, c.opts.ServiceAccount)
	if len(errs) > 0 {
		return annots
	}
	return applyAnnotations(maps.Clone(annots), patch)
}

// applyAnnotations applies the annotation operations of a patch to m.
func applyAnnotations(m map[string]string, p mutation.Patch) map[string]string {
	const base = "/metadata/annotations"
	for _, op := range p {
		switch {
		case op.Path == base && op.Op == "add":
			if v, ok := op.Value.(map[string]string); ok {
				m = maps.Clone(v)
			}
		case strings.HasPrefix(op.Path, base+"/"):
			k := unescape(strings.TrimPrefix(op.Path, base+"/"))
			if op.Op == "remove" {
				delete(m, k)
			} else if v, ok := op.Value.(string); ok {
				if m == nil {
					m = map[string]string{}
				}
				m[k] = v
			}
		}
	}
	return m
}

// cloudObjects lists the cloud objects the controller makes for a
// ServiceAccount with the given final annotations.
func (c *checker) cloudObjects(ns, sa string, annots map[string]string) []CloudObject {
	out := []CloudObject{}
	conns, errs := annotations.Parse(annots, c.opts.Parse)
	if len(errs) > 0 {
		return out
	}
	subject := ns + "/" + sa
	if r := conns.AWS; r != nil {
		desc := "EKS Pod Identity association " + subject + " -> role " + r.String()
		if t := conns.AWSTargetRole; t != nil {
			desc += ", chained to target role " + t.String()
		}
		if conns.AWSDisableSessionTags {
			desc += ", without session tags"
		}
		out = append(out, CloudObject{Cloud: policy.CloudAWS, Type: annotations.CloudNamed(policy.CloudAWS).ObjectType, ServiceAccount: subject,
			Identity: r.String(), Description: desc})
	}
	if a := conns.Azure; a != nil {
		id := a.ResourceGroup + "/" + a.Name
		desc := "federated credential on identity " + id
		if a.SubscriptionID != "" {
			id = a.String()
			desc += " in subscription " + a.SubscriptionID
		}
		desc += " for system:serviceaccount:" + ns + ":" + sa
		out = append(out, CloudObject{Cloud: policy.CloudAzure, Type: annotations.CloudNamed(policy.CloudAzure).ObjectType, ServiceAccount: subject,
			Identity: id, Description: desc})
	}
	if g := conns.GCP; g != nil {
		pool := c.opts.GCPWorkloadPool
		if pool == "" {
			pool = "<cluster pool>"
		}
		out = append(out, CloudObject{Cloud: policy.CloudGCP, Type: annotations.CloudNamed(policy.CloudGCP).ObjectType, ServiceAccount: subject,
			Identity: g.Email, Description: "roles/iam.workloadIdentityUser on " + g.Email +
				" for serviceAccount:" + pool + "[" + subject + "]"})
	}
	return out
}
