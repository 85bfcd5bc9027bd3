package annotations

import (
	"reflect"
	"strings"
	"testing"
)

// gcpTests also seed FuzzParse.
var gcpTests = []struct {
	name    string
	value   string
	want    *GCPServiceAccount
	wantErr string // substring of the only error; "" means valid
}{
	{name: "email", value: "orders-api@my-project.iam.gserviceaccount.com",
		want: &GCPServiceAccount{Email: "orders-api@my-project.iam.gserviceaccount.com", Project: "my-project", Name: "orders-api"}},
	{name: "shortest", value: "abcdef@p12345.iam.gserviceaccount.com",
		want: &GCPServiceAccount{Email: "abcdef@p12345.iam.gserviceaccount.com", Project: "p12345", Name: "abcdef"}},
	{name: "longest", value: strings.Repeat("a", 30) + "@" + strings.Repeat("b", 30) + ".iam.gserviceaccount.com",
		want: &GCPServiceAccount{Email: strings.Repeat("a", 30) + "@" + strings.Repeat("b", 30) + ".iam.gserviceaccount.com", Project: strings.Repeat("b", 30), Name: strings.Repeat("a", 30)}},

	{name: "empty", value: "", wantErr: `must not be empty; give the service account's email, e.g. "orders-api@my-project.iam.gserviceaccount.com"`},
	{name: "spaces", value: " orders-api@my-project.iam.gserviceaccount.com", wantErr: "remove the spaces"},
	{name: "upper case", value: "Orders-API@My-Project.iam.gserviceaccount.com",
		wantErr: `must be lower case, as Google service account emails are; use "orders-api@my-project.iam.gserviceaccount.com"`},
	{name: "compute default", value: "123456789-compute@developer.gserviceaccount.com",
		wantErr: `must be a Google service account email NAME@PROJECT.iam.gserviceaccount.com, e.g. "orders-api@my-project.iam.gserviceaccount.com"; Google-managed default accounts (@developer.gserviceaccount.com) are not supported`},
	{name: "gmail", value: "someone@gmail.com", wantErr: "must be a Google service account email NAME@PROJECT.iam.gserviceaccount.com, e.g. \"orders-api@my-project.iam.gserviceaccount.com\"; @gmail.com is not a service account domain"},
	{name: "no at", value: "orders-api", wantErr: "must be a Google service account email NAME@PROJECT.iam.gserviceaccount.com"},
	{name: "two ats", value: "orders-api@x@my-project.iam.gserviceaccount.com", wantErr: "must be a Google service account email"},
	{name: "domain-scoped project", value: "orders-api@my-project.example.com.iam.gserviceaccount.com", wantErr: `names a domain-scoped project ("my-project.example.com")`},
	{name: "short name", value: "abcde@my-project.iam.gserviceaccount.com",
		wantErr: `account name "abcde" must be 6 to 30 characters of lower-case letters, digits and "-", starting with a letter and not ending with "-"`},
	{name: "long name", value: strings.Repeat("a", 31) + "@my-project.iam.gserviceaccount.com", wantErr: "account name"},
	{name: "name starting with digit", value: "1orders@my-project.iam.gserviceaccount.com", wantErr: `account name "1orders"`},
	{name: "name ending with dash", value: "orders-@my-project.iam.gserviceaccount.com", wantErr: `account name "orders-"`},
	{name: "name with underscore", value: "orders_api@my-project.iam.gserviceaccount.com", wantErr: `account name "orders_api"`},
	{name: "short project", value: "orders-api@proj.iam.gserviceaccount.com", wantErr: `project ID "proj" must be 6 to 30 characters`},
	{name: "long project", value: "orders-api@" + strings.Repeat("p", 31) + ".iam.gserviceaccount.com", wantErr: "project ID"},
	{name: "project ending with dash", value: "orders-api@my-project-.iam.gserviceaccount.com", wantErr: `project ID "my-project-"`},
	{name: "empty project", value: "orders-api@.iam.gserviceaccount.com", wantErr: `project ID ""`},
}

func TestParseGCP(t *testing.T) {
	for _, tt := range gcpTests {
		t.Run(tt.name, func(t *testing.T) {
			c, errs := Parse(map[string]string{KeyGCPServiceAccount: tt.value}, Options{})
			checkErrs(t, errs, errWants(tt.wantErr)...)
			if tt.wantErr == "" && !reflect.DeepEqual(c.GCP, tt.want) {
				t.Errorf("GCP = %+v, want %+v", c.GCP, tt.want)
			}
		})
	}
}

func TestGCPServiceAccountSame(t *testing.T) {
	sa := &GCPServiceAccount{Email: "orders-api@my-project.iam.gserviceaccount.com", Project: "my-project", Name: "orders-api"}
	tests := []struct {
		name string
		a, b *GCPServiceAccount
		want bool
	}{
		{"both nil", nil, nil, true},
		{"one nil", sa, nil, false},
		{"other nil", nil, sa, false},
		{"same email", sa, &GCPServiceAccount{Email: sa.Email}, true},
		{"other email", sa, &GCPServiceAccount{Email: "billing-api@my-project.iam.gserviceaccount.com"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.a.Same(tt.b); got != tt.want {
				t.Errorf("Same() = %v, want %v", got, tt.want)
			}
		})
	}
	if got, want := sa.String(), sa.Email; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	if got := (*GCPServiceAccount)(nil).String(); got != "" {
		t.Errorf("nil String() = %q, want empty", got)
	}
}
