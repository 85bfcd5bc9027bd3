// Package jsonstr writes JSON strings into byte slices without encoding/json's
// allocations on the common case, for the webhook's answer and its patches.
package jsonstr

import "encoding/json"

// Append writes s as a JSON string to b. Printable ASCII that
// encoding/json writes as is is copied; anything else is left to
// encoding/json, so that the escaping stays exactly its own.
func Append(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			raw, _ := json.Marshal(s) // a string always encodes
			return append(b, raw...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}
