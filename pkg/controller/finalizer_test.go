package controller

import (
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
