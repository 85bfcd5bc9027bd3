package controller

import (
	"slices"
	"testing"
	"time"

	"github.com/keyless-dev/keyless/pkg/annotations"
	"github.com/keyless-dev/keyless/pkg/cloud"
)

// TestSyncNoResyncPeriod: without a resync period nothing is requeued,
// whichever clouds are connected.
func TestSyncNoResyncPeriod(t *testing.T) {
	for _, annots := range []map[string]string{
		kv(annotations.KeyAzureIdentity, azA),
		kv(annotations.KeyGCPServiceAccount, gsaA),
		kv(annotations.KeyAWSRole, roleA),
	} {
		f := newSyncFixture(t, allClouds, serviceAccount(annots))
		f.s.Resync = 0
		res, err := f.sync()
		if err != nil {
			t.Fatalf("Sync: %v", err)
		}
		if res.RequeueAfter != 0 {
			t.Errorf("%v: RequeueAfter = %v, want none", annots, res.RequeueAfter)
		}
	}
}

// TestSyncAWSRoleChangeRecords: an AWS association is updated in place, so
// the old role's record goes and the new one's stays.
func TestSyncAWSRoleChangeRecords(t *testing.T) {
	roleBRole := annotations.AWSRole{Partition: "aws", Account: "123456789012", Path: "/", Name: "payments"}
	f := newSyncFixture(t, allClouds, serviceAccount(kv(annotations.KeyAWSRole, roleB,
		annotations.KeyStatusAWS, readyStatus(awsConn(roleARole), roleA, time.Hour)), annotations.Finalizer))
	f.provs[cloud.AWS].ensure = answer(cloud.Result{Action: cloud.Updated, ID: objectID(awsConn(roleARole))}, nil)
	if _, err := f.sync(); err != nil {
		t.Fatalf("Sync: %v", err)
	}
	if got, want := f.recorded(cloud.AWS), []string{roleBRole.String()}; !slices.Equal(got, want) {
		t.Errorf("on record %q, want %q", got, want)
	}
}

// TestSyncRequeuesAfterLastRemoval: the sync that removes the last cloud
// object and the finalizer still schedules the next check.
func TestSyncRequeuesAfterLastRemoval(t *testing.T) {
	f := newSyncFixture(t, allClouds, serviceAccount(kv(annotations.KeyStatusGCP,
		readyStatus(gsaAConn, gsaA, time.Hour)), annotations.Finalizer))
	res, err := f.sync()
	if err != nil {
		t.Fatalf("Sync: %v", err)
	}
	if sa := f.sa(); hasFinalizer(sa) {
		t.Fatalf("finalizer kept: %v", sa.Finalizers)
	}
	checkRequeue(t, res.RequeueAfter)
}
