package e2e

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/keyless-dev/keyless/pkg/annotations"
)

// writePolicy replaces the policy file atomically, as the kubelet updates a
// mounted ConfigMap.
func writePolicy(t *testing.T, doc string) {
	t.Helper()
	tmp := policyFile + ".tmp"
	if err := os.WriteFile(tmp, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, policyFile); err != nil {
		t.Fatal(err)
	}
}

// setPolicy writes the policy file; the caller waits for it to take effect.
func setPolicy(t *testing.T, doc string) {
	t.Helper()
	writePolicy(t, doc)
	t.Cleanup(func() {
		writePolicy(t, allowAll)
		time.Sleep(500 * time.Millisecond) // a few reloads
	})
}

func prefixPolicy(mode string) string {
	return fmt.Sprintf(`apiVersion: keyless.dev/v1alpha1
kind: ConnectionPolicy
spec:
  rules:
    - name: own-roles
      mode: %s
      awsRoles: ["${namespace}-*"]
`, mode)
}

// deniedEventually waits until creating d is denied, and returns the error.
func deniedEventually(t *testing.T, d client.Object) error {
	t.Helper()
	var denial error
	eventually(t, 10*time.Second, func() error {
		err := k8s.Create(context.Background(), d.DeepCopyObject().(client.Object), client.DryRunAll)
		if err == nil {
			return fmt.Errorf("still admitted")
		}
		denial = err
		return nil
	})
	return denial
}

func TestPolicyEnforceAtAdmissionTakesEffectWithoutRestart(t *testing.T) {
	ns := namespace(t)
	setPolicy(t, prefixPolicy("enforce"))
	err := deniedEventually(t, deployment(ns, "foreign", annotated(annotations.KeyAWSRole, "payments-api")))
	mustContain(t, err, `rule "own-roles"`, `"payments-api"`, ns+"-*")
	// What the policy allows is still admitted.
	create(t, deployment(ns, "own", annotated(annotations.KeyAWSRole, ns+"-api")))
}

func TestPolicyWarnAdmitsWithAWarning(t *testing.T) {
	ns := namespace(t)
	setPolicy(t, prefixPolicy("warn"))
	var mu sync.Mutex
	var warnings []string
	cfg := rest.CopyConfig(env.RestConfig)
	cfg.WarningHandler = warningFunc(func(msg string) {
		mu.Lock()
		defer mu.Unlock()
		warnings = append(warnings, msg)
	})
	c, err := client.New(cfg, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, func() error {
		d := deployment(ns, "warned", annotated(annotations.KeyAWSRole, "payments-api"))
		if err := c.Create(context.Background(), d, client.DryRunAll); err != nil {
			return fmt.Errorf("a warn-mode violation was denied: %w", err)
		}
		mu.Lock()
		defer mu.Unlock()
		for _, w := range warnings {
			if strings.Contains(w, "keyless policy (warn)") && strings.Contains(w, `rule "own-roles"`) {
				return nil
			}
		}
		return fmt.Errorf("no policy warning yet: %q", warnings)
	})
}

type warningFunc func(string)

func (f warningFunc) HandleWarningHeader(_ int, _ string, msg string) { f(msg) }

func TestPolicyAuditAdmitsAndRecordsAnEvent(t *testing.T) {
	ns := namespace(t)
	setPolicy(t, prefixPolicy("audit"))
	time.Sleep(500 * time.Millisecond)
	create(t, deployment(ns, "audited", annotated(annotations.KeyAWSRole, "payments-api")))
	eventually(t, 10*time.Second, func() error {
		return findEvent(ns, "PolicyAudit", `rule "own-roles"`)
	})
}

func TestInvalidPolicyKeepsTheLastGoodOne(t *testing.T) {
	ns := namespace(t)
	setPolicy(t, prefixPolicy("enforce"))
	_ = deniedEventually(t, deployment(ns, "foreign", annotated(annotations.KeyAWSRole, "payments-api"))) // the policy is in force

	writePolicy(t, "apiVersion: keyless.dev/v1alpha1\nkind: ConnectionPolicy\nspec:\n  rules:\n    - name: broken\n      mode: block\n")
	eventually(t, 10*time.Second, func() error { return findEvent("default", "PolicyRejected", "mode") })
	err := k8s.Create(context.Background(), deployment(ns, "still-foreign", annotated(annotations.KeyAWSRole, "payments-api")), client.DryRunAll)
	mustContain(t, err, `rule "own-roles"`)
}

// TestPolicyIsCheckedAtReconcile connects a ServiceAccount while the webhook
// is not registered (as if it had been down), then checks that the
// controller refuses the cloud write and says why; and that a policy change
// that makes an existing binding illegal stops repairing it.
func TestPolicyIsCheckedAtReconcile(t *testing.T) {
	ns := namespace(t)
	seed(t, annotations.KeyAWSRole, "payments-api")
	setPolicy(t, prefixPolicy("enforce"))
	_ = deniedEventually(t, deployment(ns, "probe", annotated(annotations.KeyAWSRole, "payments-api"))) // the policy is in force

	// Admitted behind the webhook's back.
	wh := &admissionregistrationv1.MutatingWebhookConfiguration{}
	wh.Name = "keyless"
	if err := k8s.Delete(context.Background(), wh); err != nil {
		t.Fatal(err)
	}
	reinstalled := false
	t.Cleanup(func() { // the tests after this one need the webhook, whatever happens here
		if !reinstalled {
			_ = reinstallWebhook()
		}
	})
	// The API server stops calling the webhook once its configuration
	// watch has seen the deletion, a moment later.
	eventually(t, 10*time.Second, func() error {
		return k8s.Create(context.Background(), serviceAccount(ns, "sneaky", annotated(annotations.KeyAWSRole, "payments-api")))
	})
	if err := reinstallWebhook(); err != nil {
		t.Fatal(err)
	}
	reinstalled = true
	sa := serviceAccountEventually(t, ns, "sneaky", stateIs(annotations.KeyStatusAWS, "PolicyViolation"))
	if st, _ := status(sa, annotations.KeyStatusAWS); st.Reason != "own-roles" {
		t.Errorf("status = %+v, want reason own-roles", st)
	}
	if n := len(associations(ns, "sneaky")); n != 0 {
		t.Errorf("%d associations were made despite the policy", n)
	}

	// An existing binding that a new policy forbids is reported, not removed (the default).
	writePolicy(t, allowAll)
	serviceAccountEventually(t, ns, "sneaky", stateIs(annotations.KeyStatusAWS, "Ready"))
	writePolicy(t, prefixPolicy("enforce"))
	serviceAccountEventually(t, ns, "sneaky", stateIs(annotations.KeyStatusAWS, "PolicyViolation"))
	if n := len(associations(ns, "sneaky")); n != 1 {
		t.Errorf("associations = %d, want the existing one kept (existingViolations: report)", n)
	}
}

func findEvent(ns, reason, contains string) error {
	list := &eventsv1.EventList{}
	if err := k8s.List(context.Background(), list, client.InNamespace(ns)); err != nil {
		return err
	}
	var seen []string
	for _, e := range list.Items {
		if e.Reason == reason && strings.Contains(e.Note, contains) {
			return nil
		}
		seen = append(seen, e.Reason+": "+e.Note)
	}
	return fmt.Errorf("no %s event containing %q in %s; events: %v", reason, contains, ns, seen)
}
