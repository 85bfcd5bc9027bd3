package manager

import (
	"crypto/tls"

	"sigs.k8s.io/controller-runtime/pkg/metrics/filters"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/keyless-dev/keyless/pkg/config"
)

// metricsOptions serve metrics over HTTPS, with a self-signed certificate,
// to callers that the API server authenticates (TokenReview) and allows to
// get /metrics (SubjectAccessReview); with --metrics-secure=false, over
// plain HTTP to anyone. The metric names, labels and values tell which
// clouds, how many connections and which policy rules are in use.
func metricsOptions(c config.Config, tlsOpts []func(*tls.Config)) metricsserver.Options {
	o := metricsserver.Options{BindAddress: c.MetricsAddr, TLSOpts: tlsOpts}
	if c.MetricsSecure {
		o.SecureServing = true
		o.FilterProvider = filters.WithAuthenticationAndAuthorization
	}
	return o
}
