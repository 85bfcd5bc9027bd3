// Package config holds the one configuration of `keyless serve`: named
// defaults, the flags bound to it in one place, an optional config file
// whose keys are the flag names, and validation that reports every problem
// at once by flag name.
package config

import (
	"strings"
	"time"
)

// Config is the whole configuration.
type Config struct {
	// Kubeconfig is the path of a kubeconfig; empty means in-cluster or $KUBECONFIG.
	Kubeconfig string
	// KubeAPIQPS and KubeAPIBurst bound Keyless's requests to the API server.
	KubeAPIQPS   float64
	KubeAPIBurst int

	WebhookHost string
	WebhookPort int
	CertDir     string
	CertName    string
	KeyName     string
	// TLSMinVersion is "1.2" or "1.3".
	TLSMinVersion string
	EnableHTTP2   bool

	MetricsAddr string
	// MetricsSecure serves metrics over HTTPS, to callers the API server
	// authenticates and allows to get /metrics.
	MetricsSecure bool
	HealthAddr    string

	LeaderElect             bool
	LeaderElectionNamespace string
	LeaderElectionID        string
	LeaseDuration           time.Duration

	// LogLevel is "error", "info", "debug" or a verbosity number 0-10.
	LogLevel  string
	LogFormat string

	// DefaultServiceAccount is "create" (give a connected workload its own
	// ServiceAccount) or "deny" (refuse one that runs as "default").
	DefaultServiceAccount string
	GKENodeSelector       bool

	AzureTenantID      string
	AzureResourceGroup string

	// ClusterName names this cluster in the clouds: the EKS cluster, the
	// tag on AWS associations, and part of Azure credential names.
	ClusterName string
	// Workers is how many ServiceAccounts the controller reconciles at once.
	Workers int
	// ResyncPeriod is the mean period of drift repair (jittered ±10%).
	ResyncPeriod time.Duration
	// RestartWorkloads restarts workloads whose pods predate a connection
	// that just became ready (AWS and Azure inject credentials at pod creation).
	RestartWorkloads bool
	// CloudCredentials is "default" (each cloud's default chain) or
	// "anonymous" (no credentials, for simulators and tests).
	CloudCredentials string
	// CloudTimeout bounds each cloud call: one connection's Ensure or
	// Remove, each HTTP request in it included.
	CloudTimeout time.Duration

	AWSRegion   string
	AWSEndpoint string
	AWSQPS      float64
	// AWSAccountID is the cluster's 12-digit AWS account: policy name
	// patterns match role ARNs in it, and a bare role name means a role in it.
	AWSAccountID string

	AzureSubscriptionID string
	AzureOIDCIssuerURL  string
	AzureEndpoint       string
	AzureAuthorityHost  string
	AzureQPS            float64

	GCPWorkloadPool string
	GCPEndpoint     string
	GCPQPS          float64

	// PolicyFile is the ConnectionPolicy; empty or missing means the
	// default policy (identities prefixed with their namespace's name).
	PolicyFile string
	// PolicyReloadInterval is how often the file is checked for changes.
	PolicyReloadInterval time.Duration
	// PolicyConfigMap, "namespace/name", is the ConfigMap the policy file
	// comes from; Events about rejected versions are recorded on it.
	PolicyConfigMap string
}

// Default values.
const (
	DefaultWebhookPort      = 9443
	DefaultCertDir          = "/tmp/k8s-webhook-server/serving-certs"
	DefaultMetricsAddr      = ":8443"
	DefaultHealthAddr       = ":8081"
	DefaultLeaderElectionID = "keyless.keyless.dev"
	DefaultLeaseDuration    = 15 * time.Second
	// DefaultCloudTimeout and MaxCloudTimeout are --cloud-timeout's default and bound.
	DefaultCloudTimeout = 30 * time.Second
	MaxCloudTimeout     = 10 * time.Minute
)

// Default returns the configuration used when nothing is set.
func Default() Config {
	return Config{
		KubeAPIQPS:            50,
		KubeAPIBurst:          100,
		WebhookPort:           DefaultWebhookPort,
		CertDir:               DefaultCertDir,
		CertName:              "tls.crt",
		KeyName:               "tls.key",
		TLSMinVersion:         "1.2",
		MetricsAddr:           DefaultMetricsAddr,
		MetricsSecure:         true,
		HealthAddr:            DefaultHealthAddr,
		LeaderElect:           true,
		LeaderElectionID:      DefaultLeaderElectionID,
		LeaseDuration:         DefaultLeaseDuration,
		LogLevel:              "info",
		LogFormat:             "json",
		DefaultServiceAccount: "create",
		GKENodeSelector:       true,
		ResyncPeriod:          10 * time.Minute,
		Workers:               4,
		RestartWorkloads:      true,
		CloudCredentials:      "default",
		CloudTimeout:          DefaultCloudTimeout,
		AWSQPS:                5,
		AzureQPS:              5,
		GCPQPS:                5,
		PolicyReloadInterval:  2 * time.Second,
	}
}

// GCPProject is the project of the Workload Identity pool
// (PROJECT.svc.id.goog), "" without one.
func (c *Config) GCPProject() string {
	project, ok := strings.CutSuffix(c.GCPWorkloadPool, ".svc.id.goog")
	if !ok {
		return ""
	}
	return project
}
