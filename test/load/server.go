package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"syscall"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/controller-runtime/pkg/webhook"

	"github.com/keyless-dev/keyless/pkg/admission"
	"github.com/keyless-dev/keyless/pkg/annotations"
	"github.com/keyless-dev/keyless/pkg/mutation"
	"github.com/keyless-dev/keyless/pkg/policy"
	"github.com/keyless-dev/keyless/pkg/workload"
)

// cpuPath answers the process's CPU time (user+system) in nanoseconds.
const cpuPath = "/cpu"

// serve runs the keyless or floor server until ctx ends.
func serve(ctx context.Context, kind string, args []string) error {
	fs := flag.NewFlagSet(kind, flag.ContinueOnError)
	certDir := fs.String("cert-dir", "", "directory with tls.crt and tls.key")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	cacheObjects := fs.Int("cache-objects", 0, "keyless: read from the manager's cache holding this many ServiceAccounts and as many Deployments (0: an empty in-memory cluster)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer func() { pprof.StopCPUProfile(); _ = f.Close() }()
	}
	port, err := freePort()
	if err != nil {
		return err
	}
	tlsOpt := func(c *tls.Config) {
		c.MinVersion = tls.VersionTLS12
		c.NextProtos = []string{"http/1.1"}
	}
	errc := make(chan error, 1)
	switch kind {
	case "keyless":
		ctrllog.SetLogger(zap.New()) // info level, as `keyless serve` runs
		srv := webhook.NewServer(webhook.Options{
			Host: "127.0.0.1", Port: port, CertDir: *certDir, TLSOpts: []func(*tls.Config){tlsOpt},
		})
		h := keylessHandler()
		if *cacheObjects > 0 {
			if h.Lookup, err = bigCache(ctx, *cacheObjects, h.Options.Parse, h.Options.Cluster); err != nil {
				return err
			}
			runtime.GC()
		}
		srv.Register(admission.Path, h)
		srv.Register(cpuPath, http.HandlerFunc(cpuTime))
		go func() { errc <- srv.Start(ctx) }()
	case "floor":
		cert, err := tls.LoadX509KeyPair(filepath.Join(*certDir, "tls.crt"), filepath.Join(*certDir, "tls.key"))
		if err != nil {
			return err
		}
		cfg := &tls.Config{Certificates: []tls.Certificate{cert}}
		tlsOpt(cfg)
		mux := http.NewServeMux()
		mux.HandleFunc(admission.Path, floor)
		mux.HandleFunc(cpuPath, cpuTime)
		hs := &http.Server{Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), Handler: mux, TLSConfig: cfg,
			ReadHeaderTimeout: 10 * time.Second}
		go func() { <-ctx.Done(); _ = hs.Close() }()
		go func() { errc <- hs.ListenAndServeTLS("", "") }()
	}
	url := fmt.Sprintf("https://127.0.0.1:%d", port)
	if err := waitTLS(ctx, url[len("https://"):], errc); err != nil {
		return err
	}
	fmt.Println("ready", url)
	select {
	case err := <-errc:
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return err
	case <-ctx.Done():
		return nil
	}
}

// keylessHandler is the production handler with an empty in-memory cluster
// and the default policy, set up as pkg/manager does.
func keylessHandler() *admission.Handler {
	p := policy.Default()
	return &admission.Handler{
		Policy: func() *policy.Policy { return p },
		Options: admission.Options{
			Parse:          annotations.Options{AzureDefaultResourceGroup: "shop-rg"},
			Cluster:        policy.Cluster{AWSAccount: "123456789012", AzureSubscription: "00000000-0000-0000-0000-000000000000", GCPProject: "my-project"},
			Workload:       mutation.WorkloadOptions{GKENodeSelector: true},
			ServiceAccount: mutation.ServiceAccountOptions{AzureTenantID: "99999999-8888-7777-6666-555555555555", Finalizer: annotations.Finalizer, RecordPending: true},
		},
		Lookup: emptyCluster{},
		Log:    ctrllog.Log.WithName("admission"),
	}
}

// emptyCluster is a Lookup with no objects: nothing conflicts.
type emptyCluster struct{}

func (emptyCluster) ServiceAccountAnnotations(context.Context, string, string) (map[string]string, bool, error) {
	return nil, false, nil
}

func (emptyCluster) Users(context.Context, string, string) ([]workload.User, error) { return nil, nil }

func (emptyCluster) NamespaceLabels(_ context.Context, ns string) (map[string]string, error) {
	return map[string]string{"kubernetes.io/metadata.name": ns}, nil
}

func (emptyCluster) Bindings(context.Context, string) ([]string, error) { return nil, nil }

func (emptyCluster) Namespaces(context.Context, string) ([]string, error) { return nil, nil }

// floor decodes the review with the API types and allows it.
func floor(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var rev admissionv1.AdmissionReview
	if err := json.Unmarshal(body, &rev); err != nil || rev.Request == nil {
		http.Error(w, "not an AdmissionReview", http.StatusBadRequest)
		return
	}
	out, err := json.Marshal(admissionv1.AdmissionReview{TypeMeta: rev.TypeMeta,
		Response: &admissionv1.AdmissionResponse{UID: rev.Request.UID, Allowed: true}})
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(out)
}

func cpuTime(w http.ResponseWriter, _ *http.Request) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	ns := ru.Utime.Nano() + ru.Stime.Nano()
	_, _ = io.WriteString(w, strconv.FormatInt(ns, 10))
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func waitTLS(ctx context.Context, addr string, errc <-chan error) error {
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); {
		c, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true}) //nolint:gosec // own test server
		if err == nil {
			_ = c.Close()
			return nil
		}
		select {
		case err := <-errc:
			return fmt.Errorf("server stopped: %w", err)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	return fmt.Errorf("no TLS server on %s after 20s", addr)
}

// writeCert writes a self-signed ECDSA P-256 certificate for 127.0.0.1 as
// tls.crt and tls.key in dir.
func writeCert(dir string) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "keyless-load"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return err
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "tls.crt"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "tls.key"), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600)
}
