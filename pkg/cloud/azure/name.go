package azure

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

const (
	// maxNameLen is Azure's limit on credential names.
	maxNameLen = 120
	// hashLen hex digits (40 bits) keep names of distinct ServiceAccounts apart
	// even when their readable parts are equal or truncated.
	hashLen = 10
)

// CredentialName is the federated credential name Keyless uses for one
// ServiceAccount of one cluster: NAMESPACE_SERVICEACCOUNT-HASH, with
// characters Azure does not allow ("." in particular) replaced by "-", the
// readable part shortened to fit 120 characters, and HASH a digest of
// cluster, namespace and ServiceAccount. The result always matches Azure's
// rule ^[a-zA-Z0-9][a-zA-Z0-9-_]{2,119}$.
func CredentialName(cluster, namespace, serviceAccount string) string {
	sum := sha256.Sum256([]byte(cluster + "\x00" + namespace + "\x00" + serviceAccount))
	suffix := "-" + hex.EncodeToString(sum[:])[:hashLen]
	readable := sanitize(namespace) + "_" + sanitize(serviceAccount)
	if !isAlnum(readable[0]) {
		readable = "k" + readable
	}
	if limit := maxNameLen - len(suffix); len(readable) > limit {
		readable = readable[:limit]
	}
	return readable + suffix
}

// sanitize replaces every character outside [a-zA-Z0-9-_] with "-".
func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 128 && (isAlnum(byte(r)) || r == '-' || r == '_') {
			return r
		}
		return '-'
	}, s)
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}
