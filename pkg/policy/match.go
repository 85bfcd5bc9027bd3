package policy

import (
	"strings"
	"unicode/utf8"

	"github.com/keyless-dev/keyless/pkg/annotations"
)

// Template names, written ${namespace} and ${serviceAccount} in patterns.
const (
	tmplNamespace      = "namespace"
	tmplServiceAccount = "serviceAccount"
)

// vars are the values of the templates in one evaluation.
type vars struct{ namespace, serviceAccount string }

// atom is one element of a compiled pattern: a literal run, or a wildcard.
type atom struct {
	lit  string
	wild byte // '*', '?' or 0 for a literal
}

// compile turns a pattern into atoms. Template values become literals, so a
// "*" in a namespace name (which Kubernetes forbids anyway) cannot act as a
// wildcard. With v nil, templates stay literal text. fold lower-cases
// literals for case-insensitive matching.
func compile(pat string, v *vars, fold bool) []atom {
	var atoms []atom
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			atoms = append(atoms, atom{lit: lit.String()})
			lit.Reset()
		}
	}
	for i := 0; i < len(pat); i++ {
		switch c := pat[i]; c {
		case '*', '?':
			flush()
			if c == '*' && len(atoms) > 0 && atoms[len(atoms)-1].wild == '*' {
				continue // "**" is "*"
			}
			atoms = append(atoms, atom{wild: c})
		case '$':
			if name, n, ok := template(pat[i:]); ok && v != nil {
				val := v.namespace
				if name == tmplServiceAccount {
					val = v.serviceAccount
				}
				if fold {
					val = lower(val)
				}
				lit.WriteString(val)
				i += n - 1
				continue
			}
			lit.WriteByte(c)
		default:
			if fold {
				c = lowerByte(c)
			}
			lit.WriteByte(c)
		}
	}
	flush()
	return atoms
}

// template reports whether s starts with a known template and, if so, its
// name and length.
func template(s string) (name string, n int, ok bool) {
	for _, name := range []string{tmplNamespace, tmplServiceAccount} {
		if strings.HasPrefix(s, "${"+name+"}") {
			return name, len(name) + 3, true
		}
	}
	return "", 0, false
}

// matchAtoms is glob matching with backtracking to the last "*" only, which
// is enough for "*" and "?" and keeps the cost at O(len(atoms)*len(s)).
// "?" and "*" step over whole UTF-8 characters (or single invalid bytes).
func matchAtoms(atoms []atom, s string) bool {
	ai, si := 0, 0
	starA, starS := -1, 0
	for {
		if ai < len(atoms) {
			switch a := atoms[ai]; a.wild {
			case '*':
				starA, starS = ai, si
				ai++
				continue
			case '?':
				if si < len(s) {
					_, w := utf8.DecodeRuneInString(s[si:])
					si += w
					ai++
					continue
				}
			default:
				if strings.HasPrefix(s[si:], a.lit) {
					si += len(a.lit)
					ai++
					continue
				}
			}
		} else if si == len(s) {
			return true
		}
		// Mismatch: let the last "*" take one more character and retry.
		if starA < 0 || starS >= len(s) {
			return false
		}
		_, w := utf8.DecodeRuneInString(s[starS:])
		starS += w
		ai, si = starA+1, starS
	}
}

// match reports whether the whole of s matches pat, with templates
// substituted from v (nil: templates are literal text). fold makes ASCII
// letters match regardless of case.
func match(pat, s string, v *vars, fold bool) bool {
	if fold {
		s = lower(s)
	}
	return matchAtoms(compile(pat, v, fold), s)
}

// matchLast matches a pattern and a value that both end in a name after
// their last sep: the name part against the name part (folded if
// foldName), the rest against the rest. So a "*" never spans from a path
// into a role name, nor across the "@" of an email. A pattern without sep
// matches only a value without it.
func matchLast(pat, s string, sep byte, v *vars, foldName bool) bool {
	pi, si := strings.LastIndexByte(pat, sep), strings.LastIndexByte(s, sep)
	if pi < 0 || si < 0 {
		return pi < 0 && si < 0 && match(pat, s, v, foldName)
	}
	return match(pat[:pi], s[:si], v, false) && match(pat[pi+1:], s[si+1:], v, foldName)
}

// isARNPattern tells ARN patterns from name patterns.
func isARNPattern(pat string) bool { return strings.HasPrefix(pat, "arn:") }

// matchAWS: an ARN connection matches ARN patterns with its ARN and name
// patterns with PATH/NAME; a bare-name connection matches name patterns
// only (its account is the cluster's, unknown here). Role names compare
// without case; partitions, accounts and paths exactly.
func matchAWS(pat string, r *annotations.AWSRole, v *vars) bool {
	if isARNPattern(pat) {
		return r.Account != "" && matchLast(pat, r.String(), '/', v, true)
	}
	return matchLast(pat, strings.TrimPrefix(r.Path, "/")+r.Name, '/', v, true)
}

// matchAzure matches SUBSCRIPTION/RESOURCEGROUP/NAME part by part, without
// case (ARM names are case-insensitive), so "*" never spans a "/".
func matchAzure(pat, sub, rg, name string, v *vars) bool {
	parts := strings.Split(pat, "/")
	return len(parts) == 3 && match(parts[0], sub, v, true) && match(parts[1], rg, v, true) && match(parts[2], name, v, true)
}

// matchGCP matches an email exactly; "*" never spans the "@".
func matchGCP(pat, email string, v *vars) bool { return matchLast(pat, email, '@', v, false) }

// substitute writes the templates out, for messages.
func substitute(pat string, v *vars) string {
	return strings.NewReplacer("${"+tmplNamespace+"}", v.namespace, "${"+tmplServiceAccount+"}", v.serviceAccount).Replace(pat)
}

func lowerByte(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// lower lower-cases ASCII only: identities are ASCII, and byte lengths stay
// the same, which the matcher relies on.
func lower(s string) string {
	b := []byte(s)
	for i, c := range b {
		b[i] = lowerByte(c)
	}
	return string(b)
}
