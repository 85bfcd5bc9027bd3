package controller

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/keyless-dev/keyless/pkg/annotations"
	"github.com/keyless-dev/keyless/pkg/cloud"
	"github.com/keyless-dev/keyless/pkg/record"
)

const testUID = "0b6c2a4e-uid"

// putRecords puts a GCP record of testNS/testSA for each identity and
// returns the identities in the order the store lists them.
func putRecords(t *testing.T, f *syncFixture, identities ...string) []string {
	t.Helper()
	for _, id := range identities {
		e := &record.Entry{Cloud: string(cloud.GCP), Namespace: testNS, ServiceAccount: testSA, UID: testUID, Identity: id}
		if err := f.s.Records.Put(context.Background(), e); err != nil {
			t.Fatal(err)
		}
	}
	var out []string
	for _, e := range f.records(cloud.GCP) {
		out = append(out, e.Identity)
	}
	return out
}

// TestSyncSkipsOnlyWithinHalfAPeriod: a Ready status synced from zero up to
// (not including) half a period ago is kept without a cloud call.
func TestSyncSkipsOnlyWithinHalfAPeriod(t *testing.T) {
	tests := []struct {
		name       string
		age        time.Duration
		wantEnsure bool
	}{
		{name: "synced this instant", age: 0},
		{name: "just under half a period ago", age: syncResync/2 - time.Nanosecond},
		{name: "exactly half a period ago", age: syncResync / 2, wantEnsure: true},
		{name: "in the future", age: -time.Nanosecond, wantEnsure: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newSyncFixture(t, allClouds, serviceAccount(kv(annotations.KeyGCPServiceAccount, gsaA,
				annotations.KeyStatusGCP, readyStatus(gsaAConn, gsaA, tt.age)), annotations.Finalizer))
			if _, err := f.sync(); err != nil {
				t.Fatalf("Sync: %v", err)
			}
			if got := len(f.provs[cloud.GCP].Calls()) > 0; got != tt.wantEnsure {
				t.Errorf("cloud called: %t, want %t (%v)", got, tt.wantEnsure, f.provs[cloud.GCP].ops())
			}
		})
	}
}

// TestResyncInHalfAPeriodAway: the identity's next moment is taken when it
// is half a period away or more, the one after when it is nearer.
func TestResyncInHalfAPeriodAway(t *testing.T) {
	conns, errs := annotations.Parse(kv(annotations.KeyGCPServiceAccount, gsaA), syncOpts)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	r := syncResync
	start := time.Unix(0, syncNow.UnixNano()-syncNow.UnixNano()%int64(r)) // a moment that is 0 in the period
	at := start
	s := &CloudSyncer{Cloud: cloud.GCP, Resync: r, Now: func() time.Time { return at }}
	phase := s.resyncIn(conns) % r
	tests := []struct {
		name string
		away time.Duration // from now to the identity's next moment
		want time.Duration
	}{
		{name: "exactly half a period away", away: r / 2, want: r / 2},
		{name: "just under half a period away", away: r/2 - time.Nanosecond, want: r + r/2 - time.Nanosecond},
		{name: "just over half a period away", away: r/2 + time.Nanosecond, want: r/2 + time.Nanosecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			at = start.Add((phase - tt.away + r) % r)
			if got := s.resyncIn(conns); got != tt.want {
				t.Errorf("resyncIn = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestSyncPutsOlderStatusOnRecord: a status without a record is put on
// record, with the ServiceAccount's UID, when it may name an object: it has
// an ID, or it is Ready. The removal fails here, so the record stays.
func TestSyncPutsOlderStatusOnRecord(t *testing.T) {
	tests := []struct {
		name       string
		status     Status
		wantRecord bool
	}{
		{name: "ready, no ID", status: Status{State: StateReady, Identity: gsaA}, wantRecord: true},
		{name: "pending with an ID", status: Status{State: StatePending, Identity: gsaA, ID: "x"}, wantRecord: true},
		{name: "pending, no ID", status: Status{State: StatePending, Identity: gsaA}},
		{name: "error, no ID", status: Status{State: StateError, Identity: gsaA}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sa := serviceAccount(kv(annotations.KeyStatusGCP, statusValue(tt.status)), annotations.Finalizer)
			sa.UID = testUID
			f := newSyncFixture(t, allClouds, sa)
			f.provs[cloud.GCP].remove = answer(cloud.Result{}, errTransient)
			_, _ = f.sync()
			recs := f.records(cloud.GCP)
			if got := len(recs) > 0; got != tt.wantRecord {
				t.Fatalf("on record: %t, want %t", got, tt.wantRecord)
			}
			if tt.wantRecord && recs[0].UID != testUID {
				t.Errorf("record's UID %q, want %q", recs[0].UID, testUID)
			}
		})
	}
}

// TestSyncFindsItsRecordAfterOthers: the wanted identity's record is found
// behind another identity's, so an Adopted answer to a later Ensure is no
// adoption.
func TestSyncFindsItsRecordAfterOthers(t *testing.T) {
	f := newSyncFixture(t, allClouds)
	order := putRecords(t, f, gsaA, gsaB)
	want := order[len(order)-1]
	sa := serviceAccount(kv(annotations.KeyGCPServiceAccount, want), annotations.Finalizer)
	sa.UID = testUID
	if err := f.c.Create(context.Background(), sa); err != nil {
		t.Fatal(err)
	}
	f.provs[cloud.GCP].ensure = answer(cloud.Result{Action: cloud.Adopted, ID: "obj"}, nil)
	if _, err := f.sync(); err != nil {
		t.Fatalf("Sync: %v", err)
	}
	st := cloudStatus(t, f.sa(), cloud.GCP)
	if st == nil || st.Adopted || st.Reason != string(cloud.Unchanged) {
		t.Errorf("status %+v, want Ready, not adopted, %s", st, cloud.Unchanged)
	}
	if n := countEvents(f.events(), "Normal "+ReasonCloudAdopted); n != 0 {
		t.Errorf("%d adoption events, want none", n)
	}
}

// TestRetireTakesTheIDOfItsOwnStatus: a record without an ID is removed
// with the ID of the status of the same identity, and only of that one; a
// record's own ID comes first.
func TestRetireTakesTheIDOfItsOwnStatus(t *testing.T) {
	statusID := objectID(gsaAConn)
	tests := []struct {
		name     string
		recordID string
		want     map[string]string // identity: KnownID of its Remove
	}{
		{name: "records without IDs", want: map[string]string{gsaA: statusID, gsaB: ""}},
		{name: "a record with its own ID", recordID: "recorded-id", want: map[string]string{gsaA: "recorded-id", gsaB: ""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newSyncFixture(t, allClouds, serviceAccount(kv(annotations.KeyStatusGCP,
				readyStatus(gsaAConn, gsaA, time.Hour)), annotations.Finalizer))
			putRecords(t, f, gsaB)
			e := &record.Entry{Cloud: string(cloud.GCP), Namespace: testNS, ServiceAccount: testSA, Identity: gsaA, ID: tt.recordID}
			if err := f.s.Records.Put(context.Background(), e); err != nil {
				t.Fatal(err)
			}
			if _, err := f.sync(); err != nil {
				t.Fatalf("Sync: %v", err)
			}
			got := map[string]string{}
			for _, c := range f.provs[cloud.GCP].Calls() {
				if c.Op == "Remove" {
					got[connIdentity(c.Conn)] = c.Conn.KnownID
				}
			}
			if len(got) != len(tt.want) {
				t.Fatalf("removed %v, want %v", got, tt.want)
			}
			for id, known := range tt.want {
				if got[id] != known {
					t.Errorf("Remove of %s with KnownID %q, want %q", id, got[id], known)
				}
			}
		})
	}
}

// TestRetireGoesOnAfterAnUnconfiguredCloud: a record that cannot be removed
// because its cloud is off stays on record; the records after it are still
// retired (an adopted one's record goes).
func TestRetireGoesOnAfterAnUnconfiguredCloud(t *testing.T) {
	f := newSyncFixture(t, []cloud.Name{cloud.AWS, cloud.Azure}, serviceAccount(kv("example.com/team", "shop"), annotations.Finalizer))
	order := putRecords(t, f, gsaA, gsaB)
	last := f.records(cloud.GCP)[1]
	last.Adopted = true
	if err := f.s.Records.Put(context.Background(), &last); err != nil {
		t.Fatal(err)
	}
	_, _ = f.sync()
	if got, want := f.recorded(cloud.GCP), order[:1]; !slices.Equal(got, want) {
		t.Errorf("on record %q, want %q", got, want)
	}
}

// TestFailedStatusKeepsTheIDOfTheSameIdentity: a failed sync keeps the
// object ID of the status only when the identity is the same.
func TestFailedStatusKeepsTheIDOfTheSameIdentity(t *testing.T) {
	tests := []struct {
		name     string
		identity string
		wantID   string
	}{
		{name: "same identity", identity: gsaA, wantID: objectID(gsaAConn)},
		{name: "another identity", identity: gsaB},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newSyncFixture(t, allClouds, serviceAccount(kv(annotations.KeyGCPServiceAccount, tt.identity,
				annotations.KeyStatusGCP, readyStatus(gsaAConn, gsaA, time.Hour)), annotations.Finalizer))
			f.provs[cloud.GCP].ensure = answer(cloud.Result{}, errTransient)
			_, _ = f.sync()
			st := cloudStatus(t, f.sa(), cloud.GCP)
			if st == nil || st.State != StatePending || st.ID != tt.wantID {
				t.Errorf("status %+v, want Pending with ID %q", st, tt.wantID)
			}
		})
	}
}

// TestFinalizeRemovesTheObjectOfTheStatus: at deletion the status's
// identity is what is removed, not the annotation's; the annotation's
// counts only when no status names one. Only the GCP syncer runs: with no
// status at all, another cloud's syncer would remove the finalizer first.
func TestFinalizeRemovesTheObjectOfTheStatus(t *testing.T) {
	gsaBConn := cloud.Connection{Subject: subject, GCP: &annotations.GCPServiceAccount{Email: gsaB, Project: "my-project", Name: "payments-api"}}
	tests := []struct {
		name   string
		annots map[string]string
		want   []string
	}{
		{name: "status of another identity", annots: kv(annotations.KeyGCPServiceAccount, gsaA,
			annotations.KeyStatusGCP, readyStatus(gsaBConn, gsaB, time.Hour)), want: []string{"Remove " + gsaB}},
		{name: "no status", annots: kv(annotations.KeyGCPServiceAccount, gsaA), want: []string{"Remove " + gsaA}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newSyncFixture(t, allClouds, serviceAccount(tt.annots, annotations.Finalizer))
			f.deleteSA()
			gcp := *f.s
			gcp.Cloud = cloud.GCP
			if _, err := gcp.Sync(context.Background(), f.sa()); err != nil {
				t.Fatalf("Sync: %v", err)
			}
			if got := f.provs[cloud.GCP].ops(); !slices.Equal(got, tt.want) {
				t.Errorf("calls %q, want %q", got, tt.want)
			}
		})
	}
}

// TestSyncEventsSkipAWorkloadThatCannotBeRead: a workload listed as a user
// of the ServiceAccount but gone when read gets no event.
func TestSyncEventsSkipAWorkloadThatCannotBeRead(t *testing.T) {
	tests := []struct {
		name    string
		getFail bool
		want    int // events about the workload
	}{
		{name: "the workload is read", want: 1},
		{name: "the workload cannot be read", getFail: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newSyncFixture(t, []cloud.Name{cloud.AWS}, serviceAccount(kv(annotations.KeyAWSRole, roleA)),
				testDeployment("api", testSA, kv(annotations.KeyAWSRole, roleA)))
			if tt.getFail {
				f.s.Client = interceptor.NewClient(f.c.(client.WithWatch), interceptor.Funcs{
					Get: func(ctx context.Context, c client.WithWatch, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
						if _, ok := obj.(*appsv1.Deployment); ok {
							return errTransient
						}
						return c.Get(ctx, key, obj, opts...)
					}})
			}
			if _, err := f.sync(); err != nil {
				t.Fatalf("Sync: %v", err)
			}
			evs := f.events()
			n := 0
			for _, e := range evs {
				if strings.Contains(e, " ServiceAccount "+testSA+": ") {
					n++
				}
			}
			if n != tt.want {
				t.Errorf("%d events about the workload, want %d: %q", n, tt.want, evs)
			}
		})
	}
}
