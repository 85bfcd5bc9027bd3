package admission

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestAppendReview: the answer is byte for byte what encoding/json writes.
func TestAppendReview(t *testing.T) {
	tests := []struct {
		name string
		resp response
	}{
		{"allowed", response{UID: testUID, Allowed: true}},
		{"patch", response{UID: testUID, Allowed: true, PatchType: "JSONPatch", Patch: []byte(`[{"op":"add","path":"/a","value":"<b>"}]`)}},
		{"warnings", response{UID: testUID, Allowed: true, Warnings: []string{`keyless policy (warn): rule "x": <&>`, "é"}}},
		{"denied", response{UID: testUID, Status: &status{Code: 403, Reason: "Forbidden", Message: "keyless: \"a\"\n\u2028"}}},
		{"no reason", response{UID: "odd \"uid\"", Status: &status{Code: 500, Message: "m"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := appendReview(nil, &tt.resp)
			if err != nil {
				t.Fatal(err)
			}
			want, err := json.Marshal(struct {
				APIVersion string    `json:"apiVersion"`
				Kind       string    `json:"kind"`
				Response   *response `json:"response"`
			}{"admission.k8s.io/v1", "AdmissionReview", &tt.resp})
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("appendReview:\n got %s\nwant %s", got, want)
			}
		})
	}
}

// TestReadBody: with or without Content-Length, a body is read whole up to
// maxBody and refused beyond.
func TestReadBody(t *testing.T) {
	tests := []struct {
		name    string
		size    int
		unsized bool // no Content-Length
		wantErr bool
	}{
		{"empty", 0, false, false},
		{"small", 100, false, false},
		{"small unsized", 100, true, false},
		{"at the limit unsized", maxBody, true, false},
		{"over the limit", maxBody + 1, false, true},
		{"over the limit unsized", maxBody + 1, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := bytes.Repeat([]byte("x"), tt.size)
			r := httptest.NewRequest(http.MethodPost, Path, bytes.NewReader(body))
			if tt.unsized {
				r.ContentLength, r.Body = -1, io.NopCloser(bytes.NewReader(body))
			}
			got, err := readBody(r, make([]byte, 0, 16))
			if (err != nil) != tt.wantErr {
				t.Fatalf("error = %v, want error %v", err, tt.wantErr)
			}
			if !tt.wantErr && !bytes.Equal(got, body) {
				t.Errorf("read %d bytes, want %d", len(got), len(body))
			}
		})
	}
}
