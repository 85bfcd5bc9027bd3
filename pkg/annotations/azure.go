package annotations

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"k8s.io/apimachinery/pkg/util/validation/field"
)

const (
	azureIDForm  = "/subscriptions/SUBSCRIPTION-ID/resourceGroups/RESOURCE-GROUP/providers/Microsoft.ManagedIdentity/userAssignedIdentities/NAME"
	azureExample = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/my-rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/orders-api"
	azureFix     = `give the identity's name, e.g. "orders-api", or its resource ID, e.g. "` + azureExample + `"`
	azureRGFix   = `give the identity's resource group, e.g. "my-rg"`
	azureCIDFix  = `give the identity's client ID, a GUID such as "00000000-0000-0000-0000-000000000000" (from "az identity show --query clientId")`
	azureNeedsID = "needs " + KeyAzureIdentity + "; add " + KeyAzureIdentity + " or remove this annotation"
	guidExample  = `"00000000-0000-0000-0000-000000000000"`
)

// parseAzure checks the Azure keys together, since the resource group and
// client ID only make sense with an identity.
func parseAzure(annots map[string]string, opts Options) (*AzureIdentity, field.ErrorList) {
	idVal, hasID := annots[KeyAzureIdentity]
	rgVal, hasRG := annots[KeyAzureResourceGroup]
	cidVal, hasCID := annots[KeyAzureClientID]
	if !hasID && !hasRG && !hasCID {
		return nil, nil
	}
	var errs field.ErrorList
	var id *AzureIdentity
	trimmed := strings.TrimSpace(idVal)
	isName := trimmed != "" && !strings.HasPrefix(trimmed, "/")
	if hasID {
		var err *field.Error
		if id, err = parseAzureIdentity(keyPath(KeyAzureIdentity), idVal); err != nil {
			errs = append(errs, err)
		}
	}

	rgPath := keyPath(KeyAzureResourceGroup)
	rg := opts.AzureDefaultResourceGroup
	switch {
	case hasRG && !hasID:
		errs = append(errs, field.Forbidden(rgPath, azureNeedsID))
	case hasRG && strings.HasPrefix(trimmed, "/"):
		errs = append(errs, field.Forbidden(rgPath, "the resource ID in "+KeyAzureIdentity+
			" already names the resource group; remove "+KeyAzureResourceGroup))
	case hasRG:
		if err := checkResourceGroup(rgPath, rgVal); err != nil {
			errs = append(errs, err)
		}
		rg = rgVal
	case isName && rg == "":
		errs = append(errs, field.Required(rgPath, fmt.Sprintf(
			"%s %q is a name, so its resource group is needed; set %s, use the full resource ID in %s, "+
				"or configure a default resource group (flag --azure-resource-group)",
			KeyAzureIdentity, idVal, KeyAzureResourceGroup, KeyAzureIdentity)))
	}

	var cid string
	if hasCID {
		p := keyPath(KeyAzureClientID)
		if !hasID {
			errs = append(errs, field.Forbidden(p, azureNeedsID))
		} else if err := checkClientID(p, cidVal); err != nil {
			errs = append(errs, err)
		} else {
			cid = strings.ToLower(cidVal) // GUIDs are case-insensitive; keep one form
		}
	}

	if id != nil {
		if id.SubscriptionID == "" {
			id.ResourceGroup = rg
		}
		id.ClientID = cid
	}
	return id, errs
}

func parseAzureIdentity(p *field.Path, v string) (*AzureIdentity, *field.Error) {
	if err := checkValue(p, v, azureFix); err != nil {
		return nil, err
	}
	if !strings.HasPrefix(v, "/") {
		if !isIdentityName(v) {
			return nil, field.Invalid(p, v, identityNameRule(v)+"; "+azureFix)
		}
		return &AzureIdentity{Name: v}, nil
	}
	bad := func(format string, a ...any) (*AzureIdentity, *field.Error) {
		return nil, field.Invalid(p, v, fmt.Sprintf(format, a...)+"; use the form "+azureIDForm+`, e.g. "`+azureExample+`"`)
	}
	segs := strings.Split(v[1:], "/")
	if len(segs) != 8 {
		return bad("is not a user-assigned managed identity resource ID (it has %d path segments, not 8)", len(segs))
	}
	// ARM matches these keywords case-insensitively; so do we.
	for i, want := range [8]string{"subscriptions", "", "resourceGroups", "", "providers", "Microsoft.ManagedIdentity", "userAssignedIdentities", ""} {
		if want != "" && !strings.EqualFold(segs[i], want) {
			return bad("is not a user-assigned managed identity resource ID (%q where %q belongs)", segs[i], want)
		}
	}
	sub, rg, name := segs[1], segs[3], segs[7]
	if !isGUID(sub) {
		return bad("subscription %q must be a GUID such as %s", sub, guidExample)
	}
	if d := resourceGroupRule(rg); d != "" {
		return bad("%s", d)
	}
	if !isIdentityName(name) {
		return bad("%s", identityNameRule(name))
	}
	return &AzureIdentity{SubscriptionID: strings.ToLower(sub), ResourceGroup: rg, Name: name}, nil
}

func checkResourceGroup(p *field.Path, v string) *field.Error {
	if err := checkValue(p, v, azureRGFix); err != nil {
		return err
	}
	if d := resourceGroupRule(v); d != "" {
		return field.Invalid(p, v, d+"; "+azureRGFix)
	}
	return nil
}

func checkClientID(p *field.Path, v string) *field.Error {
	if err := checkValue(p, v, azureCIDFix); err != nil {
		return err
	}
	if !isGUID(v) {
		return field.Invalid(p, v, "is not a GUID; "+azureCIDFix)
	}
	return nil
}

// resourceGroupRule returns what is wrong with a resource group name, or "".
// Azure allows Unicode letters and digits (.NET Char.IsLetterOrDigit).
func resourceGroupRule(s string) string {
	const rule = "must be 1 to 90 characters of letters, digits, \"_\", \"(\", \")\", \"-\" and \".\", not ending in \".\""
	if n := utf8.RuneCountInString(s); n < 1 || n > 90 || strings.HasSuffix(s, ".") {
		return fmt.Sprintf("resource group %q %s", s, rule)
	}
	for _, r := range s {
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) && !strings.ContainsRune("_()-.", r) {
			return fmt.Sprintf("resource group %q %s", s, rule)
		}
	}
	return ""
}

func isIdentityName(s string) bool {
	if len(s) < 3 || len(s) > 128 || !isAlnum(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if !isAlnum(s[i]) && s[i] != '_' && s[i] != '-' {
			return false
		}
	}
	return true
}

func identityNameRule(s string) string {
	return fmt.Sprintf("identity name %q must be 3 to 128 characters of letters, digits, \"-\" and \"_\", starting with a letter or digit", s)
}

// isGUID accepts 8-4-4-4-12 hex digits in either case.
func isGUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case i == 8 || i == 13 || i == 18 || i == 23:
			if c != '-' {
				return false
			}
		case !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'):
			return false
		}
	}
	return true
}

// String returns the full resource ID when the subscription is known, else
// "RESOURCEGROUP/NAME" (for messages; Parse does not accept that form).
func (a *AzureIdentity) String() string {
	if a == nil {
		return ""
	}
	if a.SubscriptionID != "" {
		return "/subscriptions/" + a.SubscriptionID + "/resourceGroups/" + a.ResourceGroup +
			"/providers/Microsoft.ManagedIdentity/userAssignedIdentities/" + a.Name
	}
	return a.ResourceGroup + "/" + a.Name
}

// Same reports whether a and o name the same identity. ARM names are
// case-insensitive; the client ID is derived from the identity, so ignored.
func (a *AzureIdentity) Same(o *AzureIdentity) bool {
	if a == nil || o == nil {
		return a == o
	}
	return strings.EqualFold(a.SubscriptionID, o.SubscriptionID) &&
		strings.EqualFold(a.ResourceGroup, o.ResourceGroup) && strings.EqualFold(a.Name, o.Name)
}
