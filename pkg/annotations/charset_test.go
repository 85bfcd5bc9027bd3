package annotations

import "testing"

// TestIDCharacterRanges: the ends of a-z, A-Z and 0-9 in AWS role names and
// in Google account and project IDs.
func TestIDCharacterRanges(t *testing.T) {
	tests := []struct {
		name   string
		annots map[string]string
		valid  bool
	}{
		{name: "role name with Z", annots: map[string]string{KeyAWSRole: "Z-orders"}, valid: true},
		{name: "role name with z A 0 9", annots: map[string]string{KeyAWSRole: "z-A-0-9"}, valid: true},
		{name: "role name with [", annots: map[string]string{KeyAWSRole: "Z[orders"}},
		{name: "account starting with z, holding a z 0 9", annots: map[string]string{KeyGCPServiceAccount: "za0z9a@zproject09.iam.gserviceaccount.com"}, valid: true},
		{name: "account starting with a", annots: map[string]string{KeyGCPServiceAccount: "a00000@my-project.iam.gserviceaccount.com"}, valid: true},
		{name: "account starting with {", annots: map[string]string{KeyGCPServiceAccount: "{abcde@my-project.iam.gserviceaccount.com"}},
		{name: "account starting with a digit", annots: map[string]string{KeyGCPServiceAccount: "0abcde@my-project.iam.gserviceaccount.com"}},
		{name: "account with /", annots: map[string]string{KeyGCPServiceAccount: "ab/cde@my-project.iam.gserviceaccount.com"}},
		{name: "account with :", annots: map[string]string{KeyGCPServiceAccount: "ab:cde@my-project.iam.gserviceaccount.com"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, errs := Parse(tt.annots, Options{})
			if (len(errs) == 0) != tt.valid {
				t.Errorf("Parse: %v, want valid = %t", errs, tt.valid)
			}
		})
	}
}

// TestConnectionsEmpty: any one cloud makes a connection.
func TestConnectionsEmpty(t *testing.T) {
	tests := []struct {
		c    Connections
		want bool
	}{
		{Connections{}, true},
		{Connections{AWS: &AWSRole{Name: "r"}}, false},
		{Connections{Azure: &AzureIdentity{Name: "i"}}, false},
		{Connections{GCP: &GCPServiceAccount{Email: "e"}}, false},
	}
	for _, tt := range tests {
		if got := tt.c.Empty(); got != tt.want {
			t.Errorf("%+v.Empty() = %t, want %t", tt.c, got, tt.want)
		}
	}
}
