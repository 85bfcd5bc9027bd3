package main

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/keyless-dev/keyless/pkg/annotations"
	"github.com/keyless-dev/keyless/pkg/devenv"
	"github.com/keyless-dev/keyless/pkg/fakecloud"
	th "github.com/keyless-dev/keyless/test/harness"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

const scaleRG = "scale"

var cloudNames = []string{"aws", "azure", "gcp"}

// sample is the simulators' call totals and keyless's memory at one moment.
type sample struct {
	t     time.Time
	calls map[string]int // per cloud, all operations
	rss   int64
}

// sampler records samples every 250 ms.
type sampler struct {
	mu      sync.Mutex
	samples []sample
	stop    chan struct{}
	done    chan struct{}
}

func (h *harness) callsByCloud() map[string]map[string]int {
	return map[string]map[string]int{"aws": h.Clouds.AWS.Calls(), "azure": h.Clouds.Azure.Calls(), "gcp": h.Clouds.GCP.Calls()}
}

func total(m map[string]map[string]int) int {
	n := 0
	for _, v := range m {
		n += sum(v)
	}
	return n
}

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

func startSampler(h *harness, p func() *proc) *sampler {
	s := &sampler{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		for {
			all := h.callsByCloud()
			smp := sample{t: time.Now(), calls: map[string]int{}}
			for c, m := range all {
				smp.calls[c] = sum(m)
			}
			if pr := p(); pr != nil && pr.Alive() {
				smp.rss, _ = pr.Status()
			}
			s.mu.Lock()
			s.samples = append(s.samples, smp)
			s.mu.Unlock()
			select {
			case <-s.stop:
				return
			case <-time.After(250 * time.Millisecond):
			}
		}
	}()
	return s
}

func (s *sampler) close() { close(s.stop); <-s.done }

func (s *sampler) between(from, to time.Time) []sample {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []sample
	for _, x := range s.samples {
		if !x.t.Before(from) && !x.t.After(to) {
			out = append(out, x)
		}
	}
	return out
}

// rate is a cloud's request rate while its work was queued: the calls
// between the moments 10% and 90% of the phase's calls had been made,
// over that time. It also returns the mean over the whole phase.
func rate(ss []sample, cloud string) (mid, mean float64) {
	if len(ss) < 2 {
		return 0, 0
	}
	base := ss[0].calls[cloud]
	total := ss[len(ss)-1].calls[cloud] - base
	if total <= 0 {
		return 0, 0
	}
	var t10, t90, first, last time.Time
	var c10, c90 int
	for i, x := range ss {
		n := x.calls[cloud] - base
		if first.IsZero() && n > 0 {
			first = ss[max(0, i-1)].t
		}
		if n == total && last.IsZero() {
			last = x.t
		}
		if t10.IsZero() && n*10 >= total {
			t10, c10 = x.t, n
		}
		if t90.IsZero() && n*10 >= total*9 {
			t90, c90 = x.t, n
		}
	}
	if d := t90.Sub(t10).Seconds(); d > 0 {
		mid = float64(c90-c10) / d
	}
	if d := last.Sub(first).Seconds(); d > 0 {
		mean = float64(total) / d
	}
	return mid, mean
}

type scaleResult struct {
	Created, AllReady     time.Duration
	ReadyAt               map[string]time.Duration
	Conns                 map[string]int
	Calls                 map[string]map[string]int
	Mid, Mean             map[string]float64
	PeakRSS               int64
	ResyncTime            time.Duration
	ResyncCalls           map[string]map[string]int
	ResyncMid, ResyncMean map[string]float64
	// ResyncChecks counts the connections drift-checked in the window.
	ResyncChecks  map[string]int
	ResyncPeakRSS int64
}

func runScale(ctx context.Context, h *harness, c config) (string, error) {
	n := c.Connections
	conns := map[string]int{}
	for i := range n {
		conns[cloudNames[i%3]]++
	}
	// Identities: 50 ServiceAccounts per IAM role and per Google service
	// account, 20 per Azure identity (its limit of federated credentials).
	roles := max(1, (conns["aws"]+49)/50)
	for i := range roles {
		h.Clouds.AWS.AddRole(fmt.Sprintf("arn:aws:iam::%s:role/scale-%d", devenv.AWSAccount, i))
	}
	azure := max(1, (conns["azure"]+19)/20)
	for i := range azure {
		h.Clouds.Azure.AddIdentity(devenv.AzureSubscription, scaleRG, fmt.Sprintf("az-%d", i), fmt.Sprintf("00000000-0000-4000-9000-%012x", i+1))
	}
	gsas := max(1, (conns["gcp"]+49)/50)
	for i := range gsas {
		h.Clouds.GCP.AddServiceAccount(fmt.Sprintf("scale-%d@%s.iam.gserviceaccount.com", i, devenv.GCPProject))
	}
	nss, err := makeNamespaces(ctx, h, "scale", max(1, n/100))
	if err != nil {
		return "", err
	}
	f := fakecloud.Faults{Latency: c.Latency}
	h.Clouds.AWS.SetFaults(f)
	h.Clouds.Azure.SetFaults(f)
	h.Clouds.GCP.SetFaults(f)

	qps := fmt.Sprint(c.QPS)
	args := []string{"--aws-qps=" + qps, "--azure-qps=" + qps, "--gcp-qps=" + qps, fmt.Sprintf("--workers=%d", c.Workers)}
	if c.KubeQPS != "" {
		args = append(args, "--kube-api-qps="+c.KubeQPS)
	}
	var pmu sync.Mutex
	var p *proc
	cur := func() *proc { pmu.Lock(); defer pmu.Unlock(); return p }
	if p, err = h.serve("keyless-0", "", 0, c.Logs, args...); err != nil {
		return "", err
	}
	defer func() { cur().Kill() }()
	if err := p.WaitReady(ctx, 90*time.Second); err != nil {
		return "", err
	}
	smp := startSampler(h, cur)
	defer smp.close()

	res := &scaleResult{Conns: conns, ReadyAt: map[string]time.Duration{}}
	c.Logf("scale: creating %d connected ServiceAccounts (%s) over %d namespaces; latency %s, qps %s per cloud, %d workers",
		n, th.FormatCounts(conns), len(nss), c.Latency, qps, c.Workers)
	start := time.Now()
	err = parallel(ctx, n, 8, func(i int) error {
		a := map[string]string{}
		// spread: consecutive ServiceAccounts use different identities;
		// grouped: runs of 50 (20 for Azure) share one, as a team's do.
		pick := func(n, per int) int {
			if c.Layout == "grouped" {
				return min(n-1, (i/3)/per)
			}
			return (i / 3) % n
		}
		switch cloudNames[i%3] {
		case "aws":
			a[annotations.KeyAWSRole] = fmt.Sprintf("scale-%d", pick(roles, 50))
		case "azure":
			a[annotations.KeyAzureIdentity] = fmt.Sprintf("az-%d", pick(azure, 20))
			a[annotations.KeyAzureResourceGroup] = scaleRG
		case "gcp":
			a[annotations.KeyGCPServiceAccount] = fmt.Sprintf("scale-%d@%s.iam.gserviceaccount.com", pick(gsas, 50), devenv.GCPProject)
		}
		return h.K8s.Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{
			Namespace: nss[i%len(nss)], Name: fmt.Sprintf("sa-%05d", i), Annotations: a}})
	})
	if err != nil {
		return "", err
	}
	res.Created = time.Since(start)
	c.Logf("scale: created in %s; waiting for all-Ready", res.Created.Round(time.Millisecond))
	deadline := start.Add(c.Timeout)
	lastLog := time.Now()
	for {
		got, err := readyCounts(ctx, h, nss)
		if err != nil {
			return "", err
		}
		for _, cl := range cloudNames {
			if _, ok := res.ReadyAt[cl]; !ok && got[cl] >= conns[cl] {
				res.ReadyAt[cl] = time.Since(start)
			}
		}
		if len(res.ReadyAt) == 3 {
			break
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("%w: %s of %s after %s", errNotReady, th.FormatCounts(got), th.FormatCounts(conns), c.Timeout)
		}
		if time.Since(lastLog) > 15*time.Second {
			c.Logf("scale: ready %s of %s", th.FormatCounts(got), th.FormatCounts(conns))
			lastLog = time.Now()
		}
		time.Sleep(500 * time.Millisecond)
	}
	res.AllReady = time.Since(start)
	ready := time.Now()
	res.Calls = h.callsByCloud()
	res.Mid, res.Mean = map[string]float64{}, map[string]float64{}
	for _, cl := range cloudNames {
		res.Mid[cl], res.Mean[cl] = rate(smp.between(start, start.Add(res.ReadyAt[cl])), cl)
	}
	for _, x := range smp.between(start, ready) {
		res.PeakRSS = max(res.PeakRSS, x.rss)
	}
	if _, hwm := p.Status(); hwm > res.PeakRSS {
		res.PeakRSS = hwm
	}
	c.Logf("scale: all Ready after %s", res.AllReady.Round(time.Millisecond))

	if !c.SkipResync {
		// The steady-state resync: every connection comes due once per
		// --resync-period, jittered by ±10%, counted from its own last sync
		// (between start and ready). So the window from ready to
		// ready + 1.1 × period holds exactly one resync of each connection
		// when 0.9 × period > the creation phase and 0.7 × period > it
		// too (no second pass before the window ends). A restart does not
		// resync: Ready connections keep their due time.
		if span := res.AllReady; c.Resync*7/10 <= span {
			c.Logf("scale: --resync-period %s is short for a creation phase of %s; some connections may resync twice or not at all in the window",
				c.Resync, span.Round(time.Second))
		}
		before := res.Calls
		end := ready.Add(c.Resync*11/10 + 2*time.Second)
		c.Logf("scale: counting the resync's cloud calls until %s", end.Format("15:04:05"))
		time.Sleep(time.Until(end))
		after := h.callsByCloud()
		res.ResyncCalls = map[string]map[string]int{}
		res.ResyncMid, res.ResyncMean = map[string]float64{}, map[string]float64{}
		var first, last time.Time
		for _, x := range smp.between(ready, end) {
			if sum(x.calls) > total(before) && first.IsZero() {
				first = x.t
			}
			if sum(x.calls) < total(after) {
				last = x.t
			}
		}
		res.ResyncTime = last.Sub(first)
		for _, cl := range cloudNames {
			d := map[string]int{}
			for op, v := range after[cl] {
				if v-before[cl][op] > 0 {
					d[op] = v - before[cl][op]
				}
			}
			res.ResyncCalls[cl] = d
			res.ResyncMid[cl], res.ResyncMean[cl] = rate(smp.between(ready, end), cl)
		}
		_, res.ResyncPeakRSS = p.Status()
		// Azure and GCP checks come due at a moment of the period that
		// their identity fixes, between half a period and one and a half
		// after the last sync, so the window need not hold one check of
		// each connection: calls per check is the figure that compares.
		checked, err := checkedSince(ctx, h, nss, ready)
		if err != nil {
			return "", err
		}
		res.ResyncChecks = checked
	}
	return res.format(c), res.check(c)
}

func (r *scaleResult) format(c config) string {
	var b strings.Builder
	fmt.Fprintf(&b, "scale: connections=%d (%s) layout=%s latency=%s qps=%v/cloud workers=%d kube-api-qps=%s\n",
		c.Connections, th.FormatCounts(r.Conns), c.Layout, c.Latency, c.QPS, c.Workers, map[bool]string{true: "default", false: c.KubeQPS}[c.KubeQPS == ""])
	fmt.Fprintf(&b, "created in %s; all Ready %s after the first create (aws %s, azure %s, gcp %s); peak VmRSS/VmHWM %.1f MiB\n",
		r.Created.Round(time.Millisecond), r.AllReady.Round(time.Millisecond),
		r.ReadyAt["aws"].Round(time.Millisecond), r.ReadyAt["azure"].Round(time.Millisecond), r.ReadyAt["gcp"].Round(time.Millisecond),
		float64(r.PeakRSS)/1024)
	fmt.Fprintf(&b, "%-6s %8s %10s %12s %8s %12s  %s\n", "cloud", "conns", "calls", "calls/conn", "rate/s", "rate/limit", "per connection by operation")
	for _, cl := range cloudNames {
		b.WriteString(row(cl, r.Conns[cl], r.Calls[cl], r.Mid[cl], c.QPS))
	}
	fmt.Fprintf(&b, "(rate: calls between 10%% and 90%% of the phase's calls over that time; mean over the phase: aws %.1f azure %.1f gcp %.1f)\n",
		r.Mean["aws"], r.Mean["azure"], r.Mean["gcp"])
	for _, cl := range cloudNames {
		if r.ReadyAt[cl] <= r.Created+keptPace {
			fmt.Fprintf(&b, "(%s kept pace with the creates: all Ready %s after the last one, so its work never queued)\n",
				cl, max(0, r.ReadyAt[cl]-r.Created).Round(time.Millisecond))
		}
	}
	if r.ResyncCalls != nil {
		fmt.Fprintf(&b, "resync (one --resync-period): first to last cloud call %s; VmHWM %.1f MiB\n",
			r.ResyncTime.Round(time.Millisecond), float64(r.ResyncPeakRSS)/1024)
		for _, cl := range cloudNames {
			b.WriteString(row(cl, r.Conns[cl], r.ResyncCalls[cl], r.ResyncMid[cl], c.QPS))
		}
		fmt.Fprintf(&b, "(resync mean rate: aws %.1f azure %.1f gcp %.1f)\n", r.ResyncMean["aws"], r.ResyncMean["azure"], r.ResyncMean["gcp"])
		for _, cl := range cloudNames {
			n := r.ResyncChecks[cl]
			fmt.Fprintf(&b, "drift checks in the window: %-5s %6d of %6d connections; %.3f calls per check\n",
				cl, n, r.Conns[cl], float64(sum(r.ResyncCalls[cl]))/float64(max(1, n)))
		}
	}
	return b.String()
}

func row(cl string, conns int, calls map[string]int, rate, limit float64) string {
	per := map[string]string{}
	for op, v := range calls {
		per[op] = fmt.Sprintf("%s=%.2f", op, float64(v)/float64(max(1, conns)))
	}
	var parts []string
	for _, op := range sortedKeys(per) {
		parts = append(parts, per[op])
	}
	total := sum(calls)
	return fmt.Sprintf("%-6s %8d %10d %12.2f %8.1f %11.0f%%  %s\n", cl, conns, total, float64(total)/float64(max(1, conns)),
		rate, 100*rate/limit, strings.Join(parts, " "))
}

func sortedKeys(m map[string]string) []string { return slices.Sorted(maps.Keys(m)) }

// keptPace is how soon after the last create a cloud's connections must
// all be Ready for its work to count as never queued: it kept up with the
// creates, so its rate shows how fast they came, not its limit.
const keptPace = 5 * time.Second

// check reports the goal: ≥ 90% of the configured rate per cloud while work
// is queued, for each cloud whose work queued at all.
func (r *scaleResult) check(c config) error {
	var bad []string
	for _, cl := range cloudNames {
		if r.Mid[cl] < 0.9*c.QPS && r.ReadyAt[cl] > r.Created+keptPace {
			bad = append(bad, fmt.Sprintf("%s %.1f/s", cl, r.Mid[cl]))
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("request rate below 90%% of --*-qps=%v while queued: %s", c.QPS, strings.Join(bad, ", "))
	}
	return nil
}
