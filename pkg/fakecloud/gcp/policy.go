package gcp

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"slices"
	"strings"
)

// Policy is an IAM policy in the API's JSON form.
type Policy struct {
	Version      int             `json:"version,omitempty"`
	Bindings     []Binding       `json:"bindings,omitempty"`
	AuditConfigs json.RawMessage `json:"auditConfigs,omitempty"`
	Etag         string          `json:"etag,omitempty"`
}

// Binding grants Role to Members, under Condition if set.
type Binding struct {
	Role      string   `json:"role"`
	Members   []string `json:"members,omitempty"`
	Condition *Expr    `json:"condition,omitempty"`
}

// Expr is an IAM condition.
type Expr struct {
	Title       string `json:"title,omitempty"`
	Description string `json:"description,omitempty"`
	Expression  string `json:"expression,omitempty"`
	Location    string `json:"location,omitempty"`
}

// Clone returns a deep copy.
func (p Policy) Clone() Policy {
	c := p
	c.AuditConfigs = slices.Clone(p.AuditConfigs)
	c.Bindings = make([]Binding, len(p.Bindings))
	for i, b := range p.Bindings {
		c.Bindings[i] = Binding{Role: b.Role, Members: slices.Clone(b.Members)}
		if b.Condition != nil {
			e := *b.Condition
			c.Bindings[i].Condition = &e
		}
	}
	if len(c.Bindings) == 0 {
		c.Bindings = nil
	}
	return c
}

// HasConditions reports whether any binding is conditional.
func (p Policy) HasConditions() bool {
	return slices.ContainsFunc(p.Bindings, func(b Binding) bool { return b.Condition != nil })
}

// normalize does what IAM does to a policy it stores: it drops bindings
// without members, merges bindings of the same role and condition, drops
// duplicate members, and sets the version the content needs.
func normalize(p Policy) Policy {
	var out []Binding
	for _, b := range p.Bindings {
		j := slices.IndexFunc(out, func(o Binding) bool { return o.Role == b.Role && sameExpr(o.Condition, b.Condition) })
		if j < 0 {
			out = append(out, Binding{Role: b.Role, Condition: b.Condition})
			j = len(out) - 1
		}
		for _, m := range b.Members {
			if !slices.Contains(out[j].Members, m) {
				out[j].Members = append(out[j].Members, m)
			}
		}
	}
	p.Bindings = slices.DeleteFunc(out, func(b Binding) bool { return len(b.Members) == 0 })
	switch {
	case p.HasConditions():
		p.Version = 3
	case len(p.Bindings) > 0:
		p.Version = 1
	default:
		p.Version = 0
	}
	return p
}

func sameExpr(a, b *Expr) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

// view is the policy as a reader asking for version requested sees it.
func (p Policy) view(requested int) Policy {
	v := p.Clone()
	if requested >= 3 || !v.HasConditions() {
		return v
	}
	v.Version = 1
	for i, b := range v.Bindings {
		if b.Condition != nil {
			v.Bindings[i].Role = b.Role + "_withcond_" + condHash(*b.Condition)
			v.Bindings[i].Condition = nil
		}
	}
	return v
}

func condHash(e Expr) string {
	h := sha256.Sum256([]byte(e.Title + "\x00" + e.Description + "\x00" + e.Expression + "\x00" + e.Location))
	return hex.EncodeToString(h[:10])
}

// kubernetesPool returns POOL of a member serviceAccount:POOL[NS/SA]; ok is
// false for any other kind of member.
func kubernetesPool(member string) (pool string, ok bool) {
	rest, ok := strings.CutPrefix(member, "serviceAccount:")
	if !ok {
		return "", false
	}
	pool, _, ok = strings.Cut(rest, "[")
	return pool, ok
}
