package gcp

import (
	"errors"
	"strings"
	"testing"

	"github.com/keyless-dev/keyless/pkg/cloud"
	"github.com/keyless-dev/keyless/pkg/fakecloud"
	fakegcp "github.com/keyless-dev/keyless/pkg/fakecloud/gcp"
)

func TestEnsureErrors(t *testing.T) {
	tests := []struct {
		name          string
		setup         func(*fakegcp.Server)
		faults        fakecloud.Faults
		wantKind      error // nil: transient, of no kind
		wantPermanent bool
		wantMsg       string
		wantSets      int
	}{
		{name: "pool not enabled", setup: func(s *fakegcp.Server) { s.DisablePool(pool) },
			wantKind: cloud.ErrNotEnabled, wantPermanent: true, wantSets: 1,
			wantMsg: "Workload Identity is not enabled for project demo-project; enable Workload Identity on a GKE cluster of the project"},
		{name: "member of a vanished pool in the policy",
			setup: func(s *fakegcp.Server) {
				_ = s.SetPolicy(gsa, fakegcp.Policy{Bindings: []fakegcp.Binding{{Role: Role, Members: []string{"serviceAccount:gone-project.svc.id.goog[ns/sa]"}}}})
			},
			wantKind: cloud.ErrInvalid, wantPermanent: true, wantSets: 1, wantMsg: "workload pool gone-project.svc.id.goog, which does not exist"},
		{name: "service account missing", setup: func(s *fakegcp.Server) { s.DeleteServiceAccount(gsa) },
			wantKind: cloud.ErrNotFound, wantPermanent: true, wantMsg: "on Google service account " + gsa + ": the service account does not exist"},
		{name: "permission denied", setup: func(s *fakegcp.Server) { s.Deny(gsa, true) },
			wantKind: cloud.ErrPermission, wantPermanent: true, wantMsg: "roles/iam.serviceAccountAdmin"},
		{name: "throttled", faults: fakecloud.Faults{Throttle: 1}, wantKind: cloud.ErrThrottled, wantMsg: "quota exceeded"},
		{name: "server error", faults: fakecloud.Faults{ServerError: 1}, wantMsg: "will try again"},
		{name: "conflicts outlast the attempts", faults: fakecloud.Faults{Conflict: 1}, wantSets: 3,
			wantMsg: "changed under each of 3 read-modify-writes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, sim := newEnv(t, Options{MaxAttempts: 3})
			if tt.setup != nil {
				tt.setup(sim)
			}
			sim.SetFaults(tt.faults)
			_, err := p.Ensure(t.Context(), conn("web"))
			if err == nil {
				t.Fatal("Ensure succeeded, want an error")
			}
			for _, kind := range []error{cloud.ErrNotEnabled, cloud.ErrInvalid, cloud.ErrNotFound, cloud.ErrPermission, cloud.ErrThrottled, cloud.ErrConflict} {
				if errors.Is(err, kind) != (kind == tt.wantKind) {
					t.Errorf("errors.Is(err, %v) = %v, want %v", kind, kind != tt.wantKind, kind == tt.wantKind)
				}
			}
			if cloud.Permanent(err) != tt.wantPermanent {
				t.Errorf("Permanent = %v, want %v", cloud.Permanent(err), tt.wantPermanent)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("error = %q, want it to contain %q", err, tt.wantMsg)
			}
			if n := sim.Calls()[fakegcp.OpSetIamPolicy]; n != tt.wantSets {
				t.Errorf("set calls = %d, want %d", n, tt.wantSets)
			}
		})
	}
}

func TestRemovePermissionDenied(t *testing.T) {
	p, sim := newEnv(t, Options{})
	sim.Deny(gsa, true)
	if _, err := p.Remove(t.Context(), conn("web")); !errors.Is(err, cloud.ErrPermission) {
		t.Errorf("Remove = %v, want ErrPermission", err)
	}
}

func TestInvalidConnection(t *testing.T) {
	tests := []struct {
		name string
		c    cloud.Connection
	}{
		{"no account", cloud.Connection{Subject: subject("web")}},
		{"no subject", cloud.Connection{GCP: conn("web").GCP}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, sim := newEnv(t, Options{})
			if _, err := p.Ensure(t.Context(), tt.c); !errors.Is(err, cloud.ErrInvalid) {
				t.Errorf("Ensure = %v, want ErrInvalid", err)
			}
			if _, err := p.Remove(t.Context(), tt.c); !errors.Is(err, cloud.ErrInvalid) {
				t.Errorf("Remove = %v, want ErrInvalid", err)
			}
			if n := len(sim.Calls()); n != 0 {
				t.Errorf("calls = %v, want none", sim.Calls())
			}
		})
	}
}
