package admission

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
)

// Metrics, registered in controller-runtime's registry:
//
//	keyless_admission_requests_total{resource,operation,outcome}
//	    admission reviews answered; outcome is allowed (no change), mutated,
//	    denied (a user mistake), error (Keyless could not decide) or invalid
//	    (the body was not an AdmissionReview; resource is "unknown").
//	    resource is the lower-case kind of a handled object ("deployment",
//	    "serviceaccount", ...) and operation the admission operation; any
//	    other value a request carries counts as "other", so that whoever can
//	    reach the webhook cannot make series without bound.
//	keyless_admission_duration_seconds{resource}
//	    time from reading the request to writing the response.
var (
	requestsTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "keyless_admission_requests_total",
		Help: "Admission reviews answered, by resource, operation and outcome.",
	}, []string{"resource", "operation", "outcome"})
	duration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "keyless_admission_duration_seconds",
		Help:    "Time to answer an admission review, by resource.",
		Buckets: []float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1},
	}, []string{"resource"})
)

func init() {
	metrics.Registry.MustRegister(requestsTotal, duration)
}

const (
	outcomeAllowed = "allowed"
	outcomeMutated = "mutated"
	outcomeDenied  = "denied"
	outcomeError   = "error"
	outcomeInvalid = "invalid"
)

// metricLabels returns the resource and operation labels of a request,
// bounded to the values Keyless handles.
func metricLabels(req *request) (resource, operation string) {
	resource, operation = "other", "other"
	if r, ok := resources[req.Kind.Group+"/"+req.Kind.Kind]; ok {
		resource = r
	}
	switch req.Operation {
	case "CREATE", "UPDATE", "DELETE", "CONNECT":
		operation = req.Operation
	}
	return resource, operation
}

// resources maps the group/kind of the objects Keyless handles to the
// resource label; anything else is "other", so that labels stay bounded.
var resources = map[string]string{
	"/ServiceAccount": "serviceaccount", "apps/Deployment": "deployment", "apps/StatefulSet": "statefulset",
	"apps/DaemonSet": "daemonset", "batch/Job": "job", "batch/CronJob": "cronjob",
}

// observe counts and times one answered review. The metric children are
// looked up once per label set and kept, since the set is small and fixed.
func observe(resource, operation, outcome string, seconds float64) {
	k := childKey{resource, operation, outcome}
	c, ok := children.Load(k)
	if !ok {
		c, _ = children.LoadOrStore(k, &child{
			requests: requestsTotal.WithLabelValues(resource, operation, outcome),
			duration: duration.WithLabelValues(resource),
		})
	}
	ch := c.(*child)
	ch.requests.Inc()
	ch.duration.Observe(seconds)
}

type childKey struct{ resource, operation, outcome string }

type child struct {
	requests prometheus.Counter
	duration prometheus.Observer
}

var children sync.Map
