package controller

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/keyless-dev/keyless/pkg/annotations"
	"github.com/keyless-dev/keyless/pkg/cloud"
	"github.com/keyless-dev/keyless/pkg/policy"
)

// Attacks by a tenant who may edit ServiceAccounts in one namespace, tried
// against the controller with its records. Each is a row of
// docs/security.md's attack table.

// testPolicy parses a policy whose spec is given as YAML lines.
func testPolicy(t *testing.T, spec ...string) func() *policy.Policy {
	t.Helper()
	p, err := policy.Parse([]byte("apiVersion: keyless.dev/v1alpha1\nkind: ConnectionPolicy\nspec:\n  " +
		strings.Join(spec, "\n  ") + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	return func() *policy.Policy { return p }
}

// setAnnotations replaces testNS/testSA's annotations, keeping the statuses.
func (f *syncFixture) setAnnotations(annots map[string]string) {
	f.t.Helper()
	sa := f.sa()
	for k, v := range sa.Annotations {
		if strings.HasPrefix(k, annotations.Prefix+"status-") {
			annots[k] = v
		}
	}
	sa.Annotations = annots
	if err := f.c.Update(context.Background(), sa); err != nil {
		f.t.Fatal(err)
	}
}

func (f *syncFixture) mustSync() {
	f.t.Helper()
	if _, err := f.sync(); err != nil {
		f.t.Fatalf("Sync: %v", err)
	}
}

// gone runs the reconcile the sweep queues for testNS/testSA, which no
// longer exists or is another one that connects nothing.
func (f *syncFixture) gone() {
	f.t.Helper()
	for _, c := range allClouds {
		one := *f.s
		one.Cloud = c
		r := &CloudReconciler{Client: f.c, Cloud: c, Syncer: &one}
		if _, err := r.Reconcile(context.Background(), reconcile.Request{
			NamespacedName: types.NamespacedName{Namespace: testNS, Name: testSA}}); err != nil {
			f.t.Fatalf("Reconcile %s: %v", c, err)
		}
	}
}

// removeSA deletes testNS/testSA the way a tenant can: finalizer stripped
// first, so Keyless never sees it terminate.
func (f *syncFixture) removeSA() {
	f.t.Helper()
	sa := f.sa()
	sa.Finalizers = nil
	if err := f.c.Update(context.Background(), sa); err != nil {
		f.t.Fatal(err)
	}
	if err := f.c.Delete(context.Background(), sa); err != nil {
		f.t.Fatal(err)
	}
}

// Switching identity A to B with deletion-policy retain, then removing the
// connection, must not leave the ServiceAccount holding grants that nothing
// in the cluster records.
func TestAttackRetainAccumulatesGrants(t *testing.T) {
	tests := []struct {
		name        string
		policy      []string
		wantRemoved []string // Remove calls over the whole sequence
		wantKept    []string // identities on record, retained, at the end
	}{
		{"retain not allowed (the default)", []string{"rules: []"}, []string{azIDA, azIDB}, nil},
		{"retain allowed here", []string{"allowRetain: {names: [shop]}", "rules: []"}, []string{azIDA}, []string{azIDB}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newSyncFixture(t, allClouds, serviceAccount(kv(annotations.KeyAzureIdentity, azA)))
			f.s.Policy = testPolicy(t, tt.policy...)
			f.mustSync()
			f.setAnnotations(kv(annotations.KeyAzureIdentity, azB, annotations.KeyDeletionPolicy, "retain"))
			f.mustSync()
			f.setAnnotations(kv())
			f.mustSync()

			var removed []string
			for _, c := range f.provs[cloud.Azure].Calls() {
				if c.Op == "Remove" {
					removed = append(removed, connIdentity(c.Conn))
				}
			}
			if !slices.Equal(removed, tt.wantRemoved) {
				t.Errorf("removed %q, want %q", removed, tt.wantRemoved)
			}
			var kept []string
			for _, e := range f.records(cloud.Azure) {
				if !e.Retained {
					t.Errorf("record %+v is not marked retained", e)
				}
				kept = append(kept, e.Identity)
			}
			if !slices.Equal(kept, tt.wantKept) {
				t.Errorf("on record %q, want %q", kept, tt.wantKept)
			}
		})
	}
}

// A retained object is revoked when the policy no longer allows it and says
// existingViolations: remove, even after its ServiceAccount is gone.
func TestAttackRetainedObjectRevokedByPolicy(t *testing.T) {
	tests := []struct {
		name       string
		later      []string
		wantRemove bool
	}{
		{"still allowed", []string{"allowRetain: {names: [shop]}", "rules: []"}, false},
		{"no longer allowed, report", []string{"existingViolations: report", "rules: []"}, false},
		{"no longer allowed, remove", []string{"existingViolations: remove", "rules: []"}, true},
		{"identity no longer allowed, remove", []string{"existingViolations: remove", "allowRetain: {names: [shop]}",
			"rules: [{name: other, azureIdentities: ['*/*/other-*']}]"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newSyncFixture(t, allClouds, serviceAccount(kv(annotations.KeyAzureIdentity, azA, annotations.KeyDeletionPolicy, "retain")))
			f.s.Policy = testPolicy(t, "allowRetain: {names: [shop]}", "rules: []")
			f.mustSync()
			f.removeSA()
			f.gone()
			if got := f.recorded(cloud.Azure); !slices.Equal(got, []string{azIDA}) {
				t.Fatalf("on record %q, want the retained %s", got, azIDA)
			}
			f.s.Policy = testPolicy(t, tt.later...)
			f.gone()
			removed := slices.Contains(f.provs[cloud.Azure].ops(), "Remove "+azIDA)
			if removed != tt.wantRemove {
				t.Errorf("removed = %t, want %t (calls %q)", removed, tt.wantRemove, f.provs[cloud.Azure].ops())
			}
			if onRecord := len(f.records(cloud.Azure)) > 0; onRecord == tt.wantRemove {
				t.Errorf("still on record = %t, want %t", onRecord, !tt.wantRemove)
			}
		})
	}
}

// A tenant deletes a connected ServiceAccount after stripping Keyless's
// finalizer, or replaces it by a new one of the same name: the clouds key
// their objects by namespace and name, so without the sweep the next
// ServiceAccount of that name inherits the grant.
func TestAttackOrphanByStrippedFinalizer(t *testing.T) {
	for _, c := range allClouds {
		t.Run(string(c), func(t *testing.T) {
			annots := map[cloud.Name]map[string]string{
				cloud.AWS: kv(annotations.KeyAWSRole, roleA), cloud.Azure: kv(annotations.KeyAzureIdentity, azA),
				cloud.GCP: kv(annotations.KeyGCPServiceAccount, gsaA),
			}[c]
			sa := serviceAccount(annots)
			sa.UID = "uid-1"
			f := newSyncFixture(t, allClouds, sa)
			f.mustSync()
			if len(f.records(c)) != 1 {
				t.Fatalf("records %+v, want one", f.records(c))
			}
			f.removeSA()
			f.gone()
			if ops := f.provs[c].ops(); len(ops) != 2 || !strings.HasPrefix(ops[1], "Remove ") {
				t.Errorf("calls %q, want Ensure then Remove", ops)
			}
			if got := f.records(c); len(got) != 0 {
				t.Errorf("records %+v left", got)
			}
			if evs := f.events(); countEvents(evs, "Warning "+ReasonOrphanRemoved) != 1 {
				t.Errorf("events %q, want one %s", evs, ReasonOrphanRemoved)
			}
			f.gone() // a second sweep finds nothing
			if n := len(f.provs[c].Calls()); n != 2 {
				t.Errorf("%d calls after a second sweep, want 2", n)
			}
		})
	}
}

func TestAttackRecreatedServiceAccountInheritsNothing(t *testing.T) {
	tests := []struct {
		name       string
		newAnnots  map[string]string
		wantRemove bool
	}{
		{"same name, no connection", kv(), true},
		{"same name, another identity", kv(annotations.KeyGCPServiceAccount, gsaB), true},
		{"same name, same identity: the object is the new one's", kv(annotations.KeyGCPServiceAccount, gsaA), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			old := serviceAccount(kv(annotations.KeyGCPServiceAccount, gsaA))
			old.UID = "uid-1"
			f := newSyncFixture(t, allClouds, old)
			f.mustSync()
			f.removeSA()
			fresh := serviceAccount(tt.newAnnots)
			fresh.UID = "uid-2"
			if err := f.c.Create(context.Background(), fresh); err != nil {
				t.Fatal(err)
			}
			f.gone()
			removed := slices.Contains(f.provs[cloud.GCP].ops(), "Remove "+gsaA)
			if removed != tt.wantRemove {
				t.Errorf("removed %s = %t, want %t (calls %q)", gsaA, removed, tt.wantRemove, f.provs[cloud.GCP].ops())
			}
			for _, e := range f.records(cloud.GCP) {
				if e.UID != "uid-2" {
					t.Errorf("record %+v still belongs to the old ServiceAccount", e)
				}
			}
		})
	}
}

// Annotating the namespace's "default" ServiceAccount directly, with the
// webhook down or before it was installed, connects nothing, and what an
// older version connected is removed.
func TestAttackDefaultServiceAccountAtReconcile(t *testing.T) {
	sa := serviceAccount(kv(annotations.KeyAWSRole, roleA, annotations.KeyStatusAWS,
		readyStatus(awsConn(roleARole), roleA, time.Hour)))
	sa.Name = "default"
	f := newSyncFixture(t, allClouds, sa)
	stored := func() *corev1.ServiceAccount {
		o := &corev1.ServiceAccount{}
		if err := f.c.Get(context.Background(), types.NamespacedName{Namespace: testNS, Name: "default"}, o); err != nil {
			t.Fatal(err)
		}
		return o
	}
	if _, err := f.syncOf(stored); err != nil {
		t.Fatal(err)
	}
	if ops := f.provs[cloud.AWS].ops(); !slices.Equal(ops, []string{"Remove " + roleA}) {
		t.Errorf("calls %q, want only the old association's removal", ops)
	}
	st := readStatus(stored().Annotations, cloud.AWS)
	if st == nil || st.State != StatePolicyViolation || !strings.Contains(st.Message, `"default" ServiceAccount`) {
		t.Errorf("status %+v, want a refusal that says why", st)
	}
}

// GCP members (and other clouds' objects) that were there before Keyless
// are adopted and never removed; but an object Keyless made itself, whose
// answer was lost in a crash, is not mistaken for one.
func TestAdoptedObjectsAreNeverRemoved(t *testing.T) {
	tests := []struct {
		name       string
		annots     map[string]string
		wantRemove bool
	}{
		{"there before Keyless", kv(annotations.KeyGCPServiceAccount, gsaA), false},
		{"made by an earlier attempt whose status was lost", kv(annotations.KeyGCPServiceAccount, gsaA,
			annotations.KeyStatusGCP, statusValue(Status{State: StatePending, Identity: gsaA, ID: objectID(gsaAConn)})), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newSyncFixture(t, allClouds, serviceAccount(tt.annots))
			f.provs[cloud.GCP].ensure = func(c cloud.Connection) (cloud.Result, error) {
				return cloud.Result{Action: cloud.Adopted, ID: objectID(c)}, nil
			}
			f.mustSync()
			if st := cloudStatus(t, f.sa(), cloud.GCP); st.Adopted == tt.wantRemove {
				t.Errorf("status adopted = %t, want %t", st.Adopted, !tt.wantRemove)
			}
			f.setAnnotations(kv())
			f.mustSync()
			removed := slices.Contains(f.provs[cloud.GCP].ops(), "Remove "+gsaA)
			if removed != tt.wantRemove {
				t.Errorf("removed = %t, want %t", removed, tt.wantRemove)
			}
			if got := f.records(cloud.GCP); len(got) != 0 {
				t.Errorf("records %+v left", got)
			}
		})
	}
}

// Workloads restart exactly when new pods would get other credentials than
// running ones: never after a transient error or a refusal that changed
// nothing, nor on the first resync after an upgrade.
func TestRestartOnlyWhenCredentialsChange(t *testing.T) {
	type step struct {
		annots      map[string]string // nil: unchanged
		ensure      func(cloud.Connection) (cloud.Result, error)
		policy      []string // nil: no policy
		wantRestart bool
	}
	ready := func(cid string) func(cloud.Connection) (cloud.Result, error) {
		return func(c cloud.Connection) (cloud.Result, error) {
			return cloud.Result{Action: cloud.Unchanged, ID: objectID(c), ClientID: cid}, nil
		}
	}
	throttled := answer(cloud.Result{}, fmt.Errorf("EKS: %w", cloud.ErrThrottled))
	tests := []struct {
		name  string
		start map[string]string
		steps []step
	}{
		{"a transient error and back", kv(annotations.KeyAWSRole, roleA), []step{
			{wantRestart: true}, {ensure: throttled}, {ensure: ready("")},
		}},
		{"a policy refusal reverted", kv(annotations.KeyAWSRole, roleA), []step{
			{wantRestart: true},
			{policy: []string{"rules: [{name: none, awsRoles: []}]"}},
			{policy: []string{"rules: []"}},
		}},
		{"an identity switch", kv(annotations.KeyAWSRole, roleA), []step{
			{wantRestart: true}, {annots: kv(annotations.KeyAWSRole, roleB), wantRestart: true},
		}},
		{"an azure switch", kv(annotations.KeyAzureIdentity, azA), []step{
			{ensure: ready(azCID), wantRestart: true},
			{annots: kv(annotations.KeyAzureIdentity, azB), ensure: ready(azCIDOther), wantRestart: true},
		}},
		{"an azure client ID change", kv(annotations.KeyAzureIdentity, azA), []step{
			{ensure: ready(azCID), wantRestart: true}, {ensure: ready(azCIDOther), wantRestart: true},
			{ensure: ready(azCIDOther)},
		}},
		{"a status written before restarts were tracked", kv(annotations.KeyAzureIdentity, azA,
			annotations.KeyStatusAzure, readyStatus(azAConn, azIDA, time.Hour)), []step{
			{ensure: ready(azCID)},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			web := testDeployment("web", testSA, kv(annotations.KeyAWSRole, roleA))
			f := newSyncFixture(t, allClouds, web, serviceAccount(tt.start))
			f.s.RestartWorkloads = true
			for i, s := range tt.steps {
				f.now = syncNow.Add(time.Duration(i) * syncResync)
				if s.annots != nil {
					f.setAnnotations(s.annots)
				}
				f.s.Policy = nil
				if s.policy != nil {
					f.s.Policy = testPolicy(t, s.policy...)
				}
				for _, p := range f.provs {
					p.ensure = s.ensure
				}
				_, _ = f.sync()
				stamp := f.now.Format(time.RFC3339)
				if got := restartedAt(t, f.c, web) == stamp; got != s.wantRestart {
					t.Errorf("step %d: restarted = %t, want %t", i+1, got, s.wantRestart)
				}
			}
		})
	}
}

// Jobs from one generateName share their ServiceAccount: owned by the first
// Job only, it would be garbage-collected, with its cloud binding, when that
// Job goes, under the Jobs that still run as it.
func TestCreatedServiceAccountOwnedByEveryUser(t *testing.T) {
	ctx := context.Background()
	connected := kv(annotations.KeyAWSRole, roleA)
	first := testJob("migrate-abcde", "migrate", connected)
	first.UID = "uid-first"
	f := newSyncFixture(t, allClouds, first)
	r := &ServiceAccountReconciler{Client: f.c, Recorder: f.rec, Options: syncOpts}
	req := reconcile.Request{NamespacedName: types.NamespacedName{Namespace: testNS, Name: "migrate"}}
	if _, err := r.Reconcile(ctx, req); err != nil {
		t.Fatal(err)
	}
	second := testJob("migrate-fghij", "migrate", connected)
	second.UID = "uid-second"
	cron := testCronJob("migrate", "migrate", connected)
	cron.UID = "uid-cron"
	for _, o := range []client.Object{second, cron} {
		if err := f.c.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	for range 2 { // the second reconcile changes nothing
		if _, err := r.Reconcile(ctx, req); err != nil {
			t.Fatal(err)
		}
	}
	sa := &corev1.ServiceAccount{}
	if err := f.c.Get(ctx, req.NamespacedName, sa); err != nil {
		t.Fatal(err)
	}
	var owners []string
	for _, o := range sa.OwnerReferences {
		owners = append(owners, o.Kind+"/"+o.Name+"="+string(o.UID))
	}
	slices.Sort(owners)
	want := []string{"CronJob/migrate=uid-cron", "Job/migrate-abcde=uid-first", "Job/migrate-fghij=uid-second"}
	if !slices.Equal(owners, want) {
		t.Errorf("owners %q, want %q", owners, want)
	}
}

// A namespace created after a connection was admitted takes back the
// identities named after it, and label changes select other rules: both
// reach the controller at once, not at the next resync.
func TestNamespaceChangesQueueTheirServiceAccounts(t *testing.T) {
	ns := func(name string) *corev1.Namespace {
		return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	}
	sa := func(namespace, name string, annots map[string]string) *corev1.ServiceAccount {
		return &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name, Annotations: annots}}
	}
	c := newFakeClient(ns("team"), ns("team-prod"), ns("teamx"), ns("other"),
		sa("team", "app", kv(annotations.KeyAWSRole, "team-prod-admin")),
		sa("team", "plain", nil),
		sa("team", "gcp-only", kv(annotations.KeyGCPServiceAccount, gsaA)),
		sa("team-prod", "api", kv(annotations.KeyAWSRole, "team-prod-api")),
		sa("other", "x", kv(annotations.KeyAWSRole, "other-x")))
	r := &CloudReconciler{Client: c, Cloud: cloud.AWS}
	var got []string
	for _, req := range r.namespaceChanged(context.Background(), ns("team-prod")) {
		got = append(got, req.String())
	}
	slices.Sort(got)
	if want := []string{"team-prod/api", "team/app"}; !slices.Equal(got, want) {
		t.Errorf("queued %q, want %q", got, want)
	}
	upd := event.UpdateEvent{ObjectOld: ns("team"), ObjectNew: &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{
		Name: "team", Labels: map[string]string{"keyless.dev/onboarded": "true"}}}}
	if !namespacePredicate.Update(upd) {
		t.Error("a label change is not passed on")
	}
	if namespacePredicate.Update(event.UpdateEvent{ObjectOld: ns("team"), ObjectNew: ns("team")}) {
		t.Error("an update without a label change is passed on")
	}
}

// A cloud taken out of the configuration while it holds objects: the
// deletion of their ServiceAccount is not held, but the objects stay on
// record and are removed once the cloud is configured again.
func TestUnconfiguredCloudKeepsItsRecords(t *testing.T) {
	f := newSyncFixture(t, allClouds, serviceAccount(kv(annotations.KeyGCPServiceAccount, gsaA)))
	f.mustSync()
	gcp := f.s.Providers[cloud.GCP]
	delete(f.s.Providers, cloud.GCP)
	f.deleteSA()
	f.mustSync()
	if f.sa() != nil {
		t.Fatal("the deletion is held by a cloud that is not configured")
	}
	if got := f.recorded(cloud.GCP); !slices.Equal(got, []string{gsaA}) {
		t.Fatalf("records %q, want the member still on record", got)
	}
	if evs := f.events(); countEvents(evs, "Warning "+ReasonCloudDisabled) == 0 {
		t.Errorf("events %q, want a warning that the object could not be removed", evs)
	}
	f.s.Providers[cloud.GCP] = gcp
	f.gone()
	if ops := f.provs[cloud.GCP].ops(); !slices.Equal(ops, []string{"Ensure " + gsaA, "Remove " + gsaA}) {
		t.Errorf("calls %q, want the member removed once GCP is back", ops)
	}
	if got := f.recorded(cloud.GCP); len(got) != 0 {
		t.Errorf("records %q left", got)
	}
}

// A status forged by the ServiceAccount's owner (Ready, the right hash, a
// lastSync in the future) must not stop drift repair.
func TestAttackForgedStatusDoesNotStopRepair(t *testing.T) {
	forged := statusValue(Status{State: StateReady, Identity: gsaA, ID: objectID(gsaAConn), Hash: fingerprint(gsaAConn),
		LastSync: syncNow.Add(365 * 24 * time.Hour)})
	f := newSyncFixture(t, allClouds, serviceAccount(kv(annotations.KeyGCPServiceAccount, gsaA, annotations.KeyStatusGCP, forged)))
	f.mustSync()
	if n := len(f.provs[cloud.GCP].Calls()); n != 1 {
		t.Errorf("%d Ensure calls, want 1: a status from the future is not a recent sync", n)
	}
	if st := cloudStatus(t, f.sa(), cloud.GCP); !st.LastSync.Equal(syncNow) {
		t.Errorf("lastSync %v, want the sync's own time", st.LastSync)
	}
}

// An adopted object is announced once, not at every resync.
func TestAdoptedEventOnce(t *testing.T) {
	f := newSyncFixture(t, allClouds, serviceAccount(kv(annotations.KeyGCPServiceAccount, gsaA)))
	f.provs[cloud.GCP].ensure = func(c cloud.Connection) (cloud.Result, error) {
		return cloud.Result{Action: cloud.Adopted, ID: objectID(c)}, nil
	}
	for i := range 3 {
		f.now = syncNow.Add(time.Duration(i) * syncResync)
		f.mustSync()
	}
	if n := countEvents(f.events(), "Normal "+ReasonCloudAdopted); n != 1 {
		t.Errorf("%d %s events, want 1", n, ReasonCloudAdopted)
	}
	if st := cloudStatus(t, f.sa(), cloud.GCP); !st.Adopted {
		t.Errorf("status %+v lost the adoption", st)
	}
}

// The ServiceAccounts sharing an Azure identity or a Google service
// account come due together, so that one read serves their drift checks;
// AWS ones are jittered.
func TestResyncAlignedPerIdentity(t *testing.T) {
	s := &CloudSyncer{Resync: syncResync}
	due := func(now time.Time, c cloud.Name, conns annotations.Connections) time.Time {
		s.Now, s.Cloud = func() time.Time { return now }, c
		d := s.resyncIn(conns)
		if d < syncResync/2 || d >= syncResync*3/2 {
			t.Errorf("%s: next check in %v, want %v..%v", c, d, syncResync/2, syncResync*3/2)
		}
		return now.Add(d)
	}
	gA := annotations.Connections{GCP: &annotations.GCPServiceAccount{Email: gsaA}}
	gB := annotations.Connections{GCP: &annotations.GCPServiceAccount{Email: gsaB}}
	for _, later := range []time.Duration{time.Second, 3 * time.Minute, 7 * time.Minute} {
		if a, b := due(syncNow, cloud.GCP, gA), due(syncNow.Add(later), cloud.GCP, gA); a.Sub(b)%syncResync != 0 {
			t.Errorf("checks of one Google service account due at %v and %v (synced %v apart): not the same moment of the period", a, b, later)
		}
	}
	if due(syncNow, cloud.GCP, gA).Equal(due(syncNow, cloud.GCP, gB)) {
		t.Error("two Google service accounts due at the same moment")
	}
	az := annotations.Connections{Azure: &annotations.AzureIdentity{ResourceGroup: "rg", Name: azA}}
	if a, b := due(syncNow, cloud.Azure, az), due(syncNow.Add(time.Minute), cloud.Azure, az); a.Sub(b)%syncResync != 0 {
		t.Errorf("checks of one Azure identity due at %v and %v", a, b)
	}
	aws := annotations.Connections{AWS: &roleARole}
	seen := map[time.Time]bool{}
	for range 5 {
		seen[due(syncNow, cloud.AWS, aws)] = true
	}
	if len(seen) < 2 {
		t.Error("AWS checks are not jittered")
	}
}

// A reconcile that changes nothing writes nothing: the second one, caused
// by the first one's own writes (the Azure client ID next to the status),
// must not patch the same status again.
func TestNothingWrittenWhenNothingChanged(t *testing.T) {
	f := newSyncFixture(t, allClouds, serviceAccount(kv(annotations.KeyAzureIdentity, azA)))
	f.provs[cloud.Azure].ensure = func(c cloud.Connection) (cloud.Result, error) {
		return cloud.Result{Action: cloud.Created, ID: objectID(c), ClientID: azCID}, nil
	}
	f.mustSync()
	rv := f.sa().ResourceVersion
	f.now = syncNow.Add(time.Second)
	f.mustSync()
	if got := f.sa().ResourceVersion; got != rv {
		t.Errorf("resourceVersion %s -> %s: a reconcile with nothing to do wrote the ServiceAccount", rv, got)
	}
	if n := len(f.provs[cloud.Azure].Calls()); n != 1 {
		t.Errorf("%d Ensure calls, want 1", n)
	}
}

// A namespace created a moment ago, with a label that a rule selects, has
// not reached the cache when its ServiceAccount is reconciled. Judged as a
// namespace without labels, the rule would not apply and the identity would
// be granted until the namespace's event came.
func TestAttackNamespaceNotCachedYet(t *testing.T) {
	ctx := context.Background()
	f := newSyncFixture(t, allClouds, serviceAccount(kv(annotations.KeyAzureIdentity, azA)))
	f.s.Policy = testPolicy(t, "rules:",
		"- name: restricted-namespaces",
		"  namespaces: {selector: {matchLabels: {tier: restricted}}}",
		"  azureIdentities: []")
	if err := f.c.Delete(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: testNS}}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.sync(); !errors.Is(err, errNamespaceNotCached) {
		t.Errorf("Sync with the namespace not cached: %v, want errNamespaceNotCached", err)
	}
	if calls := f.provs[cloud.Azure].ops(); len(calls) != 0 {
		t.Fatalf("cloud calls before the namespace is cached: %v", calls)
	}
	// The namespace's event arrives.
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: testNS, Labels: map[string]string{"tier": "restricted"}}}
	if err := f.c.Create(ctx, ns); err != nil {
		t.Fatal(err)
	}
	f.mustSync()
	if calls := f.provs[cloud.Azure].ops(); len(calls) != 0 {
		t.Errorf("cloud calls in a restricted namespace: %v", calls)
	}
	if st := cloudStatus(t, f.sa(), cloud.Azure); st == nil || st.State != StatePolicyViolation ||
		!strings.Contains(st.Message, "restricted-namespaces") {
		t.Errorf("status %+v, want the rule's refusal", st)
	}
}

// Removing what was granted never waits for the namespace to reach the
// cache: neither a deletion nor a connection taken away.
func TestRemovalDoesNotWaitForTheNamespace(t *testing.T) {
	t.Run("connection removed", func(t *testing.T) {
		ctx := context.Background()
		f := newSyncFixture(t, allClouds, serviceAccount(kv(annotations.KeyAzureIdentity, azA)))
		f.s.Policy = testPolicy(t, "rules: []")
		f.mustSync()
		if err := f.c.Delete(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: testNS}}); err != nil {
			t.Fatal(err)
		}
		f.setAnnotations(kv())
		f.mustSync()
		if ops := f.provs[cloud.Azure].ops(); !slices.Equal(ops, []string{"Ensure " + azIDA, "Remove " + azIDA}) {
			t.Errorf("calls %q, want the credential made and removed", ops)
		}
	})
	t.Run("deletion", testDeletionDoesNotWaitForTheNamespace)
}

func testDeletionDoesNotWaitForTheNamespace(t *testing.T) {
	ctx := context.Background()
	f := newSyncFixture(t, allClouds, serviceAccount(kv(annotations.KeyAzureIdentity, azA)))
	f.s.Policy = testPolicy(t, "rules: []")
	f.mustSync()
	if err := f.c.Delete(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: testNS}}); err != nil {
		t.Fatal(err)
	}
	if err := f.c.Delete(ctx, f.sa()); err != nil {
		t.Fatal(err)
	}
	f.mustSync()
	if ops := f.provs[cloud.Azure].ops(); !slices.Equal(ops, []string{"Ensure " + azIDA, "Remove " + azIDA}) {
		t.Errorf("calls %q, want the credential made and removed", ops)
	}
	if sa := f.sa(); sa != nil {
		t.Errorf("the ServiceAccount is still there: finalizers %v", sa.Finalizers)
	}
}

// The ServiceAccount's owner writes the status annotation too: a forged
// "adopted" must not make Keyless leave the object it made in the cloud,
// off its records, when the connection goes, the ServiceAccount is
// deleted or the policy revokes the identity.
func TestAttackForgedAdoptedStatus(t *testing.T) {
	forged := func(identity string) string {
		return statusValue(Status{State: StateReady, Identity: identity, Adopted: true})
	}
	t.Run("connection removed", func(t *testing.T) {
		f := newSyncFixture(t, allClouds, serviceAccount(kv(annotations.KeyGCPServiceAccount, gsaA, annotations.KeyStatusGCP, forged(gsaA))))
		f.mustSync()
		f.setAnnotations(kv())
		f.mustSync()
		if ops := f.provs[cloud.GCP].ops(); !slices.Equal(ops, []string{"Ensure " + gsaA, "Remove " + gsaA}) {
			t.Errorf("calls %q, want the member made and removed", ops)
		}
		if recs := f.records(cloud.GCP); len(recs) != 0 {
			t.Errorf("records left: %+v", recs)
		}
	})
	t.Run("switch, then deletion", func(t *testing.T) {
		f := newSyncFixture(t, allClouds, serviceAccount(kv(annotations.KeyAWSRole, roleA), annotations.Finalizer))
		f.mustSync()
		sa := f.sa()
		sa.Annotations[annotations.KeyAWSRole] = roleB
		sa.Annotations[annotations.KeyStatusAWS] = forged(roleB)
		if err := f.c.Update(context.Background(), sa); err != nil {
			t.Fatal(err)
		}
		f.mustSync()
		f.deleteSA()
		f.mustSync()
		if ops := f.provs[cloud.AWS].ops(); !slices.Contains(ops, "Remove "+roleB) {
			t.Errorf("calls %q: the association for %s was never removed", ops, roleB)
		}
		if recs := f.records(cloud.AWS); len(recs) != 0 {
			t.Errorf("records left: %+v", recs)
		}
	})
	t.Run("revoked by the policy", func(t *testing.T) {
		f := newSyncFixture(t, allClouds, serviceAccount(kv(annotations.KeyGCPServiceAccount, gsaA, annotations.KeyStatusGCP, forged(gsaA))))
		f.s.Policy = testPolicy(t, "rules: []")
		f.mustSync()
		f.s.Policy = testPolicy(t, "existingViolations: remove", "rules: [{name: other, gcpServiceAccounts: ['other-*@*']}]")
		f.now = f.now.Add(syncResync)
		f.mustSync()
		if ops := f.provs[cloud.GCP].ops(); !slices.Contains(ops, "Remove "+gsaA) {
			t.Errorf("calls %q: the revoked member was never removed", ops)
		}
	})
}

// The connection and its status removed in one patch: the update must
// reach the reconcile that removes the object at once, not at the next
// resync, some ten minutes later.
func TestAttackConnectionAndStatusRemovedTogether(t *testing.T) {
	connected := serviceAccount(kv(annotations.KeyGCPServiceAccount, gsaA,
		annotations.KeyStatusGCP, statusValue(Status{State: StateReady, Identity: gsaA})), annotations.Finalizer)
	stripped := serviceAccount(kv(), annotations.Finalizer)
	for _, tt := range []struct {
		name     string
		old, new client.Object
		want     bool
	}{
		{"connection and status removed", connected, stripped, true},
		{"connection added", stripped, connected, true},
		{"nothing of this cloud before or after", stripped, serviceAccount(kv("example.com/x", "y"), annotations.Finalizer), false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := concernsCloud(cloud.GCP).Update(event.UpdateEvent{ObjectOld: tt.old, ObjectNew: tt.new}); got != tt.want {
				t.Errorf("passed = %v, want %v", got, tt.want)
			}
		})
	}
}

// The ServiceAccount's owner writes a status naming an identity Keyless
// may not touch (another project's), then deletes the ServiceAccount: the
// removal Keyless tries fails for good, and must not hold the deletion,
// nor retry at the pace of a transient error, spending the cloud's shared
// request budget.
func TestAttackForgedStatusHoldsDeletion(t *testing.T) {
	const victim = "victim-sa@other-project.iam.gserviceaccount.com"
	for _, state := range []string{StatePending, StateReady} {
		t.Run(state, func(t *testing.T) {
			f := newSyncFixture(t, allClouds, serviceAccount(kv(annotations.KeyGCPServiceAccount, gsaA), annotations.Finalizer))
			f.provs[cloud.GCP].remove = func(c cloud.Connection) (cloud.Result, error) {
				if c.GCP.Email == victim {
					return cloud.Result{}, fmt.Errorf("getIamPolicy: 403: %w", cloud.ErrPermission)
				}
				return cloud.Result{Action: cloud.Deleted}, nil
			}
			f.mustSync()
			sa := f.sa()
			sa.Annotations[annotations.KeyStatusGCP] = statusValue(Status{State: state, Identity: victim})
			if err := f.c.Update(context.Background(), sa); err != nil {
				t.Fatal(err)
			}
			f.deleteSA()
			f.mustSync()
			if sa := f.sa(); sa != nil {
				t.Fatalf("the ServiceAccount is still terminating: finalizers %v", sa.Finalizers)
			}
			if !slices.Contains(f.provs[cloud.GCP].ops(), "Remove "+gsaA) {
				t.Errorf("calls %q: the member Keyless made was not removed", f.provs[cloud.GCP].ops())
			}
			// What the status named stays on record, for the sweep.
			for _, e := range f.records(cloud.GCP) {
				if e.Identity != victim || !e.FromStatus {
					t.Errorf("record %+v left", e)
				}
			}
			// The sweep's retry fails for good too: no error, so no retry
			// before the next sweep.
			one := *f.s
			one.Cloud = cloud.GCP
			if _, err := one.Gone(context.Background(), types.NamespacedName{Namespace: testNS, Name: testSA}, ""); err != nil {
				t.Errorf("Gone: %v, want no error (the next sweep tries again)", err)
			}
		})
	}
}
