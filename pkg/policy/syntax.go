package policy

import "github.com/keyless-dev/keyless/pkg/internal/yamlpos"

// YAML syntax errors, with the position package yamlpos finds.

// syntaxError is the YAML library's message without its "yaml: line N: "
// prefix, which the posError carries in the common form.
type syntaxError struct {
	text string
	err  error
}

func (e *syntaxError) Error() string { return e.text }
func (e *syntaxError) Unwrap() error { return e.err }

func (d *decoder) syntax(raw []byte, err error) error {
	text, line := yamlpos.Split(err)
	column := 0
	if l, c := yamlpos.Position(raw, text); l > 0 {
		line, column = l, c
	}
	text = "not valid YAML: " + text
	if yamlpos.TabIndented(raw, line) {
		text += " (YAML does not allow tabs for indentation; use spaces)"
	}
	return &posError{file: d.file, line: line, column: column, err: &syntaxError{text: text, err: err}}
}
