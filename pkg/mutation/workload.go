package mutation

import (
	"fmt"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/keyless-dev/keyless/pkg/annotations"
)

// WorkloadOptions are the cluster-wide settings for workload mutation.
type WorkloadOptions struct {
	// DenyDefaultServiceAccount denies a connected workload whose pods would
	// run as "default", instead of giving it a ServiceAccount of its own.
	DenyDefaultServiceAccount bool
	// GKENodeSelector adds the GKE metadata-server nodeSelector for GCP.
	GKENodeSelector bool
	// TemplateImmutable is set for a Job update: its pod template cannot
	// change after creation.
	TemplateImmutable bool
	// RestartedAt is the keyless.dev/restarted-at value of the pod template
	// before an update (empty: none). An update that omits it, such as a
	// `kubectl replace` of the manifest as it was written, gets it back:
	// dropping it would change the template and roll the workload out again.
	RestartedAt string
}

// ForWorkload returns the patch that makes w's pod template match conns, and the
// ServiceAccount its pods will run as. Errors are user mistakes to deny.
func ForWorkload(w *Workload, conns annotations.Connections, opts WorkloadOptions) (Patch, string, field.ErrorList) {
	tmpl, base := w.PodTemplate()
	if tmpl == nil {
		if conns.Empty() {
			return nil, "", nil
		}
		return nil, "", field.ErrorList{field.Required(field.NewPath("spec", "template"),
			"a workload with keyless.dev connections needs a pod template")}
	}
	// Field paths are built only for an error: they allocate.
	tmplPath := func() *field.Path {
		if base != "/spec/template" {
			return field.NewPath("spec", "jobTemplate", "spec", "template")
		}
		return field.NewPath("spec", "template")
	}

	m := newMarks(w.Metadata.Annotations)
	paths := templatePathsAt(base)
	labels := newMapEdit(paths.labels, tmpl.Metadata.Labels)
	selector := newMapEdit(paths.nodeSelector, tmpl.Spec.NodeSelector)
	saOps, sa, errs := serviceAccountOps(w, tmpl, paths, conns, opts, &m, tmplPath)

	errs = append(errs, ensure(labels, &m, annotations.AzureUseLabel, "true", conns.Azure != nil,
		annotations.InjectedAzureUseLabel, func() *field.Path {
			return tmplPath().Child("metadata", "labels").Key(annotations.AzureUseLabel)
		}, annotations.KeyAzureIdentity)...)
	errs = append(errs, ensure(selector, &m, annotations.GKEMetadataServerNodeSelector, "true",
		conns.GCP != nil && opts.GKENodeSelector, annotations.InjectedGKENodeSelector, func() *field.Path {
			return tmplPath().Child("spec", "nodeSelector").Key(annotations.GKEMetadataServerNodeSelector)
		}, annotations.KeyGCPServiceAccount)...)
	if len(errs) > 0 {
		return nil, sa, errs
	}

	return assemble(w, tmpl, base, sa, saOps, labels, selector, &m, opts, tmplPath)
}

// assemble builds the patch from the edits: the ServiceAccount, the
// template's labels, nodeSelector and restart stamp, then the bookkeeping
// annotation. A Job's template cannot change after creation: only
// removals are then dropped quietly, anything else is an error.
func assemble(w *Workload, tmpl *PodTemplate, base, sa string, saOps saEdit, labels, selector *mapEdit,
	m *marks, opts WorkloadOptions, tmplPath func() *field.Path) (Patch, string, field.ErrorList) {
	meta := newMapEdit("/metadata/annotations", w.Metadata.Annotations)
	m.record(meta)
	var restarted *mapEdit
	if opts.RestartedAt != "" && !opts.TemplateImmutable {
		if _, ok := tmpl.Metadata.Annotations[annotations.KeyRestartedAt]; !ok {
			restarted = newMapEdit(base+"/metadata/annotations", tmpl.Metadata.Annotations)
			restarted.Set(annotations.KeyRestartedAt, opts.RestartedAt)
		}
	}
	var tmplPatch Patch
	if n := saOps.n + labels.ops() + selector.ops() + meta.ops() + restarted.opsOrZero(); n > 0 {
		tmplPatch = make(Patch, 0, n)
	}
	tmplPatch = append(tmplPatch, saOps.list()...)
	tmplPatch = labels.Apply(tmplPatch)
	tmplPatch = selector.Apply(tmplPatch)
	if restarted != nil {
		tmplPatch = restarted.Apply(tmplPatch)
	}
	if opts.TemplateImmutable && len(tmplPatch) > 0 {
		if onlyRemovals(tmplPatch) {
			// Connections went away (all or some) but the template cannot
			// follow: keep what was injected, and its record, as they are.
			return nil, tmpl.ServiceAccountName(), nil
		}
		return nil, sa, field.ErrorList{field.Forbidden(tmplPath(),
			"the pod template of a Job cannot change after it is created, so keyless.dev connections "+
				"can only be added when the Job is created; create a new Job (or annotate its CronJob)")}
	}

	return meta.Apply(tmplPatch), sa, nil
}

// templatePaths are the JSON pointers patched in a pod template.
type templatePaths struct{ labels, nodeSelector, serviceAccountName, serviceAccount string }

// templatePathsAt returns them for the template at base (see
// Workload.PodTemplate), without building strings per request.
func templatePathsAt(base string) templatePaths {
	if base == "/spec/template" {
		return podTemplatePaths
	}
	return jobTemplatePaths
}

var (
	podTemplatePaths = templatePaths{"/spec/template/metadata/labels", "/spec/template/spec/nodeSelector",
		"/spec/template/spec/serviceAccountName", "/spec/template/spec/serviceAccount"}
	jobTemplatePaths = templatePaths{"/spec/jobTemplate/spec/template/metadata/labels",
		"/spec/jobTemplate/spec/template/spec/nodeSelector",
		"/spec/jobTemplate/spec/template/spec/serviceAccountName",
		"/spec/jobTemplate/spec/template/spec/serviceAccount"}
)

// onlyRemovals reports whether p only takes away what Keyless injected.
func onlyRemovals(p Patch) bool {
	for _, op := range p {
		if op.Op != "remove" {
			return false
		}
	}
	return true
}

// ensure makes edit hold key=value while wanted, recording that Keyless put
// it there, and removes it (only if Keyless put it there) when not wanted. A
// different value written by the user is an error at path(): Keyless never
// overrides it.
func ensure(edit *mapEdit, m *marks, key, value string, wanted bool, mark string,
	path func() *field.Path, because string) field.ErrorList {
	current, ok := edit.current[key]
	switch {
	case wanted && !ok:
		edit.Set(key, value)
		m.keep(mark)
	case wanted && current == value:
		if m.had(mark) {
			m.keep(mark)
		}
	case wanted && m.had(mark):
		edit.Set(key, value)
		m.keep(mark)
	case wanted:
		return field.ErrorList{field.Invalid(path(), current, fmt.Sprintf(
			"%s needs %s=%q here; set it to %q or remove %s", because, key, value, value, because))}
	case m.had(mark):
		edit.Remove(key)
	}
	return nil
}

// serviceAccountOps decides the ServiceAccount the workload's pods run as:
// a connected workload that would run as "default" gets one of its own,
// named after it (or an error, with DenyDefaultServiceAccount); one whose
// connections went away gets back the "default" Keyless gave it up for.
func serviceAccountOps(w *Workload, tmpl *PodTemplate, paths templatePaths,
	conns annotations.Connections, opts WorkloadOptions, m *marks, tmplPath func() *field.Path) (saEdit, string, field.ErrorList) {
	var errs field.ErrorList
	var saOps saEdit
	sa := tmpl.ServiceAccountName()

	// Sharing "default" would hand the identity to every pod in the namespace.
	name := w.Name()
	switch {
	case !conns.Empty() && (sa == "" || sa == "default"):
		// A workload named "default" (or generated from "default-") would
		// get "default" itself.
		if opts.DenyDefaultServiceAccount || name == "" || name == "default" {
			errs = append(errs, field.Required(tmplPath().Child("spec", "serviceAccountName"),
				"a workload with keyless.dev connections must run as its own ServiceAccount, not \"default\" "+
					"(which every pod in the namespace shares); set serviceAccountName"))
			break
		}
		saOps.add(Operation{Op: "add", Path: paths.serviceAccountName, Value: name})
		if tmpl.Spec.DeprecatedServiceAccount != "" {
			saOps.add(Operation{Op: "add", Path: paths.serviceAccount, Value: name})
		}
		sa = name
		m.keep(annotations.InjectedServiceAccountName)
	case !conns.Empty() && m.had(annotations.InjectedServiceAccountName) && sa == name:
		m.keep(annotations.InjectedServiceAccountName)
	case conns.Empty() && m.had(annotations.InjectedServiceAccountName) && sa == name:
		saOps.add(Operation{Op: "remove", Path: paths.serviceAccountName})
		if tmpl.Spec.DeprecatedServiceAccount != "" {
			saOps.add(Operation{Op: "remove", Path: paths.serviceAccount})
		}
		sa = ""
	}

	return saOps, sa, errs
}

// saEdit holds the at most two operations on a template's ServiceAccount
// fields, by value: no allocation on the webhook's path.
type saEdit struct {
	ops [2]Operation
	n   int
}

func (e *saEdit) add(op Operation) { e.ops[e.n] = op; e.n++ }

func (e *saEdit) list() []Operation { return e.ops[:e.n] }
