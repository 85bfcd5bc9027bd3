package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
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

// memSample is one start of keyless: a leader, then a follower beside it.
type memSample struct {
	Name             string
	Leader, Follower procMemory
	// Probe is what the admission probe saw from the leader's start.
	Probe probeResult
}

// procMemory is one replica's start-up time and memory (KiB).
type procMemory struct {
	ReadyAfter             time.Duration
	PeakRSS, FinalRSS, HWM int64
	// PeakAnon is the largest RssAnon sampled, and FileAtPeak the RssFile
	// of that sample: VmHWM counts both.
	PeakAnon, FileAtPeak int64
	// TakeoverHWM is a follower's VmHWM once it has taken over from the
	// killed leader and led for the settle time (0: it did not).
	TakeoverHWM int64
}

func runMemory(ctx context.Context, h *harness, c config, base string) (string, error) {
	nss, size, err := populate(ctx, h, c)
	if err != nil {
		return "", err
	}
	runs := []struct{ name, bin string }{{"this tree", ""}, {"base", base}, {"this tree", ""}, {"base", base}}
	if c.ContainerLimit > 0 {
		limited := fmt.Sprintf("limit %dMi", c.ContainerLimit)
		runs = append(runs, struct{ name, bin string }{limited, ""}, struct{ name, bin string }{limited, ""})
	}
	var samples []memSample
	for i, v := range runs {
		if i >= 4 {
			// What setMemoryLimit in pkg/app derives from a cgroup limit.
			_ = os.Setenv("GOMEMLIMIT", fmt.Sprint(int64(c.ContainerLimit)<<20/10*9))
		}
		s, err := measure(ctx, h, c, v.name, v.bin, nss[0])
		_ = os.Unsetenv("GOMEMLIMIT")
		if err != nil {
			return "", err
		}
		c.Logf("memory: %s: leader ready after %s, VmHWM %d MiB; follower ready after %s, VmHWM %d MiB; probe %s",
			s.Name, s.Leader.ReadyAfter.Round(time.Millisecond), s.Leader.HWM/1024,
			s.Follower.ReadyAfter.Round(time.Millisecond), s.Follower.HWM/1024, s.Probe)
		samples = append(samples, s)
	}
	return memoryReport(c, len(nss), size, base, samples)
}

func memoryReport(c config, namespaces int, size int64, base string, samples []memSample) (string, error) {
	var b strings.Builder
	fmt.Fprintf(&b, "memory: serviceaccounts=%d deployments=%d connected=%d namespaces=%d deployment-json=%d B avg "+
		"tenant-serviceaccounts=%d tenant-annotation-bytes=%d\n",
		c.ServiceAccounts, c.Deployments, c.Annotated, namespaces, size, c.TenantServiceAccounts, c.TenantAnnotationBytes)
	fmt.Fprintf(&b, "base: %s\n", base)
	fmt.Fprintf(&b, "%-12s %-9s %10s %14s %15s %10s %16s %16s %21s\n", "binary", "replica", "ready", "peak VmRSS MiB", "final VmRSS MiB", "VmHWM MiB",
		"peak RssAnon MiB", "its RssFile MiB", "VmHWM after takeover")
	for _, s := range samples {
		for _, r := range []struct {
			role string
			m    procMemory
		}{{"leader", s.Leader}, {"follower", s.Follower}} {
			takeover := "-"
			if r.m.TakeoverHWM > 0 {
				takeover = fmt.Sprintf("%.1f", float64(r.m.TakeoverHWM)/1024)
			}
			fmt.Fprintf(&b, "%-12s %-9s %10s %14.1f %15.1f %10.1f %16.1f %16.1f %21s\n", s.Name, r.role, r.m.ReadyAfter.Round(time.Millisecond),
				float64(r.m.PeakRSS)/1024, float64(r.m.FinalRSS)/1024, float64(r.m.HWM)/1024,
				float64(r.m.PeakAnon)/1024, float64(r.m.FileAtPeak)/1024, takeover)
		}
		fmt.Fprintf(&b, "%-12s admission probe from the leader's start: %s\n", s.Name, s.Probe)
	}
	best := func(i, j int, f func(memSample) int64) int64 { return min(f(samples[i]), f(samples[j])) }
	leader := func(s memSample) int64 { return s.Leader.HWM }
	follower := func(s memSample) int64 { return s.Follower.HWM }
	fmt.Fprintf(&b, "VmHWM this tree/base (best of 2 each): leader %.2f (%d / %d MiB), follower %.2f (%d / %d MiB)\n",
		float64(best(0, 2, leader))/float64(best(1, 3, leader)), best(0, 2, leader)/1024, best(1, 3, leader)/1024,
		float64(best(0, 2, follower))/float64(best(1, 3, follower)), best(0, 2, follower)/1024, best(1, 3, follower)/1024)
	var bad []string
	for i, s := range samples {
		if s.Name == "base" {
			continue
		}
		if i >= 4 {
			if s.Probe.Wrong > 0 || s.Probe.Right == 0 {
				bad = append(bad, s.Name+": admission probe: "+s.Probe.String())
			}
			continue
		}
		if w := max(s.Leader.HWM, s.Follower.HWM, s.Follower.TakeoverHWM); w > int64(c.MaxHWM)*1024 {
			bad = append(bad, fmt.Sprintf("VmHWM %d MiB with this tree, goal < %d MiB", w/1024, c.MaxHWM))
		}
		if s.Probe.Wrong > 0 || s.Probe.Right == 0 {
			bad = append(bad, "admission probe: "+s.Probe.String())
		}
		if s.Leader.ReadyAfter > time.Minute || s.Follower.ReadyAfter > time.Minute {
			bad = append(bad, "ready after more than a minute")
		}
	}
	if len(bad) > 0 {
		return b.String(), errors.New(strings.Join(bad, "; "))
	}
	return b.String(), nil
}

// populate creates the namespaces, ServiceAccounts and Deployments, with a
// keyless running (the webhook fails closed), and waits for the connections
// to be Ready. It returns the namespaces and the mean size of a Deployment.
func populate(ctx context.Context, h *harness, c config) ([]string, int64, error) {
	nss, err := makeNamespaces(ctx, h, "mem", 50)
	if err != nil {
		return nil, 0, err
	}
	for i := range memRoles {
		h.Clouds.AWS.AddRole(fmt.Sprintf("arn:aws:iam::%s:role/mem-role-%d", devenv.AWSAccount, i))
	}
	p, err := h.serve("keyless-load", "", 0, c.Logs, "--aws-qps=200")
	if err != nil {
		return nil, 0, err
	}
	defer p.Kill()
	if err := p.WaitReady(ctx, 90*time.Second); err != nil {
		return nil, 0, err
	}
	start := time.Now()
	c.Logf("memory: creating %d ServiceAccounts and %d Deployments (%d connected) over %d namespaces",
		c.ServiceAccounts, c.Deployments, c.Annotated, len(nss))
	err = parallel(ctx, c.ServiceAccounts, c.CreateWorkers, func(i int) error {
		return h.K8s.Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: nss[i%len(nss)], Name: fmt.Sprintf("app-%05d", i),
			Labels: map[string]string{"app.kubernetes.io/part-of": "shop"}}})
	})
	if err != nil {
		return nil, 0, err
	}
	var size atomic.Int64
	err = parallel(ctx, c.Deployments, c.CreateWorkers, func(i int) error {
		d := deployment(nss[i%len(nss)], fmt.Sprintf("app-%05d", i), fmt.Sprintf("app-%05d", i), memConnection(i, c.Annotated))
		if err := h.K8s.Create(ctx, d); err != nil {
			return err
		}
		raw, _ := json.Marshal(d)
		size.Add(int64(len(raw)))
		return nil
	})
	if err != nil {
		return nil, 0, err
	}
	if err := createTenant(ctx, h, c); err != nil {
		return nil, 0, err
	}
	c.Logf("memory: created in %s; waiting for the %d connections", time.Since(start).Round(time.Second), c.Annotated)
	if _, err := waitReady(ctx, h, nss, c.Annotated, 5*time.Minute, c.Logf); err != nil {
		return nil, 0, err
	}
	return nss, size.Load() / int64(max(1, c.Deployments)), nil
}

// memRoles are the IAM roles the connected Deployments use in turn.
const memRoles = 20

// memConnection is the annotation of Deployment i: the first connected
// ones use the roles in turn.
func memConnection(i, connected int) map[string]string {
	if i >= connected {
		return nil
	}
	return map[string]string{annotations.KeyAWSRole: fmt.Sprintf("mem-role-%d", i%memRoles)}
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

// measure starts a keyless (the leader, on the webhook port the API server
// calls) and, once it holds the Lease, a second one (a follower on a port
// of its own); it samples the memory of both for c.Settle once the
// follower is ready, then kills the leader and samples the follower for
// c.Settle more once it has taken over. From the leader's start until the
// first kill it probes the webhook with an admission whose right answer
// needs the cache (see probe).
func measure(ctx context.Context, h *harness, c config, name, bin, ns string) (memSample, error) {
	s := memSample{Name: name}
	probeCtx, stopProbe := context.WithCancel(ctx)
	defer stopProbe()
	probed := make(chan probeResult, 1)
	go func() { probed <- probe(probeCtx, h, ns) }()
	lp, err := startSampled(ctx, h, c, "keyless-mem-0", bin, 0)
	if lp != nil {
		defer lp.stop()
	}
	if err != nil {
		return s, err
	}
	if err := waitLease(ctx, lp.p); err != nil {
		return s, err
	}
	port, err := th.FreePort()
	if err != nil {
		return s, err
	}
	fp, err := startSampled(ctx, h, c, "keyless-mem-1", bin, port)
	if fp != nil {
		defer fp.stop()
	}
	if err != nil {
		return s, err
	}
	time.Sleep(c.Settle)
	stopProbe()
	s.Probe = <-probed
	// Failover: the follower takes the Lease once the killed leader's
	// expires, and starts the controllers as a fresh leader would.
	lp.stop()
	fp.takeover()
	if err := waitLease(ctx, fp.p); err != nil {
		return s, err
	}
	time.Sleep(c.Settle)
	fp.stop()
	s.Leader, s.Follower = lp.memory(), fp.memory()
	return s, nil
}

// sampled is a keyless whose memory is sampled every 200 ms.
type sampled struct {
	p     *proc
	ready time.Duration
	mu    sync.Mutex
	m     procMemory
	// before is m when takeover was called (nil: not called).
	before *procMemory
	once   sync.Once
	done   chan struct{}
	quit   chan struct{}
}

// startSampled starts a keyless and waits until it is ready.
func startSampled(ctx context.Context, h *harness, c config, name, bin string, port int) (*sampled, error) {
	start := time.Now()
	p, err := h.serve(name, bin, port, c.Logs, "--aws-qps=200")
	if err != nil {
		return nil, err
	}
	s := &sampled{p: p, done: make(chan struct{}), quit: make(chan struct{})}
	go func() {
		defer close(s.done)
		for {
			s.sample()
			select {
			case <-s.quit:
				return
			case <-time.After(200 * time.Millisecond):
			}
		}
	}()
	if err := p.WaitReady(ctx, 2*time.Minute); err != nil {
		return s, err
	}
	s.mu.Lock()
	s.ready = time.Since(start)
	s.mu.Unlock()
	return s, nil
}

func (s *sampled) sample() {
	m := s.p.Memory()
	if m.RSS == 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m.PeakRSS, s.m.FinalRSS, s.m.HWM = max(s.m.PeakRSS, m.RSS), m.RSS, max(s.m.HWM, m.HWM)
	if m.Anon > s.m.PeakAnon {
		s.m.PeakAnon, s.m.FileAtPeak = m.Anon, m.File
	}
}

// takeover marks the end of the follower's time as a follower: memory
// reports what came before, and the VmHWM from then on as TakeoverHWM.
func (s *sampled) takeover() {
	s.mu.Lock()
	defer s.mu.Unlock()
	before := s.m
	s.before = &before
}

func (s *sampled) memory() procMemory {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.m
	if s.before != nil {
		m = *s.before
		m.TakeoverHWM = s.m.HWM
	}
	m.ReadyAfter = s.ready
	return m
}

// stop takes a last sample and kills the process.
func (s *sampled) stop() {
	s.once.Do(func() {
		close(s.quit)
		<-s.done
		s.sample()
		s.p.Kill()
	})
}

// waitLease waits until p logs that it acquired the Lease (the last
// process killed held it until it expires).
func waitLease(ctx context.Context, p *proc) error {
	deadline := time.Now().Add(time.Minute)
	for p.Acquired().IsZero() {
		if time.Now().After(deadline) {
			return fmt.Errorf("keyless %s did not acquire the Lease within a minute", p.Name)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return nil
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
