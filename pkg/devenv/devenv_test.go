package devenv

import (
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/keyless-dev/keyless/pkg/config"
)

func TestReadyURL(t *testing.T) {
	for _, tt := range []struct{ addr, want string }{
		{":8081", "http://127.0.0.1:8081/readyz"},
		{"0.0.0.0:8081", "http://127.0.0.1:8081/readyz"},
		{"[::]:8081", "http://127.0.0.1:8081/readyz"},
		{"127.0.0.5:9", "http://127.0.0.5:9/readyz"},
		{"[::1]:9", "http://[::1]:9/readyz"},
	} {
		if got := readyURL(tt.addr); got != tt.want {
			t.Errorf("readyURL(%q) = %q, want %q", tt.addr, got, tt.want)
		}
	}
}

// TestWebhookConfiguration: the registration is that of deploy/, and the
// copy for envtest has paths without their leading "/" (envtest adds one).
func TestWebhookConfiguration(t *testing.T) {
	wh, err := WebhookConfiguration()
	if err != nil {
		t.Fatal(err)
	}
	et, err := EnvtestWebhookConfiguration()
	if err != nil {
		t.Fatal(err)
	}
	if len(wh.Webhooks) == 0 || len(et.Webhooks) != len(wh.Webhooks) {
		t.Fatalf("%d webhooks, and %d for envtest", len(wh.Webhooks), len(et.Webhooks))
	}
	for i, w := range wh.Webhooks {
		s := w.ClientConfig.Service
		if s == nil || s.Path == nil || !strings.HasPrefix(*s.Path, "/") {
			t.Fatalf("webhook %s: service path %v, want one starting with /", w.Name, s)
		}
		if got := *et.Webhooks[i].ClientConfig.Service.Path; "/"+got != *s.Path {
			t.Errorf("webhook %s: envtest path %q, want %q without its leading /", w.Name, got, *s.Path)
		}
	}
}

func TestWaitPortFree(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	if err := waitPortFree(addr, 200*time.Millisecond); err == nil || !strings.Contains(err.Error(), addr+" is still in use") {
		t.Errorf("waitPortFree on a port in use = %v, want an error naming it", err)
	}
	time.AfterFunc(100*time.Millisecond, func() { _ = l.Close() })
	if err := waitPortFree(addr, 5*time.Second); err != nil {
		t.Errorf("waitPortFree once the port is freed = %v", err)
	}
}

func TestConflicts(t *testing.T) {
	base := config.Default()
	c := base
	c.Kubeconfig, c.CertName, c.ResyncPeriod, c.AWSEndpoint = "/k", "c.pem", time.Minute, "http://x"
	tests := []struct {
		names []string
		want  []string
	}{
		{EnvironmentFlags, []string{"cert-name", "kubeconfig"}}, // in the flags' order
		{SimulatorFlags(), []string{"aws-endpoint"}},
		{[]string{"resync-period", "workers"}, []string{"resync-period"}},
		{nil, nil},
	}
	for _, tt := range tests {
		if got := Conflicts(base, c, tt.names); !slices.Equal(got, tt.want) {
			t.Errorf("Conflicts(%v) = %v, want %v", tt.names, got, tt.want)
		}
	}
	if got := Conflicts(base, base, EnvironmentFlags); len(got) != 0 {
		t.Errorf("Conflicts of the defaults = %v, want none", got)
	}
}
