package main

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"

	"sigs.k8s.io/controller-runtime/pkg/webhook"

	"github.com/keyless-dev/keyless/pkg/admission"
)

// BenchmarkServe measures one review of each body through the servers'
// handlers without the network: Keyless behind controller-runtime's webhook
// mux (with its instrumentation), and the floor.
func BenchmarkServe(b *testing.B) {
	srv := webhook.NewServer(webhook.Options{})
	srv.Register(admission.Path, keylessHandler())
	servers := []struct {
		name string
		h    http.Handler
	}{
		{"keyless", srv.WebhookMux()},
		{"floor", http.HandlerFunc(floor)},
	}
	for _, body := range []string{"deployment", "serviceaccount"} {
		for _, s := range servers {
			b.Run(body+"/"+s.name, func(b *testing.B) {
				raw := bodies()[body]
				b.SetBytes(int64(len(raw)))
				b.ReportAllocs()
				for b.Loop() {
					r := httptest.NewRequest(http.MethodPost, admission.Path, bytes.NewReader(raw))
					r.Header.Set("Content-Type", "application/json")
					w := httptest.NewRecorder()
					s.h.ServeHTTP(w, r)
					if w.Code != http.StatusOK {
						b.Fatalf("HTTP status = %d: %s", w.Code, w.Body)
					}
				}
			})
		}
	}
}
