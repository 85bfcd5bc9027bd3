package annotations

import (
	"maps"
	"reflect"
	"strings"
	"testing"
)

// FuzzParse checks that Parse never panics, that every error is on a
// Keyless key with a message, and that a successful parse survives
// Annotations and a second Parse unchanged.
func FuzzParse(f *testing.F) {
	// present: bit 0 aws, 1 azure identity, 2 resource group, 3 client id,
	// 4 gcp, 5 extra key.
	for _, tt := range awsRoleTests {
		f.Add(tt.value, "", "", "", "", "", "", uint8(1), false)
	}
	for _, tt := range azureTests {
		var present uint8
		for i, k := range []string{KeyAzureIdentity, KeyAzureResourceGroup, KeyAzureClientID} {
			if _, ok := tt.annots[k]; ok {
				present |= 2 << i
			}
		}
		f.Add("", tt.annots[KeyAzureIdentity], tt.annots[KeyAzureResourceGroup], tt.annots[KeyAzureClientID], "", "", "",
			present, tt.opts.AzureDefaultResourceGroup != "")
	}
	for _, tt := range gcpTests {
		f.Add("", "", "", "", tt.value, "", "", uint8(16), false)
	}
	for _, tt := range unknownKeyTests {
		f.Add("", "", "", "", "", tt.key, "x", uint8(32), false)
	}
	f.Add("orders-api", "orders-api", "", testCID, "orders-api@my-project.iam.gserviceaccount.com", "example.com/x", "y", uint8(63), true)

	f.Fuzz(func(t *testing.T, aws, azID, azRG, azCID, gcp, extraKey, extraVal string, present uint8, useDefault bool) {
		annots := map[string]string{}
		for i, kv := range [][2]string{{KeyAWSRole, aws}, {KeyAzureIdentity, azID}, {KeyAzureResourceGroup, azRG},
			{KeyAzureClientID, azCID}, {KeyGCPServiceAccount, gcp}, {extraKey, extraVal}} {
			if present&(1<<i) != 0 {
				annots[kv[0]] = kv[1]
			}
		}
		var opts Options
		if useDefault {
			opts.AzureDefaultResourceGroup = "default-rg"
		}

		c, errs := Parse(annots, opts)
		for _, e := range errs {
			if !strings.HasPrefix(e.Field, "metadata.annotations["+Prefix) || e.Detail == "" {
				t.Errorf("bad error %q", e.Error())
			}
		}
		if len(errs) != 0 {
			return
		}
		back := c.Annotations()
		c2, errs := Parse(back, opts)
		if len(errs) != 0 {
			t.Fatalf("Parse(%q) = %+v, but Parse(Annotations() = %q) fails:\n%s", annots, c, back, errsText(errs))
		}
		if !c2.Equal(c) || !reflect.DeepEqual(c2, c) {
			t.Fatalf("Parse(Annotations()) = %+v, want %+v", c2, c)
		}
		if again := c2.Annotations(); !maps.Equal(again, back) {
			t.Fatalf("Annotations() not stable: %q then %q", back, again)
		}
	})
}
