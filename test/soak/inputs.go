package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/keyless-dev/keyless/pkg/annotations"
	"github.com/keyless-dev/keyless/pkg/devenv"
	th "github.com/keyless-dev/keyless/test/harness"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// runInputs tries bad inputs and prints the exact message a user gets.
// keyless runs with AWS off (no --aws-region), to show CloudDisabled.
func runInputs(ctx context.Context, h *harness, logs io.Writer) (string, error) {
	var b strings.Builder
	row := func(what, input, msg string) {
		msg = strings.ReplaceAll(strings.TrimSpace(msg), "\n", " ⏎ ")
		fmt.Fprintf(&b, "| %s | `%s` | %s |\n", what, input, msg)
	}
	p, err := h.serve("keyless-inputs", 0, logs, "--aws-region")
	if err != nil {
		return "", err
	}
	defer p.Kill()
	if err := p.WaitReady(ctx, 90*time.Second); err != nil {
		return "", err
	}
	nss, err := makeNamespaces(ctx, h, "inputs", 1)
	if err != nil {
		return "", err
	}
	ns := nss[0]
	gsa := "inputs-denied@" + devenv.GCPProject + ".iam.gserviceaccount.com"
	h.Clouds.GCP.AddServiceAccount(gsa)
	h.Clouds.GCP.Deny(gsa, true)
	h.Clouds.AWS.AddRole("arn:aws:iam::" + devenv.AWSAccount + ":role/inputs-role")

	i := 0
	try := func(what string, ann map[string]string) {
		i++
		sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: fmt.Sprintf("bad-%d", i), Annotations: ann}}
		var kv []string
		for k, v := range ann {
			kv = append(kv, k+": "+v)
		}
		err := h.K8s.Create(ctx, sa)
		msg := "(accepted)"
		if err != nil {
			msg = err.Error()
		}
		row(what, strings.Join(kv, ", "), msg)
	}
	try("typo in key", map[string]string{"keyless.dev/aws-rol": "orders-api"})
	try("unknown cloud", map[string]string{"keyless.dev/ibm-role": "orders-api"})
	try("bad ARN", map[string]string{annotations.KeyAWSRole: "arn:aws:iam::12345:role/x"})
	try("bad client ID GUID", map[string]string{annotations.KeyAzureIdentity: "orders", annotations.KeyAzureResourceGroup: "rg", annotations.KeyAzureClientID: "not-a-guid"})
	try("bad email", map[string]string{annotations.KeyGCPServiceAccount: "orders-api@gmail.com"})
	try("upper case", map[string]string{annotations.KeyGCPServiceAccount: "Orders-API@demo-project.iam.gserviceaccount.com"})
	try("upper-case key", map[string]string{"keyless.dev/AWS-Role": "orders-api"})

	// Status messages: an unconfigured cloud, and a 403 from IAM.
	status := func(what, name string, ann map[string]string, key string) {
		sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Annotations: ann}}
		if err := h.K8s.Create(ctx, sa); err != nil {
			row(what, name, "create: "+err.Error())
			return
		}
		var raw string
		for t0 := time.Now(); time.Since(t0) < 30*time.Second; time.Sleep(200 * time.Millisecond) {
			_ = h.K8s.Get(ctx, types.NamespacedName{Namespace: ns, Name: name}, sa)
			if raw = sa.Annotations[key]; raw != "" && !strings.Contains(raw, `"Pending"`) {
				break
			}
		}
		var st map[string]any
		_ = json.Unmarshal([]byte(raw), &st)
		delete(st, "lastSync")
		delete(st, "hash")
		out, _ := json.Marshal(st)
		row(what, key, string(out))
	}
	status("unconfigured cloud (AWS off)", "aws-off", map[string]string{annotations.KeyAWSRole: "inputs-role"}, annotations.KeyStatusAWS)
	status("GCP 403 (simulator Deny)", "gcp-denied", map[string]string{annotations.KeyGCPServiceAccount: gsa}, annotations.KeyStatusGCP)

	// Garbage to the webhook.
	w := h.Env.WebhookInstallOptions
	hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} //nolint:gosec // loopback test server
	for _, body := range []struct{ ct, body string }{
		{"application/json", "garbage"},
		{"application/json", "{}"},
		{"text/plain", `{"kind":"AdmissionReview"}`},
		{"application/json", ""},
	} {
		url := "https://" + net.JoinHostPort(w.LocalServingHost, strconv.Itoa(w.LocalServingPort)) + "/mutate"
		resp, err := hc.Post(url, body.ct, bytes.NewBufferString(body.body))
		if err != nil {
			row("POST to /mutate", body.ct+" "+body.body, err.Error())
			continue
		}
		got, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		row("POST to /mutate", "Content-Type: "+body.ct+", body "+fmt.Sprintf("%q", body.body), fmt.Sprintf("HTTP %d %s", resp.StatusCode, got))
	}

	// Start errors: bad policy files and bad flags.
	bad := map[string]string{
		"wrong apiVersion": "apiVersion: keyless.dev/v1\nkind: ConnectionPolicy\nspec:\n  rules: []\n",
		"bad mode":         "apiVersion: keyless.dev/v1alpha1\nkind: ConnectionPolicy\nspec:\n  rules:\n  - name: r\n    mode: block\n",
		"unknown field":    "apiVersion: keyless.dev/v1alpha1\nkind: ConnectionPolicy\nspec:\n  rules: []\n  rulez: []\n",
	}
	for _, name := range []string{"wrong apiVersion", "bad mode", "unknown field"} {
		f := filepath.Join(h.Dir, strings.ReplaceAll(name, " ", "-")+".yaml")
		_ = os.WriteFile(f, []byte(bad[name]), 0o600)
		port, _ := th.FreePort()
		health, _ := th.FreeAddr()
		c := h.Devenv.KeylessConfig()
		c.WebhookPort, c.HealthAddr, c.PolicyFile = port, health, f
		row("policy file: "+name, strings.ReplaceAll(bad[name], "\n", "⏎"), h.startError(append([]string{"serve"}, devenv.Args(c)...)...))
	}
	row("flags", "keyless serve --webhook-port=0 --tls-min-version=1.1", h.startError("serve", "--webhook-port=0", "--tls-min-version=1.1"))
	return b.String(), nil
}

// startError runs keyless and returns what it prints when it stops within 20s.
func (h *harness) startError(args ...string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, h.Bin, args...).CombinedOutput()
	if ctx.Err() != nil {
		return "(still running after 20s) " + lastLines(string(out), 3)
	}
	return fmt.Sprintf("%s (%v)", lastLines(string(out), 12), err)
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
