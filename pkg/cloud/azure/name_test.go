package azure

import (
	"regexp"
	"strings"
	"testing"
)

// azureNameRule is Azure's rule for credential names, from the service's TypeSpec.
var azureNameRule = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9-_]{2,119}$`)

func TestCredentialName(t *testing.T) {
	long := strings.Repeat("a", 63)
	tests := []struct {
		name, cluster, ns, sa string
		wantPrefix            string
	}{
		{"plain", "prod", "default", "web", "default_web-"},
		{"dots replaced", "prod", "team-a", "api.v2.reader", "team-a_api-v2-reader-"},
		{"longest names shortened", "prod", long, strings.Repeat("b", 253), long + "_bbbb"},
		{"empty names still valid", "", "", "", "k_-"},
		{"leading symbol", "prod", "-x", "y", "k-x_y-"},
		{"unicode replaced", "prod", "ns", "ünï", "ns_-n--"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := CredentialName(tt.cluster, tt.ns, tt.sa)
			if !azureNameRule.MatchString(got) {
				t.Errorf("%q breaks Azure's name rule", got)
			}
			if !strings.HasPrefix(got, tt.wantPrefix) {
				t.Errorf("%q does not start with %q", got, tt.wantPrefix)
			}
			if again := CredentialName(tt.cluster, tt.ns, tt.sa); again != got {
				t.Errorf("not deterministic: %q then %q", got, again)
			}
		})
	}
}

func TestCredentialNameUnique(t *testing.T) {
	long := strings.Repeat("x", 200)
	triples := [][3]string{
		{"prod", "ns", "sa"},
		{"staging", "ns", "sa"}, // same ServiceAccount, another cluster
		{"prod", "ns", "sa.v2"},
		{"prod", "ns", "sa-v2"}, // the same after replacing "."
		{"prod", "ns_a", "b"},
		{"prod", "ns", "a_b"}, // the same readable part
		{"prod", "ns", long + "1"},
		{"prod", "ns", long + "2"}, // the same after shortening
		{"prod", "", "nssa"},
		{"prodns", "", "sa"},
	}
	seen := map[string][3]string{}
	for _, tr := range triples {
		n := CredentialName(tr[0], tr[1], tr[2])
		if prev, ok := seen[n]; ok {
			t.Errorf("%v and %v both get %q", prev, tr, n)
		}
		seen[n] = tr
	}
}

func FuzzCredentialName(f *testing.F) {
	f.Add("prod", "default", "web")
	f.Add("", "", "")
	f.Add("c", "-", strings.Repeat("é", 200))
	f.Fuzz(func(t *testing.T, cluster, ns, sa string) {
		got := CredentialName(cluster, ns, sa)
		if !azureNameRule.MatchString(got) {
			t.Fatalf("CredentialName(%q, %q, %q) = %q breaks Azure's name rule", cluster, ns, sa, got)
		}
		if CredentialName(cluster+"x", ns, sa) == got {
			t.Errorf("another cluster gets the same name %q", got)
		}
	})
}
