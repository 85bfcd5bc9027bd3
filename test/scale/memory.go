package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/keyless-dev/keyless/pkg/annotations"
	"github.com/keyless-dev/keyless/pkg/devenv"
	th "github.com/keyless-dev/keyless/test/harness"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// parallel runs f(0..n-1) on workers goroutines, retrying each call for
// up to a minute (the webhook fails closed while keyless restarts).
func parallel(ctx context.Context, n, workers int, f func(i int) error) error {
	var next atomic.Int64
	var wg sync.WaitGroup
	var mu sync.Mutex
	var first error
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n || ctx.Err() != nil {
					return
				}
				deadline := time.Now().Add(time.Minute)
				for {
					err := f(i)
					if apierrors.IsAlreadyExists(err) {
						err = nil
					}
					if err == nil {
						break
					}
					if time.Now().After(deadline) || apierrors.IsForbidden(err) || apierrors.IsInvalid(err) {
						mu.Lock()
						if first == nil {
							first = fmt.Errorf("object %d: %w", i, err)
						}
						mu.Unlock()
						return
					}
					time.Sleep(200 * time.Millisecond)
				}
			}
		}()
	}
	wg.Wait()
	return first
}

// deployment is a realistic Deployment of ~3-5 KiB: two containers with
// env, resources, ports, probes and mounts.
func deployment(ns, name, sa string, ann map[string]string) *appsv1.Deployment {
	labels := map[string]string{"app.kubernetes.io/name": name, "app.kubernetes.io/part-of": "shop",
		"app.kubernetes.io/version": "1.42.7", "team": "payments"}
	var env []corev1.EnvVar
	for i := range 14 {
		env = append(env, corev1.EnvVar{Name: fmt.Sprintf("SETTING_%02d", i), Value: fmt.Sprintf("value-%d-%s", i, strings.Repeat("x", 24))})
	}
	env = append(env, corev1.EnvVar{Name: "POD_NAME", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}})
	res := corev1.ResourceRequirements{
		Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("128Mi")},
		Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1"), corev1.ResourceMemory: resource.MustParse("512Mi")},
	}
	probe := &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/healthz", Port: intstr.FromInt32(8080)}},
		InitialDelaySeconds: 5, PeriodSeconds: 10}
	app := corev1.Container{Name: "app", Image: "registry.example.com/shop/" + name + ":1.42.7",
		Args: []string{"--listen=:8080", "--log-format=json", "--metrics=:9090"}, Env: env, Resources: res,
		Ports:         []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}, {Name: "metrics", ContainerPort: 9090}},
		LivenessProbe: probe, ReadinessProbe: probe,
		VolumeMounts: []corev1.VolumeMount{{Name: "config", MountPath: "/etc/app"}, {Name: "tmp", MountPath: "/tmp"}},
		SecurityContext: &corev1.SecurityContext{RunAsNonRoot: ptrTo(true), ReadOnlyRootFilesystem: ptrTo(true),
			AllowPrivilegeEscalation: ptrTo(false), Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}}}}
	side := corev1.Container{Name: "proxy", Image: "registry.example.com/mesh/proxy:2.3.1",
		Args: []string{"proxy", "--upstream=127.0.0.1:8080"}, Env: env[:6], Resources: res,
		Ports: []corev1.ContainerPort{{Name: "proxy", ContainerPort: 15001}}}
	// No pods: the local cluster runs the real deployment controller and
	// scheduler, and Keyless caches Deployments, never their pods; tens of
	// thousands of simulated pods would only slow the run down.
	replicas := int32(0)
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: labels, Annotations: ann},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app.kubernetes.io/name": name}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels, Annotations: map[string]string{"prometheus.io/scrape": "true", "prometheus.io/port": "9090"}},
				Spec: corev1.PodSpec{
					ServiceAccountName: sa,
					Containers:         []corev1.Container{app, side},
					Volumes: []corev1.Volume{
						{Name: "config", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: name + "-config"}}}},
						{Name: "tmp", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
					},
					NodeSelector: map[string]string{"kubernetes.io/os": "linux"},
					Tolerations:  []corev1.Toleration{{Key: "dedicated", Operator: corev1.TolerationOpEqual, Value: "shop", Effect: corev1.TaintEffectNoSchedule}},
				},
			},
		},
	}
}

func ptrTo[T any](v T) *T { return &v }

type memSample struct {
	Name                   string
	ReadyAfter             time.Duration
	PeakRSS, FinalRSS, HWM int64 // KiB
}

func runMemory(ctx context.Context, h *harness, c config, base string) (string, error) {
	nss, err := makeNamespaces(ctx, h, "mem", 50)
	if err != nil {
		return "", err
	}
	roles := 20
	for i := range roles {
		h.Clouds.AWS.AddRole(fmt.Sprintf("arn:aws:iam::%s:role/mem-role-%d", devenv.AWSAccount, i))
	}
	p, err := h.serve("keyless-load", "", 0, c.Logs, "--aws-qps=200")
	if err != nil {
		return "", err
	}
	if err := p.WaitReady(ctx, 90*time.Second); err != nil {
		return "", err
	}
	start := time.Now()
	c.Logf("memory: creating %d ServiceAccounts and %d Deployments (%d connected) over %d namespaces",
		c.ServiceAccounts, c.Deployments, c.Annotated, len(nss))
	err = parallel(ctx, c.ServiceAccounts, 8, func(i int) error {
		return h.K8s.Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: nss[i%len(nss)], Name: fmt.Sprintf("app-%05d", i),
			Labels: map[string]string{"app.kubernetes.io/part-of": "shop"}}})
	})
	if err != nil {
		p.Kill()
		return "", err
	}
	var size atomic.Int64
	err = parallel(ctx, c.Deployments, 8, func(i int) error {
		var ann map[string]string
		if i < c.Annotated {
			ann = map[string]string{annotations.KeyAWSRole: fmt.Sprintf("mem-role-%d", i%roles)}
		}
		d := deployment(nss[i%len(nss)], fmt.Sprintf("app-%05d", i), fmt.Sprintf("app-%05d", i), ann)
		if err := h.K8s.Create(ctx, d); err != nil {
			return err
		}
		raw, _ := json.Marshal(d)
		size.Add(int64(len(raw)))
		return nil
	})
	if err != nil {
		p.Kill()
		return "", err
	}
	if err := createTenant(ctx, h, c); err != nil {
		p.Kill()
		return "", err
	}
	c.Logf("memory: created in %s; waiting for the %d connections", time.Since(start).Round(time.Second), c.Annotated)
	if _, err := waitReady(ctx, h, nss, c.Annotated, 5*time.Minute, c.Logf); err != nil {
		p.Kill()
		return "", err
	}
	p.Kill()

	var samples []memSample
	for _, v := range []struct{ name, bin string }{{"this tree", ""}, {"base", base}, {"this tree", ""}, {"base", base}} {
		s, err := measure(ctx, h, c, v.name, v.bin)
		if err != nil {
			return "", err
		}
		c.Logf("memory: %s: ready after %s, peak VmRSS %d MiB, final %d MiB, VmHWM %d MiB",
			s.Name, s.ReadyAfter.Round(time.Millisecond), s.PeakRSS/1024, s.FinalRSS/1024, s.HWM/1024)
		samples = append(samples, s)
	}
	var b strings.Builder
	n := max(1, c.Deployments)
	fmt.Fprintf(&b, "memory: serviceaccounts=%d deployments=%d connected=%d namespaces=%d deployment-json=%d B avg "+
		"tenant-serviceaccounts=%d tenant-annotation-bytes=%d\n",
		c.ServiceAccounts, c.Deployments, c.Annotated, len(nss), size.Load()/int64(n), c.TenantServiceAccounts, c.TenantAnnotationBytes)
	fmt.Fprintf(&b, "base: %s\n", base)
	fmt.Fprintf(&b, "%-36s %10s %14s %15s %12s\n", "binary", "ready", "peak VmRSS MiB", "final VmRSS MiB", "VmHWM MiB")
	for _, s := range samples {
		fmt.Fprintf(&b, "%-36s %10s %14.1f %15.1f %12.1f\n", s.Name, s.ReadyAfter.Round(time.Millisecond),
			float64(s.PeakRSS)/1024, float64(s.FinalRSS)/1024, float64(s.HWM)/1024)
	}
	with := min(samples[0].HWM, samples[2].HWM)
	without := min(samples[1].HWM, samples[3].HWM)
	fmt.Fprintf(&b, "VmHWM ratio this tree/base (best of 2 each): %.2f (%d / %d MiB)\n", float64(with)/float64(without), with/1024, without/1024)
	if with > 150*1024 {
		return b.String(), fmt.Errorf("VmHWM %d MiB with this tree, goal < 150 MiB", with/1024)
	}
	return b.String(), nil
}

// createTenant creates c.TenantServiceAccounts plain ServiceAccounts in a
// namespace of their own, each with c.TenantAnnotationBytes of annotations
// under a key of the tenant's (no keyless.dev/ key: the webhook never sees
// them).
func createTenant(ctx context.Context, h *harness, c config) error {
	if c.TenantServiceAccounts == 0 {
		return nil
	}
	nss, err := makeNamespaces(ctx, h, "tenant", 1)
	if err != nil {
		return err
	}
	const key = "tenant.example.com/notes"
	value := strings.Repeat("x", max(0, c.TenantAnnotationBytes-len(key)))
	c.Logf("memory: creating %d tenant ServiceAccounts with %d bytes of annotations each", c.TenantServiceAccounts, len(key)+len(value))
	return parallel(ctx, c.TenantServiceAccounts, 4, func(i int) error {
		return h.K8s.Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: nss[0], Name: fmt.Sprintf("tenant-%05d", i),
			Annotations: map[string]string{key: value}}})
	})
}

// measure starts one keyless, samples its memory for c.Settle once ready,
// and kills it.
func measure(ctx context.Context, h *harness, c config, name, bin string) (memSample, error) {
	s := memSample{Name: name}
	start := time.Now()
	p, err := h.serve("keyless-mem", bin, 0, c.Logs, "--aws-qps=200")
	if err != nil {
		return s, err
	}
	defer p.Kill()
	peak := func() {
		rss, hwm := p.Status()
		s.PeakRSS, s.FinalRSS, s.HWM = max(s.PeakRSS, rss), rss, max(s.HWM, hwm)
	}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			case <-time.After(200 * time.Millisecond):
				peak()
			}
		}
	}()
	if err := p.WaitReady(ctx, 2*time.Minute); err != nil {
		close(stop)
		<-done
		return s, err
	}
	s.ReadyAfter = time.Since(start)
	time.Sleep(c.Settle)
	close(stop)
	<-done
	peak()
	return s, nil
}

func makeNamespaces(ctx context.Context, h *harness, prefix string, n int) ([]string, error) {
	var out []string
	for i := range n {
		name := fmt.Sprintf("%s-%d", prefix, i)
		err := h.K8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"team": "shop"}}})
		if err != nil && !apierrors.IsAlreadyExists(err) {
			return nil, err
		}
		out = append(out, name)
	}
	return out, nil
}

var statusKeys = map[string]string{"aws": annotations.KeyStatusAWS, "azure": annotations.KeyStatusAzure, "gcp": annotations.KeyStatusGCP}

// readyCounts counts the connections whose status is Ready, per cloud.
func readyCounts(ctx context.Context, h *harness, nss []string) (map[string]int, error) {
	out := map[string]int{}
	for _, ns := range nss {
		var list corev1.ServiceAccountList
		if err := h.K8s.List(ctx, &list, client.InNamespace(ns)); err != nil {
			return nil, err
		}
		for _, sa := range list.Items {
			for c, k := range statusKeys {
				var st struct{ State string }
				if raw := sa.Annotations[k]; raw != "" && json.Unmarshal([]byte(raw), &st) == nil && st.State == "Ready" {
					out[c]++
				}
			}
		}
	}
	return out, nil
}

// checkedSince counts, per cloud, the Ready connections whose status was
// written after t: the drift checks made since then.
func checkedSince(ctx context.Context, h *harness, nss []string, t time.Time) (map[string]int, error) {
	out := map[string]int{}
	for _, ns := range nss {
		var list corev1.ServiceAccountList
		if err := h.K8s.List(ctx, &list, client.InNamespace(ns)); err != nil {
			return nil, err
		}
		for _, sa := range list.Items {
			for c, k := range statusKeys {
				var st struct {
					State    string
					LastSync time.Time
				}
				if raw := sa.Annotations[k]; raw != "" && json.Unmarshal([]byte(raw), &st) == nil &&
					st.State == "Ready" && st.LastSync.After(t) {
					out[c]++
				}
			}
		}
	}
	return out, nil
}

// waitReady polls until want connections are Ready; it returns the counts
// per cloud at each poll.
func waitReady(ctx context.Context, h *harness, nss []string, want int, timeout time.Duration, logf func(string, ...any)) (map[string]int, error) {
	deadline := time.Now().Add(timeout)
	last := time.Now()
	for {
		got, err := readyCounts(ctx, h, nss)
		if err != nil {
			return nil, err
		}
		total := got["aws"] + got["azure"] + got["gcp"]
		if total >= want {
			return got, nil
		}
		if time.Now().After(deadline) {
			return got, fmt.Errorf("%w: %d of %d after %s (%s)", errNotReady, total, want, timeout, th.FormatCounts(got))
		}
		if time.Since(last) > 15*time.Second {
			logf("ready: %d of %d (%s)", total, want, th.FormatCounts(got))
			last = time.Now()
		}
		time.Sleep(time.Second)
	}
}
