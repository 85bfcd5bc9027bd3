package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"

	"github.com/keyless-dev/keyless/pkg/annotations"
	"github.com/keyless-dev/keyless/pkg/devenv"
	fakeaws "github.com/keyless-dev/keyless/pkg/fakecloud/aws"
	fakeazure "github.com/keyless-dev/keyless/pkg/fakecloud/azure"
)

const wiuRole = "roles/iam.workloadIdentityUser"

// status reads one cloud's status annotation of a ServiceAccount.
func status(sa *corev1.ServiceAccount, key string) (annotations.Status, bool) {
	var st annotations.Status
	raw, ok := sa.Annotations[key]
	if !ok {
		return st, false
	}
	_ = json.Unmarshal([]byte(raw), &st)
	return st, true
}

// stateIs waits for the status of one cloud to reach state.
func stateIs(key, state string) func(*corev1.ServiceAccount) error {
	return func(sa *corev1.ServiceAccount) error {
		st, ok := status(sa, key)
		if !ok || st.State != state {
			return fmt.Errorf("%s = %+v (present %v), want state %s", key, st, ok, state)
		}
		return nil
	}
}

// gone waits until the ServiceAccount no longer exists.
func gone(t *testing.T, ns, name string) {
	t.Helper()
	eventually(t, 20*time.Second, func() error {
		err := k8s.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: name}, &corev1.ServiceAccount{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		if err != nil {
			return err
		}
		return fmt.Errorf("ServiceAccount %s/%s still exists", ns, name)
	})
}

// associations returns the simulated EKS associations of one ServiceAccount.
func associations(ns, sa string) []fakeaws.Association {
	var out []fakeaws.Association
	for _, a := range env.Clouds.AWS.Associations() {
		if a.ClusterName == devenv.ClusterName && a.Namespace == ns && a.ServiceAccount == sa {
			out = append(out, a)
		}
	}
	return out
}

// credentials returns the simulated federated credentials of one identity
// for one ServiceAccount.
func credentials(rg, identity, ns, sa string) []fakeazure.Credential {
	var out []fakeazure.Credential
	for _, c := range env.Clouds.Azure.Credentials(devenv.AzureSubscription, rg, identity) {
		if c.Subject == "system:serviceaccount:"+ns+":"+sa {
			out = append(out, c)
		}
	}
	return out
}

// members returns how often the ServiceAccount's member appears in the
// Google service account's workloadIdentityUser bindings.
func members(email, ns, sa string) int {
	p, _ := env.Clouds.GCP.Policy(email)
	member := "serviceAccount:" + devenv.GCPProject + ".svc.id.goog[" + ns + "/" + sa + "]"
	n := 0
	for _, b := range p.Bindings {
		if b.Role == wiuRole {
			n += len(slices.DeleteFunc(slices.Clone(b.Members), func(m string) bool { return m != member }))
		}
	}
	return n
}

// seed creates the identities the annotations name in the simulators.
func seed(t *testing.T, kv ...string) {
	t.Helper()
	a := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		a[kv[i]] = kv[i+1]
	}
	conns, errs := annotations.Parse(a, annotations.Options{})
	if len(errs) > 0 {
		t.Fatalf("seed annotations: %v", errs)
	}
	env.Clouds.SeedConnections(conns)
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	eventually(t, 20*time.Second, func() error {
		if cond() {
			return nil
		}
		return fmt.Errorf("still waiting for %s", what)
	})
}

func fakecloudCredential(name, ns, sa string) fakeazure.Credential {
	return fakeazure.Credential{Name: name, Issuer: devenv.AzureIssuer, Subject: "system:serviceaccount:" + ns + ":" + sa,
		Audiences: []string{"api://AzureADTokenExchange"}}
}
