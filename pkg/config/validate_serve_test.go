package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestValidateServe: what stops `keyless serve` from starting is reported
// all at once, each problem with its flag, what is wrong and how to fix it.
func TestValidateServe(t *testing.T) {
	certs := t.TempDir()
	for _, f := range []string{"tls.crt", "tls.key"} {
		if err := os.WriteFile(filepath.Join(certs, f), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	empty := t.TempDir()
	tests := []struct {
		name string
		edit func(*Config)
		host Host
		// want are the problems, each as the parts its message must have.
		want [][]string
	}{
		{"in a pod, with the certificate", func(c *Config) { c.CertDir = certs }, Host{InCluster: true}, nil},
		{"outside a cluster, with the Lease's namespace", func(c *Config) { c.CertDir, c.LeaderElectionNamespace = certs, "kube-system" }, Host{}, nil},
		{"outside a cluster, without leader election", func(c *Config) { c.CertDir, c.LeaderElect = certs, false }, Host{}, nil},
		{"outside a cluster, no Lease namespace", func(c *Config) { c.CertDir = certs }, Host{},
			[][]string{{"--leader-election-namespace: Required value", "outside a cluster", "name the namespace", "or --leader-elect=false"}}},
		{"no certificate", func(c *Config) { c.CertDir = empty }, Host{InCluster: true}, [][]string{
			{"--cert-name", filepath.Join(empty, "tls.crt") + " cannot be read", "mount the webhook certificate Secret at --cert-dir", "or fix --cert-name"},
			{"--key-name", filepath.Join(empty, "tls.key") + " cannot be read", "or fix --key-name"},
		}},
		{"a certificate file misnamed", func(c *Config) { c.CertDir, c.KeyName = certs, "key.pem" }, Host{InCluster: true},
			[][]string{{`--key-name: Invalid value: "key.pem"`, filepath.Join(certs, "key.pem") + " cannot be read", "or fix --key-name"}}},
		{"no --cert-dir: one problem, not three", func(c *Config) { c.CertDir = "" }, Host{InCluster: true},
			[][]string{{"--cert-dir: Required value", "name the folder that holds the webhook's tls.crt and tls.key"}}},
		{"every problem at once", func(c *Config) { c.CertDir, c.Workers = empty, 0 }, Host{}, [][]string{
			{"--workers: Invalid value: 0", "must be from 1 to 100"},
			{"--leader-election-namespace: Required value"},
			{"--cert-name"}, {"--key-name"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Default()
			tt.edit(&c)
			errs := ValidateServe(&c, tt.host)
			if len(errs) != len(tt.want) {
				t.Fatalf("ValidateServe =%s\nwant %d problems", errsText(errs), len(tt.want))
			}
			for i, parts := range tt.want {
				for _, p := range parts {
					if !strings.Contains(errs[i].Error(), p) {
						t.Errorf("problem %d = %q, lacks %q", i, errs[i].Error(), p)
					}
				}
			}
		})
	}
}
