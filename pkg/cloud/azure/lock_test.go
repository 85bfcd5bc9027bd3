package azure

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestKeyedLock(t *testing.T) {
	var k keyedLock
	unlockA, err := k.lock(t.Context(), "a")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		key     string
		wantErr error
	}{
		{"same key waits", "a", context.DeadlineExceeded},
		{"other key proceeds", "b", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
			defer cancel()
			unlock, err := k.lock(c, tt.key)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("lock(%q): %v, want %v", tt.key, err, tt.wantErr)
			}
			if unlock != nil {
				unlock()
			}
		})
	}
	unlockA()
	if unlock, err := k.lock(t.Context(), "a"); err != nil {
		t.Errorf("after release: %v", err)
	} else {
		unlock()
	}
	if n := len(k.held); n != 0 {
		t.Errorf("%d entries left after every lock was released", n)
	}
}
