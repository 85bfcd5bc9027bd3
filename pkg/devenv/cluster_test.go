package devenv

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/keyless-dev/keyless/pkg/annotations"
)

// TestClusterRunsPods checks the cluster without Keyless: the controllers
// make Pods of a Deployment, the scheduler honours the GKE nodeSelector,
// kwok runs the Pods with loopback IPs, and a deleted namespace goes away.
func TestClusterRunsPods(t *testing.T) {
	assets := os.Getenv("KUBEBUILDER_ASSETS")
	if assets == "" {
		assets, _ = filepath.Abs(filepath.Join("..", "..", "bin", "control-plane"))
	}
	if err := CheckAssets(assets); err != nil {
		t.Skip(err)
	}
	ctx := context.Background()
	start := time.Now()
	env, err := Start(ctx, Options{AssetsDir: assets, NoKeyless: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("started in %s", time.Since(start))
	t.Cleanup(func() {
		if err := env.Stop(); err != nil {
			t.Error(err)
		}
	})
	c := env.Client
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "pods"}}
	if err := c.Create(ctx, ns); err != nil {
		t.Fatal(err)
	}
	labels := map[string]string{"app": "wi"}
	d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: ns.Name, Name: "wi"}, Spec: appsv1.DeploymentSpec{
		Replicas: ptr.To(int32(3)),
		Selector: &metav1.LabelSelector{MatchLabels: labels},
		Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: corev1.PodSpec{
			NodeSelector: map[string]string{annotations.GKEMetadataServerNodeSelector: "true"},
			Containers:   []corev1.Container{{Name: "app", Image: "registry.k8s.io/pause:3.10"}},
		}},
	}}
	if err := c.Create(ctx, d); err != nil {
		t.Fatal(err)
	}
	cidr := netip.MustParsePrefix(PodCIDR)
	err = poll(ctx, 30*time.Second, "3 running pods", func() (bool, error) {
		var pods corev1.PodList
		if err := c.List(ctx, &pods, client.InNamespace(ns.Name)); err != nil {
			return false, err
		}
		running := 0
		for _, p := range pods.Items {
			if p.Status.Phase != corev1.PodRunning {
				continue
			}
			if p.Spec.NodeName != "wi-node-0" {
				return false, fmt.Errorf("pod %s runs on %s, want wi-node-0", p.Name, p.Spec.NodeName)
			}
			if ip, err := netip.ParseAddr(p.Status.PodIP); err != nil || !cidr.Contains(ip) || !ip.IsLoopback() {
				return false, fmt.Errorf("pod %s has IP %q, want one of %s", p.Name, p.Status.PodIP, PodCIDR)
			}
			running++
		}
		return running == 3, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Delete(ctx, ns); err != nil {
		t.Fatal(err)
	}
	err = poll(ctx, 60*time.Second, "the namespace to be deleted", func() (bool, error) {
		err := c.Get(ctx, client.ObjectKeyFromObject(ns), &corev1.Namespace{})
		return apierrors.IsNotFound(err), client.IgnoreNotFound(err)
	})
	if err != nil {
		t.Fatal(err)
	}
}
