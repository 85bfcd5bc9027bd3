package controller

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/keyless-dev/keyless/pkg/annotations"
	"github.com/keyless-dev/keyless/pkg/cloud"
	"github.com/keyless-dev/keyless/pkg/record"
)

// TestSyncRetiresEveryOldIdentity: every identity on record other than the
// wanted one is removed, wherever the wanted one is in the records.
func TestSyncRetiresEveryOldIdentity(t *testing.T) {
	const (
		gsaC = "carts-api@my-project.iam.gserviceaccount.com"
		gsaD = "docs-api@my-project.iam.gserviceaccount.com"
	)
	all := []string{gsaA, gsaB, gsaC, gsaD}
	for _, wanted := range all {
		t.Run(wanted, func(t *testing.T) {
			f := newSyncFixture(t, allClouds, serviceAccount(kv(annotations.KeyGCPServiceAccount, wanted), annotations.Finalizer))
			for _, id := range all {
				e := &record.Entry{Cloud: string(cloud.GCP), Namespace: testNS, ServiceAccount: testSA, Identity: id,
					ID: id + " serviceAccount:proj.svc.id.goog[shop/orders]", Since: syncNow.Add(-time.Hour)}
				if err := f.s.Records.Put(context.Background(), e); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := f.sync(); err != nil {
				t.Fatalf("Sync: %v", err)
			}
			var removed []string
			for _, c := range f.provs[cloud.GCP].Calls() {
				if c.Op == "Remove" {
					removed = append(removed, c.Conn.GCP.Email)
				}
			}
			slices.Sort(removed)
			want := slices.DeleteFunc(slices.Clone(all), func(s string) bool { return s == wanted })
			slices.Sort(want)
			if !slices.Equal(removed, want) {
				t.Errorf("removed %q, want %q", removed, want)
			}
			if got := f.recorded(cloud.GCP); !slices.Equal(got, []string{wanted}) {
				t.Errorf("on record %q, want only %q", got, wanted)
			}
		})
	}
}
