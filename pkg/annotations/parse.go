package annotations

import (
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation/field"
)

// UserKeys returns the connection keys in declaration order: AWS role, Azure
// identity, Azure resource group, Azure client ID, GCP service account. The
// slice is new on each call, so callers may change it.
func UserKeys() []string {
	return []string{KeyAWSRole, KeyAzureIdentity, KeyAzureResourceGroup, KeyAzureClientID, KeyGCPServiceAccount}
}

// SettingKeys returns the setting keys: AWS target role, AWS session tags,
// deletion policy, restart on ready.
func SettingKeys() []string {
	return []string{KeyAWSTargetRole, KeyAWSSessionTags, KeyDeletionPolicy, KeyRestartOnReady}
}

// bookkeepingKeys are written by Keyless; their content is its own business.
var bookkeepingKeys = func() []string {
	keys := []string{KeyInjected, KeyPropagated}
	for _, c := range Clouds {
		keys = append(keys, c.StatusKey)
	}
	return keys
}()

// HasPrefixed reports whether any key is under Prefix. Webhooks call it on
// every object to skip the rest cheaply, so it does not allocate.
func HasPrefixed(annots map[string]string) bool {
	for k := range annots {
		if strings.HasPrefix(k, Prefix) {
			return true
		}
	}
	return false
}

// Parse reads the keys under Prefix and returns every problem at once, each
// on the path metadata.annotations[KEY]. Keys outside Prefix are ignored. On
// error the Connections may be partial.
func Parse(annots map[string]string, opts Options) (Connections, field.ErrorList) {
	var keys []string
	for k := range annots {
		if strings.HasPrefix(k, Prefix) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys) // deterministic error order

	var c Connections
	var errs field.ErrorList
	for _, k := range keys {
		var err *field.Error
		switch k {
		case KeyAWSRole:
			c.AWS, err = parseAWSRole(keyPath(k), annots[k])
		case KeyGCPServiceAccount:
			c.GCP, err = parseGCPServiceAccount(keyPath(k), annots[k])
		case KeyAzureIdentity, KeyAzureResourceGroup, KeyAzureClientID:
			// Checked together below: they depend on each other.
		case KeyAWSTargetRole:
			c.AWSTargetRole, err = parseTargetRole(keyPath(k), annots[k], annots)
		case KeyAWSSessionTags:
			var on bool
			on, err = parseBool(keyPath(k), annots[k], "true", "false")
			c.AWSDisableSessionTags = !on
			if err == nil && !has(annots, KeyAWSRole) {
				err = field.Forbidden(keyPath(k), "needs "+KeyAWSRole+"; add "+KeyAWSRole+" or remove this annotation")
			}
		case KeyDeletionPolicy:
			c.Retain, err = parseBool(keyPath(k), annots[k], "retain", "delete")
		case KeyRestartOnReady:
			var on bool
			on, err = parseBool(keyPath(k), annots[k], "true", "false")
			c.NoRestart = !on
		case KeyInjected, KeyPropagated:
			// Written by Keyless; their content is its own business.
		default:
			if !IsStatusKey(k) { // the controller's, likewise
				err = unknownKey(k)
			}
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	var azErrs field.ErrorList
	c.Azure, azErrs = parseAzure(annots, opts)
	errs = append(errs, azErrs...)
	// The Azure errors span several keys; keep the list in key order.
	slices.SortStableFunc(errs, func(a, b *field.Error) int { return strings.Compare(a.Field, b.Field) })
	return c, errs
}

func keyPath(key string) *field.Path {
	return field.NewPath("metadata", "annotations").Key(key)
}

// checkValue rejects empty values and surrounding spaces. Spaces are an error
// rather than trimmed so that the stored value is what Keyless uses.
func checkValue(p *field.Path, v, fix string) *field.Error {
	if v == "" {
		return field.Invalid(p, v, "must not be empty; "+fix+", or remove the annotation")
	}
	if strings.TrimSpace(v) != v {
		return field.Invalid(p, v, "has leading or trailing spaces; remove the spaces")
	}
	return nil
}

func has(m map[string]string, k string) bool {
	_, ok := m[k]
	return ok
}

// parseBool accepts exactly yes or no (the two spellings of a setting) and
// reports whether it was yes.
func parseBool(p *field.Path, v, yes, no string) (bool, *field.Error) {
	switch v {
	case yes:
		return true, nil
	case no:
		return false, nil
	}
	return false, field.NotSupported(p, v, []string{yes, no})
}

// parseTargetRole needs a full ARN: the target role lives in another account.
func parseTargetRole(p *field.Path, v string, annots map[string]string) (*AWSRole, *field.Error) {
	if !has(annots, KeyAWSRole) {
		return nil, field.Forbidden(p, "needs "+KeyAWSRole+"; add "+KeyAWSRole+" or remove this annotation")
	}
	r, err := parseAWSRole(p, v)
	if err == nil && r.Account == "" {
		return nil, field.Invalid(p, v, "must be a role ARN such as \"arn:aws:iam::210987654321:role/orders-api\" (the target role is in another account)")
	}
	return r, err
}
