package gcp

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"google.golang.org/api/googleapi"
	iam "google.golang.org/api/iam/v1"

	"github.com/keyless-dev/keyless/pkg/cloud"
	fakegcp "github.com/keyless-dev/keyless/pkg/fakecloud/gcp"
)

func TestOptions(t *testing.T) {
	tests := []struct {
		name     string
		o        Options
		wantPool string
		wantErr  string
	}{
		{name: "pool", o: Options{WorkloadPool: pool}, wantPool: pool},
		{name: "pool from project", o: Options{Project: project}, wantPool: pool},
		{name: "pool and its project", o: Options{WorkloadPool: pool, Project: project}, wantPool: pool},
		{name: "nothing", wantErr: "set the workload pool"},
		{name: "pool of another project", o: Options{WorkloadPool: pool, Project: "other-project"}, wantErr: "does not belong to project"},
		{name: "not a pool", o: Options{WorkloadPool: "demo-project"}, wantErr: "must be PROJECT.svc.id.goog"},
		{name: "bad project", o: Options{Project: "Demo"}, wantErr: "must be PROJECT.svc.id.goog"},
		{name: "bad endpoint", o: Options{Project: project, Endpoint: "localhost:8080"}, wantErr: "must be an http or https URL"},
		{name: "negative", o: Options{Project: project, MaxAttempts: -1}, wantErr: "must not be negative"},
		{name: "negative timeout", o: Options{Project: project, Timeout: -time.Second}, wantErr: "the timeout must not be negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.o.WithoutAuthentication = true
			p, err := New(t.Context(), tt.o)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("New = %v, want an error containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if p.WorkloadPool() != tt.wantPool {
				t.Errorf("pool = %q, want %q", p.WorkloadPool(), tt.wantPool)
			}
		})
	}
}

// TestEndpointPath checks that an endpoint with a path and no trailing "/"
// keeps its path: the client drops it unless the endpoint ends with "/".
func TestEndpointPath(t *testing.T) {
	sim := fakegcp.New()
	sim.AddServiceAccount(gsa)
	sim.EnablePool(pool)
	srv := httptest.NewServer(http.StripPrefix("/iam", sim))
	t.Cleanup(srv.Close)
	p, err := New(t.Context(), Options{WorkloadPool: pool, Endpoint: srv.URL + "/iam", WithoutAuthentication: true})
	if err != nil {
		t.Fatal(err)
	}
	if r, err := p.Ensure(t.Context(), conn("web")); err != nil || r.Action != cloud.Created {
		t.Errorf("Ensure = %+v, %v; want Created", r, err)
	}
}

// stubAPI answers every read with an empty policy and every write with 409.
type stubAPI struct{}

func (stubAPI) GetIamPolicy(context.Context, string) (*iam.Policy, error) {
	return &iam.Policy{Etag: "ACAB"}, nil
}

func (stubAPI) SetIamPolicy(context.Context, string, *iam.Policy) (*iam.Policy, error) {
	return nil, &googleapi.Error{Code: http.StatusConflict, Message: "There were concurrent policy changes."}
}

func TestContextEnds(t *testing.T) {
	p, err := newProvider(stubAPI{}, Options{WorkloadPool: pool, MaxAttempts: 100, Backoff: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		hold bool // another call holds the account's lock
	}{
		{"during backoff", false},
		{"waiting for the lock", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.hold {
				unlock, err := p.locks.Lock(t.Context(), gsa)
				if err != nil {
					t.Fatal(err)
				}
				defer unlock()
			}
			ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
			defer cancel()
			if _, err := p.Ensure(ctx, conn("web")); !errors.Is(err, context.DeadlineExceeded) || cloud.Permanent(err) {
				t.Errorf("Ensure = %v, want a transient context.DeadlineExceeded", err)
			}
		})
	}
}
