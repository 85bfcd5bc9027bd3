package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/keyless-dev/keyless/pkg/annotations"
	"github.com/keyless-dev/keyless/pkg/devenv"
	"github.com/keyless-dev/keyless/pkg/fakecloud"
)

type soakOptions struct {
	Connections   int
	Kills         int
	KillMin       time.Duration // shortest time between readiness and the next kill
	KillMax       time.Duration
	ChurnInterval time.Duration
	Converge      time.Duration
	Seed          uint64
}

type soakResult struct {
	Report     *report
	Kills      int
	Ops        map[string]int
	Elapsed    time.Duration
	Converged  time.Duration // from clearing the faults
	Calls      map[string]map[string]int
	Namespaces []string
}

func clientInNamespace(ns string) client.ListOption { return client.InNamespace(ns) }

// identities seeded for the soak.
type pools struct {
	roles, azure, gsas []string
}

func seedPools(h *harness, n int) pools {
	var p pools
	for i := range max(3, n/50) {
		p.roles = append(p.roles, fmt.Sprintf("role-%d", i))
		h.Clouds.AWS.AddRole("arn:aws:iam::" + devenv.AWSAccount + ":role/" + p.roles[i])
	}
	// Azure allows 20 credentials per identity: about 4 ServiceAccounts each.
	for i := range max(3, n/8) {
		p.azure = append(p.azure, fmt.Sprintf("az-%d", i))
		h.Clouds.Azure.AddIdentity(devenv.AzureSubscription, soakRG, p.azure[i], fmt.Sprintf("00000000-0000-4000-9000-%012x", i+1))
	}
	for i := range max(3, n/25) {
		p.gsas = append(p.gsas, fmt.Sprintf("soak-gsa-%d@%s.iam.gserviceaccount.com", i, devenv.GCPProject))
		h.Clouds.GCP.AddServiceAccount(p.gsas[i])
	}
	return p
}

type soaker struct {
	h     *harness
	p     pools
	mu    sync.Mutex
	rnd   *rand.Rand
	live  []types.NamespacedName
	nss   []string
	seq   atomic.Int64
	ops   sync.Map // op -> *atomic.Int64
	stopC chan struct{}
}

func (s *soaker) intn(n int) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rnd.IntN(n)
}

func (s *soaker) count(op string) {
	v, _ := s.ops.LoadOrStore(op, new(atomic.Int64))
	v.(*atomic.Int64).Add(1)
}

// connectionAnnotations picks a random non-empty subset of the clouds.
func (s *soaker) connectionAnnotations() map[string]string {
	a := map[string]string{}
	for len(a) == 0 {
		if s.intn(2) == 0 {
			a[annotations.KeyAWSRole] = s.p.roles[s.intn(len(s.p.roles))]
		}
		if s.intn(2) == 0 {
			a[annotations.KeyAzureIdentity] = s.p.azure[s.intn(len(s.p.azure))]
			a[annotations.KeyAzureResourceGroup] = soakRG
		}
		if s.intn(2) == 0 {
			a[annotations.KeyGCPServiceAccount] = s.p.gsas[s.intn(len(s.p.gsas))]
		}
	}
	return a
}

// retry runs f until it succeeds, the object is gone, or 60s pass: the
// webhook refuses everything while Keyless is down (failurePolicy Fail).
func retry(ctx context.Context, f func() error) error {
	deadline := time.Now().Add(60 * time.Second)
	for {
		err := f()
		// A denial (403) or an invalid object is final; a webhook that
		// cannot be reached is a 500.
		if err == nil || apierrors.IsNotFound(err) || apierrors.IsForbidden(err) || apierrors.IsInvalid(err) ||
			time.Now().After(deadline) || ctx.Err() != nil {
			return err
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func (s *soaker) create(ctx context.Context) error {
	ns := s.nss[s.intn(len(s.nss))]
	name := fmt.Sprintf("sa-%05d", s.seq.Add(1))
	err := retry(ctx, func() error {
		sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Annotations: s.connectionAnnotations()}}
		err := s.h.K8s.Create(ctx, sa)
		if apierrors.IsAlreadyExists(err) {
			return nil
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("creating %s/%s: %w", ns, name, err)
	}
	s.mu.Lock()
	s.live = append(s.live, types.NamespacedName{Namespace: ns, Name: name})
	s.mu.Unlock()
	s.count("create")
	return nil
}

func (s *soaker) pick() (types.NamespacedName, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.live) == 0 {
		return types.NamespacedName{}, false
	}
	return s.live[s.rnd.IntN(len(s.live))], true
}

// patch merges annotation changes (nil deletes) without an optimistic lock.
func (s *soaker) patch(ctx context.Context, key types.NamespacedName, ann map[string]*string) error {
	body, _ := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": ann}})
	return retry(ctx, func() error {
		sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, Name: key.Name}}
		return s.h.K8s.Patch(ctx, sa, client.RawPatch(types.MergePatchType, body))
	})
}

func ptr(s string) *string { return &s }

// churn does one random change: switch an identity, remove or add a
// connection, delete a ServiceAccount or create one.
func (s *soaker) churn(ctx context.Context) error {
	r := s.intn(100)
	if r < 10 {
		return s.create(ctx)
	}
	key, ok := s.pick()
	if !ok {
		return s.create(ctx)
	}
	var sa corev1.ServiceAccount
	if err := s.h.K8s.Get(ctx, key, &sa); err != nil {
		if apierrors.IsNotFound(err) {
			return nil
		}
		return err
	}
	if sa.DeletionTimestamp != nil {
		return nil
	}
	a := sa.Annotations
	switch {
	case r < 25: // delete the ServiceAccount
		s.mu.Lock()
		s.live = slices.DeleteFunc(s.live, func(k types.NamespacedName) bool { return k == key })
		s.mu.Unlock()
		s.count("delete-serviceaccount")
		return client.IgnoreNotFound(s.h.K8s.Delete(ctx, &sa))
	case r < 45: // remove one connection annotation
		var have []string
		for _, k := range []string{annotations.KeyAWSRole, annotations.KeyAzureIdentity, annotations.KeyGCPServiceAccount} {
			if a[k] != "" {
				have = append(have, k)
			}
		}
		if len(have) == 0 {
			break
		}
		k := have[s.intn(len(have))]
		change := map[string]*string{k: nil}
		if k == annotations.KeyAzureIdentity {
			change[annotations.KeyAzureResourceGroup] = nil
		}
		s.count("remove-annotation")
		return s.patch(ctx, key, change)
	case r < 60: // add all three clouds where missing
		change := map[string]*string{}
		if a[annotations.KeyAWSRole] == "" {
			change[annotations.KeyAWSRole] = ptr(s.p.roles[s.intn(len(s.p.roles))])
		}
		if a[annotations.KeyAzureIdentity] == "" {
			change[annotations.KeyAzureIdentity] = ptr(s.p.azure[s.intn(len(s.p.azure))])
			change[annotations.KeyAzureResourceGroup] = ptr(soakRG)
		}
		if a[annotations.KeyGCPServiceAccount] == "" {
			change[annotations.KeyGCPServiceAccount] = ptr(s.p.gsas[s.intn(len(s.p.gsas))])
		}
		if len(change) == 0 {
			break
		}
		s.count("add-connection")
		return s.patch(ctx, key, change)
	}
	// Switch the identity of one cloud (adding it if missing).
	change := map[string]*string{}
	switch s.intn(3) {
	case 0:
		change[annotations.KeyAWSRole] = ptr(s.p.roles[s.intn(len(s.p.roles))])
	case 1:
		change[annotations.KeyAzureIdentity] = ptr(s.p.azure[s.intn(len(s.p.azure))])
		change[annotations.KeyAzureResourceGroup] = ptr(soakRG)
	default:
		change[annotations.KeyGCPServiceAccount] = ptr(s.p.gsas[s.intn(len(s.p.gsas))])
	}
	s.count("switch-identity")
	return s.patch(ctx, key, change)
}

func setFaults(h *harness, on bool) {
	if !on {
		h.Clouds.AWS.SetFaults(fakecloud.Faults{})
		h.Clouds.Azure.SetFaults(fakecloud.Faults{})
		h.Clouds.GCP.SetFaults(fakecloud.Faults{})
		return
	}
	f := fakecloud.Faults{Throttle: 0.2, ServerError: 0.05, Latency: 3 * time.Millisecond}
	h.Clouds.AWS.SetFaults(f)
	h.Clouds.Azure.SetFaults(f)
	f.Conflict = 0.3
	h.Clouds.GCP.SetFaults(f)
}

func makeNamespaces(ctx context.Context, h *harness, prefix string, n int) ([]string, error) {
	var out []string
	for i := range n {
		name := fmt.Sprintf("%s-%d", prefix, i)
		err := h.K8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}})
		if err != nil && !apierrors.IsAlreadyExists(err) {
			return nil, err
		}
		out = append(out, name)
	}
	return out, nil
}

// runSoak runs the chaos soak against a started harness.
func runSoak(ctx context.Context, h *harness, o soakOptions, logs io.Writer) (*soakResult, error) {
	start := time.Now()
	res := &soakResult{Ops: map[string]int{}}
	nss, err := makeNamespaces(ctx, h, "soak", max(2, o.Connections/50))
	if err != nil {
		return nil, err
	}
	res.Namespaces = nss
	s := &soaker{h: h, p: seedPools(h, o.Connections), rnd: rand.New(rand.NewPCG(o.Seed, o.Seed+1)), nss: nss, stopC: make(chan struct{})}

	p, err := h.serve("keyless-0", 0, logs)
	if err != nil {
		return nil, err
	}
	if err := p.WaitReady(ctx, 90*time.Second); err != nil {
		return nil, err
	}
	var procMu sync.Mutex
	defer func() {
		procMu.Lock()
		p.Kill()
		procMu.Unlock()
	}()
	setFaults(h, true)
	h.Logf("soak: %d connections over %d namespaces, %d kills; faults on", o.Connections, len(nss), o.Kills)

	var wg sync.WaitGroup
	errc := make(chan error, 16)
	// The initial connections, four at a time.
	var next atomic.Int64
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(o.Connections) {
				if err := s.create(ctx); err != nil {
					errc <- err
					return
				}
			}
		}()
	}
	// Kills at random moments.
	killsDone := make(chan struct{})
	go func() {
		defer close(killsDone)
		for i := range o.Kills {
			d := o.KillMin + time.Duration(s.intn(int(o.KillMax-o.KillMin)+1))
			select {
			case <-time.After(d):
			case <-ctx.Done():
				return
			}
			procMu.Lock()
			p.Kill()
			res.Kills++
			h.Logf("soak: kill -9 #%d after %s", i+1, d.Round(time.Millisecond))
			np, err := h.serve(fmt.Sprintf("keyless-%d", i+1), 0, logs)
			if err != nil {
				procMu.Unlock()
				errc <- err
				return
			}
			p = np
			procMu.Unlock()
			if err := np.WaitReady(ctx, 90*time.Second); err != nil {
				errc <- err
				return
			}
		}
	}()
	// Churn throughout.
	churnDone := make(chan struct{})
	stopChurn := make(chan struct{})
	go func() {
		defer close(churnDone)
		for {
			select {
			case <-stopChurn:
				return
			case <-time.After(o.ChurnInterval):
			}
			if err := s.churn(ctx); err != nil {
				h.Logf("soak: churn: %v", err)
			}
		}
	}()
	wg.Wait()
	h.Logf("soak: %d initial connections created after %s", o.Connections, time.Since(start).Round(time.Second))
	select {
	case <-killsDone:
	case err := <-errc:
		close(stopChurn)
		return nil, err
	}
	close(stopChurn)
	<-churnDone
	select {
	case err := <-errc:
		return nil, err
	default:
	}
	s.ops.Range(func(k, v any) bool { res.Ops[k.(string)] = int(v.(*atomic.Int64).Load()); return true })

	setFaults(h, false)
	cleared := time.Now()
	h.Logf("soak: churn stopped, faults cleared after %s; waiting up to %s for convergence", cleared.Sub(start).Round(time.Second), o.Converge)
	res.Report, err = converge(ctx, h, nss, o.Converge)
	if err != nil {
		return nil, err
	}
	res.Converged = time.Since(cleared)
	res.Elapsed = time.Since(start)
	res.Calls = calls(h)
	if !p.Alive() {
		return res, fmt.Errorf("keyless exited on its own: %v", p.Cmd.ProcessState)
	}
	return res, nil
}

// converge polls compare until nothing is wrong or the time is up; it
// returns the last report.
func converge(ctx context.Context, h *harness, nss []string, limit time.Duration) (*report, error) {
	deadline := time.Now().Add(limit)
	last := time.Time{}
	for {
		r, err := h.compare(ctx, nss)
		if err != nil {
			return nil, err
		}
		if r.bad() == 0 || time.Now().After(deadline) {
			return r, nil
		}
		if time.Since(last) > 15*time.Second {
			h.Logf("converging: missing=%d orphans=%d duplicates=%d wrong-identity=%d not-ready=%d stuck-deleting=%d",
				r.Missing, r.Orphans, r.Duplicates, r.WrongIdentity, r.NotReady, r.StuckDeleting)
			last = time.Now()
		}
		time.Sleep(time.Second)
	}
}

func calls(h *harness) map[string]map[string]int {
	return map[string]map[string]int{"aws": h.Clouds.AWS.Calls(), "azure": h.Clouds.Azure.Calls(), "gcp": h.Clouds.GCP.Calls()}
}
