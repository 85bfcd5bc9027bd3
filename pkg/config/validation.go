package config

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/keyless-dev/keyless/pkg/annotations"
)

func flag(name string) *field.Path { return field.NewPath("--" + name) }

// Validate returns every problem of c at once, each naming its flag.
func Validate(c *Config) field.ErrorList {
	var errs field.ErrorList
	if c.KubeAPIQPS <= 0 || c.KubeAPIBurst < 1 {
		errs = append(errs, field.Invalid(flag("kube-api-qps"), fmt.Sprintf("%v/%d", c.KubeAPIQPS, c.KubeAPIBurst),
			"--kube-api-qps must be more than 0 and --kube-api-burst at least 1, e.g. 50 and 100"))
	}
	if c.WebhookPort < 1 || c.WebhookPort > 65535 {
		errs = append(errs, field.Invalid(flag("webhook-port"), c.WebhookPort, "must be a port number from 1 to 65535"))
	}
	if c.CertDir == "" {
		errs = append(errs, field.Required(flag("cert-dir"), "name the folder that holds the webhook's tls.crt and tls.key"))
	}
	if c.TLSMinVersion != "1.2" && c.TLSMinVersion != "1.3" {
		errs = append(errs, field.NotSupported(flag("tls-min-version"), c.TLSMinVersion, []string{"1.2", "1.3"}))
	}
	errs = append(errs, validAddr("metrics-bind-address", c.MetricsAddr)...)
	errs = append(errs, validAddr("health-probe-bind-address", c.HealthAddr)...)
	if c.LeaderElectionNamespace != "" {
		for _, msg := range validation.IsDNS1123Label(c.LeaderElectionNamespace) {
			errs = append(errs, field.Invalid(flag("leader-election-namespace"), c.LeaderElectionNamespace, msg))
		}
	}
	for _, msg := range validation.IsDNS1123Subdomain(c.LeaderElectionID) {
		errs = append(errs, field.Invalid(flag("leader-election-id"), c.LeaderElectionID, msg))
	}
	if c.LeaseDuration < 2*time.Second {
		errs = append(errs, field.Invalid(flag("leader-election-lease-duration"), c.LeaseDuration.String(), "must be at least 2s, e.g. 15s"))
	}
	if _, err := Verbosity(c.LogLevel); err != nil {
		errs = append(errs, field.Invalid(flag("log-level"), c.LogLevel, err.Error()))
	}
	if c.LogFormat != "json" && c.LogFormat != "text" {
		errs = append(errs, field.NotSupported(flag("log-format"), c.LogFormat, []string{"json", "text"}))
	}
	if c.DefaultServiceAccount != "create" && c.DefaultServiceAccount != "deny" {
		errs = append(errs, field.NotSupported(flag("default-service-account"), c.DefaultServiceAccount, []string{"create", "deny"}))
	}
	if c.AzureTenantID != "" && !annotations.IsGUID(c.AzureTenantID) {
		errs = append(errs, field.Invalid(flag("azure-tenant-id"), c.AzureTenantID,
			"must be a GUID such as 00000000-0000-0000-0000-000000000000 (az account show --query tenantId)"))
	}
	if c.AzureResourceGroup != "" {
		if p := annotations.ResourceGroupProblem(c.AzureResourceGroup); p != "" {
			errs = append(errs, field.Invalid(flag("azure-resource-group"), c.AzureResourceGroup, p))
		}
	}
	if c.PolicyReloadInterval < 100*time.Millisecond {
		errs = append(errs, field.Invalid(flag("policy-reload-interval"), c.PolicyReloadInterval.String(), "must be at least 100ms, e.g. 2s"))
	}
	if c.PolicyConfigMap != "" {
		ns, name, ok := strings.Cut(c.PolicyConfigMap, "/")
		if !ok || len(validation.IsDNS1123Label(ns)) > 0 || len(validation.IsDNS1123Subdomain(name)) > 0 {
			errs = append(errs, field.Invalid(flag("policy-configmap"), c.PolicyConfigMap, "must be NAMESPACE/NAME, e.g. keyless-system/keyless-policy"))
		}
	}
	return append(errs, validateClouds(c)...)
}

func validateClouds(c *Config) field.ErrorList {
	var errs field.ErrorList
	if c.Workers < 1 || c.Workers > 100 {
		errs = append(errs, field.Invalid(flag("workers"), c.Workers, "must be from 1 to 100, e.g. 4"))
	}
	if c.ResyncPeriod < time.Second {
		errs = append(errs, field.Invalid(flag("resync-period"), c.ResyncPeriod.String(), "must be at least 1s; 10m suits most clusters"))
	}
	if c.CloudCredentials != "default" && c.CloudCredentials != "anonymous" {
		errs = append(errs, field.NotSupported(flag("cloud-credentials"), c.CloudCredentials, []string{"default", "anonymous"}))
	}
	if c.CloudTimeout <= 0 || c.CloudTimeout > MaxCloudTimeout {
		errs = append(errs, field.Invalid(flag("cloud-timeout"), c.CloudTimeout.String(), "must be more than 0 and at most 10m, e.g. 30s"))
	}
	for _, q := range []struct {
		name string
		v    float64
	}{{"aws-qps", c.AWSQPS}, {"azure-qps", c.AzureQPS}, {"gcp-qps", c.GCPQPS}} {
		if q.v <= 0 {
			errs = append(errs, field.Invalid(flag(q.name), q.v, "must be more than 0, e.g. 5"))
		}
	}
	for _, e := range []struct{ name, v string }{
		{"aws-endpoint", c.AWSEndpoint}, {"azure-endpoint", c.AzureEndpoint},
		{"azure-authority-host", c.AzureAuthorityHost}, {"gcp-endpoint", c.GCPEndpoint},
	} {
		if e.v == "" {
			continue
		}
		if u, err := url.Parse(e.v); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, field.Invalid(flag(e.name), e.v, "must be a URL such as https://host:port"))
		}
	}
	if c.ClusterName != "" {
		for _, msg := range validation.IsDNS1123Subdomain(strings.ToLower(c.ClusterName)) {
			errs = append(errs, field.Invalid(flag("cluster-name"), c.ClusterName, msg))
		}
	}
	if c.AWSAccountID != "" && !annotations.IsAWSAccountID(c.AWSAccountID) {
		errs = append(errs, field.Invalid(flag("aws-account-id"), c.AWSAccountID,
			"must be the cluster's 12-digit AWS account ID (aws sts get-caller-identity --query Account)"))
	}
	if c.AWSRegion != "" && c.ClusterName == "" {
		errs = append(errs, field.Required(flag("cluster-name"), "AWS is on (--aws-region): give the EKS cluster's name"))
	}
	if c.AzureSubscriptionID != "" || c.AzureOIDCIssuerURL != "" {
		if !annotations.IsGUID(c.AzureSubscriptionID) {
			errs = append(errs, field.Invalid(flag("azure-subscription-id"), c.AzureSubscriptionID,
				"Azure is on: give the subscription ID, a GUID (az account show --query id)"))
		}
		errs = append(errs, validateIssuer(c.AzureOIDCIssuerURL)...)
		if c.ClusterName == "" {
			errs = append(errs, field.Required(flag("cluster-name"), "Azure is on: name the cluster; it keeps credential names unique"))
		}
	}
	if c.GCPWorkloadPool != "" {
		project, ok := strings.CutSuffix(c.GCPWorkloadPool, ".svc.id.goog")
		if !ok || project == "" {
			errs = append(errs, field.Invalid(flag("gcp-workload-pool"), c.GCPWorkloadPool,
				"must be PROJECT.svc.id.goog, e.g. my-project.svc.id.goog"))
		}
	}
	return errs
}

func validateIssuer(issuer string) field.ErrorList {
	p := flag("azure-oidc-issuer-url")
	if issuer == "" {
		return field.ErrorList{field.Required(p, "Azure is on: give the AKS OIDC issuer URL (az aks show --query oidcIssuerProfile.issuerUrl)")}
	}
	u, err := url.Parse(issuer)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return field.ErrorList{field.Invalid(p, issuer, "must be an https URL, exactly as the cluster issues it")}
	}
	if !strings.HasSuffix(issuer, "/") {
		return field.ErrorList{field.Invalid(p, issuer,
			"AKS issuer URLs end with \"/\" and Azure compares them exactly; copy it from az aks show, slash included")}
	}
	return nil
}

// Host is what validation needs to know about where Keyless runs.
type Host struct {
	// InCluster is true in a pod, where controller-runtime finds the
	// leader-election namespace by itself.
	InCluster bool
}

// CurrentHost describes the machine this process runs on.
func CurrentHost() Host {
	_, err := os.Stat("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
	return Host{InCluster: err == nil}
}

// ValidateServe returns every problem that stops `keyless serve` from
// starting with c on h: those of Validate, a leader-election namespace
// missing outside a cluster, and serving certificate files that cannot be read.
func ValidateServe(c *Config, h Host) field.ErrorList {
	errs := Validate(c)
	if c.LeaderElect && c.LeaderElectionNamespace == "" && !h.InCluster {
		errs = append(errs, field.Required(flag("leader-election-namespace"),
			"outside a cluster, name the namespace of the leader-election Lease (or --leader-elect=false)"))
	}
	if c.CertDir != "" { // else Validate says it is required
		errs = append(errs, ValidateCertFiles(c)...)
	}
	return errs
}

// ValidateCertFiles checks that the serving certificate is where the webhook
// will look for it.
func ValidateCertFiles(c *Config) field.ErrorList {
	var errs field.ErrorList
	for _, f := range []struct{ flag, name string }{{"cert-name", c.CertName}, {"key-name", c.KeyName}} {
		p := filepath.Join(c.CertDir, f.name)
		if _, err := os.Stat(p); err != nil {
			errs = append(errs, field.Invalid(flag(f.flag), f.name, fmt.Sprintf(
				"%s cannot be read (%v); mount the webhook certificate Secret at --cert-dir (%s) or fix --%s",
				p, err, c.CertDir, f.flag)))
		}
	}
	return errs
}

func validAddr(name, addr string) field.ErrorList {
	if addr == "0" {
		return nil
	}
	_, port, err := net.SplitHostPort(addr)
	if err == nil {
		var n int
		n, err = strconv.Atoi(port)
		if err == nil && (n < 0 || n > 65535) {
			err = fmt.Errorf("port %d is out of range", n)
		}
	}
	if err != nil {
		return field.ErrorList{field.Invalid(flag(name), addr, "must be HOST:PORT such as :8080 or 127.0.0.1:8080, or \"0\" to turn it off")}
	}
	return nil
}

// Verbosity maps a log level to a logr verbosity.
func Verbosity(level string) (int, error) {
	switch level {
	case "error":
		return -2, nil
	case "info":
		return 0, nil
	case "debug":
		return 1, nil
	}
	n, err := strconv.Atoi(level)
	if err != nil || n < 0 || n > 10 {
		return 0, fmt.Errorf("must be error, info, debug or a number from 0 to 10")
	}
	return n, nil
}
