package record

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
)

const ns = "keyless-system"

func newStore(objs ...client.Object) *Store {
	c := fake.NewClientBuilder().WithScheme(clientgoscheme.Scheme).WithObjects(objs...).
		WithIndex(&corev1.ConfigMap{}, IndexSubject, IndexValue).Build()
	return &Store{Client: c, Namespace: ns}
}

func TestName(t *testing.T) {
	long := strings.Repeat("x", 253) // the longest ServiceAccount name
	tests := []struct {
		name string
		a, b [4]string
		same bool
	}{
		{"same inputs", [4]string{"aws", "shop", "orders", "orders-api"}, [4]string{"aws", "shop", "orders", "orders-api"}, true},
		{"another identity", [4]string{"aws", "shop", "orders", "orders-api"}, [4]string{"aws", "shop", "orders", "payments"}, false},
		{"another cloud", [4]string{"aws", "shop", "orders", "x"}, [4]string{"gcp", "shop", "orders", "x"}, false},
		// Without a separator, "shop"+"-orders" and "shop-"+"orders" would collide.
		{"names that run together", [4]string{"aws", "shop", "-orders", "x"}, [4]string{"aws", "shop-", "orders", "x"}, false},
		{"a long ServiceAccount name", [4]string{"gcp", "shop", long, "x"}, [4]string{"gcp", "shop", long + "y", "x"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b := Name(tt.a[0], tt.a[1], tt.a[2], tt.a[3]), Name(tt.b[0], tt.b[1], tt.b[2], tt.b[3])
			if (a == b) != tt.same {
				t.Errorf("Name %q vs %q: same = %t, want %t", a, b, a == b, tt.same)
			}
			for _, n := range []string{a, b} {
				if errs := validation.IsDNS1123Subdomain(n); len(errs) > 0 {
					t.Errorf("%q is not a valid ConfigMap name: %v", n, errs)
				}
			}
		})
	}
}

func TestStore(t *testing.T) {
	ctx := context.Background()
	s := newStore(
		// Not records: never listed.
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "keyless-policy"}},
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "forged",
			Labels: map[string]string{LabelRecord: LabelValue, LabelCloud: "aws"}},
			Data: map[string]string{keyNamespace: "shop", keyServiceAccount: "orders"}},
	)
	e := &Entry{Cloud: "aws", Namespace: "shop", ServiceAccount: "orders", UID: "u1", Identity: "orders-api"}
	if err := s.Put(ctx, e); err != nil {
		t.Fatal(err)
	}
	// A second writer (a retry after a lost answer) knows no version yet.
	again := &Entry{Cloud: "aws", Namespace: "shop", ServiceAccount: "orders", UID: "u1", Identity: "orders-api", ID: "a-1", Retain: true}
	if err := s.Put(ctx, again); err != nil {
		t.Fatalf("Put of an existing record: %v", err)
	}
	other := &Entry{Cloud: "gcp", Namespace: "shop", ServiceAccount: "orders", Identity: "x@p.iam.gserviceaccount.com", Adopted: true}
	if err := s.Put(ctx, other); err != nil {
		t.Fatal(err)
	}

	got, err := s.For(ctx, "aws", "shop", "orders")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].ID != "a-1" || !got[0].Retain || got[0].UID != "u1" || got[0].Since.IsZero() {
		t.Fatalf("For = %+v, want the one updated aws record", got)
	}
	// The read version can be updated in place.
	got[0].Retained = true
	if err := s.Put(ctx, &got[0]); err != nil {
		t.Fatalf("Put of a read record: %v", err)
	}
	all, err := s.All(ctx, "")
	if err != nil || len(all) != 2 {
		t.Fatalf("All = %+v, %v; want 2 records (the forged one in another namespace is not one)", all, err)
	}
	onlyGCP, _ := s.All(ctx, "gcp")
	if len(onlyGCP) != 1 || !onlyGCP[0].Adopted {
		t.Errorf("All(gcp) = %+v", onlyGCP)
	}
	if err := s.Delete(ctx, got[0]); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, got[0]); err != nil {
		t.Errorf("deleting a deleted record: %v", err)
	}
	if left, _ := s.For(ctx, "aws", "shop", "orders"); len(left) != 0 {
		t.Errorf("For after Delete = %+v", left)
	}
}
