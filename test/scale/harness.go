package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/keyless-dev/keyless/pkg/devenv"
)

// allowAll is a ConnectionPolicy that allows every identity.
const allowAll = "apiVersion: keyless.dev/v1alpha1\nkind: ConnectionPolicy\nspec:\n  rules: []\n"

// harness is a control plane, the simulators and what a keyless child
// process needs to run against them.
type harness struct {
	env        *envtest.Environment
	rest       *rest.Config
	k8s        client.Client
	clouds     *devenv.Clouds
	dir        string
	kubeconfig string
	policy     string
	bin        string
	lease      time.Duration
	resync     time.Duration
	logf       func(string, ...any)
}

type harnessOptions struct {
	Assets    string // etcd and kube-apiserver
	Binary    string // a prebuilt keyless binary; empty builds one
	ModuleDir string // where `go build ./cmd/keyless` runs
	Lease     time.Duration
	Resync    time.Duration
	Logf      func(string, ...any)
}

func startHarness(o harnessOptions) (_ *harness, err error) {
	h := &harness{lease: o.Lease, resync: o.Resync, logf: o.Logf}
	if h.dir, err = os.MkdirTemp("", "keyless-scale-"); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			h.stop()
		}
	}()
	h.bin = o.Binary
	if h.bin == "" {
		h.logf("building keyless")
		if h.bin, err = buildKeyless(o.ModuleDir, h.dir); err != nil {
			return nil, err
		}
	}
	wh, err := devenv.WebhookConfiguration()
	if err != nil {
		return nil, err
	}
	// envtest joins host:port and the path with a "/" of its own.
	for i := range wh.Webhooks {
		if s := wh.Webhooks[i].ClientConfig.Service; s != nil && s.Path != nil {
			p := strings.TrimPrefix(*s.Path, "/")
			s.Path = &p
		}
	}
	h.env = &envtest.Environment{
		BinaryAssetsDirectory: o.Assets,
		WebhookInstallOptions: envtest.WebhookInstallOptions{
			MutatingWebhooks: []*admissionregistrationv1.MutatingWebhookConfiguration{wh},
		},
	}
	if h.rest, err = h.env.Start(); err != nil {
		h.env = nil
		return nil, fmt.Errorf("starting envtest (assets %s): %w", o.Assets, err)
	}
	h.rest.QPS, h.rest.Burst = 200, 400
	if h.k8s, err = client.New(h.rest, client.Options{}); err != nil {
		return nil, err
	}
	if h.clouds, err = devenv.StartClouds(); err != nil {
		return nil, err
	}
	user, err := h.env.AddUser(envtest.User{Name: "keyless-scale", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return nil, err
	}
	raw, err := user.KubeConfig()
	if err != nil {
		return nil, err
	}
	h.kubeconfig = filepath.Join(h.dir, "kubeconfig")
	if err := os.WriteFile(h.kubeconfig, raw, 0o600); err != nil {
		return nil, err
	}
	h.policy = filepath.Join(h.dir, "policy.yaml")
	if err := os.WriteFile(h.policy, []byte(allowAll), 0o600); err != nil {
		return nil, err
	}
	return h, nil
}

func (h *harness) stop() {
	if h.clouds != nil {
		h.clouds.Close()
	}
	if h.env != nil {
		_ = h.env.Stop()
	}
	if h.dir != "" && os.Getenv("SCALE_KEEP") == "" {
		_ = os.RemoveAll(h.dir)
	}
}

// buildKeyless runs go build -o DIR/keyless ./cmd/keyless in the module.
func buildKeyless(moduleDir, dir string) (string, error) {
	bin := filepath.Join(dir, "keyless")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/keyless")
	cmd.Dir = moduleDir
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/keyless: %v\n%s", err, out)
	}
	return bin, nil
}

// proc is one `keyless serve` child process.
type proc struct {
	name   string
	cmd    *exec.Cmd
	health string
	done   chan struct{}
	logMu  sync.Mutex
	log    []string // lines of interest
	acqAt  time.Time
	logOut io.Writer
}

// serve starts `keyless serve` on webhookPort (0: envtest's port), with
// the binary bin (empty: h.bin). extra flags come last and so win.
func (h *harness) serve(name, bin string, webhookPort int, logOut io.Writer, extra ...string) (*proc, error) {
	health, err := freeAddr()
	if err != nil {
		return nil, err
	}
	w := h.env.WebhookInstallOptions
	if webhookPort == 0 {
		webhookPort = w.LocalServingPort
	}
	c := h.clouds
	args := []string{"serve",
		"--kubeconfig=" + h.kubeconfig,
		"--cert-dir=" + w.LocalServingCertDir,
		"--webhook-host=" + w.LocalServingHost,
		"--webhook-port=" + strconv.Itoa(webhookPort),
		"--leader-elect",
		"--leader-election-namespace=default",
		"--leader-election-lease-duration=" + h.lease.String(),
		"--cluster-name=" + devenv.ClusterName,
		"--cloud-credentials=anonymous",
		"--aws-region=" + devenv.AWSRegion, "--aws-endpoint=" + c.AWSURL,
		"--azure-subscription-id=" + devenv.AzureSubscription, "--azure-tenant-id=" + devenv.AzureTenant,
		"--azure-oidc-issuer-url=" + devenv.AzureIssuer, "--azure-endpoint=" + c.AzureURL,
		"--gcp-workload-pool=" + devenv.GCPProject + ".svc.id.goog", "--gcp-endpoint=" + c.GCPURL,
		"--aws-qps=100", "--azure-qps=100", "--gcp-qps=100",
		"--resync-period=" + h.resync.String(),
		"--policy-file=" + h.policy,
		"--metrics-bind-address=0",
		"--health-probe-bind-address=" + health,
	}
	args = append(args, extra...)
	if bin == "" {
		bin = h.bin
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "POD_NAME="+name)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stdout = cmd.Stderr
	p := &proc{name: name, cmd: cmd, health: health, done: make(chan struct{}), logOut: logOut}
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

// acquired returns when the process logged that it acquired the lease (zero if not).
func (p *proc) acquired() time.Time {
	p.logMu.Lock()
	defer p.logMu.Unlock()
	return p.acqAt
}

func (p *proc) waitReady(ctx context.Context, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		select {
		case <-p.done:
			return fmt.Errorf("keyless %s exited while starting (%v)", p.name, p.cmd.ProcessState)
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
			return fmt.Errorf("keyless %s not ready within %s", p.name, timeout)
		}
	}
}

// kill sends SIGKILL and waits for the process to be gone.
func (p *proc) kill() {
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

func (p *proc) alive() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

func freeAddr() (string, error) {
	port, err := freePort()
	if err != nil {
		return "", err
	}
	return "127.0.0.1:" + strconv.Itoa(port), nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("finding a free port: %w", err)
	}
	defer func() { _ = l.Close() }()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// status reads /proc/PID/status fields in KiB (VmRSS, VmHWM).
func (p *proc) status() (rss, hwm int64) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		return 0, 0
	}
	for _, line := range strings.Split(string(raw), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		f := strings.Fields(v)
		if len(f) == 0 {
			continue
		}
		n, _ := strconv.ParseInt(f[0], 10, 64)
		switch k {
		case "VmRSS":
			rss = n
		case "VmHWM":
			hwm = n
		}
	}
	return rss, hwm
}

var errNotReady = errors.New("not every connection became Ready")
