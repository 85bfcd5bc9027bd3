package controller

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/events"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/keyless-dev/keyless/pkg/annotations"
	"github.com/keyless-dev/keyless/pkg/cloud"
	"github.com/keyless-dev/keyless/pkg/record"
	"github.com/keyless-dev/keyless/pkg/workload"
)

// provCall is one call a fakeProvider received.
type provCall struct {
	Op   string // "Ensure" or "Remove"
	Conn cloud.Connection
}

// fakeProvider is a scripted cloud.Provider that records its calls. A nil
// ensure or remove function answers Created or Deleted with an ID made from
// the connection.
type fakeProvider struct {
	mu     sync.Mutex
	calls  []provCall
	ensure func(cloud.Connection) (cloud.Result, error)
	remove func(cloud.Connection) (cloud.Result, error)
}

var _ cloud.Provider = (*fakeProvider)(nil)

func (p *fakeProvider) Ensure(_ context.Context, c cloud.Connection) (cloud.Result, error) {
	p.mu.Lock()
	p.calls = append(p.calls, provCall{"Ensure", c})
	fn := p.ensure
	p.mu.Unlock()
	if fn != nil {
		return fn(c)
	}
	return cloud.Result{Action: cloud.Created, ID: objectID(c)}, nil
}

func (p *fakeProvider) Remove(_ context.Context, c cloud.Connection) (cloud.Result, error) {
	p.mu.Lock()
	p.calls = append(p.calls, provCall{"Remove", c})
	fn := p.remove
	p.mu.Unlock()
	if fn != nil {
		return fn(c)
	}
	return cloud.Result{Action: cloud.Deleted, ID: objectID(c)}, nil
}

// Calls returns a copy of the calls so far.
func (p *fakeProvider) Calls() []provCall {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]provCall(nil), p.calls...)
}

// ops returns the calls as "Op identity" strings, for short comparisons.
func (p *fakeProvider) ops() []string {
	var out []string
	for _, c := range p.Calls() {
		out = append(out, c.Op+" "+connIdentity(c.Conn))
	}
	return out
}

func connIdentity(c cloud.Connection) string {
	switch {
	case c.AWS != nil:
		return c.AWS.Role.String()
	case c.Azure != nil:
		return c.Azure.String()
	case c.GCP != nil:
		return c.GCP.Email
	}
	return "?"
}

// objectID is the ID the fake clouds give the object of c.
func objectID(c cloud.Connection) string {
	switch {
	case c.AWS != nil:
		return "a-" + c.AWS.Role.Name
	case c.Azure != nil:
		return "/cred/" + c.Azure.Name + "/" + c.Subject.Namespace + "-" + c.Subject.Name
	case c.GCP != nil:
		return c.GCP.Email + " serviceAccount:proj.svc.id.goog[" + c.Subject.Namespace + "/" + c.Subject.Name + "]"
	}
	return ""
}

// answer scripts a provider method with one fixed answer.
func answer(r cloud.Result, err error) func(cloud.Connection) (cloud.Result, error) {
	return func(cloud.Connection) (cloud.Result, error) { return r, err }
}

// Test fixture values.
const (
	recordsNS = "keyless-system"

	testNS = "shop"
	testSA = "orders"
)

var (
	syncNow    = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	syncResync = 10 * time.Minute
	syncOpts   = annotations.Options{AzureDefaultResourceGroup: "shop-rg"}
)

// syncFixture is a CloudSyncer on a fake client with fake providers.
type syncFixture struct {
	t     *testing.T
	c     client.Client
	rec   *events.FakeRecorder
	s     *CloudSyncer
	now   time.Time
	provs map[cloud.Name]*fakeProvider
}

// indexByServiceAccount is workload's IndexServiceAccount extractor.
func indexByServiceAccount(obj client.Object) []string {
	if !workload.Connected(obj) {
		return nil
	}
	return []string{workload.ServiceAccountName(obj)}
}

// newFakeClient builds a fake client with the client-go scheme and the
// workload index of every kind, the way the manager's cache has it. The
// namespaces of objs exist, as they do in a cluster, unless objs give them.
func newFakeClient(objs ...client.Object) client.Client {
	b := fake.NewClientBuilder().WithScheme(clientgoscheme.Scheme).WithObjects(withNamespaces(objs)...)
	for _, k := range workload.Kinds {
		b = b.WithIndex(k.New(), workload.IndexServiceAccount, indexByServiceAccount)
	}
	b = b.WithIndex(&corev1.ConfigMap{}, record.IndexSubject, record.IndexValue)
	return b.Build()
}

// withNamespaces adds to objs a Namespace for each namespace they are in
// that they do not give.
func withNamespaces(objs []client.Object) []client.Object {
	given := map[string]bool{}
	for _, o := range objs {
		if _, ok := o.(*corev1.Namespace); ok {
			given[o.GetName()] = true
		}
	}
	out := slices.Clone(objs)
	for _, o := range objs {
		if ns := o.GetNamespace(); ns != "" && !given[ns] {
			given[ns] = true
			out = append(out, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})
		}
	}
	return out
}

// newSyncFixture configures a fake provider for each cloud in configured.
func newSyncFixture(t *testing.T, configured []cloud.Name, objs ...client.Object) *syncFixture {
	t.Helper()
	f := &syncFixture{
		t:     t,
		c:     newFakeClient(objs...),
		rec:   events.NewFakeRecorder(100),
		now:   syncNow,
		provs: map[cloud.Name]*fakeProvider{},
	}
	providers := map[cloud.Name]cloud.Provider{}
	for _, c := range configured {
		p := &fakeProvider{}
		f.provs[c] = p
		providers[c] = p
	}
	f.s = &CloudSyncer{
		Client: f.c, Recorder: f.rec, Options: syncOpts, Providers: providers,
		Records: &record.Store{Client: f.c, Namespace: recordsNS},
		Resync:  syncResync, Now: func() time.Time { return f.now },
	}
	return f
}

var allClouds = []cloud.Name{cloud.AWS, cloud.Azure, cloud.GCP}

// serviceAccount is testNS/testSA with the given annotations and finalizers.
func serviceAccount(annots map[string]string, finalizers ...string) *corev1.ServiceAccount {
	return &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{
		Namespace: testNS, Name: testSA, Annotations: annots, Finalizers: finalizers,
	}}
}

// sa reads testNS/testSA; nil when it is gone.
func (f *syncFixture) sa() *corev1.ServiceAccount {
	f.t.Helper()
	sa := &corev1.ServiceAccount{}
	err := f.c.Get(context.Background(), types.NamespacedName{Namespace: testNS, Name: testSA}, sa)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		f.t.Fatalf("reading the ServiceAccount: %v", err)
	}
	return sa
}

// sync runs one Sync of each cloud's syncer on the stored ServiceAccount,
// each on the server's latest copy, as the clouds' reconcilers do. The
// result is the earliest requeue; the errors are joined.
func (f *syncFixture) sync() (reconcile.Result, error) {
	f.t.Helper()
	return f.syncOf(f.sa)
}

// syncOf is sync on the ServiceAccount that get reads.
func (f *syncFixture) syncOf(get func() *corev1.ServiceAccount) (reconcile.Result, error) {
	f.t.Helper()
	var res reconcile.Result
	var errs error
	for i, c := range allClouds {
		sa := get()
		if sa == nil {
			if i == 0 {
				f.t.Fatal("the ServiceAccount is gone")
			}
			break // deleted once the last status and the finalizer went
		}
		one := *f.s
		one.Cloud = c
		r, err := one.Sync(context.Background(), sa)
		errs = errors.Join(errs, err)
		if r.RequeueAfter > 0 && (res.RequeueAfter == 0 || r.RequeueAfter < res.RequeueAfter) {
			res.RequeueAfter = r.RequeueAfter
		}
	}
	return res, errs
}

// deleteSA deletes the stored ServiceAccount; with a finalizer it stays,
// with a deletion timestamp.
func (f *syncFixture) deleteSA() {
	f.t.Helper()
	if err := f.c.Delete(context.Background(), serviceAccount(nil)); err != nil {
		f.t.Fatalf("deleting the ServiceAccount: %v", err)
	}
	if sa := f.sa(); sa == nil || sa.DeletionTimestamp.IsZero() {
		f.t.Fatal("the ServiceAccount should be terminating, held by its finalizer")
	}
}

// records lists the records of testNS/testSA's objects on cloud c.
func (f *syncFixture) records(c cloud.Name) []record.Entry {
	f.t.Helper()
	got, err := f.s.Records.For(context.Background(), string(c), testNS, testSA)
	if err != nil {
		f.t.Fatal(err)
	}
	return got
}

// recorded lists the identities on record for cloud c, sorted.
func (f *syncFixture) recorded(c cloud.Name) []string {
	var out []string
	for _, e := range f.records(c) {
		out = append(out, e.Identity)
	}
	slices.Sort(out)
	return out
}

// events drains the recorded events.
func (f *syncFixture) events() []string {
	var out []string
	for {
		select {
		case e := <-f.rec.Events:
			out = append(out, e)
		default:
			return out
		}
	}
}

// countEvents counts the events that start with prefix ("Warning Reason").
func countEvents(evs []string, prefix string) int {
	n := 0
	for _, e := range evs {
		if strings.HasPrefix(e, prefix) {
			n++
		}
	}
	return n
}

// cloudStatus reads one cloud's status annotation; nil when absent.
func cloudStatus(t *testing.T, sa *corev1.ServiceAccount, c cloud.Name) *Status {
	t.Helper()
	raw, ok := sa.Annotations[c.Info().StatusKey]
	if !ok {
		return nil
	}
	st := readStatus(sa.Annotations, c)
	if st.Message == "unreadable status" {
		t.Fatalf("status of %s does not decode: %s", c, raw)
	}
	return st
}

// statusValue encodes a status for a ServiceAccount annotation.
func statusValue(st Status) string { return *encodeStatus(&st) }

func hasFinalizer(sa *corev1.ServiceAccount) bool {
	for _, f := range sa.Finalizers {
		if f == annotations.Finalizer {
			return true
		}
	}
	return false
}

// kv builds a map from key, value, key, value...
func kv(pairs ...string) map[string]string {
	out := map[string]string{}
	for i := 0; i+1 < len(pairs); i += 2 {
		out[pairs[i]] = pairs[i+1]
	}
	return out
}

var errTransient = errors.New("connection reset by peer")
