package policy

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
)

// Checks of single values. They return what is wrong and how to fix it,
// without position: the decoder adds that.

func checkRuleName(name string) error {
	if msgs := validation.IsDNS1123Label(name); len(msgs) > 0 {
		return fmt.Errorf("%q is not a valid rule name: %s", name, strings.Join(msgs, "; "))
	}
	return nil
}

func checkMode(m Mode) error {
	switch m {
	case Enforce, Warn, Audit:
		return nil
	}
	return fmt.Errorf("%q is not a mode; use enforce, warn or audit", string(m))
}

func checkExistingViolations(ev ExistingViolations) error {
	switch ev {
	case Report, Remove:
		return nil
	}
	return fmt.Errorf("%q is not supported; use report or remove", string(ev))
}

// checkSelector wraps the error of metav1.LabelSelectorAsSelector, the
// conversion that evaluation uses.
func checkSelector(sel *metav1.LabelSelector) error {
	if _, err := metav1.LabelSelectorAsSelector(sel); err != nil {
		return fmt.Errorf("not a valid label selector: %w", err)
	}
	return nil
}

// checkRequiredLabel accepts "key" or "key=value".
func checkRequiredLabel(s string) error {
	key, value, hasValue := strings.Cut(s, "=")
	var msgs []string
	if key == "" {
		msgs = append(msgs, "the label key is empty")
	} else {
		for _, m := range validation.IsQualifiedName(key) {
			msgs = append(msgs, fmt.Sprintf("key %q: %s", key, m))
		}
	}
	if hasValue {
		for _, m := range validation.IsValidLabelValue(value) {
			msgs = append(msgs, fmt.Sprintf("value %q: %s", value, m))
		}
	}
	if len(msgs) > 0 {
		return fmt.Errorf("%q is not \"key\" or \"key=value\" with a valid label key and value: %s", s, strings.Join(msgs, "; "))
	}
	return nil
}

// errPatternSyntax marks pattern errors, so callers may tell them apart.
var errPatternSyntax = errors.New("not a valid pattern")

// patternError wraps errPatternSyntax with what is wrong.
func patternError(pat, format string, args ...any) error {
	return fmt.Errorf("%q is %w: %s", pat, errPatternSyntax, fmt.Sprintf(format, args...))
}

// checkSyntax accepts "*", "?", the templates when allowed, and literal
// characters. Characters that other pattern languages give a meaning
// ("[", "{", "\") are rejected rather than silently taken literally, and so
// are blanks and control characters, which no identity contains. It
// returns the literal text, without wildcards and templates.
func checkSyntax(pat string, templates bool) (literal string, err error) {
	if pat == "" {
		return "", patternError(pat, "it is empty")
	}
	if !utf8.ValidString(pat) {
		return "", patternError(pat, "it is not valid UTF-8")
	}
	var lit strings.Builder
	for i := 0; i < len(pat); {
		r, w := utf8.DecodeRuneInString(pat[i:])
		switch {
		case r == '$':
			name, n, ok := template(pat[i:])
			switch {
			case ok && !templates:
				return "", patternError(pat, "templates such as ${%s} are not allowed here", name)
			case ok:
				i += n
				continue
			case strings.HasPrefix(pat[i:], "${"):
				t := pat[i:]
				if end := strings.IndexByte(t, '}'); end >= 0 {
					t = t[:end+1]
				} else {
					return "", patternError(pat, "%q has no closing \"}\"; use ${namespace} or ${serviceAccount}", t)
				}
				return "", patternError(pat, "unknown template %q; use ${namespace} or ${serviceAccount}", t)
			default:
				return "", patternError(pat, "a \"$\" must start ${namespace} or ${serviceAccount}")
			}
		case strings.ContainsRune(`[]{}\`, r):
			return "", patternError(pat, "%q has no meaning in patterns, which know only \"*\" (any characters) and \"?\" (one character)", string(r))
		case unicode.IsSpace(r) || unicode.IsControl(r):
			return "", patternError(pat, "it contains a blank or control character, which no identity contains")
		case r != '*' && r != '?':
			lit.WriteRune(r)
		}
		i += w
	}
	return lit.String(), nil
}

// checkAWSPattern: a role ARN pattern, arn:PARTITION:iam::ACCOUNT:role/[PATH/]NAME,
// or a name pattern [PATH/]NAME.
func checkAWSPattern(pat string) error {
	if _, err := checkSyntax(pat, true); err != nil {
		return err
	}
	const example = `e.g. "${namespace}-*", "service-role/${namespace}-*" or "arn:aws:iam::*:role/${namespace}-*"`
	rolePart := pat
	if isARNPattern(pat) {
		parts := strings.SplitN(pat, ":", 6)
		if len(parts) != 6 || parts[2] != "iam" || parts[3] != "" || !strings.HasPrefix(parts[5], "role/") {
			return patternError(pat, "a role ARN pattern has the form arn:PARTITION:iam::ACCOUNT:role/[PATH/]NAME, %s", example)
		}
		rolePart = strings.TrimPrefix(parts[5], "role/")
	} else if strings.Contains(pat, ":") {
		return patternError(pat, "role names have no \":\", and role ARN patterns start with \"arn:\"; %s", example)
	}
	switch {
	case strings.HasPrefix(rolePart, "/"):
		return patternError(pat, "remove the leading \"/\": paths are written without it, as in %q", strings.TrimLeft(rolePart, "/"))
	case strings.HasSuffix(rolePart, "/"):
		return patternError(pat, "the role name after the last \"/\" is missing; %s", example)
	case strings.Contains(rolePart, "//"):
		return patternError(pat, "role paths have no empty segment (\"//\")")
	}
	lit, _ := checkSyntax(rolePart, true)
	if i := strings.IndexFunc(lit, func(r rune) bool { return !isRoleChar(r) }); i >= 0 {
		return patternError(pat, "it could never match: role names and paths have only letters, digits and + = , . @ _ -, not %q", string([]rune(lit[i:])[0]))
	}
	return nil
}

func isRoleChar(r rune) bool {
	return 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || strings.ContainsRune("+=,.@_-/", r)
}

// checkAzurePattern: SUBSCRIPTION/RESOURCEGROUP/NAME, or RESOURCEGROUP/NAME
// in the cluster's subscription.
func checkAzurePattern(pat string) error {
	if _, err := checkSyntax(pat, true); err != nil {
		return err
	}
	parts := strings.Split(pat, "/")
	switch {
	case strings.HasPrefix(strings.ToLower(pat), "/subscriptions/"):
		return patternError(pat, "write SUBSCRIPTION/RESOURCEGROUP/NAME rather than a resource ID, e.g. \"*/my-rg/${namespace}-*\"")
	case len(parts) < 2 || len(parts) > 3 || slices.Contains(parts, ""):
		return patternError(pat, "use RESOURCEGROUP/NAME (in the cluster's subscription) or SUBSCRIPTION/RESOURCEGROUP/NAME, "+
			"with non-empty parts, e.g. \"*/${namespace}-*\"")
	}
	return nil
}

// checkGCPPattern: an email pattern NAME@DOMAIN, or an account ID pattern
// without "@" (in the cluster's project), in lower case since both are.
func checkGCPPattern(pat string) error {
	lit, err := checkSyntax(pat, true)
	if err != nil {
		return err
	}
	local, domain, ok := strings.Cut(pat, "@")
	switch {
	case lit != lower(lit):
		return patternError(pat, "service account emails and IDs are lower case, so it could never match; write %q", lowerLiterals(pat))
	case !ok:
		if i := strings.IndexFunc(lit, func(r rune) bool { return !isGCPIDChar(r) }); i >= 0 {
			return patternError(pat, "it could never match: account IDs have only lower-case letters, digits and \"-\", not %q; "+
				"write an email pattern with \"@\" for accounts outside the cluster's project", string([]rune(lit[i:])[0]))
		}
	case strings.Contains(domain, "@"):
		return patternError(pat, "it has more than one \"@\"")
	case local == "" || domain == "":
		return patternError(pat, "both sides of the \"@\" must be given; use \"*\" for any")
	}
	return nil
}

func isGCPIDChar(r rune) bool { return 'a' <= r && r <= 'z' || '0' <= r && r <= '9' || r == '-' }

// checkNamespacePattern: names of namespaces, where templates make no sense.
func checkNamespacePattern(pat string) error {
	lit, err := checkSyntax(pat, false)
	if err != nil {
		return err
	}
	for _, r := range lit {
		if !('a' <= r && r <= 'z' || '0' <= r && r <= '9' || r == '-') {
			return patternError(pat, "namespace names have only lower-case letters, digits and \"-\", so it could never match")
		}
	}
	return nil
}

// lowerLiterals lower-cases pat but not its templates, for suggestions.
func lowerLiterals(pat string) string {
	var b strings.Builder
	for i := 0; i < len(pat); {
		if _, n, ok := template(pat[i:]); ok {
			b.WriteString(pat[i : i+n])
			i += n
			continue
		}
		b.WriteByte(lowerByte(pat[i]))
		i++
	}
	return b.String()
}
