package annotations

import (
	"maps"
	"reflect"
	"slices"
	"testing"
)

// unknownKeyTests also seed FuzzParse.
var unknownKeyTests = []struct {
	key  string
	want string // the whole error
}{
	{Prefix + "aws-rol", `metadata.annotations[keyless.dev/aws-rol]: Forbidden: unknown Keyless annotation; did you mean "keyless.dev/aws-role"?`},
	{Prefix + "AWS-Role", `metadata.annotations[keyless.dev/AWS-Role]: Forbidden: unknown Keyless annotation; did you mean "keyless.dev/aws-role"?`},
	{Prefix + "aws-rloe", `metadata.annotations[keyless.dev/aws-rloe]: Forbidden: unknown Keyless annotation; did you mean "keyless.dev/aws-role"?`},
	{Prefix + "aws-role-arn", `metadata.annotations[keyless.dev/aws-role-arn]: Forbidden: unknown Keyless annotation; did you mean "keyless.dev/aws-role"?`},
	{Prefix + "gcp", `metadata.annotations[keyless.dev/gcp]: Forbidden: unknown Keyless annotation; did you mean "keyless.dev/gcp-service-account"?`},
	{Prefix + "gcp-serviceaccount", `metadata.annotations[keyless.dev/gcp-serviceaccount]: Forbidden: unknown Keyless annotation; did you mean "keyless.dev/gcp-service-account"?`},
	{Prefix + "azure-clientid", `metadata.annotations[keyless.dev/azure-clientid]: Forbidden: unknown Keyless annotation; did you mean "keyless.dev/azure-client-id"?`},
	{Prefix + "azure-identities", `metadata.annotations[keyless.dev/azure-identities]: Forbidden: unknown Keyless annotation; did you mean "keyless.dev/azure-identity"?`},
	{Prefix + "injectd", `metadata.annotations[keyless.dev/injectd]: Forbidden: unknown Keyless annotation; did you mean "keyless.dev/injected"?`},
	{Prefix + "foo", `metadata.annotations[keyless.dev/foo]: Forbidden: unknown Keyless annotation; use one of "keyless.dev/aws-role", "keyless.dev/azure-identity", "keyless.dev/azure-resource-group", "keyless.dev/azure-client-id", "keyless.dev/gcp-service-account", or remove it`},
	{Prefix, `metadata.annotations[keyless.dev/]: Forbidden: unknown Keyless annotation; use one of "keyless.dev/aws-role",`},
}

func TestParseUnknownKeys(t *testing.T) {
	for _, tt := range unknownKeyTests {
		t.Run(tt.key, func(t *testing.T) {
			_, errs := Parse(map[string]string{tt.key: "orders-api"}, Options{})
			checkErrs(t, errs, tt.want)
		})
	}
}

func TestParseAllProblemsAtOnce(t *testing.T) {
	annots := map[string]string{
		KeyGCPServiceAccount:  "Orders@my-project.iam.gserviceaccount.com",
		KeyAWSRole:            "arn:aws:iam::123456789012:user/alice",
		KeyAzureClientID:      "not-a-guid",
		KeyAzureResourceGroup: "my-rg",
		Prefix + "aws-rol":    "orders-api",
		"example.com/other":   "ignored",
	}
	_, errs := Parse(annots, Options{})
	checkErrs(t, errs,
		"[keyless.dev/aws-rol]: Forbidden: unknown Keyless annotation",
		"[keyless.dev/aws-role]: Invalid value",
		"[keyless.dev/azure-client-id]: Forbidden: needs keyless.dev/azure-identity",
		"[keyless.dev/azure-resource-group]: Forbidden: needs keyless.dev/azure-identity",
		"[keyless.dev/gcp-service-account]: Invalid value",
	)
}

func TestParseIgnoresOtherKeys(t *testing.T) {
	annots := map[string]string{
		"example.com/aws-role":           "not checked",
		"aws-role":                       "not checked",
		"keyless.dev.example.com/x":      "not checked",
		"kubectl.kubernetes.io/restart":  "2024-01-01T00:00:00Z",
		"azure.workload.identity/use":    "true",
		"iam.gke.io/gcp-service-account": "Whatever",
	}
	c, errs := Parse(annots, Options{})
	checkErrs(t, errs)
	if !c.Empty() {
		t.Errorf("Parse = %+v, want no connections", c)
	}
}

func TestParseBookkeepingKeys(t *testing.T) {
	annots := map[string]string{KeyInjected: " anything, goes ", KeyPropagated: ""}
	c, errs := Parse(annots, Options{})
	checkErrs(t, errs)
	if !c.Empty() {
		t.Errorf("Parse = %+v, want no connections", c)
	}
}

func TestParseAll(t *testing.T) {
	annots := map[string]string{
		KeyAWSRole:           "orders-api",
		KeyAzureIdentity:     "orders-api",
		KeyAzureClientID:     testCID,
		KeyGCPServiceAccount: "orders-api@my-project.iam.gserviceaccount.com",
		KeyInjected:          InjectedGCPServiceAccount,
	}
	c, errs := Parse(annots, Options{AzureDefaultResourceGroup: "default-rg"})
	checkErrs(t, errs)
	want := Connections{
		AWS:   &AWSRole{Path: "/", Name: "orders-api"},
		Azure: &AzureIdentity{ResourceGroup: "default-rg", Name: "orders-api", ClientID: testCID},
		GCP:   &GCPServiceAccount{Email: "orders-api@my-project.iam.gserviceaccount.com", Project: "my-project", Name: "orders-api"},
	}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("Parse = %+v, want %+v", c, want)
	}
}

func TestRoundTrip(t *testing.T) {
	tests := []struct {
		name   string
		annots map[string]string
		opts   Options
		want   map[string]string // c.Annotations()
	}{
		{name: "empty", annots: nil, want: map[string]string{}},
		{name: "role name with leading slash", annots: map[string]string{KeyAWSRole: "/service-role/orders-api"},
			want: map[string]string{KeyAWSRole: "service-role/orders-api"}},
		{name: "role arn", annots: map[string]string{KeyAWSRole: "arn:aws:iam::123456789012:role/a/orders-api"},
			want: map[string]string{KeyAWSRole: "arn:aws:iam::123456789012:role/a/orders-api"}},
		{name: "azure default resource group made explicit", annots: map[string]string{KeyAzureIdentity: "orders-api"},
			opts: Options{AzureDefaultResourceGroup: "default-rg"},
			want: map[string]string{KeyAzureIdentity: "orders-api", KeyAzureResourceGroup: "default-rg"}},
		{name: "azure resource id canonical", annots: map[string]string{
			KeyAzureIdentity: "/subscriptions/" + testSub + "/resourcegroups/my-rg/providers/microsoft.managedidentity/userassignedidentities/orders-api",
			KeyAzureClientID: "11111111-2222-3333-4444-55555555555A"},
			want: map[string]string{KeyAzureIdentity: testID, KeyAzureClientID: "11111111-2222-3333-4444-55555555555a"}},
		{name: "all", annots: map[string]string{
			KeyAWSRole: "orders-api", KeyAzureIdentity: "orders-api", KeyAzureResourceGroup: "my-rg",
			KeyGCPServiceAccount: "orders-api@my-project.iam.gserviceaccount.com", KeyPropagated: "aws-role", "app": "x"},
			want: map[string]string{KeyAWSRole: "orders-api", KeyAzureIdentity: "orders-api", KeyAzureResourceGroup: "my-rg",
				KeyGCPServiceAccount: "orders-api@my-project.iam.gserviceaccount.com"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, errs := Parse(tt.annots, tt.opts)
			checkErrs(t, errs)
			got := c.Annotations()
			if !maps.Equal(got, tt.want) {
				t.Errorf("Annotations() = %v, want %v", got, tt.want)
			}
			// Without the default: the copy must stand on its own.
			back, errs := Parse(got, Options{})
			checkErrs(t, errs)
			if !back.Equal(c) {
				t.Errorf("Parse(Annotations()) = %+v, want %+v", back, c)
			}
		})
	}
}

func TestConnectionsEqual(t *testing.T) {
	role := &AWSRole{Path: "/", Name: "orders-api"}
	id := &AzureIdentity{ResourceGroup: "my-rg", Name: "orders-api"}
	sa := &GCPServiceAccount{Email: "orders-api@my-project.iam.gserviceaccount.com"}
	tests := []struct {
		name string
		a, b Connections
		want bool
	}{
		{"both empty", Connections{}, Connections{}, true},
		{"same", Connections{AWS: role, Azure: id, GCP: sa}, Connections{AWS: &AWSRole{Path: "/", Name: "Orders-API"}, Azure: id, GCP: sa}, true},
		{"aws missing", Connections{AWS: role, GCP: sa}, Connections{GCP: sa}, false},
		{"azure differs", Connections{Azure: id}, Connections{Azure: &AzureIdentity{ResourceGroup: "rg2", Name: "orders-api"}}, false},
		{"gcp missing", Connections{}, Connections{GCP: sa}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.a.Equal(tt.b); got != tt.want {
				t.Errorf("Equal() = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestHasPrefixed(t *testing.T) {
	tests := []struct {
		name   string
		annots map[string]string
		want   bool
	}{
		{"nil", nil, false},
		{"other keys", map[string]string{"app": "x", "example.com/aws-role": "r", "keyless.dev.example.com/x": "y"}, false},
		{"connection key", map[string]string{"app": "x", KeyAWSRole: "r"}, true},
		{"bookkeeping key", map[string]string{KeyInjected: ""}, true},
		{"unknown key", map[string]string{Prefix + "foo": ""}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := HasPrefixed(tt.annots); got != tt.want {
				t.Errorf("HasPrefixed() = %v, want %v", got, tt.want)
			}
		})
	}
	annots := map[string]string{"a": "1", "b": "2", KeyAWSRole: "r"}
	if n := testing.AllocsPerRun(100, func() { HasPrefixed(annots) }); n != 0 {
		t.Errorf("HasPrefixed allocates %v times, want 0", n)
	}
}

func TestUserKeys(t *testing.T) {
	want := []string{KeyAWSRole, KeyAzureIdentity, KeyAzureResourceGroup, KeyAzureClientID, KeyGCPServiceAccount}
	got := UserKeys()
	if !slices.Equal(got, want) {
		t.Errorf("UserKeys() = %v, want %v", got, want)
	}
	got[0] = "changed"
	if UserKeys()[0] != KeyAWSRole {
		t.Errorf("UserKeys() shares its slice between calls")
	}
}
