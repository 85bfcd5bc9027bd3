package annotations

import (
	"strings"
	"testing"
)

// guidTests put each end of each hex range, and the characters just outside
// them, at the start and the end of a GUID.
var guidTests = []struct {
	name  string
	guid  string
	valid bool
}{
	{name: "zeros", guid: "00000000-0000-0000-0000-000000000000", valid: true},
	{name: "nines", guid: "99999999-9999-9999-9999-999999999999", valid: true},
	{name: "lower a", guid: "aaaaaaaa-aaaa-aaaa-aaaa-aaaaaaaaaaaa", valid: true},
	{name: "lower f", guid: "ffffffff-ffff-ffff-ffff-ffffffffffff", valid: true},
	{name: "upper A", guid: "AAAAAAAA-AAAA-AAAA-AAAA-AAAAAAAAAAAA", valid: true},
	{name: "upper F", guid: "FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF", valid: true},
	{name: "every boundary", guid: "09afAF09-afAF-09af-AF09-afAF09afAF09", valid: true},
	{name: "last character 9", guid: "00000000-0000-0000-0000-000000000009", valid: true},
	{name: "first character F", guid: "F0000000-0000-0000-0000-000000000000", valid: true},

	{name: "slash before 0", guid: "/0000000-0000-0000-0000-000000000000"},
	{name: "colon after 9", guid: "00000000-0000-0000-0000-00000000000:"},
	{name: "backquote before a", guid: "`0000000-0000-0000-0000-000000000000"},
	{name: "g after f", guid: "00000000-0000-0000-0000-00000000000g"},
	{name: "at before A", guid: "@0000000-0000-0000-0000-000000000000"},
	{name: "G after F", guid: "00000000-0000-0000-0000-00000000000G"},
	{name: "dash in a digit position", guid: "0000000--0000-0000-0000-000000000000"},
	{name: "digit in each dash position", guid: "000000000000000000000000000000000000"},
	{name: "digit in the last dash position", guid: "00000000-0000-0000-00000000000000000"},
	{name: "digit in the first dash position", guid: "000000000-000-0000-0000-000000000000"},
	{name: "35 characters", guid: "00000000-0000-0000-0000-00000000000"},
	{name: "37 characters", guid: "00000000-0000-0000-0000-0000000000000"},
}

func TestParseAzureGUIDs(t *testing.T) {
	for _, tt := range guidTests {
		t.Run("client id "+tt.name, func(t *testing.T) {
			c, errs := Parse(map[string]string{KeyAzureIdentity: testID, KeyAzureClientID: tt.guid}, Options{})
			if !tt.valid {
				checkErrs(t, errs, "[keyless.dev/azure-client-id]: Invalid value: \""+tt.guid+"\": is not a GUID")
				return
			}
			checkErrs(t, errs)
			if got, want := c.Azure.ClientID, strings.ToLower(tt.guid); got != want {
				t.Errorf("ClientID = %q, want %q", got, want)
			}
		})
		if strings.Contains(tt.guid, "/") {
			continue // a "/" splits the resource ID's path instead
		}
		t.Run("subscription "+tt.name, func(t *testing.T) {
			id := strings.Replace(testID, testSub, tt.guid, 1)
			c, errs := Parse(map[string]string{KeyAzureIdentity: id}, Options{})
			if !tt.valid {
				checkErrs(t, errs, "subscription \""+tt.guid+"\" must be a GUID")
				return
			}
			checkErrs(t, errs)
			if got, want := c.Azure.SubscriptionID, strings.ToLower(tt.guid); got != want {
				t.Errorf("SubscriptionID = %q, want %q", got, want)
			}
		})
	}
}
