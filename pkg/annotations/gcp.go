package annotations

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation/field"
)

const (
	gcpDomain  = ".iam.gserviceaccount.com"
	gcpExample = `"orders-api@my-project.iam.gserviceaccount.com"`
	gcpForm    = "must be a Google service account email NAME@PROJECT.iam.gserviceaccount.com, e.g. " + gcpExample
	gcpIDRule  = "must be 6 to 30 characters of lower-case letters, digits and \"-\", starting with a letter and not ending with \"-\""
)

func parseGCPServiceAccount(p *field.Path, v string) (*GCPServiceAccount, *field.Error) {
	if err := checkValue(p, v, "give the service account's email, e.g. "+gcpExample); err != nil {
		return nil, err
	}
	bad := func(format string, a ...any) (*GCPServiceAccount, *field.Error) {
		return nil, field.Invalid(p, v, fmt.Sprintf(format, a...))
	}
	if strings.ContainsFunc(v, isASCIIUpper) {
		// Google lower-cases emails; an upper-case one would never match the binding.
		return bad("must be lower case, as Google service account emails are; use %q", asciiLower(v))
	}
	name, domain, ok := strings.Cut(v, "@")
	if !ok || strings.Contains(domain, "@") {
		return bad("%s", gcpForm)
	}
	project, ok := strings.CutSuffix(domain, gcpDomain)
	switch {
	case !ok && strings.HasSuffix(domain, ".gserviceaccount.com"):
		return bad("%s; Google-managed default accounts (@%s) are not supported, so create a dedicated service account", gcpForm, domain)
	case !ok:
		return bad("%s; @%s is not a service account domain", gcpForm, domain)
	case strings.Contains(project, "."):
		return bad("names a domain-scoped project (%q), which Keyless does not support; %s", project, gcpForm)
	case !isGCPID(name):
		return bad("account name %q %s; e.g. %s", name, gcpIDRule, gcpExample)
	case !isGCPID(project):
		return bad("project ID %q %s; e.g. %s", project, gcpIDRule, gcpExample)
	}
	return &GCPServiceAccount{Email: v, Project: project, Name: name}, nil
}

// isGCPID checks both account and project IDs: ^[a-z][-a-z0-9]{4,28}[a-z0-9]$.
func isGCPID(s string) bool {
	if len(s) < 6 || len(s) > 30 || s[0] < 'a' || s[0] > 'z' || s[len(s)-1] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

func isASCIIUpper(r rune) bool { return 'A' <= r && r <= 'Z' }

// asciiLower lower-cases only A-Z, leaving other bytes (even invalid UTF-8) as they are.
func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if isASCIIUpper(rune(c)) {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// String returns the email, the form Parse accepts.
func (g *GCPServiceAccount) String() string {
	if g == nil {
		return ""
	}
	return g.Email
}

// Same reports whether g and o are the same account.
func (g *GCPServiceAccount) Same(o *GCPServiceAccount) bool {
	if g == nil || o == nil {
		return g == o
	}
	return g.Email == o.Email
}
