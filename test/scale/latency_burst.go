package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// burstResult is one cloud's burst of new connections.
type burstResult struct {
	Cloud    string
	N        int
	Created  time.Duration // first create call → last create's return
	AllReady time.Duration // first create call → last Ready seen
	Settled  time.Duration // first create call → keyless idle again
	Each     []time.Duration
	Calls    map[string]int
	// APIWrites counts keyless's writes by "resource verb code".
	APIWrites map[string]int
	Metrics   phaseMetrics
}

func (r *latencyRun) apiMetrics(ctx context.Context) (scrape, error) {
	raw, err := r.api.RESTClient().Get().AbsPath("/metrics").DoRaw(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading the API server's metrics: %w", err)
	}
	return parseText(string(raw)), nil
}

// writeKinds are the writes of a first sync: its record (a ConfigMap
// created, then updated with the cloud object's ID) and the
// ServiceAccount's status (a patch). The harness itself only creates
// ServiceAccounts.
var writeKinds = []struct{ resource, verb string }{{"configmaps", "POST"}, {"configmaps", "PUT"}, {"serviceaccounts", "PATCH"}}

// writes counts those writes by "resource verb code", from the API
// server's apiserver_request_total.
func writes(s scrape) map[string]float64 {
	out := map[string]float64{}
	for _, x := range s {
		if x.name != "apiserver_request_total" || x.labels["subresource"] != "" {
			continue
		}
		for _, k := range writeKinds {
			if x.labels["resource"] == k.resource && x.labels["verb"] == k.verb {
				out[k.resource+" "+k.verb+" "+x.labels["code"]] += x.value
			}
		}
	}
	return out
}

// settle waits until keyless's workqueues are empty and no reconcile is in
// progress, twice in a row 50 ms apart, so that the next try or burst
// starts on an idle system and the work queued after a Ready (an Azure
// connection's second reconcile) counts where it belongs.
func (r *latencyRun) settle(ctx context.Context) error {
	deadline := time.Now().Add(2 * time.Minute)
	quiet := 0
	for quiet < 2 {
		m, err := scrapeURL(ctx, r.metrics)
		if err != nil {
			return err
		}
		if m.sum("workqueue_depth", nil) == 0 && m.sum("workqueue_unfinished_work_seconds", nil) == 0 {
			quiet++
		} else {
			quiet = 0
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("keyless still busy 2m after the last Ready")
		}
		time.Sleep(50 * time.Millisecond)
	}
	return nil
}

// writesSince counts keyless's writes since the API server's metrics were before.
func (r *latencyRun) writesSince(ctx context.Context, before scrape) (map[string]int, error) {
	after, err := r.apiMetrics(ctx)
	if err != nil {
		return nil, err
	}
	out := map[string]int{}
	w0 := writes(before)
	for k, v := range writes(after) {
		if d := int(v - w0[k]); d > 0 {
			out[k] = d
		}
	}
	return out, nil
}

func (r *latencyRun) burst(ctx context.Context, cloud string, nss []string, ids identities) (*burstResult, error) {
	n := r.c.Burst
	calls := r.h.callsByCloud()[cloud]
	km, err := scrapeURL(ctx, r.metrics)
	if err != nil {
		return nil, err
	}
	am, err := r.apiMetrics(ctx)
	if err != nil {
		return nil, err
	}
	res := &burstResult{Cloud: cloud, N: n, Each: make([]time.Duration, n)}
	created := make([]time.Time, n)
	var mu sync.Mutex
	var last time.Time
	name := func(i int) (string, string) { return nss[i%len(nss)], fmt.Sprintf("%s-%04d", cloud, i) }
	start := time.Now()
	err = parallel(ctx, n, burstClients, func(i int) error {
		ns, nm := name(i)
		err := r.h.K8s.Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: nm,
			Annotations: ids.annotationsFor("burst", cloud, i)}})
		if err == nil || apierrors.IsAlreadyExists(err) {
			now := time.Now()
			created[i] = now
			mu.Lock()
			if now.After(last) {
				last = now
			}
			mu.Unlock()
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	res.Created = last.Sub(start)
	deadline := start.Add(r.c.Timeout)
	for i := range n {
		ns, nm := name(i)
		at, err := r.watch.wait(ctx, cloud, ns, nm, time.Until(deadline))
		if err != nil {
			return nil, err
		}
		res.AllReady = max(res.AllReady, at.seen.Sub(start))
		res.Each[i] = at.seen.Sub(created[i])
	}
	if err := r.settle(ctx); err != nil {
		return nil, err
	}
	res.Settled = time.Since(start)
	res.Calls = map[string]int{}
	for op, v := range r.h.callsByCloud()[cloud] {
		if d := v - calls[op]; d > 0 {
			res.Calls[op] = d
		}
	}
	if res.APIWrites, err = r.writesSince(ctx, am); err != nil {
		return nil, err
	}
	res.Metrics, err = r.phaseMetrics(ctx, cloud, km)
	return res, err
}
