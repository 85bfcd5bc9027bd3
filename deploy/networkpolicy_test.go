package deploy

import (
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// TestNetworkPolicy checks that the Keyless pods accept the webhook port
// from anywhere (the API server is not a pod), the metrics port from
// namespaces labelled metrics=enabled, and nothing else.
func TestNetworkPolicy(t *testing.T) {
	var np networkingv1.NetworkPolicy
	decode(t, installed(t, "NetworkPolicy", "keyless"), &np)
	var d appsv1.Deployment
	decode(t, installed(t, "Deployment", "keyless"), &d)

	sel, err := labels.ValidatedSelectorFromSet(np.Spec.PodSelector.MatchLabels)
	if err != nil || len(np.Spec.PodSelector.MatchExpressions) > 0 || !sel.Matches(labels.Set(d.Spec.Template.Labels)) {
		t.Errorf("podSelector %v does not select the Keyless pods %v", np.Spec.PodSelector, d.Spec.Template.Labels)
	}
	if len(np.Spec.PolicyTypes) != 1 || np.Spec.PolicyTypes[0] != networkingv1.PolicyTypeIngress {
		t.Errorf("policyTypes %v, want [Ingress] (egress goes to clouds that differ)", np.Spec.PolicyTypes)
	}

	containerPorts := map[string]int32{}
	for _, p := range d.Spec.Template.Spec.Containers[0].Ports {
		containerPorts[p.Name] = p.ContainerPort
	}
	open := map[string]networkingv1.NetworkPolicyIngressRule{}
	for _, rule := range np.Spec.Ingress {
		if len(rule.Ports) != 1 {
			t.Fatalf("ingress rule %+v: want exactly one port", rule)
		}
		p := rule.Ports[0]
		if p.Port == nil || p.Protocol == nil || *p.Protocol != corev1.ProtocolTCP || p.EndPort != nil {
			t.Fatalf("ingress rule %+v: want one named TCP port", rule)
		}
		if _, ok := containerPorts[p.Port.String()]; !ok {
			t.Errorf("port %s is not a port of the Keyless container %v", p.Port, containerPorts)
		}
		open[p.Port.String()] = rule
	}
	if len(open) != 2 {
		t.Errorf("open ports %v, want webhook and metrics only", open)
	}
	if w, ok := open["webhook"]; !ok || len(w.From) != 0 {
		t.Errorf("webhook port: rule %+v, want it open to every source (the API server)", w)
	}
	m, ok := open["metrics"]
	if !ok || len(m.From) != 1 || m.From[0].PodSelector != nil || m.From[0].IPBlock != nil || m.From[0].NamespaceSelector == nil ||
		len(m.From[0].NamespaceSelector.MatchLabels) != 1 || m.From[0].NamespaceSelector.MatchLabels["metrics"] != "enabled" {
		t.Errorf("metrics port: rule %+v, want it open to namespaces labelled metrics=enabled only", m)
	}

	// The webhook Service must reach the open webhook port.
	var svc corev1.Service
	decode(t, installed(t, "Service", "keyless-webhook"), &svc)
	if tp := svc.Spec.Ports[0].TargetPort.String(); tp != "webhook" {
		t.Errorf("Service keyless-webhook targets port %s, which the NetworkPolicy does not open", tp)
	}
}
