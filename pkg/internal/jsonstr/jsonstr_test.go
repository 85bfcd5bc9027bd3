package jsonstr

import (
	"encoding/json"
	"testing"
)

// TestAppendAsEncodingJSON: strings are written exactly as encoding/json
// writes them, for every character that it escapes or replaces and for
// those around the ranges Append copies.
func TestAppendAsEncodingJSON(t *testing.T) {
	tests := []string{
		"", "plain-ASCII_0123456789 ~!", // copied as is
		"\x00", "\x1f", "a\nb", "\t", " ", // control characters and the first copied one
		"\x7e", "\x7f", "é", "日本", // the last ASCII ones and beyond
		"\u2028", "\u2029", "\xff", "a\xc3", // escaped or replaced by encoding/json
		`"`, `\`, "<", ">", "&", `a"b\c<d>e&f`,
	}
	for _, s := range tests {
		want, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		if got := Append([]byte("x"), s); string(got) != "x"+string(want) {
			t.Errorf("Append(%q) = %s, want x%s", s, got, want)
		}
	}
}

func FuzzAppend(f *testing.F) {
	f.Add("keyless.dev/status-aws")
	f.Add("\"<>&\x00é")
	f.Fuzz(func(t *testing.T, s string) {
		want, _ := json.Marshal(s)
		if got := Append(nil, s); string(got) != string(want) {
			t.Errorf("Append(%q) = %s, want %s", s, got, want)
		}
	})
}
