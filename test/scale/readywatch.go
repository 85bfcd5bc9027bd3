package main

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
)

// readyAt is when the watch first showed a connection Ready, and the
// lastSync the controller wrote in that status.
type readyAt struct {
	seen, lastSync time.Time
}

// readyWatch records, from an informer over the ServiceAccounts of the
// cluster, the moment each connection is first seen Ready. A watch event
// arrives within milliseconds of the write, so the times do not depend on
// a polling period.
type readyWatch struct {
	mu      sync.Mutex
	ready   map[string]readyAt // "cloud/namespace/name"
	waiters map[string]chan struct{}
	stop    chan struct{}
}

func watchReady(ctx context.Context, h *harness) (*readyWatch, error) {
	cs, err := kubernetes.NewForConfig(h.Rest)
	if err != nil {
		return nil, err
	}
	w := &readyWatch{ready: map[string]readyAt{}, waiters: map[string]chan struct{}{}, stop: make(chan struct{})}
	f := informers.NewSharedInformerFactory(cs, 0)
	inf := f.Core().V1().ServiceAccounts().Informer()
	on := func(o any) {
		if sa, ok := o.(*corev1.ServiceAccount); ok {
			w.observe(sa, time.Now())
		}
	}
	if _, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    on,
		UpdateFunc: func(_, o any) { on(o) },
	}); err != nil {
		return nil, err
	}
	f.Start(w.stop)
	if !cache.WaitForCacheSync(ctx.Done(), inf.HasSynced) {
		close(w.stop)
		return nil, fmt.Errorf("ServiceAccount informer: %w", ctx.Err())
	}
	return w, nil
}

func (w *readyWatch) close() { close(w.stop) }

func (w *readyWatch) observe(sa *corev1.ServiceAccount, now time.Time) {
	for cl, k := range statusKeys {
		raw := sa.Annotations[k]
		if raw == "" {
			continue
		}
		var st struct {
			State    string
			LastSync time.Time
		}
		if json.Unmarshal([]byte(raw), &st) != nil || st.State != "Ready" {
			continue
		}
		key := cl + "/" + sa.Namespace + "/" + sa.Name
		w.mu.Lock()
		if _, ok := w.ready[key]; !ok {
			w.ready[key] = readyAt{seen: now, lastSync: st.LastSync}
			if ch, ok := w.waiters[key]; ok {
				close(ch)
				delete(w.waiters, key)
			}
		}
		w.mu.Unlock()
	}
}

// wait returns when the connection of cloud on namespace/name is Ready.
func (w *readyWatch) wait(ctx context.Context, cloud, namespace, name string, timeout time.Duration) (readyAt, error) {
	key := cloud + "/" + namespace + "/" + name
	w.mu.Lock()
	if r, ok := w.ready[key]; ok {
		w.mu.Unlock()
		return r, nil
	}
	ch, ok := w.waiters[key]
	if !ok {
		ch = make(chan struct{})
		w.waiters[key] = ch
	}
	w.mu.Unlock()
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-ch:
	case <-t.C:
		return readyAt{}, fmt.Errorf("%w: %s not Ready after %s", errNotReady, key, timeout)
	case <-ctx.Done():
		return readyAt{}, ctx.Err()
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.ready[key], nil
}
