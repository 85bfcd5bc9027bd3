package recent

import (
	"fmt"
	"testing"
	"time"
)

func TestReads(t *testing.T) {
	now := time.Date(2026, 12, 6, 1, 0, 0, 0, time.UTC)
	r := &Reads[int]{TTL: time.Minute, Now: func() time.Time { return now }}
	r.Put("a", 1)
	tests := []struct {
		name   string
		at     time.Duration // clock after the Put
		wantOK bool
	}{
		{"just read", 0, true},
		{"one tick before the TTL", time.Minute - time.Nanosecond, true},
		{"at the TTL", time.Minute, false},
		{"a clock that went back", -time.Second, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			now = now.Add(tt.at)
			defer func() { now = now.Add(-tt.at) }()
			v, ok := r.Get("a")
			if ok != tt.wantOK || (ok && v != 1) {
				t.Errorf("Get = %d, %t; want 1, %t", v, ok, tt.wantOK)
			}
		})
	}
	r.Forget("a")
	if _, ok := r.Get("a"); ok {
		t.Error("Get after Forget found the value")
	}
}

func TestReadsOffAndPruned(t *testing.T) {
	off := &Reads[int]{}
	off.Put("a", 1)
	if _, ok := off.Get("a"); ok || off.Len() != 0 {
		t.Error("a TTL of 0 keeps values")
	}
	now := time.Date(2026, 12, 6, 1, 0, 0, 0, time.UTC)
	r := &Reads[int]{TTL: time.Minute, Now: func() time.Time { return now }}
	for i := range 64 {
		r.Put(fmt.Sprint(i), i)
	}
	now = now.Add(time.Hour)
	r.Put("fresh", 1)
	if r.Len() != 1 {
		t.Errorf("%d keys kept after they all expired, want 1", r.Len())
	}
}
