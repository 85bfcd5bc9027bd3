// Command scale measures Keyless at scale, as a child process against a
// local control plane and the three cloud simulators (the pieces of
// test/soak).
//
//	go run ./test/scale --mode=memory     # RSS with 5,000 ServiceAccounts and Deployments, this tree vs HEAD
//	go run ./test/scale --mode=memory --tenant-serviceaccounts=600 --tenant-annotation-bytes=250000
//	go run ./test/scale --mode=heap --serviceaccounts=10000 --deployments=10000 --annotated=600
//	go run ./test/scale --mode=scale --connections=5000 --latency=20ms
//	go run ./test/scale --mode=latency    # time to Ready: one new connection on an idle system, and a burst
//
// --mode=memory builds keyless twice: from this tree and from `git archive
// HEAD` (read-only, in a temporary folder), so the cache transform can be
// compared with what was committed before it. Each start runs a leader and,
// once it holds the Lease, a follower beside it, and probes the webhook
// from the leader's start with an admission whose right answer needs the
// cache; then it kills the leader and measures the follower once it has
// taken over (VmHWM after takeover). --container-limit adds two starts of
// this tree with the GOMEMLIMIT that keyless serve derives from such a
// limit. --mode=heap
// runs this tree's manager in the harness process instead and writes a heap
// profile: where the memory per cached object goes. --tenant-serviceaccounts adds
// a hostile tenant: plain ServiceAccounts (which the webhook never sees)
// carrying large annotations that no part of Keyless reads.
//
// --mode=latency times new connections from the create call's return to
// their Ready status seen by a watch: --tries of them one at a time per
// cloud, then a burst of --burst per cloud created at once, each against
// its floor (the cloud calls × --latency; the calls ÷ --qps). It runs with
// --resync-period=1h unless told otherwise, so that no drift check runs
// during the measurements.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	th "github.com/keyless-dev/keyless/test/harness"
)

func main() {
	var c config
	flag.StringVar(&c.Mode, "mode", "scale", "memory, heap, scale or latency")
	flag.IntVar(&c.Connections, "connections", 1000, "scale: connected ServiceAccounts, spread over the three clouds")
	flag.DurationVar(&c.Latency, "latency", 20*time.Millisecond, "scale, latency: latency the simulators add to every call")
	flag.Float64Var(&c.QPS, "qps", 50, "scale, latency: --aws-qps, --azure-qps and --gcp-qps of keyless")
	flag.StringVar(&c.Layout, "identity-layout", "spread", "scale: spread (consecutive ServiceAccounts use different identities) or grouped (runs of 50, 20 for Azure, share one)")
	flag.IntVar(&c.Workers, "workers", 16, "scale, latency: --workers of keyless")
	flag.StringVar(&c.KubeQPS, "kube-api-qps", "", "scale, latency: --kube-api-qps of keyless (empty: its default)")
	flag.DurationVar(&c.Resync, "resync-period", 2*time.Minute, "--resync-period of keyless; the scale mode counts the resync's calls for 1.1 periods after all-Ready, so make it at least 1.5 × the creation phase")
	flag.DurationVar(&c.Timeout, "timeout", 15*time.Minute, "scale, latency: longest wait for all-Ready")
	flag.IntVar(&c.Tries, "tries", 100, "latency: new connections per cloud made one at a time on an idle system")
	flag.IntVar(&c.Burst, "burst", 1000, "latency: new connections per cloud created at once")
	flag.IntVar(&c.ServiceAccounts, "serviceaccounts", 5000, "memory: ServiceAccounts")
	flag.IntVar(&c.Deployments, "deployments", 5000, "memory: Deployments")
	flag.IntVar(&c.Annotated, "annotated", 300, "memory: Deployments with a connection annotation")
	flag.DurationVar(&c.Settle, "settle", 20*time.Second, "memory, heap: how long to sample RSS once keyless is ready")
	flag.IntVar(&c.CreateWorkers, "create-workers", 8, "memory, heap: concurrent creates")
	flag.IntVar(&c.MaxHWM, "max-hwm", 250, "memory: goal for the VmHWM of the leader and of the follower, in MiB")
	flag.StringVar(&c.HeapProfile, "heap-profile", "heap.pprof", "heap: where to write the heap profile")
	flag.IntVar(&c.ContainerLimit, "container-limit", 0,
		"memory: also start this tree twice as under a container memory limit of this many MiB: GOMEMLIMIT=90% of it, as keyless serve sets from its cgroup (0: no such runs)")
	flag.IntVar(&c.TenantServiceAccounts, "tenant-serviceaccounts", 0,
		"memory: plain ServiceAccounts of a hostile tenant, each with --tenant-annotation-bytes of annotations Keyless never reads")
	flag.IntVar(&c.TenantAnnotationBytes, "tenant-annotation-bytes", 250000,
		"memory: bytes of annotations on each tenant ServiceAccount (the API server allows 256 KiB in all)")
	flag.StringVar(&c.Assets, "assets", "", "folder of etcd and kube-apiserver (default $KUBEBUILDER_ASSETS or bin/control-plane)")
	flag.StringVar(&c.Binary, "keyless", "", "a built keyless binary (default: go build ./cmd/keyless)")
	flag.StringVar(&c.BaseBinary, "base-keyless", "", "memory: the keyless binary to compare with (default: built from git archive HEAD)")
	flag.BoolVar(&c.SkipResync, "skip-resync", false, "scale: stop at all-Ready, without counting a resync")
	verbose := flag.Bool("v", false, "stream keyless's logs to stderr")
	flag.Parse()
	if c.Mode == "latency" && !flagSet("resync-period") {
		c.Resync = time.Hour
	}
	if c.Layout != "spread" && c.Layout != "grouped" {
		fmt.Fprintf(os.Stderr, "--identity-layout=%q: use spread or grouped\n", c.Layout)
		os.Exit(2)
	}
	if *verbose {
		c.Logs = os.Stderr
	}
	c.Logf = func(f string, a ...any) {
		fmt.Fprintf(os.Stderr, "%s "+f+"\n", append([]any{time.Now().Format("15:04:05")}, a...)...)
	}
	out, err := run(context.Background(), c)
	fmt.Print(out)
	if err != nil {
		fmt.Fprintln(os.Stderr, "FAIL:", err)
		os.Exit(1)
	}
	fmt.Println("PASS")
}

type config struct {
	Mode, Layout                            string
	Connections, Workers                    int
	Tries, Burst                            int
	Latency, Resync, Timeout, Settle        time.Duration
	QPS                                     float64
	KubeQPS                                 string
	ServiceAccounts, Deployments, Annotated int
	CreateWorkers, MaxHWM, ContainerLimit   int
	HeapProfile                             string
	TenantServiceAccounts                   int
	TenantAnnotationBytes                   int
	Assets, Binary, BaseBinary              string
	SkipResync                              bool
	Logs                                    io.Writer
	Logf                                    func(string, ...any)
}

func run(ctx context.Context, c config) (string, error) {
	mod, err := th.ModuleDir()
	if err != nil {
		return "", err
	}
	if c.Assets == "" {
		c.Assets = os.Getenv("KUBEBUILDER_ASSETS")
	}
	if c.Assets == "" {
		c.Assets = filepath.Join(mod, "bin", "control-plane")
	}
	if c.Logf == nil {
		c.Logf = func(string, ...any) {}
	}
	if c.CreateWorkers == 0 {
		c.CreateWorkers = 8
	}
	h, err := startHarness(th.Options{Assets: c.Assets, Binary: c.Binary, ModuleDir: mod, Lease: 15 * time.Second, Resync: c.Resync, Logf: c.Logf})
	if err != nil {
		return "", err
	}
	defer h.Stop()
	switch c.Mode {
	case "memory":
		base := c.BaseBinary
		if base == "" {
			c.Logf("building keyless from git archive HEAD")
			if base, err = buildBase(mod, h.Dir); err != nil {
				return "", err
			}
		}
		return runMemory(ctx, h, c, base)
	case "heap":
		return runHeap(ctx, h, c)
	case "scale":
		return runScale(ctx, h, c)
	case "latency":
		return runLatency(ctx, h, c)
	}
	return "", fmt.Errorf("unknown --mode %q: memory, heap, scale or latency", c.Mode)
}

// flagSet reports whether the flag was given on the command line.
func flagSet(name string) bool {
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// buildBase builds keyless from the committed tree (git archive HEAD into a
// temporary folder), without touching the checkout's git state.
func buildBase(mod, dir string) (string, error) {
	src := filepath.Join(dir, "base-src")
	if err := os.MkdirAll(src, 0o755); err != nil {
		return "", err
	}
	cmd := exec.Command("sh", "-c", "git -C \"$1\" archive HEAD | tar -x -C \"$2\"", "sh", mod, src)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("git archive HEAD: %w\n%s", err, out)
	}
	bin := filepath.Join(dir, "keyless-base")
	b := exec.Command("go", "build", "-o", bin, "./cmd/keyless")
	b.Dir = src
	if out, err := b.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building the base keyless: %w\n%s", err, out)
	}
	_ = os.RemoveAll(src)
	return bin, nil
}
