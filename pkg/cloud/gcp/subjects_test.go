package gcp

import (
	"context"
	"errors"
	"testing"

	"github.com/keyless-dev/keyless/pkg/cloud"
)

// TestEnsureManyNeedsBothNames: a ServiceAccount without a namespace or
// without a name is refused before anything is read or written.
func TestEnsureManyNeedsBothNames(t *testing.T) {
	tests := []struct {
		name    string
		subject cloud.Subject
	}{
		{name: "no namespace", subject: cloud.Subject{Name: "app"}},
		{name: "no name", subject: cloud.Subject{Namespace: "default"}},
		{name: "neither", subject: cloud.Subject{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, sim := newEnv(t, Options{})
			_, err := p.EnsureMany(context.Background(), gsa, []cloud.Subject{subject("web"), tt.subject})
			if !errors.Is(err, cloud.ErrInvalid) {
				t.Errorf("EnsureMany: %v, want %v", err, cloud.ErrInvalid)
			}
			if n := count(policy(t, sim), ksa("web")); n != 0 {
				t.Errorf("default/web granted %d times, want none", n)
			}
		})
	}
}
