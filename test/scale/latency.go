package main

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/keyless-dev/keyless/pkg/annotations"
	"github.com/keyless-dev/keyless/pkg/devenv"
	"github.com/keyless-dev/keyless/pkg/fakecloud"
	th "github.com/keyless-dev/keyless/test/harness"
)

// burstClients create a burst's ServiceAccounts concurrently.
const burstClients = 16

// latencyRun is one run of --mode=latency: keyless, its metrics endpoint,
// the API server's, and a watch of the ServiceAccounts.
type latencyRun struct {
	h       *harness
	c       config
	metrics string // keyless's /metrics URL
	api     *kubernetes.Clientset
	watch   *readyWatch
}

// identities names the simulators' seeded identities of one group (idle or
// burst): per cloud, how many and the annotations of the i-th.
type identities struct{ roles, azure, gsas int }

func seedIdentities(h *harness, prefix string, group, n int) identities {
	// As in --mode=scale: 50 ServiceAccounts per IAM role and per Google
	// service account, 20 per Azure identity (its limit of credentials).
	id := identities{roles: max(1, (n+49)/50), azure: max(1, (n+19)/20), gsas: max(1, (n+49)/50)}
	for i := range id.roles {
		h.Clouds.AWS.AddRole(fmt.Sprintf("arn:aws:iam::%s:role/%s-%d", devenv.AWSAccount, prefix, i))
	}
	for i := range id.azure {
		h.Clouds.Azure.AddIdentity(devenv.AzureSubscription, scaleRG, fmt.Sprintf("%s-az-%d", prefix, i),
			fmt.Sprintf("00000000-0000-4000-9%03x-%012x", group, i+1))
	}
	for i := range id.gsas {
		h.Clouds.GCP.AddServiceAccount(fmt.Sprintf("%s-%d@%s.iam.gserviceaccount.com", prefix, i, devenv.GCPProject))
	}
	return id
}

// annotationsFor connects the i-th ServiceAccount of a group to cloud;
// consecutive ones use different identities (the scale mode's spread).
func (id identities) annotationsFor(prefix, cloud string, i int) map[string]string {
	switch cloud {
	case "aws":
		return map[string]string{annotations.KeyAWSRole: fmt.Sprintf("%s-%d", prefix, i%id.roles)}
	case "azure":
		return map[string]string{annotations.KeyAzureIdentity: fmt.Sprintf("%s-az-%d", prefix, i%id.azure),
			annotations.KeyAzureResourceGroup: scaleRG}
	default:
		return map[string]string{annotations.KeyGCPServiceAccount: fmt.Sprintf("%s-%d@%s.iam.gserviceaccount.com", prefix, i%id.gsas, devenv.GCPProject)}
	}
}

func runLatency(ctx context.Context, h *harness, c config) (string, error) {
	idleIDs := seedIdentities(h, "idle", 1, c.Tries)
	burstIDs := seedIdentities(h, "burst", 2, c.Burst)
	// Every namespace exists before keyless starts: a new namespace queues
	// the ServiceAccounts of the namespaces whose names start its own.
	nss := map[string][]string{}
	idleNS, err := makeNamespaces(ctx, h, "idle", 1)
	if err != nil {
		return "", err
	}
	for _, cl := range cloudNames {
		if nss[cl], err = makeNamespaces(ctx, h, "burst-"+cl, max(1, c.Burst/100)); err != nil {
			return "", err
		}
	}
	f := fakecloud.Faults{Latency: c.Latency}
	h.Clouds.AWS.SetFaults(f)
	h.Clouds.Azure.SetFaults(f)
	h.Clouds.GCP.SetFaults(f)

	addr, err := th.FreeAddr()
	if err != nil {
		return "", err
	}
	qps := fmt.Sprint(c.QPS)
	args := []string{"--aws-qps=" + qps, "--azure-qps=" + qps, "--gcp-qps=" + qps, fmt.Sprintf("--workers=%d", c.Workers),
		"--metrics-bind-address=" + addr, "--metrics-secure=false"}
	if c.KubeQPS != "" {
		args = append(args, "--kube-api-qps="+c.KubeQPS)
	}
	p, err := h.serve("keyless-0", "", 0, c.Logs, args...)
	if err != nil {
		return "", err
	}
	defer p.Kill()
	if err := p.WaitReady(ctx, 90*time.Second); err != nil {
		return "", err
	}
	r := &latencyRun{h: h, c: c, metrics: "http://" + addr + "/metrics"}
	if r.api, err = kubernetes.NewForConfig(h.Rest); err != nil {
		return "", err
	}
	if r.watch, err = watchReady(ctx, h); err != nil {
		return "", err
	}
	defer r.watch.close()

	res := &latencyResult{}
	for _, cl := range cloudNames {
		if c.Tries <= 0 {
			break
		}
		c.Logf("latency: %d new %s connections, one at a time", c.Tries, cl)
		ir, err := r.idle(ctx, cl, idleNS[0], idleIDs)
		if err != nil {
			return "", err
		}
		res.Idle = append(res.Idle, ir)
	}
	for _, cl := range cloudNames {
		if c.Burst <= 0 {
			break
		}
		// The rate limiters' buckets fill up again between bursts.
		time.Sleep(3 * time.Second)
		c.Logf("latency: a burst of %d %s connections", c.Burst, cl)
		br, err := r.burst(ctx, cl, nss[cl], burstIDs)
		if err != nil {
			return "", err
		}
		res.Bursts = append(res.Bursts, br)
	}
	return res.format(c), nil
}

// idleResult is the tries of one cloud on an otherwise idle system.
type idleResult struct {
	Cloud   string
	Tries   []time.Duration // create call's return → Ready seen
	Floors  []time.Duration // the try's cloud calls × the simulators' latency
	Calls   int
	Seen    []time.Duration // the status's lastSync → Ready seen
	Metrics phaseMetrics
	// APIWrites counts keyless's writes by "resource verb code".
	APIWrites map[string]int
}

// phaseMetrics are keyless's means over a phase, from its /metrics.
type phaseMetrics struct {
	Reconciles          float64
	Queue, Work, Ensure time.Duration // mean per reconcile, per provider call
}

func (r *latencyRun) phaseMetrics(ctx context.Context, cloud string, before scrape) (phaseMetrics, error) {
	after, err := scrapeURL(ctx, r.metrics)
	if err != nil {
		return phaseMetrics{}, err
	}
	mean := func(name string, match map[string]string) (time.Duration, float64) {
		n := after.sum(name+"_count", match) - before.sum(name+"_count", match)
		s := after.sum(name+"_sum", match) - before.sum(name+"_sum", match)
		if n <= 0 {
			return 0, 0
		}
		return time.Duration(s / n * float64(time.Second)), n
	}
	q := map[string]string{"name": "cloud-" + cloud}
	var m phaseMetrics
	m.Queue, _ = mean("workqueue_queue_duration_seconds", q)
	m.Work, m.Reconciles = mean("workqueue_work_duration_seconds", q)
	m.Ensure, _ = mean("keyless_cloud_call_duration_seconds", map[string]string{"cloud": cloud, "operation": "ensure"})
	return m, nil
}

func (r *latencyRun) cloudCalls(cloud string) int { return sum(r.h.callsByCloud()[cloud]) }

func (r *latencyRun) idle(ctx context.Context, cloud, ns string, ids identities) (*idleResult, error) {
	before, err := scrapeURL(ctx, r.metrics)
	if err != nil {
		return nil, err
	}
	am, err := r.apiMetrics(ctx)
	if err != nil {
		return nil, err
	}
	res := &idleResult{Cloud: cloud}
	for i := range r.c.Tries {
		name := fmt.Sprintf("%s-%03d", cloud, i)
		calls := r.cloudCalls(cloud)
		sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name,
			Annotations: ids.annotationsFor("idle", cloud, i)}}
		if err := r.h.K8s.Create(ctx, sa); err != nil {
			return nil, fmt.Errorf("creating %s/%s: %w", ns, name, err)
		}
		created := time.Now()
		at, err := r.watch.wait(ctx, cloud, ns, name, time.Minute)
		if err != nil {
			return nil, err
		}
		// Every cloud call of a first sync precedes its status write.
		n := r.cloudCalls(cloud) - calls
		res.Calls += n
		res.Tries = append(res.Tries, at.seen.Sub(created))
		res.Floors = append(res.Floors, time.Duration(n)*r.c.Latency)
		res.Seen = append(res.Seen, at.seen.Sub(at.lastSync))
		// The next try starts on an idle system: an Azure connection's
		// second reconcile runs after its Ready.
		if err := r.settle(ctx); err != nil {
			return nil, err
		}
	}
	if res.APIWrites, err = r.writesSince(ctx, am); err != nil {
		return nil, err
	}
	res.Metrics, err = r.phaseMetrics(ctx, cloud, before)
	return res, err
}
