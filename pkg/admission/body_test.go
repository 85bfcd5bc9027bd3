package admission

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestReadBodyLimit: a body of exactly maxBody bytes is read, one byte more
// is refused, with and without a Content-Length.
func TestReadBodyLimit(t *testing.T) {
	tests := []struct {
		name          string
		size          int
		contentLength bool
		wantErr       error
	}{
		{name: "at the limit, with Content-Length", size: maxBody, contentLength: true},
		{name: "at the limit, without", size: maxBody},
		{name: "one byte over, with Content-Length", size: maxBody + 1, contentLength: true, wantErr: errBodyTooLarge},
		{name: "one byte over, without", size: maxBody + 1, wantErr: errBodyTooLarge},
		{name: "empty", size: 0, contentLength: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := bytes.Repeat([]byte("x"), tt.size)
			r := httptest.NewRequest(http.MethodPost, Path, io.MultiReader(bytes.NewReader(body))) // no length known
			if tt.contentLength {
				r.ContentLength = int64(tt.size)
			} else {
				r.ContentLength = -1
			}
			got, err := readBody(r, nil)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("readBody: %v, want %v", err, tt.wantErr)
			}
			if err == nil && !bytes.Equal(got, body) {
				t.Errorf("read %d bytes, want the %d sent", len(got), len(body))
			}
		})
	}
}
