// Package harness runs Keyless as child processes against the local
// cluster of pkg/devenv (started without Keyless, with the cloud
// simulators), for the soak and scale commands.
package harness

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/keyless-dev/keyless/pkg/config"
	"github.com/keyless-dev/keyless/pkg/devenv"
)

// AllowAll is a ConnectionPolicy that allows every identity.
const AllowAll = "apiVersion: keyless.dev/v1alpha1\nkind: ConnectionPolicy\nspec:\n  allowRetain: {}\n  rules: []\n"

// Harness is the local environment and what a keyless child process needs
// to run against it.
type Harness struct {
	Devenv     *devenv.Environment
	Env        *envtest.Environment
	Rest       *rest.Config
	K8s        client.Client
	Clouds     *devenv.Clouds
	Dir        string
	Kubeconfig string
	Policy     string
	Bin        string
	Lease      time.Duration
	Resync     time.Duration
	Logf       func(string, ...any)
}

// Options configure Start.
type Options struct {
	Name      string // names the temporary folder
	Assets    string // the local cluster's binaries (hack/control-plane.sh)
	Binary    string // a prebuilt keyless binary; empty builds one
	ModuleDir string // where `go build ./cmd/keyless` runs
	Lease     time.Duration
	Resync    time.Duration
	Logf      func(string, ...any)
	// Nodes are the simulated nodes; nil means devenv.DefaultNodes (room
	// for 110 pods each, as a kubelet's default).
	Nodes []devenv.Node
}

// Start starts the local environment without Keyless and builds keyless
// unless o.Binary names one.
func Start(o Options) (_ *Harness, err error) {
	h := &Harness{Lease: o.Lease, Resync: o.Resync, Logf: o.Logf}
	if h.Dir, err = os.MkdirTemp("", "keyless-"+o.Name+"-"); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			h.Stop()
		}
	}()
	h.Bin = o.Binary
	if h.Bin == "" {
		h.Logf("building keyless")
		if h.Bin, err = BuildKeyless(o.ModuleDir, h.Dir); err != nil {
			return nil, err
		}
	}
	h.Policy = filepath.Join(h.Dir, "policy.yaml")
	if err := os.WriteFile(h.Policy, []byte(AllowAll), 0o600); err != nil {
		return nil, err
	}
	env, err := devenv.Start(context.Background(), devenv.Options{
		AssetsDir: o.Assets, Dir: filepath.Join(h.Dir, "cluster"), Nodes: o.Nodes, Config: h.config(), SimulateClouds: true, NoKeyless: true,
	})
	if err != nil {
		return nil, fmt.Errorf("starting the local cluster (assets %s): %w", o.Assets, err)
	}
	h.Devenv, h.Env, h.Clouds, h.Kubeconfig = env, env.Env, env.Clouds, env.Kubeconfig
	h.Rest = rest.CopyConfig(env.RestConfig)
	h.Rest.QPS, h.Rest.Burst = 200, 400
	if h.K8s, err = client.New(h.Rest, client.Options{}); err != nil {
		return nil, err
	}
	return h, nil
}

// config is the configuration of the keyless child processes, beyond what
// the environment sets (the cluster, the webhook and the simulators).
func (h *Harness) config() config.Config {
	c := config.Default()
	c.LeaderElect, c.LeaseDuration = true, h.Lease
	c.AWSQPS, c.AzureQPS, c.GCPQPS = 100, 100, 100
	c.ResyncPeriod = h.Resync
	c.PolicyFile = h.Policy
	c.MetricsAddr = "0"
	return c
}

// Stop stops everything and removes the temporary folder.
func (h *Harness) Stop() {
	if h.Devenv != nil {
		_ = h.Devenv.Stop()
	}
	if h.Dir != "" && os.Getenv("KEYLESS_HARNESS_KEEP") == "" {
		_ = os.RemoveAll(h.Dir)
	}
}

// BuildKeyless runs go build -o DIR/keyless ./cmd/keyless in the module.
func BuildKeyless(moduleDir, dir string) (string, error) {
	bin := filepath.Join(dir, "keyless")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/keyless")
	cmd.Dir = moduleDir
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/keyless: %w\n%s", err, out)
	}
	return bin, nil
}

// Proc is one `keyless serve` child process.
type Proc struct {
	Name   string
	Cmd    *exec.Cmd
	health string
	done   chan struct{}
	logMu  sync.Mutex
	log    []string // lines of interest
	acqAt  time.Time
	logOut io.Writer
}

// Serve starts `keyless serve` on webhookPort (0: envtest's port) with the
// binary bin (empty: the harness's). Flags named in drop ("--aws-region")
// are left out; extra flags come last and so win.
func (h *Harness) Serve(name, bin string, webhookPort int, logOut io.Writer, drop []string, extra ...string) (*Proc, error) {
	health, err := FreeAddr()
	if err != nil {
		return nil, err
	}
	c := h.Devenv.KeylessConfig()
	c.HealthAddr = health
	if webhookPort != 0 {
		c.WebhookPort = webhookPort
	}
	args := append([]string{"serve"}, devenv.Args(c)...)
	args = slices.DeleteFunc(args, func(a string) bool {
		k, _, _ := strings.Cut(a, "=")
		return slices.Contains(drop, k)
	})
	args = append(args, extra...)
	if bin == "" {
		bin = h.Bin
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "POD_NAME="+name)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stdout = cmd.Stderr
	p := &Proc{Name: name, Cmd: cmd, health: health, done: make(chan struct{}), logOut: logOut}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			if p.logOut != nil {
				fmt.Fprintf(p.logOut, "[%s] %s\n", name, line)
			}
			if strings.Contains(strings.ToLower(line), "successfully acquired lease") {
				p.logMu.Lock()
				p.acqAt = time.Now()
				p.logMu.Unlock()
			}
			if strings.Contains(line, "\"level\":\"error\"") || strings.Contains(line, "panic") || strings.Contains(strings.ToLower(line), "acquired lease") {
				p.logMu.Lock()
				if len(p.log) < 2000 {
					p.log = append(p.log, line)
				}
				p.logMu.Unlock()
			}
		}
	}()
	go func() { _ = cmd.Wait(); close(p.done) }()
	return p, nil
}

// Acquired returns when the process logged that it acquired the lease (zero if not).
func (p *Proc) Acquired() time.Time {
	p.logMu.Lock()
	defer p.logMu.Unlock()
	return p.acqAt
}

// WaitReady polls the process's /readyz until it answers 200, the process exits or timeout passes.
func (p *Proc) WaitReady(ctx context.Context, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		select {
		case <-p.done:
			return fmt.Errorf("keyless %s exited while starting (%v)", p.Name, p.Cmd.ProcessState)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		resp, err := http.Get("http://" + p.health + "/readyz")
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("keyless %s not ready within %s", p.Name, timeout)
		}
	}
}

// Kill sends SIGKILL and waits for the process to be gone.
func (p *Proc) Kill() {
	_ = p.Cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// Alive reports whether the process has not exited.
func (p *Proc) Alive() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// FreeAddr returns a loopback host:port that was free a moment ago.
func FreeAddr() (string, error) {
	port, err := FreePort()
	if err != nil {
		return "", err
	}
	return "127.0.0.1:" + strconv.Itoa(port), nil
}

// FreePort returns a loopback TCP port that was free a moment ago.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("finding a free port: %w", err)
	}
	defer func() { _ = l.Close() }()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Status reads /proc/PID/status fields in KiB (VmRSS, VmHWM).
func (p *Proc) Status() (rss, hwm int64) {
	m := p.Memory()
	return m.RSS, m.HWM
}

// Memory is a process's memory from /proc/PID/status, in KiB.
type Memory struct {
	// RSS and HWM are VmRSS and VmHWM (its peak).
	RSS, HWM int64
	// Anon and File split RSS: RssAnon (the heap, stacks and the Go
	// runtime's own memory) and RssFile (the binary's pages mapped from
	// its file, which the kernel may drop and read again).
	Anon, File int64
}

// Memory reads the process's memory; zero once it has exited.
func (p *Proc) Memory() Memory {
	var m Memory
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.Cmd.Process.Pid))
	if err != nil {
		return m
	}
	fields := map[string]*int64{"VmRSS": &m.RSS, "VmHWM": &m.HWM, "RssAnon": &m.Anon, "RssFile": &m.File}
	for _, line := range strings.Split(string(raw), "\n") {
		k, v, ok := strings.Cut(line, ":")
		f := strings.Fields(v)
		if dst := fields[k]; ok && dst != nil && len(f) > 0 {
			*dst, _ = strconv.ParseInt(f[0], 10, 64)
		}
	}
	return m
}

// FormatCounts prints counts as "a=1 b=2", sorted by name.
func FormatCounts(m map[string]int) string {
	parts := make([]string, 0, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%s=%d", k, m[k]))
	}
	return strings.Join(parts, " ")
}

// ModuleDir finds the module root above the working directory.
func ModuleDir() (string, error) {
	d, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d, nil
		}
		p := filepath.Dir(d)
		if p == d {
			return "", errors.New("no go.mod above the working directory")
		}
		d = p
	}
}
