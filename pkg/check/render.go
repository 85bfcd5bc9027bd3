package check

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"

	yaml "go.yaml.in/yaml/v3"

	"github.com/keyless-dev/keyless/pkg/annotations"
)

// WriteText renders the report for people: per object what Keyless would
// change and create, then the violations as FILE:LINE: Kind/name: MESSAGE,
// then a summary.
func WriteText(w io.Writer, r *Report) error {
	b := bufio.NewWriter(w)
	for _, o := range r.Objects {
		fmt.Fprintf(b, "%s %s/%s (%s:%d)\n", o.Kind, o.Namespace, o.Name, o.File, o.Line)
		if !o.Admitted {
			fmt.Fprintln(b, "  denied by the webhook: see the violations below")
			fmt.Fprintln(b)
			continue
		}
		if len(o.Changes) > 0 {
			fmt.Fprintln(b, "  webhook changes:")
			writeChanges(b, o.Changes)
		} else if o.Connected {
			fmt.Fprintln(b, "  webhook changes: none")
		}
		switch o.ServiceAccountSource {
		case "input":
			fmt.Fprintf(b, "  runs as ServiceAccount %s/%s, which is in the input\n", o.Namespace, o.ServiceAccount)
		case "shared":
			fmt.Fprintf(b, "  runs as ServiceAccount %s/%s, created by the controller for the workload above\n", o.Namespace, o.ServiceAccount)
		}
		if sa := o.CreatesServiceAccount; sa != nil {
			fmt.Fprintf(b, "  controller creates ServiceAccount %s/%s for %s (unless it exists):\n",
				sa.Namespace, sa.Name, strings.Join(sa.For, ", "))
			writeChanges(b, sa.Changes)
		}
		if len(o.ControllerChanges) > 0 {
			fmt.Fprintln(b, "  controller changes (connections copied from its workloads):")
			writeChanges(b, o.ControllerChanges)
		}
		if len(o.CloudObjects) > 0 {
			fmt.Fprintln(b, "  cloud objects the controller creates:")
			for _, c := range o.CloudObjects {
				fmt.Fprintf(b, "    %s: %s\n", annotations.CloudNamed(c.Cloud).Title, c.Description)
			}
		}
		fmt.Fprintln(b)
	}
	if len(r.Violations) > 0 {
		fmt.Fprintln(b, "Violations:")
		for _, v := range r.Violations {
			// Policy messages start with the rule's name, which ends the line.
			msg := strings.TrimPrefix(oneLine(v.Message), fmt.Sprintf("rule %q: ", v.Rule))
			fmt.Fprintf(b, "%s:%d: %s/%s: %s (rule %s, %s)\n", v.File, v.Line, v.Kind, v.Name, msg, v.Rule, v.Mode)
		}
		fmt.Fprintln(b)
	}
	for _, n := range r.Notes {
		fmt.Fprintf(b, "Note: %s.\n", n)
	}
	s := r.Summary
	counts := []string{plural(s.Errors, "error"), plural(s.Warnings, "warning")}
	if s.Audits > 0 {
		counts = append(counts, plural(s.Audits, "audit finding"))
	}
	verdict := "OK"
	if r.Failed() {
		verdict = "FAILED"
	}
	fmt.Fprintf(b, "%s: %s, %s checked: %s.\n", verdict, plural(s.Documents, "document"),
		plural(s.Objects, "workload or ServiceAccount", "workloads or ServiceAccounts"), strings.Join(counts, ", "))
	return b.Flush()
}

func writeChanges(w io.Writer, cs []Change) {
	for _, c := range cs {
		if c.Value == nil {
			fmt.Fprintf(w, "    - %s\n", c.Field)
			continue
		}
		fmt.Fprintf(w, "    + %s: %s\n", c.Field, scalar(*c.Value))
	}
}

// scalar writes a string the way YAML needs it to stay a string: plain when
// it can be, quoted otherwise ("true", "", "1").
func scalar(s string) string {
	raw, err := yaml.Marshal(s)
	out := strings.TrimSuffix(string(raw), "\n")
	if err != nil || strings.Contains(out, "\n") || strings.HasPrefix(out, "'") {
		return strconv.Quote(s)
	}
	return out
}

func oneLine(s string) string { return strings.ReplaceAll(s, "\n", " ") }

func plural(n int, one string, many ...string) string {
	if n == 1 {
		return "1 " + one
	}
	if len(many) > 0 {
		return strconv.Itoa(n) + " " + many[0]
	}
	return strconv.Itoa(n) + " " + one + "s"
}

// WriteJSON renders the report as one indented JSON document for tools.
// Its fields are those of Report; lists are never null.
func WriteJSON(w io.Writer, r *Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(r)
}
