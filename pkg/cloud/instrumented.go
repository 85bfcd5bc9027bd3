package cloud

import (
	"context"
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
)

// Metrics, registered in controller-runtime's registry:
//
//	keyless_cloud_calls_total{cloud,operation,outcome}
//	    provider calls; operation is ensure or remove; outcome is the Action
//	    (Created, Updated, ...) or the error kind (conflict, not_found,
//	    cluster_not_found, permission, limit, not_enabled, invalid,
//	    throttled, transient).
//	keyless_cloud_call_duration_seconds{cloud,operation}
//	    time of a provider call, the waits for its HTTP requests' rate
//	    limit included.
var (
	callsTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "keyless_cloud_calls_total",
		Help: "Cloud provider calls by cloud, operation and outcome.",
	}, []string{"cloud", "operation", "outcome"})
	callDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "keyless_cloud_call_duration_seconds",
		Help:    "Duration of cloud provider calls by cloud and operation.",
		Buckets: prometheus.ExponentialBuckets(0.005, 2, 12),
	}, []string{"cloud", "operation"})
)

func init() {
	metrics.Registry.MustRegister(callsTotal, callDuration)
}

// Instrument wraps p so that every call is counted and timed. The
// requests-per-second limit is not applied here: one call sends several
// HTTP requests, so each provider's SDK client waits for it per request.
func Instrument(name Name, p Provider) Provider {
	return &instrumented{name: string(name), next: p}
}

type instrumented struct {
	name string
	next Provider
}

func (i *instrumented) Ensure(ctx context.Context, c Connection) (Result, error) {
	return i.call(ctx, "ensure", func(ctx context.Context) (Result, error) { return i.next.Ensure(ctx, c) })
}

func (i *instrumented) Remove(ctx context.Context, c Connection) (Result, error) {
	return i.call(ctx, "remove", func(ctx context.Context) (Result, error) { return i.next.Remove(ctx, c) })
}

func (i *instrumented) call(ctx context.Context, op string, fn func(context.Context) (Result, error)) (Result, error) {
	start := time.Now()
	r, err := fn(ctx)
	callDuration.WithLabelValues(i.name, op).Observe(time.Since(start).Seconds())
	callsTotal.WithLabelValues(i.name, op, Outcome(r, err)).Inc()
	return r, err
}

// Outcome names a call's result for metrics and status: the Action, or the
// kind of error.
func Outcome(r Result, err error) string {
	if err == nil {
		return string(r.Action)
	}
	for _, k := range []struct {
		err  error
		name string
	}{
		{ErrConflict, "conflict"}, {ErrNotFound, "not_found"}, {ErrClusterNotFound, "cluster_not_found"}, {ErrPermission, "permission"},
		{ErrLimit, "limit"}, {ErrNotEnabled, "not_enabled"}, {ErrInvalid, "invalid"}, {ErrThrottled, "throttled"},
	} {
		if errors.Is(err, k.err) {
			return k.name
		}
	}
	return "transient"
}
