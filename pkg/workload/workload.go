// Package workload knows the workload kinds Keyless connects (Deployment,
// StatefulSet, DaemonSet, Job, CronJob): where their pod template is, which
// ServiceAccount their pods use, and how to find the connected workloads of
// one ServiceAccount through a cache index.
package workload

import (
	"context"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/keyless-dev/keyless/pkg/annotations"
)

// Kind is one workload kind.
type Kind struct {
	// Group is the API group: apps or batch.
	Group   string
	Name    string
	New     func() client.Object
	NewList func() client.ObjectList
}

// Kinds are the workload kinds Keyless handles, in a fixed order.
var Kinds = []Kind{
	{"apps", "Deployment", func() client.Object { return &appsv1.Deployment{} }, func() client.ObjectList { return &appsv1.DeploymentList{} }},
	{"apps", "StatefulSet", func() client.Object { return &appsv1.StatefulSet{} }, func() client.ObjectList { return &appsv1.StatefulSetList{} }},
	{"apps", "DaemonSet", func() client.Object { return &appsv1.DaemonSet{} }, func() client.ObjectList { return &appsv1.DaemonSetList{} }},
	{"batch", "Job", func() client.Object { return &batchv1.Job{} }, func() client.ObjectList { return &batchv1.JobList{} }},
	{"batch", "CronJob", func() client.Object { return &batchv1.CronJob{} }, func() client.ObjectList { return &batchv1.CronJobList{} }},
}

// KindOf names the kind of a workload object, or "" for anything else.
func KindOf(obj client.Object) string {
	switch o := obj.(type) {
	case *Summary:
		return o.Kind
	case *appsv1.Deployment:
		return "Deployment"
	case *appsv1.StatefulSet:
		return "StatefulSet"
	case *appsv1.DaemonSet:
		return "DaemonSet"
	case *batchv1.Job:
		return "Job"
	case *batchv1.CronJob:
		return "CronJob"
	}
	return ""
}

// PodTemplate returns the workload's pod template, or nil for other objects.
func PodTemplate(obj client.Object) *corev1.PodTemplateSpec {
	switch o := obj.(type) {
	case *appsv1.Deployment:
		return &o.Spec.Template
	case *appsv1.StatefulSet:
		return &o.Spec.Template
	case *appsv1.DaemonSet:
		return &o.Spec.Template
	case *batchv1.Job:
		return &o.Spec.Template
	case *batchv1.CronJob:
		return &o.Spec.JobTemplate.Spec.Template
	}
	return nil
}

// objectMeta returns the workload's metadata, or nil for other objects.
func objectMeta(obj client.Object) *metav1.ObjectMeta {
	switch o := obj.(type) {
	case *appsv1.Deployment:
		return &o.ObjectMeta
	case *appsv1.StatefulSet:
		return &o.ObjectMeta
	case *appsv1.DaemonSet:
		return &o.ObjectMeta
	case *batchv1.Job:
		return &o.ObjectMeta
	case *batchv1.CronJob:
		return &o.ObjectMeta
	}
	return nil
}

// ServiceAccountName is the ServiceAccount the workload's pods run as;
// "default" when the template names none.
func ServiceAccountName(obj client.Object) string {
	if s, ok := obj.(*Summary); ok {
		return s.ServiceAccount
	}
	t := PodTemplate(obj)
	switch {
	case t == nil:
		return ""
	case t.Spec.ServiceAccountName != "":
		return t.Spec.ServiceAccountName
	case t.Spec.DeprecatedServiceAccount != "":
		return t.Spec.DeprecatedServiceAccount
	}
	return "default"
}

// Connected reports whether obj carries at least one connection annotation.
func Connected(obj client.Object) bool {
	a := obj.GetAnnotations()
	for _, k := range annotations.UserKeys() {
		if _, ok := a[k]; ok {
			return true
		}
	}
	return false
}

// IndexServiceAccount is the field by which Users lists the connected
// workloads of one ServiceAccount (client.MatchingFields, in a namespace);
// the cache indexes them by "namespace/serviceAccount".
const IndexServiceAccount = "keyless.dev/serviceAccount"

// User is a connected workload that runs as a given ServiceAccount.
type User struct {
	Kind        string
	Name        string
	UID         string
	Annotations map[string]string
}

// String names the workload the way messages show it: "Deployment/orders".
func (u User) String() string { return u.Kind + "/" + u.Name }

// Users lists the connected workloads whose pods run as namespace/serviceAccount.
func Users(ctx context.Context, r client.Reader, namespace, serviceAccount string) ([]User, error) {
	var users []User
	for _, k := range Kinds {
		list := k.NewList()
		if err := r.List(ctx, list, client.InNamespace(namespace),
			client.MatchingFields{IndexServiceAccount: serviceAccount}); err != nil {
			return nil, fmt.Errorf("listing %s objects that use ServiceAccount %s/%s: %w", k.Name, namespace, serviceAccount, err)
		}
		if err := forEach(list, func(obj client.Object) {
			users = append(users, User{Kind: k.Name, Name: obj.GetName(), UID: string(obj.GetUID()), Annotations: obj.GetAnnotations()})
		}); err != nil {
			return nil, err
		}
	}
	return users, nil
}

func forEach(list client.ObjectList, fn func(client.Object)) error {
	switch l := list.(type) {
	case *appsv1.DeploymentList:
		for i := range l.Items {
			fn(&l.Items[i])
		}
	case *appsv1.StatefulSetList:
		for i := range l.Items {
			fn(&l.Items[i])
		}
	case *appsv1.DaemonSetList:
		for i := range l.Items {
			fn(&l.Items[i])
		}
	case *batchv1.JobList:
		for i := range l.Items {
			fn(&l.Items[i])
		}
	case *batchv1.CronJobList:
		for i := range l.Items {
			fn(&l.Items[i])
		}
	default:
		return fmt.Errorf("unexpected list type %T", list)
	}
	return nil
}

// New returns an empty object of the named kind, or nil for an unknown kind.
func New(kind string) client.Object {
	for _, k := range Kinds {
		if k.Name == kind {
			return k.New()
		}
	}
	return nil
}

// PodTemplatePath is the field path of the kind's pod template.
func PodTemplatePath(kind string) []string {
	if kind == "CronJob" {
		return []string{"spec", "jobTemplate", "spec", "template"}
	}
	return []string{"spec", "template"}
}
