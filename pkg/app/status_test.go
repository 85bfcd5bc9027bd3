package app

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/keyless-dev/keyless/pkg/annotations"
	"github.com/keyless-dev/keyless/pkg/record"
)

// fakeCluster replaces the cluster connection of `keyless status` for one
// test; the current context's namespace is "shop".
func fakeCluster(t *testing.T, sas ...corev1.ServiceAccount) *[]string {
	t.Helper()
	var asked []string
	saved := newStatusLister
	t.Cleanup(func() { newStatusLister = saved })
	newStatusLister = func(string, string) (statusLister, string, error) {
		return func(_ context.Context, namespace string) ([]corev1.ServiceAccount, []record.Entry, error) {
			asked = append(asked, namespace)
			var out []corev1.ServiceAccount
			for _, sa := range sas {
				if namespace == "" || sa.Namespace == namespace {
					out = append(out, sa)
				}
			}
			return out, nil, nil
		}, "shop", nil
	}
	return &asked
}

func TestStatus(t *testing.T) {
	synced := time.Now().Add(-2 * time.Minute).UTC().Truncate(time.Second)
	asked := fakeCluster(t,
		corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "orders-api", Annotations: map[string]string{
			annotations.KeyAWSRole:   "shop-orders",
			annotations.KeyStatusAWS: `{"state":"Ready","reason":"Created","identity":"shop-orders","id":"a-1","lastSync":"` + synced.Format(time.RFC3339) + `"}`,
		}}},
		corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: "billing", Name: "report", Annotations: map[string]string{
			annotations.KeyGCPServiceAccount: "billing-report@billing-project.iam.gserviceaccount.com",
		}}},
	)

	code, out, errOut := run(t, "status")
	if code != 0 || !strings.Contains(out, "shop        orders-api       AWS     shop-orders   Ready   2m          Created") ||
		strings.Contains(out, "billing") {
		t.Errorf("status in the current namespace: exit %d\n%s%s", code, out, errOut)
	}

	code, out, _ = run(t, "status", "-A", "-o", "json")
	var rows []struct{ Namespace, State string }
	if err := json.Unmarshal([]byte(out), &rows); code != 0 || err != nil || len(rows) != 2 ||
		rows[0].Namespace != "billing" || rows[0].State != "Pending" {
		t.Errorf("status -A -o json: exit %d, %v\n%s", code, err, out)
	}

	code, out, errOut = run(t, "status", "-n", "empty")
	if code != 0 || out != "" || !strings.Contains(errOut, "No ServiceAccounts with keyless.dev connections in namespace empty.") {
		t.Errorf("status -n empty: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	if got := strings.Join(*asked, ","); got != "shop,,empty" {
		t.Errorf("listed namespaces %q, want shop, all, empty", got)
	}

	for _, args := range [][]string{{"-A", "-n", "shop"}, {"-o", "yaml"}, {"extra"}} {
		if code, _, _ := run(t, append([]string{"status"}, args...)...); code != 2 {
			t.Errorf("status %v: exit %d, want 2", args, code)
		}
	}
}
