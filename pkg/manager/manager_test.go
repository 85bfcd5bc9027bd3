package manager

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime/pprof"
	"strings"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/keyless-dev/keyless/pkg/annotations"
	"github.com/keyless-dev/keyless/pkg/config"
	"github.com/keyless-dev/keyless/pkg/policy"
)

// TestPolicyReloadResyncsOnTheLeaderOnly reloads the policy on a follower
// (another holds the Lease) and on a leader. A follower runs no controller
// to read the resync channels: a resync there would block for ever holding
// a copy of every ServiceAccount, once per reload.
func TestPolicyReloadResyncsOnTheLeaderOnly(t *testing.T) {
	tests := []struct {
		name       string
		leader     bool
		wantResync bool
	}{
		{"follower", false, false},
		{"leader", true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			needControlPlane(t)
			ctx := context.Background()
			sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: leaseName(t),
				Annotations: map[string]string{annotations.KeyAWSRole: "orders-api"}}}
			if err := k8s.Create(ctx, sa); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = k8s.Delete(ctx, sa) })
			if !tt.leader {
				now := metav1.NewMicroTime(time.Now())
				lease := &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: leaseName(t)},
					Spec: coordinationv1.LeaseSpec{HolderIdentity: ptr.To("another-replica"), LeaseDurationSeconds: ptr.To(int32(3600)),
						AcquireTime: &now, RenewTime: &now}}
				if err := k8s.Create(ctx, lease); err != nil {
					t.Fatal(err)
				}
			}
			mgr, policyFile := startManager(t, nil)
			if tt.leader {
				select {
				case <-mgr.Elected():
				case <-time.After(30 * time.Second):
					t.Fatal("not elected")
				}
			}
			loaded := gather(t, "keyless_policy_reloads_total", `result="loaded"`)
			adds := gather(t, "workqueue_adds_total", `name="cloud-aws"`)
			for i, doc := range []string{string(policy.DefaultYAML), allowAll, string(policy.DefaultYAML)} {
				writePolicy(t, policyFile, doc)
				eventually(t, 10*time.Second, func() error {
					if got := gather(t, "keyless_policy_reloads_total", `result="loaded"`) - loaded; got < float64(i+1) {
						return fmt.Errorf("%v reloads, want %d", got, i+1)
					}
					return nil
				})
			}
			// Time for a resync to list and send (or block).
			time.Sleep(time.Second)
			select {
			case <-mgr.Elected():
				if !tt.leader {
					t.Fatal("the follower was elected; the test proves nothing")
				}
			default:
			}
			if n := blockedResyncs(t); n > 0 {
				t.Errorf("%d resyncs are left running after the reloads, want none", n)
			}
			resynced := gather(t, "workqueue_adds_total", `name="cloud-aws"`) > adds
			if resynced != tt.wantResync {
				t.Errorf("ServiceAccounts queued again after the reloads: %v, want %v", resynced, tt.wantResync)
			}
		})
	}
}

// TestMissingPolicyFileIsReported removes the policy file, as a renamed or
// dropped ConfigMap key does, and expects an Event on the ConfigMap.
func TestMissingPolicyFileIsReported(t *testing.T) {
	_, policyFile := startManager(t, func(c *config.Config) { c.LeaderElect = false })
	if err := os.Remove(policyFile); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, func() error {
		list := &eventsv1.EventList{}
		if err := k8s.List(context.Background(), list, client.InNamespace("default")); err != nil {
			return err
		}
		for _, e := range list.Items {
			if e.Reason == "PolicyMissing" && e.Regarding.Kind == "ConfigMap" && e.Regarding.Name == "keyless-policy" &&
				strings.Contains(e.Note, "last good policy stays in force") {
				return nil
			}
		}
		return fmt.Errorf("no PolicyMissing event on ConfigMap default/keyless-policy among %d events", len(list.Items))
	})
}

// TestMetricsNeedAuthentication reads /metrics as nobody, as a
// ServiceAccount without RBAC, and as one allowed to get /metrics; and
// without --metrics-secure, as nobody over plain HTTP.
func TestMetricsNeedAuthentication(t *testing.T) {
	needControlPlane(t)
	ctx := context.Background()
	ns := "default"
	scraper, stranger := leaseName(t)+"-scraper", leaseName(t)+"-stranger"
	for _, name := range []string{scraper, stranger} {
		sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
		if err := k8s.Create(ctx, sa); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = k8s.Delete(ctx, sa) })
	}
	role := &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: scraper},
		Rules: []rbacv1.PolicyRule{{NonResourceURLs: []string{"/metrics"}, Verbs: []string{"get"}}}}
	binding := &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: scraper},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: scraper},
		Subjects: []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: ns, Name: scraper}}}
	for _, o := range []client.Object{role, binding} {
		if err := k8s.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = k8s.Delete(ctx, o) })
	}
	token := func(name string) string {
		tr, err := clientset.CoreV1().ServiceAccounts(ns).CreateToken(ctx, name, &authenticationv1.TokenRequest{}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return tr.Status.Token
	}

	tests := []struct {
		name     string
		secure   bool
		scheme   string
		token    string
		wantCode int
	}{
		{"no token", true, "https", "", http.StatusUnauthorized},
		// The TokenReview of a token it cannot parse carries an error, which
		// controller-runtime's filter answers with a 500.
		{"a token the API server does not know", true, "https", "not-a-token", http.StatusInternalServerError},
		{"a ServiceAccount not allowed to get /metrics", true, "https", token(stranger), http.StatusForbidden},
		{"a ServiceAccount allowed to get /metrics", true, "https", token(scraper), http.StatusOK},
		{"plain HTTP to a secure endpoint", true, "http", "", http.StatusBadRequest},
		{"--metrics-secure=false: anyone over HTTP", false, "http", "", http.StatusOK},
	}
	// The certificate is self-signed.
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} //nolint:gosec // a self-signed test endpoint
	addrs := map[bool]string{}
	for _, secure := range []bool{true, false} {
		addrs[secure] = freeAddr(t).String()
		startManager(t, func(c *config.Config) {
			c.LeaderElect, c.MetricsAddr, c.MetricsSecure = false, addrs[secure], secure
		})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodGet, tt.scheme+"://"+addrs[tt.secure]+"/metrics", nil)
			if err != nil {
				t.Fatal(err)
			}
			if tt.token != "" {
				req.Header.Set("Authorization", "Bearer "+tt.token)
			}
			var resp *http.Response
			eventually(t, 10*time.Second, func() error {
				resp, err = hc.Do(req) //nolint:bodyclose // closed below
				return err
			})
			defer func() { _ = resp.Body.Close() }()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.wantCode {
				t.Fatalf("GET /metrics = %d, want %d: %.200s", resp.StatusCode, tt.wantCode, body)
			}
			if tt.wantCode == http.StatusOK && !bytes.Contains(body, []byte("keyless_")) {
				t.Errorf("the metrics lack Keyless's: %.500s", body)
			}
			if tt.wantCode != http.StatusOK && bytes.Contains(body, []byte("keyless_")) {
				t.Errorf("a refused request got metrics: %.500s", body)
			}
		})
	}
}

// blockedResyncs counts the goroutines running resyncAll.
func blockedResyncs(t *testing.T) int {
	t.Helper()
	var buf bytes.Buffer
	if err := pprof.Lookup("goroutine").WriteTo(&buf, 2); err != nil {
		t.Fatal(err)
	}
	return strings.Count(buf.String(), "manager.resyncAll(")
}

// gather sums the values of metric name whose labels include want
// (`key="value"`) in controller-runtime's registry.
func gather(t *testing.T, name, want string) float64 {
	t.Helper()
	families, err := metrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	k, v, _ := strings.Cut(want, "=")
	v = strings.Trim(v, `"`)
	sum := 0.0
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == k && l.GetValue() == v {
					sum += m.GetCounter().GetValue()
				}
			}
		}
	}
	return sum
}
