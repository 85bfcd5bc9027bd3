package main

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	keylessconfig "github.com/keyless-dev/keyless/pkg/config"
	th "github.com/keyless-dev/keyless/test/harness"
)

type latencyResult struct {
	Idle   []*idleResult
	Bursts []*burstResult
}

func (r *latencyResult) format(c config) string {
	kq := kubeQPS(c)
	var b strings.Builder
	fmt.Fprintf(&b, "latency: tries=%d/cloud burst=%d/cloud latency=%s qps=%v/cloud workers=%d kube-api-qps=%v\n",
		c.Tries, c.Burst, c.Latency, c.QPS, c.Workers, kq)

	fmt.Fprintf(&b, "one new connection on an idle system: create call's return → Ready seen by a watch, in ms\n")
	fmt.Fprintf(&b, "%-6s %6s %7s %7s %7s %7s %10s %7s %10s %8s %11s\n",
		"cloud", "tries", "p50", "p90", "p99", "max", "calls/try", "floor", "p50/floor", "outside", "writes/try")
	for _, x := range r.Idle {
		n := max(1, len(x.Tries))
		floor := sumDur(x.Floors) / time.Duration(n)
		p50 := percentile(x.Tries, 50)
		fmt.Fprintf(&b, "%-6s %6d %7s %7s %7s %7s %10.2f %7s %10.2f %7.0f%% %11.2f\n", x.Cloud, len(x.Tries),
			ms(p50), ms(percentile(x.Tries, 90)), ms(percentile(x.Tries, 99)), ms(percentile(x.Tries, 100)),
			float64(x.Calls)/float64(n), ms(floor), float64(p50)/float64(max(1, floor)),
			100*(1-float64(sumDur(x.Floors))/float64(max(1, sumDur(x.Tries)))), float64(sum(x.APIWrites))/float64(n))
	}
	fmt.Fprintf(&b, "(floor: the try's cloud calls × %s, mean of the tries; outside: the share of the summed time not in "+
		"that floor; writes/try: keyless's ConfigMap creates and updates and ServiceAccount patches, as the API server counts them)\n", c.Latency)

	fmt.Fprintf(&b, "where the time went, means per try in ms (queue, reconcile and provider from keyless's metrics):\n")
	fmt.Fprintf(&b, "%-6s %7s %7s %11s %10s %9s %7s %12s\n",
		"cloud", "total", "queue", "reconciles", "reconcile", "provider", "floor", "status→seen")
	for _, x := range r.Idle {
		m, n := x.Metrics, time.Duration(max(1, len(x.Tries)))
		per := m.Reconciles / float64(n)
		fmt.Fprintf(&b, "%-6s %7s %7s %11.2f %10s %9s %7s %12s\n", x.Cloud, ms(sumDur(x.Tries)/n),
			ms(time.Duration(float64(m.Queue)*per)), per, ms(time.Duration(float64(m.Work)*per)),
			ms(m.Ensure), ms(sumDur(x.Floors)/n), ms(sumDur(x.Seen)/n))
	}
	fmt.Fprintf(&b, "(queue: waits in the cloud's workqueue; reconcile: the reconciles' time, with the provider call, the record "+
		"writes and the status patch; provider: the cloud call; status→seen: the status's lastSync, set just before its "+
		"patch, to the watch event; Azure's second reconcile, queued by the client-ID annotation written with the "+
		"status, runs after Ready and makes no cloud call)\n")

	fmt.Fprintf(&b, "a burst of %d new connections per cloud, created by %d clients at once, one cloud after the other:\n", c.Burst, burstClients)
	fmt.Fprintf(&b, "%-6s %6s %8s %10s %6s %8s %6s %8s %10s %8s %11s %8s %9s %9s\n", "cloud", "conns", "created", "all Ready",
		"calls", "floor", "ratio", "writes", "API floor", "settled", "reconciles", "queue", "each p50", "each max")
	for _, x := range r.Bursts {
		calls := sum(x.Calls)
		floor := seconds(float64(calls) / c.QPS)
		fmt.Fprintf(&b, "%-6s %6d %8s %10s %6d %8s %6.2f %8d %10s %8s %11.2f %8s %9s %9s\n", x.Cloud, x.N,
			round(x.Created), round(x.AllReady), calls, round(floor), float64(x.AllReady)/float64(max(1, floor)),
			sum(x.APIWrites), round(seconds(float64(mostOfOneKind(x.APIWrites))/kq)), round(x.Settled),
			x.Metrics.Reconciles/float64(max(1, x.N)), round(x.Metrics.Queue), round(percentile(x.Each, 50)),
			round(percentile(x.Each, 100)))
	}
	fmt.Fprintf(&b, "(all Ready: first create call → last Ready seen; floor: calls ÷ %v/s; ratio: all Ready ÷ floor; "+
		"writes: as above, until keyless is idle again (settled); API floor: the most writes of one kind ÷ --kube-api-qps, "+
		"as each kind has a token bucket of its own; reconciles per connection; queue: mean wait per reconcile; "+
		"each: one ServiceAccount's create return → Ready)\n", c.QPS)
	for _, x := range r.Idle {
		fmt.Fprintf(&b, "idle API writes  %-5s %s\n", x.Cloud, formatWrites(x.APIWrites))
	}
	for _, x := range r.Bursts {
		fmt.Fprintf(&b, "burst calls      %-5s %s\n", x.Cloud, th.FormatCounts(x.Calls))
		fmt.Fprintf(&b, "burst API writes %-5s %s\n", x.Cloud, formatWrites(x.APIWrites))
	}
	return b.String()
}

// kubeQPS is keyless's --kube-api-qps in the run.
func kubeQPS(c config) float64 {
	if q, err := strconv.ParseFloat(c.KubeQPS, 64); err == nil && q > 0 {
		return q
	}
	return keylessconfig.Default().KubeAPIQPS
}

// mostOfOneKind is the largest count of writes to one resource: client-go
// gives each kind its own token bucket of --kube-api-qps.
func mostOfOneKind(writes map[string]int) int {
	byKind := map[string]int{}
	for k, v := range writes {
		byKind[strings.Fields(k)[0]] += v
	}
	return slices.Max(append(slices.Collect(maps.Values(byKind)), 0))
}

// percentile is the nearest-rank percentile p (0-100) of ds.
func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Sorted(slices.Values(ds))
	i := int(math.Ceil(float64(len(s))*p/100)) - 1
	return s[min(len(s)-1, max(0, i))]
}

func sumDur(ds []time.Duration) time.Duration {
	var t time.Duration
	for _, d := range ds {
		t += d
	}
	return t
}

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

func round(d time.Duration) time.Duration { return d.Round(10 * time.Millisecond) }

func ms(d time.Duration) string {
	return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', 1, 64)
}

// formatWrites prints writes as "configmaps POST 201=1000, ...", sorted.
func formatWrites(m map[string]int) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%s=%d", k, m[k]))
	}
	return strings.Join(parts, ", ")
}
