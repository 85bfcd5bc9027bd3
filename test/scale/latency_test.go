package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	hundred := make([]time.Duration, 100)
	for i := range hundred {
		hundred[i] = time.Duration(100-i) * time.Millisecond // 100 ms down to 1 ms
	}
	tests := []struct {
		name string
		ds   []time.Duration
		p    float64
		want time.Duration
	}{
		{"empty", nil, 50, 0},
		{"one", []time.Duration{7}, 99, 7},
		{"p50 of 100", hundred, 50, 50 * time.Millisecond},
		{"p90 of 100", hundred, 90, 90 * time.Millisecond},
		{"p99 of 100", hundred, 99, 99 * time.Millisecond},
		{"max of 100", hundred, 100, 100 * time.Millisecond},
		{"p0 is the least", hundred, 0, time.Millisecond},
		{"p50 of 3 rounds up", []time.Duration{3, 1, 2}, 50, 2},
		{"p90 of 3", []time.Duration{3, 1, 2}, 90, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := percentile(tt.ds, tt.p); got != tt.want {
				t.Errorf("percentile(%v) = %v, want %v", tt.p, got, tt.want)
			}
		})
	}
}

func TestParseText(t *testing.T) {
	text := `# HELP workqueue_queue_duration_seconds How long in seconds an item stays in workqueue.
# TYPE workqueue_queue_duration_seconds histogram
workqueue_queue_duration_seconds_sum{controller="cloud-aws",name="cloud-aws"} 0.25
workqueue_queue_duration_seconds_count{controller="cloud-aws",name="cloud-aws"} 10
workqueue_queue_duration_seconds_sum{controller="cloud-gcp",name="cloud-gcp"} 1.5
apiserver_request_total{code="201",resource="configmaps",verb="POST"} 7
apiserver_request_total{code="409",resource="configmaps",verb="POST"} 2
apiserver_request_total{code="200",resource="serviceaccounts",verb="PATCH"} 4 1700000000000
odd{msg="a \"quoted\", comma\\n"} 3
up 1
broken{name="x" 5
not_a_number 1x
`
	s := parseText(text)
	tests := []struct {
		name  string
		match map[string]string
		want  float64
	}{
		{"workqueue_queue_duration_seconds_sum", map[string]string{"name": "cloud-aws"}, 0.25},
		{"workqueue_queue_duration_seconds_count", map[string]string{"name": "cloud-aws"}, 10},
		{"workqueue_queue_duration_seconds_sum", nil, 1.75},
		{"apiserver_request_total", map[string]string{"resource": "configmaps", "verb": "POST"}, 9},
		{"apiserver_request_total", map[string]string{"resource": "serviceaccounts", "verb": "PATCH"}, 4},
		{"apiserver_request_total", map[string]string{"resource": "secrets"}, 0},
		{"odd", map[string]string{"msg": "a \"quoted\", comma\\n"}, 3},
		{"up", nil, 1},
		{"broken", nil, 0},
		{"not_a_number", nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := s.sum(tt.name, tt.match); got != tt.want {
				t.Errorf("sum(%s, %v) = %v, want %v", tt.name, tt.match, got, tt.want)
			}
		})
	}
}

// TestLatencyRuns checks only that the latency mode runs end to end: a few
// tries, a small burst, no goal checked.
func TestLatencyRuns(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a control plane and builds keyless")
	}
	assets := os.Getenv("KUBEBUILDER_ASSETS")
	if assets == "" {
		assets = filepath.Join("..", "..", "bin", "control-plane")
	}
	if _, err := os.Stat(filepath.Join(assets, "kube-apiserver")); err != nil {
		t.Skipf("no control plane in %s", assets)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := run(ctx, config{Mode: "latency", Tries: 3, Burst: 20, QPS: 50, Workers: 8, Latency: 5 * time.Millisecond,
		Resync: time.Hour, Timeout: time.Minute, Logf: t.Logf})
	t.Log("\n" + out)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"one new connection on an idle system", "a burst of 20"} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in the output", want)
		}
	}
}
