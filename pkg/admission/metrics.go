package admission

import (
	"strings"

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
	if (req.Kind.Group == "" && req.Kind.Kind == "ServiceAccount") || isWorkload(req.Kind.Group, req.Kind.Kind) {
		resource = strings.ToLower(req.Kind.Kind)
	}
	switch req.Operation {
	case "CREATE", "UPDATE", "DELETE", "CONNECT":
		operation = req.Operation
	}
	return resource, operation
}
