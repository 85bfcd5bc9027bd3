package annotations

import (
	"reflect"
	"strings"
	"testing"
)

const (
	testSub = "00000000-0000-0000-0000-000000000001"
	testCID = "11111111-2222-3333-4444-555555555555"
	testID  = "/subscriptions/" + testSub + "/resourceGroups/my-rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/orders-api"
)

// azureTests also seed FuzzParse.
var azureTests = []struct {
	name     string
	annots   map[string]string
	opts     Options
	want     *AzureIdentity
	wantErrs []string // substrings, one per error in order
}{
	{name: "name and resource group", annots: map[string]string{KeyAzureIdentity: "orders-api", KeyAzureResourceGroup: "my-rg"},
		want: &AzureIdentity{ResourceGroup: "my-rg", Name: "orders-api"}},
	{name: "name and default resource group", annots: map[string]string{KeyAzureIdentity: "orders-api"},
		opts: Options{AzureDefaultResourceGroup: "default-rg"}, want: &AzureIdentity{ResourceGroup: "default-rg", Name: "orders-api"}},
	{name: "annotation beats default", annots: map[string]string{KeyAzureIdentity: "orders-api", KeyAzureResourceGroup: "my-rg"},
		opts: Options{AzureDefaultResourceGroup: "default-rg"}, want: &AzureIdentity{ResourceGroup: "my-rg", Name: "orders-api"}},
	{name: "resource id", annots: map[string]string{KeyAzureIdentity: testID},
		want: &AzureIdentity{SubscriptionID: testSub, ResourceGroup: "my-rg", Name: "orders-api"}},
	{name: "resource id ignores default", annots: map[string]string{KeyAzureIdentity: testID}, opts: Options{AzureDefaultResourceGroup: "default-rg"},
		want: &AzureIdentity{SubscriptionID: testSub, ResourceGroup: "my-rg", Name: "orders-api"}},
	{name: "resource id in other case", annots: map[string]string{KeyAzureIdentity: "/SUBSCRIPTIONS/ABCDEF00-0000-0000-0000-000000000001/resourcegroups/My-RG/PROVIDERS/microsoft.managedidentity/USERASSIGNEDIDENTITIES/Orders_1"},
		want: &AzureIdentity{SubscriptionID: "abcdef00-0000-0000-0000-000000000001", ResourceGroup: "My-RG", Name: "Orders_1"}},
	{name: "client id lower-cased", annots: map[string]string{KeyAzureIdentity: testID, KeyAzureClientID: "ABCDEF00-aaaa-BBBB-0000-000000000001"},
		want: &AzureIdentity{SubscriptionID: testSub, ResourceGroup: "my-rg", Name: "orders-api", ClientID: "abcdef00-aaaa-bbbb-0000-000000000001"}},
	{name: "name, resource group and client id", annots: map[string]string{KeyAzureIdentity: "abc", KeyAzureResourceGroup: "(rg)_1.x-y", KeyAzureClientID: testCID},
		want: &AzureIdentity{ResourceGroup: "(rg)_1.x-y", Name: "abc", ClientID: testCID}},
	{name: "unicode resource group", annots: map[string]string{KeyAzureIdentity: "0rders", KeyAzureResourceGroup: "grupo-ñandú٣"},
		want: &AzureIdentity{ResourceGroup: "grupo-ñandú٣", Name: "0rders"}},
	{name: "longest names", annots: map[string]string{KeyAzureIdentity: strings.Repeat("n", 128), KeyAzureResourceGroup: strings.Repeat("ü", 90)},
		want: &AzureIdentity{ResourceGroup: strings.Repeat("ü", 90), Name: strings.Repeat("n", 128)}},

	{name: "no resource group", annots: map[string]string{KeyAzureIdentity: "orders-api"},
		wantErrs: []string{`metadata.annotations[keyless.dev/azure-resource-group]: Required value: keyless.dev/azure-identity "orders-api" is a name, so its resource group is needed; set keyless.dev/azure-resource-group, use the full resource ID in keyless.dev/azure-identity, or configure a default resource group (flag --azure-resource-group)`}},
	{name: "resource group alone", annots: map[string]string{KeyAzureResourceGroup: "my-rg"},
		wantErrs: []string{"[keyless.dev/azure-resource-group]: Forbidden: needs keyless.dev/azure-identity; add keyless.dev/azure-identity or remove this annotation"}},
	{name: "client id alone", annots: map[string]string{KeyAzureClientID: testCID},
		wantErrs: []string{"[keyless.dev/azure-client-id]: Forbidden: needs keyless.dev/azure-identity; add keyless.dev/azure-identity or remove this annotation"}},
	{name: "resource group and client id alone", annots: map[string]string{KeyAzureClientID: testCID, KeyAzureResourceGroup: "my-rg"},
		wantErrs: []string{"[keyless.dev/azure-client-id]: Forbidden", "[keyless.dev/azure-resource-group]: Forbidden"}},
	{name: "resource id and resource group", annots: map[string]string{KeyAzureIdentity: testID, KeyAzureResourceGroup: "my-rg"},
		wantErrs: []string{"[keyless.dev/azure-resource-group]: Forbidden: the resource ID in keyless.dev/azure-identity already names the resource group; remove keyless.dev/azure-resource-group"}},
	{name: "bad client id", annots: map[string]string{KeyAzureIdentity: testID, KeyAzureClientID: "orders-api"},
		wantErrs: []string{`[keyless.dev/azure-client-id]: Invalid value: "orders-api": is not a GUID; give the identity's client ID, a GUID such as "00000000-0000-0000-0000-000000000000"`}},
	{name: "client id with braces", annots: map[string]string{KeyAzureIdentity: testID, KeyAzureClientID: "{" + testCID + "}"}, wantErrs: []string{"is not a GUID"}},
	{name: "client id not hex", annots: map[string]string{KeyAzureIdentity: testID, KeyAzureClientID: "g1111111-2222-3333-4444-555555555555"}, wantErrs: []string{"is not a GUID"}},
	{name: "empty client id", annots: map[string]string{KeyAzureIdentity: testID, KeyAzureClientID: ""}, wantErrs: []string{"must not be empty"}},
	{name: "empty identity", annots: map[string]string{KeyAzureIdentity: ""},
		wantErrs: []string{`[keyless.dev/azure-identity]: Invalid value: "": must not be empty; give the identity's name, e.g. "orders-api", or its resource ID`}},
	{name: "identity with spaces", annots: map[string]string{KeyAzureIdentity: "orders-api ", KeyAzureResourceGroup: "my-rg"}, wantErrs: []string{"remove the spaces"}},
	{name: "short name", annots: map[string]string{KeyAzureIdentity: "ab", KeyAzureResourceGroup: "my-rg"},
		wantErrs: []string{`identity name "ab" must be 3 to 128 characters of letters, digits, "-" and "_", starting with a letter or digit`}},
	{name: "name starting with dash", annots: map[string]string{KeyAzureIdentity: "-abc", KeyAzureResourceGroup: "my-rg"}, wantErrs: []string{"starting with a letter or digit"}},
	{name: "name with dot", annots: map[string]string{KeyAzureIdentity: "a.bc", KeyAzureResourceGroup: "my-rg"}, wantErrs: []string{`identity name "a.bc"`}},
	{name: "long name", annots: map[string]string{KeyAzureIdentity: strings.Repeat("n", 129), KeyAzureResourceGroup: "my-rg"}, wantErrs: []string{"3 to 128 characters"}},
	{name: "resource group ending in dot", annots: map[string]string{KeyAzureIdentity: "orders-api", KeyAzureResourceGroup: "my-rg."},
		wantErrs: []string{`resource group "my-rg." must be 1 to 90 characters of letters, digits, "_", "(", ")", "-" and ".", not ending in "."; give the identity's resource group, e.g. "my-rg"`}},
	{name: "long resource group", annots: map[string]string{KeyAzureIdentity: "orders-api", KeyAzureResourceGroup: strings.Repeat("r", 91)}, wantErrs: []string{"1 to 90 characters"}},
	{name: "resource group with slash", annots: map[string]string{KeyAzureIdentity: "orders-api", KeyAzureResourceGroup: "my/rg"}, wantErrs: []string{`resource group "my/rg"`}},
	{name: "empty resource group", annots: map[string]string{KeyAzureIdentity: "orders-api", KeyAzureResourceGroup: ""}, wantErrs: []string{"must not be empty"}},
	{name: "bad name and no resource group", annots: map[string]string{KeyAzureIdentity: "ab"},
		wantErrs: []string{"[keyless.dev/azure-identity]: Invalid value", "[keyless.dev/azure-resource-group]: Required value"}},
	{name: "other resource type", annots: map[string]string{KeyAzureIdentity: "/subscriptions/" + testSub + "/resourceGroups/my-rg/providers/Microsoft.Compute/virtualMachines/vm1"},
		wantErrs: []string{`is not a user-assigned managed identity resource ID ("Microsoft.Compute" where "Microsoft.ManagedIdentity" belongs); use the form /subscriptions/SUBSCRIPTION-ID/resourceGroups/RESOURCE-GROUP/providers/Microsoft.ManagedIdentity/userAssignedIdentities/NAME, e.g. "/subscriptions/`}},
	{name: "resource id with trailing slash", annots: map[string]string{KeyAzureIdentity: testID + "/"}, wantErrs: []string{"it has 9 path segments, not 8"}},
	{name: "resource id without subscription", annots: map[string]string{KeyAzureIdentity: "/resourceGroups/my-rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/orders-api"},
		wantErrs: []string{"it has 6 path segments, not 8"}},
	{name: "resource id with bad subscription", annots: map[string]string{KeyAzureIdentity: strings.Replace(testID, testSub, "my-sub", 1)},
		wantErrs: []string{`subscription "my-sub" must be a GUID such as "00000000-0000-0000-0000-000000000000"; use the form`}},
	{name: "resource id with bad resource group", annots: map[string]string{KeyAzureIdentity: strings.Replace(testID, "my-rg", "my-rg.", 1)},
		wantErrs: []string{`resource group "my-rg." must be`}},
	{name: "resource id with bad name", annots: map[string]string{KeyAzureIdentity: strings.Replace(testID, "orders-api", "o", 1)},
		wantErrs: []string{`identity name "o" must be`}},
}

func TestParseAzure(t *testing.T) {
	for _, tt := range azureTests {
		t.Run(tt.name, func(t *testing.T) {
			c, errs := Parse(tt.annots, tt.opts)
			checkErrs(t, errs, tt.wantErrs...)
			if len(tt.wantErrs) == 0 && !reflect.DeepEqual(c.Azure, tt.want) {
				t.Errorf("Azure = %+v, want %+v", c.Azure, tt.want)
			}
		})
	}
}

func TestAzureIdentityString(t *testing.T) {
	tests := []struct {
		id   *AzureIdentity
		want string
	}{
		{&AzureIdentity{SubscriptionID: testSub, ResourceGroup: "my-rg", Name: "orders-api", ClientID: testCID}, testID},
		{&AzureIdentity{ResourceGroup: "my-rg", Name: "orders-api"}, "my-rg/orders-api"},
		{nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := tt.id.String(); got != tt.want {
				t.Errorf("String() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestAzureIdentitySame(t *testing.T) {
	full := &AzureIdentity{SubscriptionID: testSub, ResourceGroup: "my-rg", Name: "orders-api"}
	tests := []struct {
		name string
		a, b *AzureIdentity
		want bool
	}{
		{"both nil", nil, nil, true},
		{"one nil", full, nil, false},
		{"other nil", nil, full, false},
		{"case differs", full, &AzureIdentity{SubscriptionID: strings.ToUpper(testSub), ResourceGroup: "MY-RG", Name: "Orders-API"}, true},
		{"client id ignored", full, &AzureIdentity{SubscriptionID: testSub, ResourceGroup: "my-rg", Name: "orders-api", ClientID: testCID}, true},
		{"subscription", full, &AzureIdentity{ResourceGroup: "my-rg", Name: "orders-api"}, false},
		{"resource group", full, &AzureIdentity{SubscriptionID: testSub, ResourceGroup: "other-rg", Name: "orders-api"}, false},
		{"name", full, &AzureIdentity{SubscriptionID: testSub, ResourceGroup: "my-rg", Name: "billing-api"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.a.Same(tt.b); got != tt.want {
				t.Errorf("Same() = %v, want %v", got, tt.want)
			}
		})
	}
}
