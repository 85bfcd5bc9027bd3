package propagation

import (
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/keyless-dev/keyless/pkg/annotations"
	"github.com/keyless-dev/keyless/pkg/workload"
)

// Annotation shortcuts.
const (
	kAWS  = annotations.KeyAWSRole
	kAz   = annotations.KeyAzureIdentity
	kRG   = annotations.KeyAzureResourceGroup
	kCID  = annotations.KeyAzureClientID
	kGCP  = annotations.KeyGCPServiceAccount
	kProp = annotations.KeyPropagated

	role     = "orders-api"
	role2    = "arn:aws:iam::123456789012:role/payments"
	email    = "orders-api@my-project.iam.gserviceaccount.com"
	email2   = "payments@my-project.iam.gserviceaccount.com"
	clientID = "11111111-2222-3333-4444-555555555555"
)

var opts = annotations.Options{AzureDefaultResourceGroup: "shop-rg"}

func deployment(name string, kv ...string) workload.User {
	return workload.User{Kind: "Deployment", Name: name, UID: "uid-" + name, Annotations: m(kv...)}
}

func cronJob(name string, kv ...string) workload.User {
	return workload.User{Kind: "CronJob", Name: name, UID: "uid-" + name, Annotations: m(kv...)}
}

// m builds a map from key, value, key, value...
func m(kv ...string) map[string]string {
	out := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i]] = kv[i+1]
	}
	return out
}

// applyChanges is what the controller's merge patch does to the annotations.
func applyChanges(current map[string]string, changes map[string]*string) map[string]string {
	out := maps.Clone(current)
	if out == nil {
		out = map[string]string{}
	}
	for k, v := range changes {
		if v == nil {
			delete(out, k)
		} else {
			out[k] = *v
		}
	}
	return out
}

func TestPropagation(t *testing.T) {
	tests := []struct {
		name          string
		users         []workload.User
		current       map[string]string // the ServiceAccount's annotations
		want          map[string]string // and after the controller's patch
		wantHold      []string
		wantProblems  []string // one part of each problem, in order
		wantConflicts []string // one part of each conflict, in order
	}{
		{
			name:    "one workload",
			users:   []workload.User{deployment("orders", kAWS, role, kGCP, email, "example.com/team", "a")},
			current: m("example.com/owner", "team-a"),
			want:    m("example.com/owner", "team-a", kAWS, role, kGCP, email, kProp, "aws-role,gcp-service-account"),
		},
		{
			name:  "one workload with every Azure key",
			users: []workload.User{deployment("orders", kAz, "orders-api", kRG, "orders-rg", kCID, clientID)},
			want: m(kAz, "orders-api", kRG, "orders-rg", kCID, clientID,
				kProp, "azure-client-id,azure-identity,azure-resource-group"),
		},
		{
			name:    "one workload, already propagated",
			users:   []workload.User{deployment("orders", kAWS, role)},
			current: m(kAWS, role, kProp, "aws-role"),
			want:    m(kAWS, role, kProp, "aws-role"),
		},
		{
			name:    "one workload that changed its role",
			users:   []workload.User{deployment("orders", kAWS, role2)},
			current: m(kAWS, role, kProp, "aws-role"),
			want:    m(kAWS, role2, kProp, "aws-role"),
		},
		{
			name:  "two workloads agreeing",
			users: []workload.User{deployment("orders", kAWS, role, kGCP, email), cronJob("orders-report", kAWS, role)},
			want:  m(kAWS, role, kGCP, email, kProp, "aws-role,gcp-service-account"),
		},
		{
			name:  "two workloads agreeing in different spellings",
			users: []workload.User{deployment("orders", kAWS, "Orders-API"), cronJob("orders-report", kAWS, "orders-api")},
			want:  m(kAWS, "Orders-API", kProp, "aws-role"),
		},
		{
			name:    "two workloads disagreeing on a cloud hold it",
			users:   []workload.User{deployment("orders", kAWS, role, kGCP, email), cronJob("orders-report", kAWS, role2, kGCP, email)},
			current: m(kAWS, role, kProp, "aws-role"),
			want:    m(kAWS, role, kGCP, email, kProp, "aws-role,gcp-service-account"),
			// The AWS settings are held with the role.
			wantHold: []string{kAWS, annotations.KeyAWSSessionTags, annotations.KeyAWSTargetRole},
			wantProblems: []string{
				"Deployment/orders and CronJob/orders-report connect it to different identities (keyless.dev/aws-role); " +
					"the keyless.dev/aws-role connection is left as it was until they agree",
			},
		},
		{
			name:         "two workloads disagreeing before anything was propagated",
			users:        []workload.User{deployment("orders", kGCP, email), deployment("payments", kGCP, email2)},
			want:         m(),
			wantHold:     []string{kGCP},
			wantProblems: []string{"Deployment/orders and Deployment/payments connect it to different identities"},
		},
		{
			name:         "a held Azure cloud holds all its keys",
			users:        []workload.User{deployment("orders", kAz, "orders-api", kCID, clientID), deployment("payments", kAz, "payments")},
			current:      m(kAz, "orders-api", kCID, clientID, kProp, "azure-client-id,azure-identity"),
			want:         m(kAz, "orders-api", kCID, clientID, kProp, "azure-client-id,azure-identity"),
			wantHold:     []string{kAz, kRG, kCID},
			wantProblems: []string{"(keyless.dev/azure-identity)"},
		},
		{
			name:    "the owner's key with the same value stays theirs",
			users:   []workload.User{deployment("orders", kAWS, role, kGCP, email)},
			current: m(kAWS, role),
			want:    m(kAWS, role, kGCP, email, kProp, "gcp-service-account"),
		},
		{
			name:          "the owner's key with another value is a conflict, not overridden",
			users:         []workload.User{deployment("orders", kAWS, role, kGCP, email)},
			current:       m(kAWS, role2),
			want:          m(kAWS, role2, kGCP, email, kProp, "gcp-service-account"),
			wantConflicts: []string{`the ServiceAccount's own keyless.dev/aws-role="` + role2 + `" differs from the workloads' "` + role + `"`},
		},
		{
			// The owner's identity "payments" is in the default resource
			// group; copying the workload's resource group next to it would
			// silently point it at another identity.
			name:          "the owner's Azure identity is not changed through its other keys",
			users:         []workload.User{deployment("orders", kAz, "orders-api", kRG, "orders-rg", kCID, clientID)},
			current:       m(kAz, "payments"),
			want:          m(kAz, "payments"),
			wantConflicts: []string{`the ServiceAccount's own keyless.dev/azure-identity="payments" differs from the workloads' "orders-api"`},
		},
		{
			name:    "a workload removed: its keys go, the owner's stay",
			users:   nil,
			current: m(kAWS, role, kGCP, email2, "example.com/owner", "team-a", kProp, "aws-role"),
			want:    m(kGCP, email2, "example.com/owner", "team-a"),
		},
		{
			name:    "one of two workloads removed",
			users:   []workload.User{deployment("orders", kAWS, role)},
			current: m(kAWS, role, kGCP, email, kProp, "aws-role,gcp-service-account"),
			want:    m(kAWS, role, kProp, "aws-role"),
		},
		{
			name:    "a workload dropped the Azure client ID",
			users:   []workload.User{deployment("orders", kAz, "orders-api")},
			current: m(kAz, "orders-api", kCID, clientID, kProp, "azure-client-id,azure-identity"),
			want:    m(kAz, "orders-api", kRG, "shop-rg", kProp, "azure-identity,azure-resource-group"),
		},
		{
			// Removing --azure-resource-group later must not leave the
			// ServiceAccount with annotations that no longer parse.
			name:    "the default resource group is spelled out",
			users:   []workload.User{deployment("orders", kAz, "orders-api")},
			current: nil,
			want:    m(kAz, "orders-api", kRG, "shop-rg", kProp, "azure-identity,azure-resource-group"),
		},
		{
			name:    "a listed key someone deleted leaves the list",
			users:   nil,
			current: m(kGCP, email, kProp, "aws-role"),
			want:    m(kGCP, email),
		},
		{
			name: "invalid annotations on a workload are reported and skipped",
			users: []workload.User{
				deployment("broken", kAWS, role2, annotations.Prefix+"aws-rol", "x"),
				deployment("orders", kGCP, email),
			},
			want: m(kGCP, email, kProp, "gcp-service-account"),
			wantProblems: []string{
				`Deployment/broken has invalid keyless.dev annotations: metadata.annotations[keyless.dev/aws-rol]: Forbidden: ` +
					`unknown Keyless annotation; did you mean "keyless.dev/aws-role"?`,
			},
		},
		{
			name: "an invalid workload does not hold a cloud against a valid one",
			users: []workload.User{
				deployment("orders", kGCP, email),
				deployment("broken", kGCP, "Payments@my-project.iam.gserviceaccount.com"),
			},
			want:         m(kGCP, email, kProp, "gcp-service-account"),
			wantProblems: []string{"Deployment/broken has invalid keyless.dev annotations"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want, hold, problems := Wanted(tt.users, opts)
			changes, conflicts := Changes(tt.current, want, hold)
			got := applyChanges(tt.current, changes)
			if !maps.Equal(got, tt.want) {
				t.Errorf("annotations after the patch:\n  %v\nwant\n  %v", got, tt.want)
			}
			if gotHold := slices.Sorted(maps.Keys(hold)); !slices.Equal(gotHold, slices.Sorted(slices.Values(tt.wantHold))) {
				t.Errorf("held keys = %v, want %v", gotHold, tt.wantHold)
			}
			checkMessages(t, "problems", problems, tt.wantProblems)
			checkMessages(t, "conflicts", conflicts, tt.wantConflicts)
			for k, v := range changes {
				if !strings.HasPrefix(k, annotations.Prefix) {
					t.Errorf("the patch changes %s=%v, which is not Keyless's", k, v)
				}
				if owned := tt.current[k]; owned != "" && !slices.Contains(annotations.ParseList(tt.current[kProp]), strings.TrimPrefix(k, annotations.Prefix)) && k != kProp {
					t.Errorf("the patch changes the owner's %s=%q", k, owned)
				}
			}

			// The controller's next round, on the patched ServiceAccount, changes nothing.
			again, _ := Changes(got, want, hold)
			if len(again) > 0 {
				t.Errorf("a second round changes %v", again)
			}
		})
	}
}

func checkMessages(t *testing.T, what string, got, want []string) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s = %q, want %d", what, got, len(want))
		return
	}
	for i := range want {
		if !strings.Contains(got[i], want[i]) {
			t.Errorf("%s[%d] = %q, want it to contain %q", what, i, got[i], want[i])
		}
	}
}

// TestWantedCopiesFromTheFirstAgreeingWorkload: the values copied are one
// workload's, whole, for each cloud.
func TestWantedCopiesFromTheFirstAgreeingWorkload(t *testing.T) {
	users := []workload.User{
		deployment("orders", kAz, "orders-api"),
		deployment("orders-worker", kAz, "orders-api", kRG, "shop-rg", kCID, clientID),
		deployment("orders-cron", kAWS, role),
	}
	want, hold, problems := Wanted(users, opts)
	if len(hold) > 0 || len(problems) > 0 {
		t.Fatalf("hold %v, problems %q; want none", hold, problems)
	}
	if exp := m(kAz, "orders-api", kRG, "shop-rg", kAWS, role); !maps.Equal(want, exp) {
		t.Errorf("wanted = %v, want %v", want, exp)
	}
}

func TestSettingsArePropagatedWithTheirCloud(t *testing.T) {
	users := []workload.User{deployment("orders", kAWS, role,
		annotations.KeyAWSSessionTags, "false", annotations.KeyDeletionPolicy, "retain", annotations.KeyRestartOnReady, "false")}
	want, hold, problems := Wanted(users, annotations.Options{})
	if len(hold) > 0 || len(problems) > 0 {
		t.Fatalf("hold %v, problems %v", hold, problems)
	}
	for k, v := range map[string]string{kAWS: role, annotations.KeyAWSSessionTags: "false", annotations.KeyDeletionPolicy: "retain"} {
		if want[k] != v {
			t.Errorf("want[%s] = %q, want %q", k, want[k], v)
		}
	}
	if _, ok := want[annotations.KeyRestartOnReady]; ok {
		t.Errorf("%s concerns the workload and must not be copied", annotations.KeyRestartOnReady)
	}
}
