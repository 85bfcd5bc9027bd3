package controller

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/keyless-dev/keyless/pkg/annotations"
	"github.com/keyless-dev/keyless/pkg/cloud"
)

// TestSyncFinalizerWhileCloudObjectsRemain: a ServiceAccount without our
// finalizer gets it while it has connections or cloud objects still to
// remove, and not once nothing is left.
func TestSyncFinalizerWhileCloudObjectsRemain(t *testing.T) {
	gcpStatus := readyStatus(gsaAConn, gsaA, time.Hour)
	tests := []struct {
		name          string
		annots        map[string]string
		remove        func(cloud.Connection) (cloud.Result, error)
		wantFinalizer bool
	}{
		{name: "a connection", annots: kv(annotations.KeyGCPServiceAccount, gsaA), wantFinalizer: true},
		{name: "no connection, a removal that fails", annots: kv(annotations.KeyStatusGCP, gcpStatus),
			remove: answer(cloud.Result{}, errTransient), wantFinalizer: true},
		{name: "no connection, the removal done", annots: kv(annotations.KeyStatusGCP, gcpStatus)},
		{name: "nothing at all", annots: kv("example.com/team", "shop")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newSyncFixture(t, allClouds, serviceAccount(tt.annots))
			f.provs[cloud.GCP].remove = tt.remove
			_, _ = f.sync()
			if sa := f.sa(); hasFinalizer(sa) != tt.wantFinalizer {
				t.Errorf("finalizers %v, want ours: %t", sa.Finalizers, tt.wantFinalizer)
			}
		})
	}
}

// TestFinalizerWaitsForEveryConnectedCloud: a ServiceAccount connected to
// two clouds, with no status and no record on either (a crash before the
// first status write, on a version that kept no records), is deleted. The
// first cloud's syncer to finalize must not remove the finalizer while the
// other cloud's syncer has not removed that cloud's object: once the
// ServiceAccount is gone, nothing names the object any more.
func TestFinalizerWaitsForEveryConnectedCloud(t *testing.T) {
	f := newSyncFixture(t, allClouds, serviceAccount(
		kv(annotations.KeyAWSRole, roleA, annotations.KeyGCPServiceAccount, gsaA), annotations.Finalizer))
	f.deleteSA()
	for i, c := range []cloud.Name{cloud.AWS, cloud.GCP} {
		one := *f.s
		one.Cloud = c
		sa := f.sa()
		if sa == nil {
			t.Fatalf("the ServiceAccount is gone before the %s syncer finalized", c)
		}
		if _, err := one.Sync(context.Background(), sa); err != nil {
			t.Fatalf("%s: %v", c, err)
		}
		if last := i == 1; !last {
			if sa := f.sa(); sa == nil || !hasFinalizer(sa) {
				t.Fatalf("the %s syncer removed the finalizer while GCP's object may remain", c)
			}
		}
	}
	if sa := f.sa(); sa != nil {
		t.Errorf("the ServiceAccount is still there with finalizers %v", sa.Finalizers)
	}
	if got := f.provs[cloud.GCP].ops(); !slices.Contains(got, "Remove "+gsaA) {
		t.Errorf("GCP calls %v, want the removal of %s", got, gsaA)
	}
}
