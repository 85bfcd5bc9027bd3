package policy

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/keyless-dev/keyless/pkg/annotations"
)

// Template names, written ${namespace} and ${serviceAccount} in patterns.
const (
	tmplNamespace      = "namespace"
	tmplServiceAccount = "serviceAccount"
)

// vars are the values of the templates in one evaluation. With
// anyServiceAccount, ${serviceAccount} matches like "*": the ownership check
// asks whether another namespace could claim an identity with any of its
// ServiceAccounts.
type vars struct {
	namespace, serviceAccount string
	anyServiceAccount         bool
}

// Kinds of atom.
const (
	atomLit            = iota // lit, as written
	atomStar                  // "*"
	atomOne                   // "?"
	atomNamespace             // ${namespace}; lit is its text
	atomServiceAccount        // ${serviceAccount}; lit is its text
)

// atom is one element of a compiled pattern: a literal run, a wildcard or a
// template. Templates stay atoms, so that a pattern is compiled once (when
// the policy is made) and its values are compared in place at match time.
type atom struct {
	lit  string
	kind uint8
}

// compile turns a pattern into atoms.
func compile(pat string) []atom {
	var atoms []atom
	start := 0 // of the pending literal
	flush := func(end int) {
		if end > start {
			atoms = append(atoms, atom{lit: pat[start:end]})
		}
	}
	for i := 0; i < len(pat); i++ {
		switch c := pat[i]; c {
		case '*', '?':
			flush(i)
			start = i + 1
			if c == '*' && len(atoms) > 0 && atoms[len(atoms)-1].kind == atomStar {
				continue // "**" is "*"
			}
			kind := uint8(atomOne)
			if c == '*' {
				kind = atomStar
			}
			atoms = append(atoms, atom{kind: kind})
		case '$':
			if name, n, ok := template(pat[i:]); ok {
				flush(i)
				kind := uint8(atomNamespace)
				if name == tmplServiceAccount {
					kind = atomServiceAccount
				}
				atoms = append(atoms, atom{lit: pat[i : i+n], kind: kind})
				i += n - 1
				start = i + 1
			}
		}
	}
	flush(len(pat))
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

// text is what an atom that is not a wildcard matches: a template's value
// from v, which is a literal even if it holds "*" or "?" (Kubernetes forbids
// them in names anyway), or with v nil the template's own text.
func (a atom) text(v *vars) string {
	switch {
	case v == nil || a.kind == atomLit:
		return a.lit
	case a.kind == atomNamespace:
		return v.namespace
	default:
		return v.serviceAccount
	}
}

// matchAtoms reports whether the whole of s matches atoms, with templates
// substituted from v (nil: templates are literal text). fold makes ASCII
// letters match regardless of case.
//
// It is glob matching with backtracking to the last "*" only, which is
// enough for "*" and "?" and keeps the cost at O(len(atoms)*len(s)). "?"
// and "*" step over whole UTF-8 characters (or single invalid bytes).
func matchAtoms(atoms []atom, s string, v *vars, fold bool) bool {
	ai, si := 0, 0
	starA, starS := -1, 0
	for {
		if ai < len(atoms) {
			switch a := atoms[ai]; {
			case a.kind == atomStar, a.kind == atomServiceAccount && v != nil && v.anyServiceAccount:
				starA, starS = ai, si
				ai++
				continue
			case a.kind == atomOne:
				if si < len(s) {
					_, w := utf8.DecodeRuneInString(s[si:])
					si += w
					ai++
					continue
				}
			default:
				if t := a.text(v); hasPrefix(s[si:], t, fold) {
					si += len(t)
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

// hasPrefix is strings.HasPrefix, ASCII case-insensitive with fold.
func hasPrefix(s, prefix string, fold bool) bool {
	if !fold || len(s) < len(prefix) {
		return strings.HasPrefix(s, prefix)
	}
	for i := 0; i < len(prefix); i++ {
		if lowerByte(s[i]) != lowerByte(prefix[i]) {
			return false
		}
	}
	return true
}

// lastPattern matches a pattern and a value that both end in a name after
// their last sep: the name part against the name part (folded if
// foldName), the rest against the rest. So a "*" never spans from a path
// into a role name, nor across the "@" of an email. A pattern without sep
// matches only a value without it.
type lastPattern struct {
	sep        byte
	split      bool   // the pattern has sep
	whole      []atom // without sep
	rest, name []atom // with sep: before and after the last one
}

func compileLast(pat string, sep byte) lastPattern {
	pi := strings.LastIndexByte(pat, sep)
	if pi < 0 {
		return lastPattern{sep: sep, whole: compile(pat)}
	}
	return lastPattern{sep: sep, split: true, rest: compile(pat[:pi]), name: compile(pat[pi+1:])}
}

func (p *lastPattern) match(s string, v *vars, foldName bool) bool {
	si := strings.LastIndexByte(s, p.sep)
	if !p.split || si < 0 {
		return !p.split && si < 0 && matchAtoms(p.whole, s, v, foldName)
	}
	return matchAtoms(p.rest, s[:si], v, false) && matchAtoms(p.name, s[si+1:], v, foldName)
}

// matchJoined is match(prefix+s) without building the string in the usual
// case, a prefix that is empty or ends in sep before an s without sep.
func (p *lastPattern) matchJoined(prefix, s string, v *vars, foldName bool) bool {
	if strings.IndexByte(s, p.sep) >= 0 || (prefix != "" && prefix[len(prefix)-1] != p.sep) {
		return p.match(prefix+s, v, foldName)
	}
	if prefix == "" {
		return !p.split && matchAtoms(p.whole, s, v, foldName)
	}
	return p.split && matchAtoms(p.rest, prefix[:len(prefix)-1], v, false) && matchAtoms(p.name, s, v, foldName)
}

// awsPattern: ARN patterns match role ARNs; name patterns match the
// PATH/NAME of roles in the cluster's account, that is bare names and ARNs
// in that account. Role names compare without case; partitions, accounts
// and paths exactly.
type awsPattern struct {
	arn, namespaced bool
	last            lastPattern
}

func compileAWS(pat string) awsPattern {
	return awsPattern{arn: isARNPattern(pat), namespaced: hasNamespace(pat), last: compileLast(pat, '/')}
}

// isARNPattern tells ARN patterns from name patterns.
func isARNPattern(pat string) bool { return strings.HasPrefix(pat, "arn:") }

// match takes the role, its ARN for a role with an account, and whether it
// is in the cluster's account.
func (p *awsPattern) match(r *annotations.AWSRole, arn string, inCluster bool, v *vars) bool {
	if p.arn {
		return r.Account != "" && p.last.match(arn, v, true)
	}
	return inCluster && p.last.matchJoined(strings.TrimPrefix(r.Path, "/"), r.Name, v, true)
}

// azurePattern matches SUBSCRIPTION/RESOURCEGROUP/NAME, or RESOURCEGROUP/NAME
// in the cluster's subscription, part by part, so "*" never spans a "/".
// ARM compares names without case, Unicode included, so literals are
// case-folded when compiled and values when matched; matchAtoms then
// compares bytes of the same folded form. A pattern of another number of
// parts matches nothing.
type azurePattern struct {
	ok, cluster, namespaced bool
	parts                   [3][]atom // the subscription's is unused with cluster
}

// azureValue is an identity as Azure patterns see it: case-folded, and
// whether it is in the cluster's subscription.
type azureValue struct {
	sub, rg, name string
	inCluster     bool
}

func compileAzure(pat string) azurePattern {
	parts := strings.Split(pat, "/")
	p := azurePattern{ok: true, namespaced: hasNamespace(pat)}
	switch len(parts) {
	case 2:
		p.cluster = true
		parts = append([]string{""}, parts...)
	case 3:
	default:
		return azurePattern{}
	}
	for i, part := range parts {
		p.parts[i] = compile(part)
		for j := range p.parts[i] {
			if a := &p.parts[i][j]; a.kind == atomLit {
				a.lit = foldCase(a.lit)
			}
		}
	}
	return p
}

// match takes a value and vars that are case-folded.
func (p *azurePattern) match(a *azureValue, v *vars) bool {
	switch {
	case !p.ok, p.cluster && !a.inCluster, !p.cluster && !matchAtoms(p.parts[0], a.sub, v, false):
		return false
	}
	return matchAtoms(p.parts[1], a.rg, v, false) && matchAtoms(p.parts[2], a.name, v, false)
}

// gcpPattern matches an email exactly, "*" never spanning the "@"; a
// pattern without "@" matches the account ID of accounts in the cluster's
// project.
type gcpPattern struct {
	id, namespaced bool
	last           lastPattern
}

func compileGCP(pat string) gcpPattern {
	return gcpPattern{id: !strings.Contains(pat, "@"), namespaced: hasNamespace(pat), last: compileLast(pat, '@')}
}

// match takes the email, its account ID and whether it is in the cluster's
// project.
func (p *gcpPattern) match(email, id string, inCluster bool, v *vars) bool {
	if p.id {
		return inCluster && matchAtoms(p.last.whole, id, v, false)
	}
	return p.last.match(email, v, false)
}

// hasNamespace reports whether a pattern uses ${namespace}, which makes its
// matches subject to ownership by longer namespace names.
func hasNamespace(pat string) bool { return strings.Contains(pat, "${"+tmplNamespace+"}") }

// substitute writes the templates out, for messages.
func substitute(pat string, v *vars) string {
	if !strings.Contains(pat, "${") {
		return pat
	}
	var b strings.Builder
	for i := 0; i < len(pat); i++ {
		if name, n, ok := template(pat[i:]); ok {
			if name == tmplNamespace {
				b.WriteString(v.namespace)
			} else {
				b.WriteString(v.serviceAccount)
			}
			i += n - 1
			continue
		}
		b.WriteByte(pat[i])
	}
	return b.String()
}

func lowerByte(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// lower lower-cases ASCII only: AWS and GCP identities are ASCII, and byte
// lengths stay the same, which the matcher relies on.
func lower(s string) string {
	b := []byte(s)
	for i, c := range b {
		b[i] = lowerByte(c)
	}
	return string(b)
}

// foldCase maps s to one representative of its case-folding class, so that
// foldCase(a) == foldCase(b) exactly when strings.EqualFold(a, b), the
// comparison annotations.AzureIdentity.Same uses. Each rune becomes the
// lower-case member of its simple-folding orbit when the orbit has one,
// else the orbit's smallest rune ("İ" stays itself: it does not fold to
// "i"). Byte lengths may change, so match folded values against folded
// patterns.
func foldCase(s string) string {
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if ascii {
		return lower(s)
	}
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		b.WriteRune(foldRune(r))
	}
	return b.String()
}

func foldRune(r rune) rune {
	least := r
	for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
		least = min(least, f)
	}
	if l := unicode.ToLower(least); l != least {
		for f := unicode.SimpleFold(least); f != least; f = unicode.SimpleFold(f) {
			if f == l {
				return l
			}
		}
	}
	return least
}

// foldVars is v with case-folded values, for Azure patterns. Kubernetes
// names are lower-case ASCII, so it rarely copies.
func foldVars(v *vars) *vars {
	ns, sa := foldCase(v.namespace), foldCase(v.serviceAccount)
	if ns == v.namespace && sa == v.serviceAccount {
		return v
	}
	return &vars{namespace: ns, serviceAccount: sa, anyServiceAccount: v.anyServiceAccount}
}
