package deadline

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestCall(t *testing.T) {
	wait := func(ctx context.Context) (int, error) {
		<-ctx.Done()
		return 0, ctx.Err()
	}
	tests := []struct {
		name     string
		ctx      func(t *testing.T) context.Context
		fn       func(context.Context) (int, error)
		want     error
		wantSays bool // the error names --cloud-timeout
	}{
		{"answered in time", func(t *testing.T) context.Context { return t.Context() },
			func(context.Context) (int, error) { return 1, nil }, nil, false},
		{"never answered", func(t *testing.T) context.Context { return t.Context() }, wait, context.DeadlineExceeded, true},
		{"the caller's own deadline came first", func(t *testing.T) context.Context {
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Millisecond)
			t.Cleanup(cancel)
			return ctx
		}, wait, context.DeadlineExceeded, false},
		{"the caller cancelled", func(t *testing.T) context.Context {
			ctx, cancel := context.WithCancel(t.Context())
			cancel()
			return ctx
		}, wait, context.Canceled, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Call(tt.ctx(t), 100*time.Millisecond, tt.fn)
			if !errors.Is(err, tt.want) || (err == nil) != (tt.want == nil) {
				t.Errorf("error %v, want %v", err, tt.want)
			}
			if says := err != nil && strings.Contains(err.Error(), "no answer within 100ms (--cloud-timeout)"); says != tt.wantSays {
				t.Errorf("error %v names --cloud-timeout: %t, want %t", err, says, tt.wantSays)
			}
		})
	}
}

func TestOr(t *testing.T) {
	for d, want := range map[time.Duration]time.Duration{0: Default, -time.Second: Default, time.Second: time.Second} {
		if got := Or(d); got != want {
			t.Errorf("Or(%v) = %v, want %v", d, got, want)
		}
	}
}
