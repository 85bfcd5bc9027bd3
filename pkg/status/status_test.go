package status_test

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/keyless-dev/keyless/pkg/annotations"
	"github.com/keyless-dev/keyless/pkg/record"
	"github.com/keyless-dev/keyless/pkg/status"

	"github.com/keyless-dev/keyless/pkg/internal/golden"
)

var now = time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)

// encode writes a status the way the controller does.
func encode(t *testing.T, s annotations.Status) string {
	t.Helper()
	raw, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	return string(raw)
}

func serviceAccount(ns, name string, kv ...string) corev1.ServiceAccount {
	sa := corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	if len(kv) > 0 {
		sa.Annotations = map[string]string{}
		for i := 0; i+1 < len(kv); i += 2 {
			sa.Annotations[kv[i]] = kv[i+1]
		}
	}
	return sa
}

// fixture covers every state, the order of rows, and ServiceAccounts
// without rows. It is deliberately out of order.
func fixture(t *testing.T) []corev1.ServiceAccount {
	return []corev1.ServiceAccount{
		serviceAccount("shop", "plain"),
		serviceAccount("shop", "orders-api",
			annotations.KeyGCPServiceAccount, "shop-orders@shop-project.iam.gserviceaccount.com",
			annotations.KeyStatusGCP, encode(t, annotations.Status{State: annotations.StateReady, Reason: "Created",
				Identity: "shop-orders@shop-project.iam.gserviceaccount.com",
				ID:       "shop-orders@shop-project.iam.gserviceaccount.com serviceAccount:shop-project.svc.id.goog[shop/orders-api]",
				LastSync: now.Add(-5 * 24 * time.Hour)}),
			annotations.KeyAWSRole, "shop-orders",
			annotations.KeyStatusAWS, encode(t, annotations.Status{State: annotations.StateReady, Reason: "Created",
				Identity: "shop-orders", ID: "a-0123456789abcdef0", LastSync: now.Add(-2 * time.Minute)}),
			annotations.KeyAzureIdentity, "shop-orders", annotations.KeyAzureResourceGroup, "shop-identities",
			annotations.KeyStatusAzure, encode(t, annotations.Status{State: annotations.StatePending, Reason: "Throttled",
				Identity: "shop-identities/shop-orders", Message: "Azure asked to slow down;\nretrying in 30s",
				LastSync: now.Add(-45 * time.Second)}),
		),
		serviceAccount("billing", "report",
			annotations.KeyGCPServiceAccount, "billing-report@billing-project.iam.gserviceaccount.com"),
		serviceAccount("billing", "invoices",
			annotations.KeyAzureIdentity, "/subscriptions/00000000-0000-0000-0000-00000000000a/resourceGroups/billing-rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/billing-invoices",
			annotations.KeyStatusAzure, encode(t, annotations.Status{State: annotations.StateError, Reason: "NotFound",
				Identity: "/subscriptions/00000000-0000-0000-0000-00000000000a/resourceGroups/billing-rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/billing-invoices",
				Message:  "managed identity billing-invoices not found in resource group billing-rg",
				LastSync: now.Add(-3 * time.Hour)}),
			annotations.KeyAWSRole, "billing-invoices",
			annotations.KeyStatusAWS, encode(t, annotations.Status{State: annotations.StateDisabled,
				Identity: "billing-invoices", Message: "AWS is not configured in Keyless (--aws-region, --cluster-name)",
				LastSync: now.Add(-90 * time.Second)}),
		),
		// The connection is gone; the status stays until the cloud object is removed.
		serviceAccount("billing", "old",
			annotations.KeyStatusGCP, encode(t, annotations.Status{State: annotations.StatePending, Reason: "Removing",
				Identity: "billing-old@billing-project.iam.gserviceaccount.com", LastSync: now.Add(-10 * time.Minute)})),
		serviceAccount("billing", "mangled", annotations.KeyAWSRole, "billing-x", annotations.KeyStatusAWS, "{not json"),
	}
}

func TestGolden(t *testing.T) {
	rows := status.Rows(fixture(t), nil)
	var table, js bytes.Buffer
	if err := status.WriteTable(&table, rows, now); err != nil {
		t.Fatal(err)
	}
	if err := status.WriteJSON(&js, rows); err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "table.txt", table.Bytes())
	golden.Check(t, "rows.json", js.Bytes())

	var back []status.Row
	if err := json.Unmarshal(js.Bytes(), &back); err != nil || len(back) != len(rows) {
		t.Fatalf("the JSON does not read back: %v", err)
	}
	for i := range rows {
		if !back[i].LastSync.Equal(rows[i].LastSync) || back[i].State != rows[i].State {
			t.Errorf("row %d reads back as %+v, want %+v", i, back[i], rows[i])
		}
	}
}

// A retained object stays visible, even after its ServiceAccount is gone:
// a tenant cannot hide a grant from the cluster's records.
func TestRetainedObjectsAreListed(t *testing.T) {
	records := []record.Entry{
		{Cloud: "gcp", Namespace: "shop", ServiceAccount: "gone", Identity: "shop-x@p.iam.gserviceaccount.com", ID: "m", Retained: true},
		{Cloud: "aws", Namespace: "shop", ServiceAccount: "orders", Identity: "shop-orders", ID: "a-1"}, // live: its status shows it
	}
	rows := status.Rows([]corev1.ServiceAccount{serviceAccount("shop", "orders", annotations.KeyAWSRole, "shop-orders")}, records)
	if len(rows) != 2 {
		t.Fatalf("rows %+v, want the connection and the retained object", rows)
	}
	if r := rows[0]; r.ServiceAccount != "gone" || r.State != status.StateRetained || r.Cloud != "gcp" || r.ID != "m" {
		t.Errorf("first row %+v, want the retained GCP member of shop/gone", r)
	}
	if r := rows[1]; r.ServiceAccount != "orders" || r.State == status.StateRetained {
		t.Errorf("second row %+v, want the live connection of shop/orders", r)
	}
}

func TestEmpty(t *testing.T) {
	rows := status.Rows([]corev1.ServiceAccount{serviceAccount("shop", "plain", "other/key", "x")}, nil)
	var js bytes.Buffer
	if err := status.WriteJSON(&js, rows); err != nil {
		t.Fatal(err)
	}
	if js.String() != "[]\n" {
		t.Errorf("JSON of no rows = %q, want []", js.String())
	}
}

func TestAge(t *testing.T) {
	for _, tt := range []struct {
		ago  time.Duration
		want string
	}{
		{45 * time.Second, "45s"},
		{2 * time.Minute, "2m"},
		{3 * time.Hour, "3h"},
		{5 * 24 * time.Hour, "5d"},
		{150 * time.Second, "2m"},
		{3*time.Hour + 59*time.Minute, "3h"},
	} {
		if got := status.Age(now.Add(-tt.ago), now); got != tt.want {
			t.Errorf("Age(%s ago) = %q, want %q", tt.ago, got, tt.want)
		}
	}
	if got := status.Age(time.Time{}, now); got != "<none>" {
		t.Errorf("Age(zero) = %q", got)
	}
}
