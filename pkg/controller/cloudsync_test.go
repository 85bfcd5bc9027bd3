package controller

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/keyless-dev/keyless/pkg/annotations"
	"github.com/keyless-dev/keyless/pkg/cloud"
	"github.com/keyless-dev/keyless/pkg/record"
	"github.com/keyless-dev/keyless/pkg/workload"
)

const (
	roleA         = "orders-api"
	roleB         = "arn:aws:iam::123456789012:role/payments"
	targetRoleARN = "arn:aws:iam::210987654321:role/orders-cross"
	azA           = "orders-id"
	azB           = "payments-id"
	azIDA         = "shop-rg/" + azA // Status.Identity of azA
	azIDB         = "shop-rg/" + azB
	azResourceID  = "/subscriptions/00000000-1111-2222-3333-444444444444/resourceGroups/other-rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/orders-id"
	gsaA          = "orders-api@my-project.iam.gserviceaccount.com"
	gsaB          = "payments-api@my-project.iam.gserviceaccount.com"
	azCID         = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
	azCIDOther    = "99999999-8888-7777-6666-555555555555"
)

var subject = cloud.Subject{Namespace: testNS, Name: testSA}

// Wanted connections, as the provider should receive them.
func awsConn(role annotations.AWSRole) cloud.Connection {
	return cloud.Connection{Subject: subject, AWS: &cloud.AWSConnection{Role: role}}
}

var (
	roleARole = annotations.AWSRole{Path: "/", Name: roleA}
	azAConn   = cloud.Connection{Subject: subject, Azure: &annotations.AzureIdentity{ResourceGroup: "shop-rg", Name: azA}}
	gsaAConn  = cloud.Connection{Subject: subject, GCP: &annotations.GCPServiceAccount{Email: gsaA, Project: "my-project", Name: "orders-api"}}
)

// readyStatus is the status of a connection synced age ago.
func readyStatus(c cloud.Connection, identity string, age time.Duration) string {
	return statusValue(Status{State: StateReady, Reason: string(cloud.Created), Identity: identity,
		ID: objectID(c), Hash: fingerprint(c), LastSync: syncNow.Add(-age)})
}

func dump(v any) string {
	raw, _ := json.Marshal(v)
	return string(raw)
}

func checkRequeue(t *testing.T, got time.Duration) {
	t.Helper()
	// AWS: Resync ±10%; Azure and GCP: the identity's next moment at least
	// half a period away (TestResyncAlignedPerIdentity).
	lo, hi := syncResync/2, syncResync*3/2
	if got < lo || got >= hi {
		t.Errorf("RequeueAfter = %v, want within %v..%v", got, lo, hi)
	}
}

func TestSyncConnectsEveryCloud(t *testing.T) {
	f := newSyncFixture(t, allClouds, serviceAccount(kv(
		annotations.KeyAWSRole, roleA,
		annotations.KeyAWSTargetRole, targetRoleARN,
		annotations.KeyAWSSessionTags, "false",
		annotations.KeyAzureIdentity, azA,
		annotations.KeyGCPServiceAccount, gsaA,
	)))
	res, err := f.sync()
	if err != nil {
		t.Fatalf("Sync: %v", err)
	}
	checkRequeue(t, res.RequeueAfter)

	sa := f.sa()
	if !hasFinalizer(sa) {
		t.Errorf("finalizer %s not added: %v", annotations.Finalizer, sa.Finalizers)
	}
	awsWant := cloud.Connection{Subject: subject, AWS: &cloud.AWSConnection{
		Role: roleARole, TargetRoleARN: targetRoleARN, DisableSessionTags: true}}
	tests := []struct {
		cloud    cloud.Name
		key      string
		want     cloud.Connection
		identity string
	}{
		{cloud.AWS, annotations.KeyStatusAWS, awsWant, roleA},
		{cloud.Azure, annotations.KeyStatusAzure, azAConn, azIDA},
		{cloud.GCP, annotations.KeyStatusGCP, gsaAConn, gsaA},
	}
	for _, tt := range tests {
		t.Run(string(tt.cloud), func(t *testing.T) {
			calls := f.provs[tt.cloud].Calls()
			if len(calls) != 1 || calls[0].Op != "Ensure" {
				t.Fatalf("calls = %v, want one Ensure", f.provs[tt.cloud].ops())
			}
			if !reflect.DeepEqual(calls[0].Conn, tt.want) {
				t.Errorf("Ensure got %s\nwant %s", dump(calls[0].Conn), dump(tt.want))
			}
			// The annotation's JSON is the contract: check it field by field.
			var got map[string]any
			if err := json.Unmarshal([]byte(sa.Annotations[tt.key]), &got); err != nil {
				t.Fatalf("%s = %q: %v", tt.key, sa.Annotations[tt.key], err)
			}
			want := map[string]any{
				"state": StateReady, "reason": "Created", "identity": tt.identity, "id": objectID(tt.want),
				"hash": fingerprint(tt.want), "lastSync": syncNow.Format(time.RFC3339),
			}
			for k, v := range want {
				if got[k] != v {
					t.Errorf("%s: %s = %v, want %v", tt.key, k, got[k], v)
				}
			}
			if msg, _ := got["message"].(string); msg == "" {
				t.Errorf("%s: no message", tt.key)
			}
		})
	}

	evs := f.events()
	if n := countEvents(evs, "Normal "+ReasonCloudCreated); n != 3 {
		t.Errorf("got %d %s events, want 3: %q", n, ReasonCloudCreated, evs)
	}
	if n := countEvents(evs, "Warning"); n != 0 {
		t.Errorf("unexpected warnings: %q", evs)
	}
}

func TestSyncCloudNotConfigured(t *testing.T) {
	f := newSyncFixture(t, []cloud.Name{cloud.AWS}, serviceAccount(kv(
		annotations.KeyAWSRole, roleA, annotations.KeyGCPServiceAccount, gsaA)))
	for i, wantWarnings := range []int{1, 0} {
		f.now = syncNow.Add(time.Duration(i) * syncResync) // the second Sync ensures AWS again
		res, err := f.sync()
		if err != nil {
			t.Fatalf("Sync %d: %v", i+1, err)
		}
		checkRequeue(t, res.RequeueAfter)
		sa := f.sa()
		st := cloudStatus(t, sa, cloud.GCP)
		switch {
		case st == nil:
			t.Fatalf("Sync %d: no GCP status", i+1)
		case st.State != StateDisabled:
			t.Errorf("Sync %d: GCP state = %q, want %q", i+1, st.State, StateDisabled)
		case !strings.Contains(st.Message, "not configured"):
			t.Errorf("Sync %d: GCP message = %q, want it to say GCP is not configured", i+1, st.Message)
		case st.Identity != gsaA:
			t.Errorf("Sync %d: GCP identity = %q, want %q", i+1, st.Identity, gsaA)
		}
		if st := cloudStatus(t, sa, cloud.AWS); st == nil || st.State != StateReady {
			t.Errorf("Sync %d: AWS status = %+v, want Ready", i+1, st)
		}
		if !hasFinalizer(sa) {
			t.Errorf("Sync %d: no finalizer", i+1)
		}
		evs := f.events()
		if n := countEvents(evs, "Warning "+ReasonCloudDisabled); n != wantWarnings {
			t.Errorf("Sync %d: %d %s warnings, want %d: %q", i+1, n, ReasonCloudDisabled, wantWarnings, evs)
		}
	}
}

func TestSyncCloudErrors(t *testing.T) {
	tests := []struct {
		name       string
		failing    cloud.Name
		err        error
		wantState  string
		wantReason string
		wantErr    bool
	}{
		{"permanent conflict", cloud.AWS, fmt.Errorf("an association of %s/%s to role other exists: %w", testNS, testSA, cloud.ErrConflict),
			StateError, "conflict", false},
		{"permanent not found", cloud.GCP, fmt.Errorf("service account %s: %w", gsaA, cloud.ErrNotFound),
			StateError, "not_found", false},
		{"transient", cloud.Azure, fmt.Errorf("creating the credential: %w", errTransient),
			StatePending, "transient", true},
		{"throttled", cloud.AWS, fmt.Errorf("rate exceeded: %w", cloud.ErrThrottled),
			StatePending, "throttled", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newSyncFixture(t, allClouds, serviceAccount(kv(
				annotations.KeyAWSRole, roleA, annotations.KeyAzureIdentity, azA, annotations.KeyGCPServiceAccount, gsaA)))
			f.provs[tt.failing].ensure = answer(cloud.Result{}, tt.err)

			for i := range 2 {
				f.now = syncNow.Add(time.Duration(i) * syncResync)
				res, err := f.sync()
				if tt.wantErr {
					if !errors.Is(err, tt.err) {
						t.Errorf("Sync %d error = %v, want one wrapping %v so that the queue backs off", i+1, err, tt.err)
					}
				} else {
					if err != nil {
						t.Errorf("Sync %d error = %v, want none: a permanent error waits for a change", i+1, err)
					}
					checkRequeue(t, res.RequeueAfter)
				}
				sa := f.sa()
				for _, c := range allClouds {
					if n := len(f.provs[c].Calls()); n != i+1 {
						t.Errorf("Sync %d: %s called %d times, want %d", i+1, c, n, i+1)
					}
					st := cloudStatus(t, sa, c)
					if st == nil {
						t.Fatalf("Sync %d: no %s status", i+1, c)
					}
					if c != tt.failing {
						if st.State != StateReady {
							t.Errorf("Sync %d: %s state = %q, want Ready: the other clouds are synced too", i+1, c, st.State)
						}
						continue
					}
					if st.State != tt.wantState || st.Reason != tt.wantReason {
						t.Errorf("Sync %d: %s state, reason = %q, %q, want %q, %q", i+1, c, st.State, st.Reason, tt.wantState, tt.wantReason)
					}
					if !strings.Contains(st.Message, tt.err.Error()) {
						t.Errorf("Sync %d: %s message = %q, want the error", i+1, c, st.Message)
					}
				}
				if !hasFinalizer(sa) {
					t.Errorf("Sync %d: no finalizer", i+1)
				}
				// One warning for a failure, not one per attempt.
				wantWarnings := 1 - i
				if evs := f.events(); countEvents(evs, "Warning "+ReasonCloudFailed) != wantWarnings {
					t.Errorf("Sync %d: events %q, want %d %s warning", i+1, evs, wantWarnings, ReasonCloudFailed)
				}
			}
		})
	}
}

func TestSyncAzureClientID(t *testing.T) {
	tests := []struct {
		name         string
		annots       map[string]string
		wantClientID string // "" means absent
		wantInjected string
	}{
		{
			name:         "written and marked injected",
			annots:       kv(annotations.KeyAzureIdentity, azA, annotations.KeyInjected, annotations.InjectedGCPServiceAccount),
			wantClientID: azCID,
			wantInjected: "azure-client-id,gcp-service-account",
		},
		{
			name:   "not written when the user gave keyless.dev/azure-client-id",
			annots: kv(annotations.KeyAzureIdentity, azA, annotations.KeyAzureClientID, azCID),
		},
		{
			name:         "not overwritten when the user wrote the annotation",
			annots:       kv(annotations.KeyAzureIdentity, azA, annotations.AzureClientIDAnnotation, azCIDOther),
			wantClientID: azCIDOther,
		},
		{
			name: "corrected when Keyless wrote it",
			annots: kv(annotations.KeyAzureIdentity, azA, annotations.AzureClientIDAnnotation, azCIDOther,
				annotations.KeyInjected, annotations.InjectedAzureClientID),
			wantClientID: azCID,
			wantInjected: "azure-client-id",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newSyncFixture(t, []cloud.Name{cloud.Azure}, serviceAccount(tt.annots))
			f.provs[cloud.Azure].ensure = answer(cloud.Result{Action: cloud.Created, ID: "cred", ClientID: azCID}, nil)
			if _, err := f.sync(); err != nil {
				t.Fatalf("Sync: %v", err)
			}
			sa := f.sa()
			if got, ok := sa.Annotations[annotations.AzureClientIDAnnotation]; got != tt.wantClientID || ok != (tt.wantClientID != "") {
				t.Errorf("%s = %q (present %v), want %q", annotations.AzureClientIDAnnotation, got, ok, tt.wantClientID)
			}
			if got := sa.Annotations[annotations.KeyInjected]; got != tt.wantInjected && tt.wantInjected != "" {
				t.Errorf("%s = %q, want %q", annotations.KeyInjected, got, tt.wantInjected)
			} else if tt.wantInjected == "" && got != tt.annots[annotations.KeyInjected] {
				t.Errorf("%s = %q, want it untouched (%q)", annotations.KeyInjected, got, tt.annots[annotations.KeyInjected])
			}
			if st := cloudStatus(t, sa, cloud.Azure); st == nil || st.State != StateReady {
				t.Errorf("Azure status = %+v, want Ready", st)
			}
		})
	}
}

func TestSyncIdentityChange(t *testing.T) {
	tests := []struct {
		name      string
		cloud     cloud.Name
		annots    map[string]string
		ensure    func(cloud.Connection) (cloud.Result, error)
		remove    func(cloud.Connection) (cloud.Result, error)
		wantOps   []string
		wantState string
		wantID    string // the status identity after the Sync
		wantErr   bool
		wantEvent string // the prefix of one wanted event
		// wantRecords are the identities on record afterwards; nil: not checked.
		wantRecords []string
	}{
		{
			name:  "azure: the old credential goes first",
			cloud: cloud.Azure,
			annots: kv(annotations.KeyAzureIdentity, azB,
				annotations.KeyStatusAzure, readyStatus(azAConn, azIDA, time.Minute)),
			wantOps:   []string{"Remove " + azIDA, "Ensure " + azIDB},
			wantState: StateReady, wantID: azIDB,
			wantEvent: "Normal " + ReasonCloudDeleted,
		},
		{
			name:  "aws: the association is updated in place",
			cloud: cloud.AWS,
			annots: kv(annotations.KeyAWSRole, roleB,
				annotations.KeyStatusAWS, readyStatus(awsConn(roleARole), roleA, time.Minute)),
			wantOps:   []string{"Ensure " + roleB},
			wantState: StateReady, wantID: roleB,
			wantEvent: "Normal " + ReasonCloudCreated,
		},
		{
			name:  "aws: a failed update keeps the old role on record, whose association is still there",
			cloud: cloud.AWS,
			annots: kv(annotations.KeyAWSRole, roleB,
				annotations.KeyStatusAWS, readyStatus(awsConn(roleARole), roleA, time.Minute)),
			ensure:    answer(cloud.Result{}, fmt.Errorf("role payments: %w", cloud.ErrNotFound)),
			wantOps:   []string{"Ensure " + roleB},
			wantState: StateError, wantID: roleB,
			wantEvent:   "Warning " + ReasonCloudFailed,
			wantRecords: []string{roleA, roleB},
		},
		{
			name:  "gcp: the old member goes first",
			cloud: cloud.GCP,
			annots: kv(annotations.KeyGCPServiceAccount, gsaB,
				annotations.KeyStatusGCP, readyStatus(gsaAConn, gsaA, time.Minute)),
			wantOps:   []string{"Remove " + gsaA, "Ensure " + gsaB},
			wantState: StateReady, wantID: gsaB,
		},
		{
			name:  "azure: old identity already deleted",
			cloud: cloud.Azure,
			annots: kv(annotations.KeyAzureIdentity, azB,
				annotations.KeyStatusAzure, readyStatus(azAConn, azIDA, time.Minute)),
			remove:    answer(cloud.Result{}, fmt.Errorf("identity %s: %w", azA, cloud.ErrNotFound)),
			wantOps:   []string{"Remove " + azIDA, "Ensure " + azIDB},
			wantState: StateReady, wantID: azIDB,
		},
		{
			// Retain applies when a connection goes away, never to a switch:
			// otherwise one ServiceAccount gathers identities that no
			// status names.
			name:  "azure: a switch removes the old credential even with retain",
			cloud: cloud.Azure,
			annots: kv(annotations.KeyAzureIdentity, azB, annotations.KeyDeletionPolicy, "retain",
				annotations.KeyStatusAzure, readyStatus(azAConn, azIDA, time.Minute)),
			wantOps:   []string{"Remove " + azIDA, "Ensure " + azIDB},
			wantState: StateReady, wantID: azIDB,
			wantEvent:   "Normal " + ReasonCloudDeleted,
			wantRecords: []string{azIDB},
		},
		{
			name:  "azure: a transient Remove failure keeps the old identity and retries",
			cloud: cloud.Azure,
			annots: kv(annotations.KeyAzureIdentity, azB,
				annotations.KeyStatusAzure, readyStatus(azAConn, azIDA, time.Minute)),
			remove:    answer(cloud.Result{}, errTransient),
			wantOps:   []string{"Remove " + azIDA},
			wantState: StatePending, wantID: azIDA, wantErr: true,
			wantEvent: "Warning " + ReasonCloudFailed,
		},
		{
			name:  "gcp: a permanent Remove failure keeps the old identity",
			cloud: cloud.GCP,
			annots: kv(annotations.KeyGCPServiceAccount, gsaB,
				annotations.KeyStatusGCP, readyStatus(gsaAConn, gsaA, time.Minute)),
			remove:    answer(cloud.Result{}, fmt.Errorf("setIamPolicy: %w", cloud.ErrPermission)),
			wantOps:   []string{"Remove " + gsaA},
			wantState: StateError, wantID: gsaA,
			wantEvent: "Warning " + ReasonCloudFailed,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newSyncFixture(t, allClouds, serviceAccount(tt.annots, annotations.Finalizer))
			f.provs[tt.cloud].ensure = tt.ensure
			f.provs[tt.cloud].remove = tt.remove
			_, err := f.sync()
			if (err != nil) != tt.wantErr {
				t.Errorf("Sync error = %v, want error %v", err, tt.wantErr)
			}
			p := f.provs[tt.cloud]
			if got := p.ops(); !slices.Equal(got, tt.wantOps) {
				t.Errorf("calls = %q, want %q", got, tt.wantOps)
			}
			for _, c := range p.Calls() {
				if c.Conn.Subject != subject {
					t.Errorf("%s for subject %+v, want %+v", c.Op, c.Conn.Subject, subject)
				}
			}
			for _, c := range allClouds {
				if c != tt.cloud && len(f.provs[c].Calls()) > 0 {
					t.Errorf("%s called: %q", c, f.provs[c].ops())
				}
			}
			sa := f.sa()
			st := cloudStatus(t, sa, tt.cloud)
			if st == nil || st.State != tt.wantState || st.Identity != tt.wantID {
				t.Errorf("status = %+v, want state %q, identity %q", st, tt.wantState, tt.wantID)
			}
			if !hasFinalizer(sa) {
				t.Error("finalizer removed")
			}
			if evs := f.events(); tt.wantEvent != "" && countEvents(evs, tt.wantEvent) == 0 {
				t.Errorf("events %q, want one %q", evs, tt.wantEvent)
			}
			if tt.wantRecords != nil {
				want := slices.Sorted(slices.Values(tt.wantRecords))
				if got := f.recorded(tt.cloud); !slices.Equal(got, want) {
					t.Errorf("records %q, want %q", got, want)
				}
			}
		})
	}
}

func TestSyncConnectionRemoved(t *testing.T) {
	azResourceConn := cloud.Connection{Subject: subject, Azure: &annotations.AzureIdentity{
		SubscriptionID: "00000000-1111-2222-3333-444444444444", ResourceGroup: "other-rg", Name: azA}}
	tests := []struct {
		name          string
		configured    []cloud.Name
		annots        map[string]string
		remove        func(cloud.Connection) (cloud.Result, error)
		wantRemoved   []cloud.Connection // in cloud order
		wantGone      []cloud.Name       // statuses removed
		wantKept      []cloud.Name       // statuses kept
		wantFinalizer bool
		wantErr       bool
		wantEvent     string
	}{
		{
			name:        "azure by name",
			configured:  allClouds,
			annots:      kv("example.com/team", "shop", annotations.KeyStatusAzure, readyStatus(azAConn, azIDA, time.Hour)),
			wantRemoved: []cloud.Connection{azAConn},
			wantGone:    []cloud.Name{cloud.Azure},
			wantEvent:   "Normal " + ReasonCloudDeleted,
		},
		{
			name:        "azure by resource ID",
			configured:  allClouds,
			annots:      kv(annotations.KeyStatusAzure, readyStatus(azResourceConn, azResourceID, time.Hour)),
			wantRemoved: []cloud.Connection{azResourceConn},
			wantGone:    []cloud.Name{cloud.Azure},
		},
		{
			name:       "aws and gcp",
			configured: allClouds,
			annots: kv(annotations.KeyStatusAWS, readyStatus(awsConn(roleARole), roleA, time.Hour),
				annotations.KeyStatusGCP, readyStatus(gsaAConn, gsaA, time.Hour)),
			wantRemoved: []cloud.Connection{awsConn(roleARole), gsaAConn},
			wantGone:    []cloud.Name{cloud.AWS, cloud.GCP},
		},
		{
			name:       "one of two: the finalizer stays",
			configured: allClouds,
			annots: kv(annotations.KeyAWSRole, roleA, annotations.KeyStatusAWS, readyStatus(awsConn(roleARole), roleA, time.Minute),
				annotations.KeyStatusGCP, readyStatus(gsaAConn, gsaA, time.Hour)),
			wantRemoved:   []cloud.Connection{gsaAConn},
			wantGone:      []cloud.Name{cloud.GCP},
			wantKept:      []cloud.Name{cloud.AWS},
			wantFinalizer: true,
		},
		{
			name:       "retained",
			configured: allClouds,
			annots: kv(annotations.KeyDeletionPolicy, "retain",
				annotations.KeyStatusGCP, readyStatus(gsaAConn, gsaA, time.Hour)),
			wantGone:  []cloud.Name{cloud.GCP},
			wantEvent: "Normal " + ReasonCloudRetained,
		},
		{
			name:        "nothing left in the cloud",
			configured:  allClouds,
			annots:      kv(annotations.KeyStatusGCP, readyStatus(gsaAConn, gsaA, time.Hour)),
			remove:      answer(cloud.Result{Action: cloud.Absent}, nil),
			wantRemoved: []cloud.Connection{gsaAConn},
			wantGone:    []cloud.Name{cloud.GCP},
		},
		{
			name:       "unreadable status",
			configured: allClouds,
			annots:     kv(annotations.KeyStatusAWS, "{not json"),
			wantGone:   []cloud.Name{cloud.AWS},
		},
		{
			name:       "cloud no longer configured",
			configured: []cloud.Name{cloud.AWS, cloud.Azure},
			annots:     kv(annotations.KeyStatusGCP, readyStatus(gsaAConn, gsaA, time.Hour)),
			wantGone:   []cloud.Name{cloud.GCP},
			wantEvent:  "Warning " + ReasonCloudDisabled,
		},
		{
			name:          "transient failure: status and finalizer kept",
			configured:    allClouds,
			annots:        kv(annotations.KeyStatusGCP, readyStatus(gsaAConn, gsaA, time.Hour)),
			remove:        answer(cloud.Result{}, errTransient),
			wantRemoved:   []cloud.Connection{gsaAConn},
			wantKept:      []cloud.Name{cloud.GCP},
			wantFinalizer: true,
			wantErr:       true,
			wantEvent:     "Warning " + ReasonCloudFailed,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newSyncFixture(t, tt.configured, serviceAccount(tt.annots, annotations.Finalizer))
			for _, p := range f.provs {
				p.remove = tt.remove
			}
			_, err := f.sync()
			if (err != nil) != tt.wantErr {
				t.Errorf("Sync error = %v, want error %v", err, tt.wantErr)
			}
			var removed []cloud.Connection
			for _, c := range allClouds {
				if p := f.provs[c]; p != nil {
					for _, call := range p.Calls() {
						if call.Op != "Remove" {
							t.Errorf("%s: unexpected %s %s", c, call.Op, connIdentity(call.Conn))
							continue
						}
						conn := call.Conn
						if conn.KnownID != objectID(conn) {
							t.Errorf("%s: Remove got known ID %q, want the recorded %q", c, conn.KnownID, objectID(conn))
						}
						conn.KnownID = ""
						removed = append(removed, conn)
					}
				}
			}
			if !reflect.DeepEqual(removed, tt.wantRemoved) {
				t.Errorf("removed %s\nwant    %s", dump(removed), dump(tt.wantRemoved))
			}
			sa := f.sa()
			for _, c := range tt.wantGone {
				if v, ok := sa.Annotations[c.Info().StatusKey]; ok {
					t.Errorf("status of %s kept: %s", c, v)
				}
			}
			for _, c := range tt.wantKept {
				if _, ok := sa.Annotations[c.Info().StatusKey]; !ok {
					t.Errorf("status of %s removed", c)
				}
			}
			if hasFinalizer(sa) != tt.wantFinalizer {
				t.Errorf("finalizers = %v, want ours: %v", sa.Finalizers, tt.wantFinalizer)
			}
			if sa.Annotations["example.com/team"] != tt.annots["example.com/team"] {
				t.Errorf("other annotations changed: %v", sa.Annotations)
			}
			if evs := f.events(); tt.wantEvent != "" && countEvents(evs, tt.wantEvent) != 1 {
				t.Errorf("events %q, want one %q", evs, tt.wantEvent)
			}
		})
	}
}

func TestSyncSkipsRecentlySynced(t *testing.T) {
	conn := awsConn(roleARole)
	tests := []struct {
		name       string
		annots     map[string]string
		wantEnsure bool
	}{
		{
			name:   "ready, same hash, synced a minute ago",
			annots: kv(annotations.KeyAWSRole, roleA, annotations.KeyStatusAWS, readyStatus(conn, roleA, time.Minute)),
		},
		{
			name:   "ready, same hash, synced just under Resync/2 ago",
			annots: kv(annotations.KeyAWSRole, roleA, annotations.KeyStatusAWS, readyStatus(conn, roleA, syncResync/2-time.Second)),
		},
		{
			name:       "ready, same hash, synced Resync/2 ago",
			annots:     kv(annotations.KeyAWSRole, roleA, annotations.KeyStatusAWS, readyStatus(conn, roleA, syncResync/2)),
			wantEnsure: true,
		},
		{
			name:       "ready, same hash, synced an hour ago",
			annots:     kv(annotations.KeyAWSRole, roleA, annotations.KeyStatusAWS, readyStatus(conn, roleA, time.Hour)),
			wantEnsure: true,
		},
		{
			name: "a setting changed a minute ago",
			annots: kv(annotations.KeyAWSRole, roleA, annotations.KeyAWSSessionTags, "false",
				annotations.KeyStatusAWS, readyStatus(conn, roleA, time.Minute)),
			wantEnsure: true,
		},
		{
			name: "pending a minute ago",
			annots: kv(annotations.KeyAWSRole, roleA, annotations.KeyStatusAWS, statusValue(Status{
				State: StatePending, Reason: "transient", Identity: roleA, LastSync: syncNow.Add(-time.Minute)})),
			wantEnsure: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newSyncFixture(t, allClouds, serviceAccount(tt.annots, annotations.Finalizer))
			f.provs[cloud.AWS].ensure = answer(cloud.Result{Action: cloud.Unchanged, ID: objectID(conn)}, nil)
			res, err := f.sync()
			if err != nil {
				t.Fatalf("Sync: %v", err)
			}
			checkRequeue(t, res.RequeueAfter)
			calls := f.provs[cloud.AWS].ops()
			if ensured := len(calls) > 0; ensured != tt.wantEnsure {
				t.Errorf("calls = %q, want Ensure: %v", calls, tt.wantEnsure)
			}
			st := cloudStatus(t, f.sa(), cloud.AWS)
			if st == nil || st.State != StateReady {
				t.Fatalf("status = %+v, want Ready", st)
			}
			if synced := st.LastSync.Equal(syncNow); synced != tt.wantEnsure {
				t.Errorf("lastSync = %v, want it moved to now (%v): %v", st.LastSync, syncNow, tt.wantEnsure)
			}
			if evs := f.events(); len(evs) != 0 {
				t.Errorf("unexpected events: %q", evs)
			}
		})
	}
}

func TestSyncDeletion(t *testing.T) {
	const other = "example.com/protect"
	annots := kv(annotations.KeyAWSRole, roleA, annotations.KeyGCPServiceAccount, gsaA,
		annotations.KeyStatusAWS, readyStatus(awsConn(roleARole), roleA, time.Hour),
		annotations.KeyStatusGCP, readyStatus(gsaAConn, gsaA, time.Hour))
	tests := []struct {
		name         string
		configured   []cloud.Name
		annots       map[string]string
		finalizers   []string
		recorded     bool // the statuses' objects are on record, as Keyless writes them
		remove       map[cloud.Name]func(cloud.Connection) (cloud.Result, error)
		wantOps      map[cloud.Name][]string
		wantReleased bool // our finalizer removed
		wantErr      bool
		wantEvents   map[string]int // prefix: count
	}{
		{
			name:         "removes every recorded object",
			configured:   allClouds,
			annots:       annots,
			wantOps:      map[cloud.Name][]string{cloud.AWS: {"Remove " + roleA}, cloud.GCP: {"Remove " + gsaA}},
			wantReleased: true,
			wantEvents:   map[string]int{"Normal " + ReasonCloudDeleted: 2},
		},
		{
			name:         "identity gone in the cloud",
			configured:   allClouds,
			annots:       annots,
			remove:       map[cloud.Name]func(cloud.Connection) (cloud.Result, error){cloud.GCP: answer(cloud.Result{}, fmt.Errorf("%s: %w", gsaA, cloud.ErrNotFound))},
			wantOps:      map[cloud.Name][]string{cloud.AWS: {"Remove " + roleA}, cloud.GCP: {"Remove " + gsaA}},
			wantReleased: true,
			wantEvents:   map[string]int{"Normal " + ReasonCloudDeleted: 1, "Warning": 0},
		},
		{
			name:         "nothing found",
			configured:   allClouds,
			annots:       annots,
			remove:       map[cloud.Name]func(cloud.Connection) (cloud.Result, error){cloud.AWS: answer(cloud.Result{Action: cloud.Absent}, nil)},
			wantOps:      map[cloud.Name][]string{cloud.AWS: {"Remove " + roleA}, cloud.GCP: {"Remove " + gsaA}},
			wantReleased: true,
			wantEvents:   map[string]int{"Normal " + ReasonCloudDeleted: 1},
		},
		{
			name:         "cloud no longer configured",
			configured:   []cloud.Name{cloud.AWS},
			annots:       annots,
			wantOps:      map[cloud.Name][]string{cloud.AWS: {"Remove " + roleA}},
			wantReleased: true,
			wantEvents:   map[string]int{"Warning " + ReasonCloudDisabled: 1, "Normal " + ReasonCloudDeleted: 1},
		},
		{
			name:       "transient failure keeps the finalizer",
			configured: allClouds,
			annots:     annots,
			remove:     map[cloud.Name]func(cloud.Connection) (cloud.Result, error){cloud.GCP: answer(cloud.Result{}, errTransient)},
			wantOps:    map[cloud.Name][]string{cloud.AWS: {"Remove " + roleA}, cloud.GCP: {"Remove " + gsaA}},
			wantErr:    true,
			wantEvents: map[string]int{"Warning " + ReasonCloudFailed: 1},
		},
		{
			name:       "permanent failure keeps the finalizer",
			configured: allClouds,
			annots:     annots,
			recorded:   true,
			remove:     map[cloud.Name]func(cloud.Connection) (cloud.Result, error){cloud.AWS: answer(cloud.Result{}, fmt.Errorf("eks: %w", cloud.ErrPermission))},
			wantOps:    map[cloud.Name][]string{cloud.AWS: {"Remove " + roleA}, cloud.GCP: {"Remove " + gsaA}},
			wantErr:    true,
			wantEvents: map[string]int{"Warning " + ReasonCloudFailed: 1},
		},
		{
			// Only the status says Keyless made it: the owner may have
			// written it, naming an identity Keyless may not touch.
			name:         "permanent failure on an object only a status names lets go",
			configured:   allClouds,
			annots:       annots,
			remove:       map[cloud.Name]func(cloud.Connection) (cloud.Result, error){cloud.AWS: answer(cloud.Result{}, fmt.Errorf("eks: %w", cloud.ErrPermission))},
			wantOps:      map[cloud.Name][]string{cloud.AWS: {"Remove " + roleA}, cloud.GCP: {"Remove " + gsaA}},
			wantReleased: true,
			wantEvents:   map[string]int{"Warning " + ReasonCloudFailed: 1},
		},
		{
			name:         "retained",
			configured:   allClouds,
			annots:       kv(annotations.KeyDeletionPolicy, "retain", annotations.KeyStatusGCP, readyStatus(gsaAConn, gsaA, time.Hour)),
			wantReleased: true,
			wantEvents:   map[string]int{"Normal " + ReasonCloudRetained: 1},
		},
		{
			// Without a recorded identity, what the annotation names is looked
			// for anyway (a crash may have come between the cloud call and
			// the status write); the fake finds nothing and the finalizer goes.
			name:       "never recorded: looked for by the annotation",
			configured: allClouds,
			annots: kv(annotations.KeyGCPServiceAccount, gsaA,
				annotations.KeyStatusAWS, "{not json",
				annotations.KeyStatusGCP, statusValue(Status{State: StatePending, LastSync: syncNow})),
			wantOps:      map[cloud.Name][]string{cloud.GCP: {"Remove " + gsaA}},
			wantReleased: true,
		},
		{
			name:         "another finalizer stays",
			configured:   allClouds,
			annots:       annots,
			finalizers:   []string{other},
			wantOps:      map[cloud.Name][]string{cloud.AWS: {"Remove " + roleA}, cloud.GCP: {"Remove " + gsaA}},
			wantReleased: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newSyncFixture(t, tt.configured, serviceAccount(tt.annots, append([]string{annotations.Finalizer}, tt.finalizers...)...))
			for c, fn := range tt.remove {
				f.provs[c].remove = fn
			}
			if tt.recorded {
				for c, id := range map[cloud.Name]string{cloud.AWS: roleA, cloud.GCP: gsaA} {
					e := &record.Entry{Cloud: string(c), Namespace: testNS, ServiceAccount: testSA, UID: string(f.sa().UID), Identity: id}
					if err := f.s.Records.Put(context.Background(), e); err != nil {
						t.Fatal(err)
					}
				}
			}
			f.deleteSA()
			res, err := f.sync()
			if (err != nil) != tt.wantErr {
				t.Errorf("Sync error = %v, want error %v", err, tt.wantErr)
			}
			if res.RequeueAfter != 0 {
				t.Errorf("RequeueAfter = %v for a terminating ServiceAccount", res.RequeueAfter)
			}
			for _, c := range allClouds {
				if p := f.provs[c]; p != nil {
					if got := p.ops(); !slices.Equal(got, tt.wantOps[c]) {
						t.Errorf("%s calls = %q, want %q", c, got, tt.wantOps[c])
					}
				}
			}
			sa := f.sa()
			switch {
			case tt.wantReleased && sa != nil && hasFinalizer(sa):
				t.Errorf("finalizer kept: %v", sa.Finalizers)
			case tt.wantReleased && len(tt.finalizers) == 0 && sa != nil:
				t.Errorf("ServiceAccount not deleted after its last finalizer went: %v", sa.Finalizers)
			case tt.wantReleased && len(tt.finalizers) > 0 && (sa == nil || !slices.Equal(sa.Finalizers, tt.finalizers)):
				t.Errorf("ServiceAccount = %v, want it kept with finalizers %v", sa, tt.finalizers)
			case !tt.wantReleased && (sa == nil || !hasFinalizer(sa)):
				t.Errorf("finalizer removed, want it kept until the cloud objects are gone")
			}
			evs := f.events()
			for prefix, n := range tt.wantEvents {
				if got := countEvents(evs, prefix); got != n {
					t.Errorf("%d %q events, want %d: %q", got, prefix, n, evs)
				}
			}
			if tt.wantReleased || sa == nil {
				return
			}
			// The retry after the cloud recovers lets the ServiceAccount go.
			for _, p := range f.provs {
				p.remove = nil
			}
			if _, err := f.sync(); err != nil {
				t.Errorf("retry: %v", err)
			}
			if sa := f.sa(); sa != nil {
				t.Errorf("retry: ServiceAccount still there with finalizers %v", sa.Finalizers)
			}
		})
	}
}

func TestSyncDeletionWithoutOurFinalizer(t *testing.T) {
	f := newSyncFixture(t, allClouds, serviceAccount(kv(annotations.KeyGCPServiceAccount, gsaA,
		annotations.KeyStatusGCP, readyStatus(gsaAConn, gsaA, time.Hour)), "example.com/protect"))
	f.deleteSA()
	if _, err := f.sync(); err != nil {
		t.Fatalf("Sync: %v", err)
	}
	if calls := f.provs[cloud.GCP].ops(); len(calls) != 0 {
		t.Errorf("calls = %q, want none", calls)
	}
	if sa := f.sa(); sa == nil || !slices.Equal(sa.Finalizers, []string{"example.com/protect"}) {
		t.Errorf("ServiceAccount = %v, want it untouched", sa)
	}
}

func TestSyncInvalidAnnotations(t *testing.T) {
	tests := []struct {
		name   string
		annots map[string]string
	}{
		{"bad role ARN", kv(annotations.KeyAWSRole, "arn:aws:iam::12:role/orders", annotations.KeyGCPServiceAccount, gsaA)},
		{"misspelled key", kv("keyless.dev/aws-rol", roleA, annotations.KeyGCPServiceAccount, gsaA)},
		{"setting without its connection", kv(annotations.KeyAWSSessionTags, "false", annotations.KeyGCPServiceAccount, gsaA)},
		{"azure name without a resource group", kv(annotations.KeyAzureIdentity, azA, annotations.KeyAzureResourceGroup, "")},
		{"upper-case email", kv(annotations.KeyGCPServiceAccount, strings.ToUpper(gsaA))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newSyncFixture(t, allClouds, serviceAccount(tt.annots))
			res, err := f.sync()
			if err != nil {
				t.Errorf("Sync error = %v, want none: only the user can fix it", err)
			}
			if res.RequeueAfter != 0 {
				t.Errorf("RequeueAfter = %v, want none", res.RequeueAfter)
			}
			for c, p := range f.provs {
				if calls := p.ops(); len(calls) != 0 {
					t.Errorf("%s calls = %q, want none", c, calls)
				}
			}
			sa := f.sa()
			if hasFinalizer(sa) {
				t.Error("finalizer added")
			}
			for _, cl := range annotations.Clouds {
				if v, ok := sa.Annotations[cl.StatusKey]; ok {
					t.Errorf("%s = %s, want none", cl.StatusKey, v)
				}
			}
			evs := f.events()
			if len(evs) != 1 || countEvents(evs, "Warning "+ReasonCloudFailed) != 1 {
				t.Errorf("events %q, want one %s warning", evs, ReasonCloudFailed)
			}
		})
	}
}

// Workloads for the restart tests.
func podSpecFor(sa string) corev1.PodTemplateSpec {
	return corev1.PodTemplateSpec{Spec: corev1.PodSpec{ServiceAccountName: sa,
		Containers: []corev1.Container{{Name: "app", Image: "example.com/app:1"}}}}
}

func testDeployment(name, sa string, annots map[string]string) *appsv1.Deployment {
	return &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: testNS, Name: name, Annotations: annots},
		Spec: appsv1.DeploymentSpec{Template: podSpecFor(sa)}}
}

func testCronJob(name, sa string, annots map[string]string) *batchv1.CronJob {
	return &batchv1.CronJob{ObjectMeta: metav1.ObjectMeta{Namespace: testNS, Name: name, Annotations: annots},
		Spec: batchv1.CronJobSpec{Schedule: "@hourly", JobTemplate: batchv1.JobTemplateSpec{
			Spec: batchv1.JobSpec{Template: podSpecFor(sa)}}}}
}

func testJob(name, sa string, annots map[string]string) *batchv1.Job {
	return &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Namespace: testNS, Name: name, Annotations: annots},
		Spec: batchv1.JobSpec{Template: podSpecFor(sa)}}
}

func testStatefulSet(name, sa string, annots map[string]string) *appsv1.StatefulSet {
	return &appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Namespace: testNS, Name: name, Annotations: annots},
		Spec: appsv1.StatefulSetSpec{Template: podSpecFor(sa)}}
}

// restartedAt reads the restart stamp of a workload's pod template.
func restartedAt(t *testing.T, c client.Client, obj client.Object) string {
	t.Helper()
	got := workload.New(workload.KindOf(obj))
	if err := c.Get(context.Background(), types.NamespacedName{Namespace: obj.GetNamespace(), Name: obj.GetName()}, got); err != nil {
		t.Fatalf("reading %s/%s: %v", workload.KindOf(obj), obj.GetName(), err)
	}
	return workload.PodTemplate(got).Annotations[annotations.KeyRestartedAt]
}

func TestSyncRestartsWorkloads(t *testing.T) {
	awsUser := kv(annotations.KeyAWSRole, roleA)
	workloads := func() []client.Object {
		return []client.Object{
			testDeployment("web", testSA, awsUser),
			testStatefulSet("cache", testSA, kv(annotations.KeyAzureIdentity, azA)),
			testCronJob("report", testSA, awsUser),
			testJob("migrate", testSA, awsUser), // a Job's template is immutable
			testDeployment("quiet", testSA, kv(annotations.KeyAWSRole, roleA, annotations.KeyRestartOnReady, "false")),
			testDeployment("payments", "payments", awsUser), // another ServiceAccount
			testDeployment("plain", testSA, kv("a", "b")),   // not connected
			testDeployment("default-sa", "", awsUser),       // runs as "default"
			testCronJob("nightly", "payments", awsUser),     // another ServiceAccount
		}
	}
	everyone := []string{"web", "cache", "report"}
	tests := []struct {
		name          string
		restart       bool
		annots        map[string]string
		wantRestarted []string
	}{
		{"aws first ready", true, kv(annotations.KeyAWSRole, roleA), everyone},
		{"azure first ready", true, kv(annotations.KeyAzureIdentity, azA), everyone},
		{"ready after pending", true, kv(annotations.KeyAWSRole, roleA, annotations.KeyStatusAWS, statusValue(Status{
			State: StatePending, Identity: roleA, LastSync: syncNow.Add(-time.Minute)})), everyone},
		{"restarts off", false, kv(annotations.KeyAWSRole, roleA), nil},
		{"gcp only", true, kv(annotations.KeyGCPServiceAccount, gsaA), nil},
		{"already ready", true, kv(annotations.KeyAWSRole, roleA,
			annotations.KeyStatusAWS, readyStatus(awsConn(roleARole), roleA, time.Hour)), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			objs := workloads()
			f := newSyncFixture(t, allClouds, append(objs, serviceAccount(tt.annots))...)
			f.s.RestartWorkloads = tt.restart
			if _, err := f.sync(); err != nil {
				t.Fatalf("Sync: %v", err)
			}
			stamp := syncNow.Format(time.RFC3339)
			for _, obj := range objs {
				want := ""
				if slices.Contains(tt.wantRestarted, obj.GetName()) {
					want = stamp
				}
				if got := restartedAt(t, f.c, obj); got != want {
					t.Errorf("%s %s: %s = %q, want %q", workload.KindOf(obj), obj.GetName(), annotations.KeyRestartedAt, got, want)
				}
			}
			evs := f.events()
			if n := countEvents(evs, "Normal "+ReasonRestarted); n != len(tt.wantRestarted) {
				t.Errorf("%d %s events, want %d: %q", n, ReasonRestarted, len(tt.wantRestarted), evs)
			}
		})
	}
}

func TestSyncRestartsOnlyOnce(t *testing.T) {
	web := testDeployment("web", testSA, kv(annotations.KeyAWSRole, roleA))
	f := newSyncFixture(t, allClouds, web, serviceAccount(kv(annotations.KeyAWSRole, roleA)))
	f.s.RestartWorkloads = true
	first := syncNow.Format(time.RFC3339)
	for i, now := range []time.Time{syncNow, syncNow.Add(time.Minute), syncNow.Add(2 * syncResync)} {
		f.now = now
		if _, err := f.sync(); err != nil {
			t.Fatalf("Sync %d: %v", i+1, err)
		}
		if got := restartedAt(t, f.c, web); got != first {
			t.Errorf("Sync %d: %s = %q, want %q from the first Sync only", i+1, annotations.KeyRestartedAt, got, first)
		}
		if st := cloudStatus(t, f.sa(), cloud.AWS); st == nil || st.State != StateReady {
			t.Errorf("Sync %d: status = %+v, want Ready", i+1, st)
		}
	}
	if n := len(f.provs[cloud.AWS].Calls()); n != 2 {
		t.Errorf("Ensure called %d times, want 2 (the second Sync is within Resync/2)", n)
	}
}

// A ServiceAccount deleted while its cloud object is being made must wait
// for that object's removal: the finalizer goes on before any cloud write.
func TestSyncDeletedDuringCloudCall(t *testing.T) {
	f := newSyncFixture(t, allClouds, serviceAccount(kv(annotations.KeyAWSRole, roleA)))
	f.provs[cloud.AWS].ensure = func(c cloud.Connection) (cloud.Result, error) {
		if err := f.c.Delete(context.Background(), serviceAccount(nil)); err != nil {
			t.Errorf("deleting the ServiceAccount: %v", err)
		}
		return cloud.Result{Action: cloud.Created, ID: objectID(c)}, nil
	}
	if _, err := f.sync(); err != nil {
		t.Fatalf("Sync: %v", err)
	}
	sa := f.sa()
	if sa == nil {
		t.Fatal("the ServiceAccount went without a finalizer while its association was being created: the association leaks")
	}
	if !hasFinalizer(sa) || sa.DeletionTimestamp.IsZero() {
		t.Fatalf("ServiceAccount finalizers %v, deletion %v: want it terminating, held by the finalizer", sa.Finalizers, sa.DeletionTimestamp)
	}
	if st := cloudStatus(t, sa, cloud.AWS); st == nil || st.State != StateReady || st.Identity != roleA {
		t.Errorf("status = %+v, want Ready for %s, so that the cleanup finds it", st, roleA)
	}
	if _, err := f.sync(); err != nil {
		t.Fatalf("Sync of the terminating ServiceAccount: %v", err)
	}
	if got, want := f.provs[cloud.AWS].ops(), []string{"Ensure " + roleA, "Remove " + roleA}; !slices.Equal(got, want) {
		t.Errorf("calls = %q, want %q", got, want)
	}
	if sa := f.sa(); sa != nil {
		t.Errorf("ServiceAccount still there with finalizers %v", sa.Finalizers)
	}
}

// TestSyncKnownID: a drift check passes the recorded ID to Ensure; a first
// sync passes none.
func TestSyncKnownID(t *testing.T) {
	want := awsConn(roleARole)
	tests := []struct {
		name   string
		annots map[string]string
		want   string
	}{
		{"first sync", kv(annotations.KeyAWSRole, roleA), ""},
		{"drift check", kv(annotations.KeyAWSRole, roleA, annotations.KeyStatusAWS, readyStatus(want, roleA, time.Hour)), objectID(want)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newSyncFixture(t, allClouds, serviceAccount(tt.annots, annotations.Finalizer))
			if _, err := f.sync(); err != nil {
				t.Fatal(err)
			}
			calls := f.provs[cloud.AWS].Calls()
			if len(calls) != 1 || calls[0].Op != "Ensure" || calls[0].Conn.KnownID != tt.want {
				t.Fatalf("calls %+v, want one Ensure with known ID %q", calls, tt.want)
			}
		})
	}
}

// TestIdentityOnRecordBeforeTheCloudWrite: when Ensure runs, a record in
// Keyless's namespace already names the identity and the ServiceAccount's
// UID, whatever the status says; then a crash before the final status
// cannot leave an object nobody knows of.
func TestIdentityOnRecordBeforeTheCloudWrite(t *testing.T) {
	pending := annotations.PendingStatus(gsaA)
	tests := []struct {
		name   string
		annots map[string]string
	}{
		{"recorded at admission", kv(annotations.KeyGCPServiceAccount, gsaA, annotations.KeyStatusGCP, pending)},
		{"admitted without the webhook", kv(annotations.KeyGCPServiceAccount, gsaA)},
		{"switched from another identity", kv(annotations.KeyGCPServiceAccount, gsaA,
			annotations.KeyStatusGCP, readyStatus(cloud.Connection{Subject: subject, GCP: &annotations.GCPServiceAccount{Email: gsaB}}, gsaB, time.Hour))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sa := serviceAccount(tt.annots, annotations.Finalizer)
			sa.UID = "uid-1"
			f := newSyncFixture(t, allClouds, sa)
			var seen []record.Entry
			f.provs[cloud.GCP].ensure = func(c cloud.Connection) (cloud.Result, error) {
				seen = f.records(cloud.GCP)
				return cloud.Result{Action: cloud.Created, ID: objectID(c)}, nil
			}
			if _, err := f.sync(); err != nil {
				t.Fatal(err)
			}
			if len(seen) != 1 || seen[0].Identity != gsaA || seen[0].UID != "uid-1" {
				t.Fatalf("records at Ensure time %+v, want one for %s of uid-1", seen, gsaA)
			}
			// One write per record: the object's ID is in the status.
			if got := f.records(cloud.GCP); len(got) != 1 || got[0].Identity != gsaA {
				t.Errorf("records after the sync %+v, want the one for %s", got, gsaA)
			}
			if st := cloudStatus(t, f.sa(), cloud.GCP); st.State != StateReady || st.Identity != gsaA {
				t.Errorf("final status %+v, want Ready for %s", st, gsaA)
			}
		})
	}
}

// TestOneSyncerPerCloud: with a syncer per cloud sharing the
// ServiceAccount, each removes its own cloud's object and status, and the
// finalizer goes with the last status, after a removed connection and on
// deletion alike.
func TestOneSyncerPerCloud(t *testing.T) {
	for _, deleting := range []bool{false, true} {
		t.Run(map[bool]string{false: "connections removed", true: "ServiceAccount deleted"}[deleting], func(t *testing.T) {
			f := newSyncFixture(t, allClouds, serviceAccount(kv(
				annotations.KeyStatusAWS, readyStatus(awsConn(roleARole), roleA, time.Hour),
				annotations.KeyStatusGCP, readyStatus(gsaAConn, gsaA, time.Hour)), annotations.Finalizer))
			if deleting {
				f.deleteSA()
			}
			for i, c := range []cloud.Name{cloud.AWS, cloud.GCP} {
				s := *f.s
				s.Cloud = c
				if _, err := s.Sync(context.Background(), f.sa()); err != nil {
					t.Fatalf("%s: %v", c, err)
				}
				if calls := f.provs[c].Calls(); len(calls) != 1 || calls[0].Op != "Remove" {
					t.Errorf("%s: calls %+v, want one Remove", c, calls)
				}
				sa := f.sa()
				last := i == 1
				switch {
				case deleting && last:
					if sa != nil {
						t.Errorf("after %s: the ServiceAccount is still there (finalizers %v)", c, sa.Finalizers)
					}
				case sa == nil:
					t.Fatalf("after %s: the ServiceAccount is gone while %s still has a status", c, cloud.GCP)
				case hasFinalizer(sa) == last:
					t.Errorf("after %s: finalizer %t, want %t", c, hasFinalizer(sa), !last)
				case sa.Annotations[c.Info().StatusKey] != "":
					t.Errorf("after %s: its status is still there", c)
				}
			}
			if calls := f.provs[cloud.Azure].Calls(); len(calls) != 0 {
				t.Errorf("azure calls %v, want none", calls)
			}
		})
	}
}
