package main

import (
	"encoding/json"
	"sync"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

// ns prefixes every identity, so that the default policy allows them.
const ns = "orders"

// bodies are the AdmissionReview bodies the API server would post: a
// Deployment with three connections and a ServiceAccount with one.
var bodies = sync.OnceValue(func() map[string][]byte {
	return map[string][]byte{
		"deployment":     review("apps", "v1", "Deployment", "deployments", "orders-api", deployment()),
		"serviceaccount": review("", "v1", "ServiceAccount", "serviceaccounts", "orders-api", serviceAccount()),
	}
})

func meta(name string, annots map[string]string) metav1.ObjectMeta {
	return metav1.ObjectMeta{
		Name: name, Namespace: ns, UID: "6f1c2a4e-0b7d-4e59-9a43-1d2c3b4a5f60",
		Labels:            map[string]string{"app.kubernetes.io/name": name, "app.kubernetes.io/part-of": "shop"},
		Annotations:       annots,
		CreationTimestamp: metav1.Date(2026, 11, 28, 9, 0, 0, 0, metav1.Now().Location()),
		ManagedFields: []metav1.ManagedFieldsEntry{{
			Manager: "kubectl-client-side-apply", Operation: metav1.ManagedFieldsOperationUpdate, APIVersion: "apps/v1",
			FieldsType: "FieldsV1",
			FieldsV1:   metav1.NewFieldsV1(`{"f:metadata":{"f:annotations":{".":{},"f:keyless.dev/aws-role":{},"f:keyless.dev/azure-identity":{},"f:keyless.dev/gcp-service-account":{}},"f:labels":{".":{},"f:app.kubernetes.io/name":{},"f:app.kubernetes.io/part-of":{}}},"f:spec":{"f:replicas":{},"f:selector":{},"f:template":{"f:metadata":{"f:labels":{".":{},"f:app.kubernetes.io/name":{}}},"f:spec":{"f:containers":{"k:{\"name\":\"api\"}":{".":{},"f:image":{},"f:name":{},"f:ports":{}}}}}}}`),
		}},
	}
}

func deployment() *appsv1.Deployment {
	labels := map[string]string{"app.kubernetes.io/name": "orders-api"}
	probe := func(path string) *corev1.Probe {
		return &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: path,
			Port: intstr.FromString("http"), Scheme: corev1.URISchemeHTTP}},
			PeriodSeconds: 10, TimeoutSeconds: 1, SuccessThreshold: 1, FailureThreshold: 3}
	}
	d := &appsv1.Deployment{
		TypeMeta: metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: meta("orders-api", map[string]string{
			"keyless.dev/aws-role":                             "orders-api",
			"keyless.dev/azure-identity":                       "orders-api",
			"keyless.dev/gcp-service-account":                  "orders-api@my-project.iam.gserviceaccount.com",
			"kubectl.kubernetes.io/last-applied-configuration": `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"annotations":{"keyless.dev/aws-role":"orders-api","keyless.dev/azure-identity":"orders-api","keyless.dev/gcp-service-account":"orders-api@my-project.iam.gserviceaccount.com"},"name":"orders-api","namespace":"orders"},"spec":{"replicas":3,"selector":{"matchLabels":{"app.kubernetes.io/name":"orders-api"}},"template":{"metadata":{"labels":{"app.kubernetes.io/name":"orders-api"}},"spec":{"containers":[{"image":"registry.example.com/shop/orders-api:1.42.0","name":"api","ports":[{"containerPort":8080,"name":"http"}]}]}}}}`,
		}),
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](3),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Strategy: appsv1.DeploymentStrategy{Type: appsv1.RollingUpdateDeploymentStrategyType,
				RollingUpdate: &appsv1.RollingUpdateDeployment{MaxUnavailable: ptr.To(intstr.FromString("25%")), MaxSurge: ptr.To(intstr.FromString("25%"))}},
			RevisionHistoryLimit:    ptr.To[int32](10),
			ProgressDeadlineSeconds: ptr.To[int32](600),
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					Containers: []corev1.Container{{
						Name: "api", Image: "registry.example.com/shop/orders-api:1.42.0",
						Args:  []string{"--listen=:8080", "--log-level=info"},
						Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080, Protocol: corev1.ProtocolTCP}},
						Env: []corev1.EnvVar{
							{Name: "DATABASE_URL", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
								LocalObjectReference: corev1.LocalObjectReference{Name: "orders-db"}, Key: "url"}}},
							{Name: "POD_NAME", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "metadata.name"}}},
							{Name: "BUCKET", Value: "orders-archive"},
						},
						Resources: corev1.ResourceRequirements{
							Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("250m"), corev1.ResourceMemory: resource.MustParse("256Mi")},
							Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("512Mi")},
						},
						VolumeMounts:             []corev1.VolumeMount{{Name: "config", MountPath: "/etc/orders", ReadOnly: true}},
						LivenessProbe:            probe("/healthz"),
						ReadinessProbe:           probe("/readyz"),
						TerminationMessagePath:   "/dev/termination-log",
						TerminationMessagePolicy: corev1.TerminationMessageReadFile,
						ImagePullPolicy:          corev1.PullIfNotPresent,
						SecurityContext: &corev1.SecurityContext{AllowPrivilegeEscalation: ptr.To(false), ReadOnlyRootFilesystem: ptr.To(true),
							RunAsNonRoot: ptr.To(true), Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}}},
					}},
					Volumes: []corev1.Volume{{Name: "config", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
						LocalObjectReference: corev1.LocalObjectReference{Name: "orders-api"}, DefaultMode: ptr.To[int32](420)}}}},
					RestartPolicy:                 corev1.RestartPolicyAlways,
					TerminationGracePeriodSeconds: ptr.To[int64](30),
					DNSPolicy:                     corev1.DNSClusterFirst,
					SecurityContext:               &corev1.PodSecurityContext{},
					SchedulerName:                 "default-scheduler",
				},
			},
		},
	}
	return d
}

func serviceAccount() *corev1.ServiceAccount {
	return &corev1.ServiceAccount{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ServiceAccount"},
		ObjectMeta: meta("orders-api", map[string]string{
			"keyless.dev/gcp-service-account": "orders-api@my-project.iam.gserviceaccount.com",
		}),
	}
}

func review(group, version, kind, resource, name string, obj any) []byte {
	raw, err := json.Marshal(obj)
	if err != nil {
		panic(err)
	}
	gvk := map[string]string{"group": group, "version": version, "kind": kind}
	body, err := json.Marshal(map[string]any{
		"apiVersion": "admission.k8s.io/v1",
		"kind":       "AdmissionReview",
		"request": map[string]any{
			"uid":             "705ab4f5-6393-11e8-b7cc-42010a800002",
			"kind":            gvk,
			"resource":        map[string]string{"group": group, "version": version, "resource": resource},
			"requestKind":     gvk,
			"requestResource": map[string]string{"group": group, "version": version, "resource": resource},
			"name":            name,
			"namespace":       ns,
			"operation":       "CREATE",
			"userInfo":        map[string]any{"username": "system:serviceaccount:ci:deployer", "uid": "2b7f0c1e-8c1a-4f0e-9d55-0a6a2f1e9c11", "groups": []string{"system:serviceaccounts", "system:serviceaccounts:ci", "system:authenticated"}},
			"object":          json.RawMessage(raw),
			"oldObject":       nil,
			"dryRun":          false,
			"options":         map[string]any{"apiVersion": "meta.k8s.io/v1", "kind": "CreateOptions", "fieldManager": "kubectl-client-side-apply", "fieldValidation": "Strict"},
		},
	})
	if err != nil {
		panic(err)
	}
	return body
}
