package keyed

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestLocks(t *testing.T) {
	var k Locks
	unlockA, err := k.Lock(t.Context(), "a")
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
			unlock, err := k.Lock(c, tt.key)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("lock(%q): %v, want %v", tt.key, err, tt.wantErr)
			}
			if unlock != nil {
				unlock()
			}
		})
	}
	unlockA()
	if unlock, err := k.Lock(t.Context(), "a"); err != nil {
		t.Errorf("after release: %v", err)
	} else {
		unlock()
	}
	if n := k.Len(); n != 0 {
		t.Errorf("%d entries left after every lock was released", n)
	}
}
