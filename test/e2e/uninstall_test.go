package e2e

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	"github.com/keyless-dev/keyless/pkg/annotations"
	"github.com/keyless-dev/keyless/pkg/uninstall"
)

// TestUninstallLeavesNothingStuck stops Keyless with a ServiceAccount that
// still carries its finalizer, runs the uninstall, and checks that the
// ServiceAccount and its namespace can be deleted and that unrelated writes
// are no longer sent to a webhook.
func TestUninstallLeavesNothingStuck(t *testing.T) {
	ns := namespace(t)
	sa := serviceAccount(ns, "held", func(o client.Object) {
		controllerutil.AddFinalizer(o, annotations.Finalizer)
	}, annotated(annotations.KeyGCPServiceAccount, gcpEmail))
	create(t, sa)

	if err := env.StopKeyless(); err != nil {
		t.Fatalf("stopping keyless: %v", err)
	}
	t.Cleanup(func() {
		if err := reinstallWebhook(); err != nil {
			t.Errorf("re-installing the webhook: %v", err)
		}
		if err := env.StartKeyless(context.Background()); err != nil {
			t.Fatalf("restarting keyless: %v", err)
		}
	})

	var out bytes.Buffer
	if err := uninstall.Run(context.Background(), k8s, &out); err != nil {
		t.Fatalf("uninstall: %v\n%s", err, &out)
	}
	if !strings.Contains(out.String(), "ServiceAccount "+ns+"/held: finalizer removed") {
		t.Errorf("uninstall output does not report the finalizer it removed:\n%s", &out)
	}
	// With the webhook configuration gone, annotated objects are admitted
	// without Keyless (it is not running).
	if err := k8s.Create(context.Background(), deployment(ns, "after", annotated(annotations.KeyAWSRole, "orders"))); err != nil {
		t.Errorf("an annotated Deployment was refused after uninstall: %v", err)
	}
	if err := k8s.Delete(context.Background(), sa); err != nil {
		t.Fatalf("deleting the ServiceAccount: %v", err)
	}
	eventually(t, 10*time.Second, func() error {
		err := k8s.Get(context.Background(), client.ObjectKeyFromObject(sa), &corev1.ServiceAccount{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		return err
	})
}

// reinstallWebhook puts back the configuration envtest installed (URL and CA
// of the local webhook server).
func reinstallWebhook() error {
	var cp *admissionregistrationv1.MutatingWebhookConfiguration
	for _, wh := range env.Env.WebhookInstallOptions.MutatingWebhooks {
		if wh.Name == uninstall.WebhookConfigurationName {
			cp = wh.DeepCopy()
		}
	}
	if cp == nil {
		return errors.New("envtest installed no keyless webhook configuration")
	}
	cp.ResourceVersion, cp.UID, cp.CreationTimestamp = "", "", metav1.Time{}
	return k8s.Create(context.Background(), cp)
}
