package main

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/keyless-dev/keyless/pkg/annotations"
	"github.com/keyless-dev/keyless/pkg/devenv"
)

const (
	soakRG  = "soak"
	wiuRole = "roles/iam.workloadIdentityUser"
	pool    = devenv.GCPProject + ".svc.id.goog"
)

var clouds = []string{"aws", "azure", "gcp"}

// object is one cloud object seen in a simulator: who it is for and to which identity.
type object struct {
	cloud, ns, sa, identity string
}

// report compares the cluster with the simulators.
type report struct {
	ServiceAccounts int
	Connections     map[string]int // per cloud, from the annotations
	Objects         map[string]int // per cloud, in the simulators
	Missing         int
	Orphans         int
	Duplicates      int
	WrongIdentity   int
	NotReady        int
	StuckDeleting   int
	Details         []string
}

func (r *report) bad() int {
	return r.Missing + r.Orphans + r.Duplicates + r.WrongIdentity + r.NotReady + r.StuckDeleting
}

func (r *report) add(format string, a ...any) {
	if len(r.Details) < 40 {
		r.Details = append(r.Details, fmt.Sprintf(format, a...))
	}
}

func (r *report) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "serviceaccounts=%d\n", r.ServiceAccounts)
	for _, c := range clouds {
		fmt.Fprintf(&b, "%-5s connections=%d objects=%d\n", c, r.Connections[c], r.Objects[c])
	}
	fmt.Fprintf(&b, "missing=%d orphans=%d duplicates=%d wrong-identity=%d not-ready=%d stuck-deleting=%d\n",
		r.Missing, r.Orphans, r.Duplicates, r.WrongIdentity, r.NotReady, r.StuckDeleting)
	for _, d := range r.Details {
		fmt.Fprintf(&b, "  %s\n", d)
	}
	return b.String()
}

// cloudObjects lists what the simulators hold.
func (h *harness) cloudObjects() []object {
	var out []object
	for _, a := range h.Clouds.AWS.Associations() {
		if a.ClusterName == devenv.ClusterName {
			out = append(out, object{"aws", a.Namespace, a.ServiceAccount, a.RoleARN})
		}
	}
	for _, id := range h.Clouds.Azure.Identities() {
		for _, c := range h.Clouds.Azure.Credentials(id.SubscriptionID, id.ResourceGroup, id.Name) {
			rest, ok := strings.CutPrefix(c.Subject, "system:serviceaccount:")
			ns, sa, _ := strings.Cut(rest, ":")
			if !ok {
				ns, sa = "?", c.Subject
			}
			out = append(out, object{"azure", ns, sa, strings.ToLower(id.ResourceGroup + "/" + id.Name)})
		}
	}
	for _, email := range h.Clouds.GCP.ServiceAccounts() {
		p, _ := h.Clouds.GCP.Policy(email)
		for _, b := range p.Bindings {
			if b.Role != wiuRole {
				continue
			}
			for _, m := range b.Members {
				rest, ok := strings.CutPrefix(m, "serviceAccount:"+pool+"[")
				if !ok {
					continue
				}
				ns, sa, _ := strings.Cut(strings.TrimSuffix(rest, "]"), "/")
				out = append(out, object{"gcp", ns, sa, strings.ToLower(email)})
			}
		}
	}
	return out
}

// wanted returns, per cloud, the identity the annotations ask for.
func wanted(sa *corev1.ServiceAccount) map[string]string {
	a := sa.Annotations
	w := map[string]string{}
	if v := a[annotations.KeyAWSRole]; v != "" {
		if !strings.HasPrefix(v, "arn:") {
			v = "arn:aws:iam::" + devenv.AWSAccount + ":role/" + v
		}
		w["aws"] = v
	}
	if v := a[annotations.KeyAzureIdentity]; v != "" {
		w["azure"] = strings.ToLower(a[annotations.KeyAzureResourceGroup] + "/" + v)
	}
	if v := a[annotations.KeyGCPServiceAccount]; v != "" {
		w["gcp"] = strings.ToLower(v)
	}
	return w
}

var statusKey = map[string]string{"aws": annotations.KeyStatusAWS, "azure": annotations.KeyStatusAzure, "gcp": annotations.KeyStatusGCP}

// compare reads every ServiceAccount in the namespaces and every cloud object.
func (h *harness) compare(ctx context.Context, namespaces []string) (*report, error) {
	r := &report{Connections: map[string]int{}, Objects: map[string]int{}}
	want := map[string]map[string]string{} // "ns/sa" -> cloud -> identity
	inScope := map[string]bool{}
	for _, ns := range namespaces {
		inScope[ns] = true
		var list corev1.ServiceAccountList
		if err := h.K8s.List(ctx, &list, clientInNamespace(ns)); err != nil {
			return nil, err
		}
		for i := range list.Items {
			sa := &list.Items[i]
			if sa.Name == "default" {
				continue
			}
			id := ns + "/" + sa.Name
			if sa.DeletionTimestamp != nil {
				r.StuckDeleting++
				r.add("stuck deleting: %s finalizers=%v", id, sa.Finalizers)
				continue
			}
			r.ServiceAccounts++
			w := wanted(sa)
			want[id] = w
			for c := range w {
				r.Connections[c]++
				raw := sa.Annotations[statusKey[c]]
				var st struct{ State, Reason, Message string }
				_ = json.Unmarshal([]byte(raw), &st)
				if st.State != "Ready" {
					r.NotReady++
					r.add("not ready: %s %s: %s", id, c, raw)
				}
			}
		}
	}
	seen := map[string]int{}  // cloud|ns/sa|identity -> count
	other := map[string]int{} // cloud|ns/sa -> objects with another identity
	for _, o := range h.cloudObjects() {
		if !inScope[o.ns] {
			continue
		}
		r.Objects[o.cloud]++
		id := o.ns + "/" + o.sa
		w, ok := want[id][o.cloud]
		switch {
		case !ok:
			r.Orphans++
			r.add("orphan: %s %s -> %s", o.cloud, id, o.identity)
		case w == o.identity:
			seen[o.cloud+"|"+id+"|"+o.identity]++
		default:
			other[o.cloud+"|"+id]++
			r.add("other identity: %s %s -> %s (want %s)", o.cloud, id, o.identity, w)
		}
	}
	ids := make([]string, 0, len(want))
	for id := range want {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		for c, ident := range want[id] {
			n, o := seen[c+"|"+id+"|"+ident], other[c+"|"+id]
			switch {
			case n == 0 && o > 0:
				r.WrongIdentity++
			case n == 0:
				r.Missing++
				r.add("missing: %s %s -> %s", c, id, ident)
			case n > 1:
				r.Duplicates += n - 1
				r.add("duplicate: %s %s -> %s x%d", c, id, ident, n)
			}
			if n > 0 && o > 0 {
				r.Orphans += o // a stale object of the previous identity
			}
		}
	}
	return r, nil
}
