// Package monitoring holds the tests of Keyless's alerts and dashboard that
// need Prometheus's own rule and PromQL parsers. It is a module of its own,
// like hack/tools, so that github.com/prometheus/prometheus does not raise
// the versions of the libraries the keyless binary links (client_golang,
// prometheus/common and others); `make test` runs it.
package monitoring
