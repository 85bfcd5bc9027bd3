package controller

import (
	"context"
	"testing"
	"time"

	"github.com/keyless-dev/keyless/pkg/annotations"
	"github.com/keyless-dev/keyless/pkg/cloud"
	"github.com/keyless-dev/keyless/pkg/record"
)

// TestSyncRecordFollowsDeletionPolicy: turning keyless.dev/deletion-policy
// to retain, or back, updates the record of the object already made.
func TestSyncRecordFollowsDeletionPolicy(t *testing.T) {
	tests := []struct {
		name       string
		retainNow  bool
		recorded   bool
		wantRetain bool
	}{
		{name: "retain added", retainNow: true, wantRetain: true},
		{name: "retain removed", recorded: true},
		{name: "retain kept", retainNow: true, recorded: true, wantRetain: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			annots := kv(annotations.KeyGCPServiceAccount, gsaA)
			if tt.retainNow {
				annots[annotations.KeyDeletionPolicy] = "retain"
			}
			f := newSyncFixture(t, allClouds, serviceAccount(annots, annotations.Finalizer))
			e := &record.Entry{Cloud: string(cloud.GCP), Namespace: testNS, ServiceAccount: testSA, Identity: gsaA,
				ID: objectID(gsaAConn), Retain: tt.recorded, Since: syncNow.Add(-time.Hour)}
			if err := f.s.Records.Put(context.Background(), e); err != nil {
				t.Fatal(err)
			}
			if _, err := f.sync(); err != nil {
				t.Fatalf("Sync: %v", err)
			}
			got := f.records(cloud.GCP)
			if len(got) != 1 || got[0].Retain != tt.wantRetain {
				t.Errorf("records %+v, want one with Retain %t", got, tt.wantRetain)
			}
		})
	}
}
