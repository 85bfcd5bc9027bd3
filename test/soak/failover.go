package main

import (
	"context"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/keyless-dev/keyless/pkg/annotations"
	"github.com/keyless-dev/keyless/pkg/config"
	"github.com/keyless-dev/keyless/pkg/devenv"
	"github.com/keyless-dev/keyless/pkg/fakecloud"
	th "github.com/keyless-dev/keyless/test/harness"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

type failoverOptions struct {
	Connections int
	Converge    time.Duration
}

type failoverResult struct {
	Report        *report
	OldHolder     string
	NewHolder     string
	Killed        string
	Takeover      time.Duration // kill to the other process holding the Lease
	Bound         time.Duration // lease duration + renew deadline
	ObjectsAtKill int
	Creates       map[string]int // objects written per cloud
	Calls         map[string]map[string]int
	Elapsed       time.Duration
	ExtraWrites   []string
}

func (h *harness) holder(ctx context.Context) (string, error) {
	var l coordinationv1.Lease
	err := h.K8s.Get(ctx, types.NamespacedName{Namespace: "default", Name: config.DefaultLeaderElectionID}, &l)
	if err != nil || l.Spec.HolderIdentity == nil {
		return "", err
	}
	return *l.Spec.HolderIdentity, nil
}

// runFailover runs two keyless processes, kills the leader mid-burst and
// measures how long until the other one leads.
func runFailover(ctx context.Context, h *harness, o failoverOptions, logs io.Writer) (*failoverResult, error) {
	start := time.Now()
	res := &failoverResult{Bound: h.Lease + h.Lease*2/3}
	nss, err := makeNamespaces(ctx, h, "failover", 1)
	if err != nil {
		return nil, err
	}
	ns := nss[0]
	// One identity per connection, so that each object takes exactly one
	// write when nothing is retried twice.
	for i := range o.Connections {
		h.Clouds.AWS.AddRole(fmt.Sprintf("arn:aws:iam::%s:role/fo-%d", devenv.AWSAccount, i))
		h.Clouds.Azure.AddIdentity(devenv.AzureSubscription, soakRG, fmt.Sprintf("fo-%d", i), "")
		h.Clouds.GCP.AddServiceAccount(fmt.Sprintf("failover-%d@%s.iam.gserviceaccount.com", i, devenv.GCPProject))
	}
	// Latency only: a burst that is still in flight when the leader dies.
	f := fakecloud.Faults{Latency: 50 * time.Millisecond}
	h.Clouds.AWS.SetFaults(f)
	h.Clouds.Azure.SetFaults(f)
	h.Clouds.GCP.SetFaults(f)
	defer setFaults(h, false)
	before, createdBefore, writtenBefore := calls(h), h.Clouds.AWS.Created(), h.Clouds.Azure.Written()

	a, err := h.serve("keyless-a", 0, logs)
	if err != nil {
		return nil, err
	}
	procs := []*proc{a}
	defer func() {
		for _, p := range procs {
			if p.Alive() {
				p.Kill()
			}
		}
	}()
	if err := a.WaitReady(ctx, 90*time.Second); err != nil {
		return nil, err
	}
	for a.Acquired().IsZero() {
		if time.Since(start) > 60*time.Second {
			return nil, fmt.Errorf("keyless-a never acquired the lease")
		}
		time.Sleep(50 * time.Millisecond)
	}
	port, err := th.FreePort()
	if err != nil {
		return nil, err
	}
	b, err := h.serve("keyless-b", port, logs)
	if err != nil {
		return nil, err
	}
	procs = append(procs, b)
	if err := b.WaitReady(ctx, 90*time.Second); err != nil {
		return nil, err
	}
	if !b.Acquired().IsZero() {
		return nil, fmt.Errorf("keyless-b acquired the lease while keyless-a held it")
	}
	if res.OldHolder, err = h.holder(ctx); err != nil {
		return nil, err
	}

	// The burst.
	var wg sync.WaitGroup
	errc := make(chan error, o.Connections)
	for i := range o.Connections {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: fmt.Sprintf("sa-%d", i), Annotations: map[string]string{
				annotations.KeyAWSRole:            fmt.Sprintf("fo-%d", i),
				annotations.KeyAzureIdentity:      fmt.Sprintf("fo-%d", i),
				annotations.KeyAzureResourceGroup: soakRG,
				annotations.KeyGCPServiceAccount:  fmt.Sprintf("failover-%d@%s.iam.gserviceaccount.com", i, devenv.GCPProject),
			}}}
			errc <- retry(ctx, func() error { return h.K8s.Create(ctx, sa) })
		}()
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		if err != nil {
			return nil, fmt.Errorf("creating the burst: %w", err)
		}
	}
	// Kill the leader when about a third of the objects exist (or after 5s).
	want := 3 * o.Connections
	for t0 := time.Now(); time.Since(t0) < 5*time.Second; time.Sleep(20 * time.Millisecond) {
		if res.ObjectsAtKill = len(h.cloudObjects()); res.ObjectsAtKill >= want/3 {
			break
		}
	}
	leader, follower := a, b
	if !b.Acquired().IsZero() {
		leader, follower = b, a
	}
	res.Killed = leader.Name
	leader.Kill()
	killedAt := time.Now()
	h.Logf("failover: kill -9 %s (holder %s) with %d of %d objects made", leader.Name, res.OldHolder, res.ObjectsAtKill, want)
	for {
		hold, err := h.holder(ctx)
		if err == nil && hold != "" && hold != res.OldHolder {
			res.NewHolder, res.Takeover = hold, time.Since(killedAt)
			break
		}
		if time.Since(killedAt) > 3*res.Bound {
			return nil, fmt.Errorf("no new leader %s after the kill (holder %q)", time.Since(killedAt), hold)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if follower.Acquired().IsZero() {
		// The log line comes a moment after the Lease update.
		time.Sleep(time.Second)
	}
	h.Logf("failover: %s leads after %s (bound %s), acquired-log=%v", res.NewHolder, res.Takeover.Round(time.Millisecond), res.Bound, !follower.Acquired().IsZero())
	// The killed replica comes back (it served envtest's webhook port, which
	// the new leader's status patches go through) as a follower.
	if leader == a {
		a2, err := h.serve("keyless-a2", 0, logs)
		if err != nil {
			return nil, err
		}
		procs = append(procs, a2)
		if err := a2.WaitReady(ctx, 90*time.Second); err != nil {
			return nil, err
		}
	}
	setFaults(h, false)
	if res.Report, err = converge(ctx, h, nss, o.Converge); err != nil {
		return nil, err
	}
	res.Calls = calls(h)
	diff := func(c, op string) int { return res.Calls[c][op] - before[c][op] }
	// AWS: associations made, not Create calls; a Create redone by the new
	// leader is answered from its request token and writes nothing. Azure:
	// PUTs applied, not PutCredential calls; a call cut off by the kill
	// before its body arrived writes nothing.
	res.Creates = map[string]int{
		"aws":   h.Clouds.AWS.Created() - createdBefore,
		"azure": h.Clouds.Azure.Written() - writtenBefore,
		"gcp":   diff("gcp", "SetIamPolicy"),
	}
	for c, n := range res.Creates {
		if n != o.Connections {
			res.ExtraWrites = append(res.ExtraWrites, fmt.Sprintf("%s: %d writes for %d connections", c, n, o.Connections))
		}
	}
	res.Elapsed = time.Since(start)
	return res, nil
}
