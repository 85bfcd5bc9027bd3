package config

import (
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/spf13/pflag"
	"sigs.k8s.io/yaml"
)

// ConfigFlag names the config file flag.
const ConfigFlag = "config"

// BindFlags binds every configuration flag of fs to c; c's current values
// are the flags' defaults.
func BindFlags(fs *pflag.FlagSet, c *Config) {
	fs.StringVar(&c.Kubeconfig, "kubeconfig", c.Kubeconfig, "Path of a kubeconfig; empty means in-cluster or $KUBECONFIG.")
	fs.Float64Var(&c.KubeAPIQPS, "kube-api-qps", c.KubeAPIQPS, "Most requests per second Keyless sends to the Kubernetes API server.")
	fs.IntVar(&c.KubeAPIBurst, "kube-api-burst", c.KubeAPIBurst, "Burst of requests to the Kubernetes API server above --kube-api-qps.")
	fs.StringVar(&c.WebhookHost, "webhook-host", c.WebhookHost, "Address the webhook server listens on; empty means all.")
	fs.IntVar(&c.WebhookPort, "webhook-port", c.WebhookPort, "Port of the webhook server.")
	fs.StringVar(&c.CertDir, "cert-dir", c.CertDir, "Folder with the webhook's serving certificate (the cert-manager Secret), reloaded when it changes.")
	fs.StringVar(&c.CertName, "cert-name", c.CertName, "File name of the certificate in --cert-dir.")
	fs.StringVar(&c.KeyName, "key-name", c.KeyName, "File name of the private key in --cert-dir.")
	fs.StringVar(&c.TLSMinVersion, "tls-min-version", c.TLSMinVersion, "Lowest TLS version the webhook accepts: 1.2 or 1.3.")
	fs.BoolVar(&c.EnableHTTP2, "enable-http2", c.EnableHTTP2, "Serve the webhook and metrics over HTTP/2 too (off: guards against HTTP/2 rapid-reset attacks).")
	fs.StringVar(&c.MetricsAddr, "metrics-bind-address", c.MetricsAddr, "Address of the Prometheus metrics endpoint; \"0\" turns it off.")
	fs.BoolVar(&c.MetricsSecure, "metrics-secure", c.MetricsSecure,
		"Serve metrics over HTTPS, only to callers the API server authenticates and allows to get /metrics (TokenReview and SubjectAccessReview); false serves plain HTTP to anyone.")
	fs.StringVar(&c.HealthAddr, "health-probe-bind-address", c.HealthAddr, "Address of /healthz and /readyz; \"0\" turns them off.")
	fs.BoolVar(&c.LeaderElect, "leader-elect", c.LeaderElect, "Run the controller only on the elected leader; the webhook runs on every replica.")
	fs.StringVar(&c.LeaderElectionNamespace, "leader-election-namespace", c.LeaderElectionNamespace, "Namespace of the leader-election Lease; empty means the pod's own namespace.")
	fs.StringVar(&c.LeaderElectionID, "leader-election-id", c.LeaderElectionID, "Name of the leader-election Lease.")
	fs.DurationVar(&c.LeaseDuration, "leader-election-lease-duration", c.LeaseDuration, "How long a leader's lease lasts; a new leader takes over within it.")
	fs.StringVar(&c.LogLevel, "log-level", c.LogLevel, "Log level: error, info, debug, or a verbosity from 0 to 10.")
	fs.StringVar(&c.LogFormat, "log-format", c.LogFormat, "Log format: json or text.")
	fs.StringVar(&c.DefaultServiceAccount, "default-service-account", c.DefaultServiceAccount,
		"What to do with a connected workload that runs as \"default\": create (give it a ServiceAccount named after it) or deny.")
	fs.BoolVar(&c.GKENodeSelector, "gke-node-selector", c.GKENodeSelector,
		"Add the nodeSelector iam.gke.io/gke-metadata-server-enabled=true to workloads connected to GCP.")
	fs.StringVar(&c.AzureTenantID, "azure-tenant-id", c.AzureTenantID, "Azure tenant ID written as azure.workload.identity/tenant-id on ServiceAccounts connected to Azure.")
	fs.StringVar(&c.AzureResourceGroup, "azure-resource-group", c.AzureResourceGroup,
		"Default resource group of Azure identities given by name without keyless.dev/azure-resource-group.")

	fs.StringVar(&c.ClusterName, "cluster-name", c.ClusterName,
		"Name of this cluster: the EKS cluster name for AWS, and part of Azure credential names. Required for AWS and Azure.")
	fs.IntVar(&c.Workers, "workers", c.Workers, "How many ServiceAccounts the controller reconciles at once.")
	fs.DurationVar(&c.ResyncPeriod, "resync-period", c.ResyncPeriod, "Mean period of drift repair for each connection (jittered by 10%).")
	fs.BoolVar(&c.RestartWorkloads, "restart-workloads", c.RestartWorkloads,
		"Restart workloads when their AWS or Azure connection first becomes ready, so that their pods get credentials.")
	fs.StringVar(&c.CloudCredentials, "cloud-credentials", c.CloudCredentials,
		"default (each cloud's default credential chain) or anonymous (no credentials; for simulators and tests only).")
	fs.DurationVar(&c.CloudTimeout, "cloud-timeout", c.CloudTimeout,
		"Longest a cloud call may take: one connection's Ensure or Remove, each HTTP request in it included (at most 10m).")
	fs.StringVar(&c.AWSRegion, "aws-region", c.AWSRegion, "Region of the EKS cluster; setting it turns AWS on (with --cluster-name).")
	fs.StringVar(&c.AWSEndpoint, "aws-endpoint", c.AWSEndpoint, "EKS API endpoint URL instead of the SDK's (AWS_ENDPOINT_URL_EKS works too).")
	fs.Float64Var(&c.AWSQPS, "aws-qps", c.AWSQPS, "Most HTTP requests per second Keyless sends to the EKS API, each retry included.")
	fs.StringVar(&c.AWSAccountID, "aws-account-id", c.AWSAccountID,
		"The cluster's 12-digit AWS account: policy name patterns match role ARNs only in it (unset: no ARN matches a name pattern).")
	fs.StringVar(&c.AzureSubscriptionID, "azure-subscription-id", c.AzureSubscriptionID,
		"Subscription of the managed identities given by name; setting it turns Azure on (with --azure-oidc-issuer-url and --cluster-name).")
	fs.StringVar(&c.AzureOIDCIssuerURL, "azure-oidc-issuer-url", c.AzureOIDCIssuerURL,
		"The AKS cluster's OIDC issuer URL, exactly as `az aks show --query oidcIssuerProfile.issuerUrl` prints it (trailing slash included).")
	fs.StringVar(&c.AzureEndpoint, "azure-endpoint", c.AzureEndpoint, "Azure Resource Manager endpoint URL instead of the public cloud's.")
	fs.StringVar(&c.AzureAuthorityHost, "azure-authority-host", c.AzureAuthorityHost, "Microsoft Entra authority host instead of the public cloud's.")
	fs.Float64Var(&c.AzureQPS, "azure-qps", c.AzureQPS, "Most HTTP requests per second Keyless sends to Azure Resource Manager, each retry included (token requests to Entra are not counted).")
	fs.StringVar(&c.GCPWorkloadPool, "gcp-workload-pool", c.GCPWorkloadPool,
		"The cluster's Workload Identity pool, PROJECT.svc.id.goog; setting it turns GCP on.")
	fs.StringVar(&c.GCPEndpoint, "gcp-endpoint", c.GCPEndpoint, "IAM API endpoint URL instead of Google's.")
	fs.Float64Var(&c.GCPQPS, "gcp-qps", c.GCPQPS, "Most HTTP requests per second Keyless sends to the Google IAM API, each retry included (token requests are not counted).")
	fs.StringVar(&c.PolicyFile, "policy-file", c.PolicyFile,
		"ConnectionPolicy file, reloaded when it changes; empty or missing means the default policy (identities prefixed with the namespace's name).")
	fs.DurationVar(&c.PolicyReloadInterval, "policy-reload-interval", c.PolicyReloadInterval, "How often the policy file is checked for changes.")
	fs.StringVar(&c.PolicyConfigMap, "policy-configmap", c.PolicyConfigMap,
		"NAMESPACE/NAME of the ConfigMap the policy file is mounted from; Events about rejected policy versions are recorded on it.")
}

// Load returns the configuration from defaults, then the file named by
// --config (if any), then the flags set on the command line, which win.
// fs must have been bound with BindFlags to a Config of Default values and parsed.
func Load(fs *pflag.FlagSet, flagged Config) (Config, error) {
	return LoadOver(fs, flagged, Default())
}

// LoadOver is Load for a command whose flags were bound to defaults other
// than Default(), such as keyless-dev.
func LoadOver(fs *pflag.FlagSet, flagged, defaults Config) (Config, error) {
	path, _ := fs.GetString(ConfigFlag)
	if path == "" {
		return flagged, nil
	}
	c := defaults
	file := pflag.NewFlagSet("file", pflag.ContinueOnError)
	BindFlags(file, &c)
	if err := applyFile(file, path); err != nil {
		return Config{}, err
	}
	var errs []string
	fs.Visit(func(f *pflag.Flag) {
		if f.Name == ConfigFlag || file.Lookup(f.Name) == nil {
			return
		}
		if err := file.Set(f.Name, f.Value.String()); err != nil {
			errs = append(errs, fmt.Sprintf("--%s: %v", f.Name, err))
		}
	})
	if len(errs) > 0 {
		return Config{}, fmt.Errorf("applying flags over %s: %s", path, strings.Join(errs, "; "))
	}
	return c, nil
}

// applyFile sets the flags of fs from a YAML file whose keys are flag names.
func applyFile(fs *pflag.FlagSet, path string) error {
	raw, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("reading config file: %w", err)
	}
	var values map[string]any
	if err := yaml.Unmarshal(raw, &values); err != nil {
		return fmt.Errorf("config file %s is not valid YAML: %w", path, err)
	}
	keys := make([]string, 0, len(values))
	for k := range values {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var problems []string
	for _, k := range keys {
		if k == ConfigFlag || fs.Lookup(k) == nil {
			problems = append(problems, fmt.Sprintf("unknown key %q (keys are the flag names of `keyless serve`, e.g. webhook-port)", k))
			continue
		}
		v := values[k]
		switch v.(type) {
		case map[string]any, []any, nil:
			problems = append(problems, fmt.Sprintf("key %q must have a single value", k))
			continue
		}
		if err := fs.Set(k, fmt.Sprint(v)); err != nil {
			problems = append(problems, fmt.Sprintf("key %q: %v", k, err))
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("config file %s: %s", path, strings.Join(problems, "; "))
	}
	return nil
}
