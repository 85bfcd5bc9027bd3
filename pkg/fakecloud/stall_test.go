package fakecloud

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func TestStall(t *testing.T) {
	s := NewStall(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") }))
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	t.Cleanup(s.Release) // runs first

	get := func(timeout time.Duration) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
		resp, err := srv.Client().Do(req)
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return string(b), err
	}

	start := time.Now()
	if _, err := get(100 * time.Millisecond); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("stalled request: %v, want the client's deadline", err)
	}
	if d := time.Since(start); d < 100*time.Millisecond {
		t.Errorf("stalled request ended after %v, before the client's deadline", d)
	}
	if s.Held() != 1 {
		t.Errorf("held %d requests, want 1", s.Held())
	}

	done := make(chan error, 1)
	go func() { _, err := get(10 * time.Second); done <- err }()
	for s.Held() < 2 {
		time.Sleep(time.Millisecond)
	}
	s.Release()
	select {
	case err := <-done:
		if err == nil {
			t.Error("a released request got an answer, want the connection dropped")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Release did not let go of the held request")
	}

	s.Set(false)
	if body, err := get(5 * time.Second); err != nil || body != "ok" {
		t.Errorf("with the stall off: %q, %v; want the simulator's answer", body, err)
	}
}
