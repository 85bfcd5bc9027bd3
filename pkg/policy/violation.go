package policy

// String is the message with the mode, for logs: `rule "x": ... (warn)`.
func (v Violation) String() string {
	return v.Message + " (" + string(v.Mode) + ")"
}

// Enforced returns the violations that deny: those in enforce mode.
func Enforced(vs []Violation) []Violation { return ByMode(vs, Enforce) }

// ByMode returns the violations in mode m, in order; nil if none.
func ByMode(vs []Violation, m Mode) []Violation {
	var out []Violation
	for _, v := range vs {
		if v.Mode == m {
			out = append(out, v)
		}
	}
	return out
}
