// Package gcp connects Kubernetes ServiceAccounts to Google service
// accounts: it grants the ServiceAccount's Workload Identity member,
// serviceAccount:POOL[NAMESPACE/NAME], roles/iam.workloadIdentityUser on the
// Google service account's own IAM policy.
//
// IAM has no call to add one member, so every change is a read-modify-write
// of the whole policy guarded by its etag. Changes to one Google service
// account are committed in groups (a queue per account, never a global
// one): while one read-modify-write is in flight, later changes to the same
// account wait, and the next read-modify-write applies all of them, so many
// ServiceAccounts sharing one Google service account cost a few IAM calls,
// not two each. A 409 ABORTED from another writer redoes the whole
// read-modify-write after a jittered, doubling backoff. Every other binding,
// condition and member is sent back exactly as read, at version 3.
//
// IAM members carry no owner: Terraform, a person, or the Keyless of another
// cluster in the same project (the pool PROJECT.svc.id.goog is shared by all
// of them, so POOL[NS/SA] names NS/SA in each) may have granted the same
// member. Ensure therefore answers Adopted, never Unchanged, whenever the
// member was there before the call, and Created when it wrote it (or may
// have, if a write's answer was lost). Only the caller's own record can tell
// a member Keyless granted in an earlier call from someone else's, and the
// caller must not Remove one it did not grant: Remove takes the member out
// whoever granted it.
package gcp

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"golang.org/x/time/rate"
	iam "google.golang.org/api/iam/v1"

	"github.com/keyless-dev/keyless/pkg/cloud/internal/batch"
	"github.com/keyless-dev/keyless/pkg/cloud/internal/deadline"
	"github.com/keyless-dev/keyless/pkg/cloud/internal/keyed"
	"github.com/keyless-dev/keyless/pkg/cloud/internal/recent"
)

// Role is the role granted to each ServiceAccount's member.
const Role = "roles/iam.workloadIdentityUser"

// Defaults for Options.
const (
	DefaultMaxAttempts = 8
	DefaultBackoff     = 250 * time.Millisecond
	DefaultMaxBackoff  = 8 * time.Second
)

// Options configure the provider.
type Options struct {
	// WorkloadPool is the cluster's workload pool, PROJECT.svc.id.goog.
	WorkloadPool string
	// Project is the cluster's project, used for the pool when WorkloadPool is empty.
	Project string
	// Endpoint overrides the IAM endpoint (a simulator's URL); a missing
	// trailing "/" is added, as the client resolves "v1/..." against it.
	Endpoint string
	// WithoutAuthentication sends no credentials; otherwise Application
	// Default Credentials are used.
	WithoutAuthentication bool
	// HTTPClient, when set, is used as it is (a copy gets Timeout if it has
	// none): it must add credentials itself.
	HTTPClient *http.Client
	// Limiter, if not nil, paces the HTTP requests to IAM, HTTPClient's
	// too: each waits for a token. Token requests for Application Default
	// Credentials are not counted. It stands for the project's IAM quota.
	Limiter *rate.Limiter
	// MaxAttempts bounds the read-modify-writes tried when IAM answers 409
	// ABORTED; 0 means DefaultMaxAttempts.
	MaxAttempts int
	// Backoff is the wait after the first 409, doubled after each further
	// one up to MaxBackoff, and jittered; 0 means the default.
	Backoff, MaxBackoff time.Duration
	// Timeout bounds each Ensure, EnsureMany and Remove, the
	// read-modify-write it joins, and each HTTP request; 0: 30 seconds.
	Timeout time.Duration
	// ReadReuse is how long a read of a Google service account's policy
	// also answers grants whose members it holds (0: not at all): the
	// controller checks the ServiceAccounts sharing one account together,
	// so one read serves all their drift checks. A grant whose member is
	// missing, and every removal, read the policy afresh.
	ReadReuse time.Duration
}

// Provider grants and revokes Workload Identity members. Safe for concurrent use.
type Provider struct {
	api         policyAPI
	pool        string
	project     string // the pool's project
	maxAttempts int
	backoff     time.Duration
	maxBackoff  time.Duration
	timeout     time.Duration // of each call, and of each read-modify-write
	locks       keyed.Locks
	batches     batch.Batcher[change]
	// reads holds, per account, the members of the last policy read or
	// written, for ReadReuse.
	reads recent.Reads[map[string]bool]
}

// policyAPI is the part of the IAM API the provider uses: the test seam.
type policyAPI interface {
	// GetIamPolicy reads a policy at version 3, so conditions are visible.
	GetIamPolicy(ctx context.Context, resource string) (*iam.Policy, error)
	SetIamPolicy(ctx context.Context, resource string, p *iam.Policy) (*iam.Policy, error)
}

// New returns a provider talking to Google IAM.
func New(ctx context.Context, o Options) (*Provider, error) {
	if err := o.validate(); err != nil {
		return nil, err
	}
	opts, err := o.clientOptions(ctx)
	var svc *iam.Service
	if err == nil {
		svc, err = iam.NewService(ctx, opts...)
	}
	if err != nil {
		return nil, fmt.Errorf("creating the Google IAM client (it needs Application Default Credentials, e.g. GKE Workload Identity or GOOGLE_APPLICATION_CREDENTIALS): %w", err)
	}
	return newProvider(sdkPolicies{svc.Projects.ServiceAccounts}, o)
}

// newProvider returns a provider over api.
func newProvider(api policyAPI, o Options) (*Provider, error) {
	if err := o.validate(); err != nil {
		return nil, err
	}
	p := &Provider{
		api:         api,
		pool:        o.pool(),
		maxAttempts: orDefault(o.MaxAttempts, DefaultMaxAttempts),
		backoff:     orDefault(o.Backoff, DefaultBackoff),
		maxBackoff:  orDefault(o.MaxBackoff, DefaultMaxBackoff),
		timeout:     deadline.Or(o.Timeout),
	}
	p.reads.TTL = o.ReadReuse
	p.project = poolProject(p.pool)
	p.batches.Run, p.batches.Timeout = p.commit, p.timeout
	return p, nil
}

// WorkloadPool returns the pool whose members the provider grants.
func (p *Provider) WorkloadPool() string { return p.pool }

func orDefault[T int | time.Duration](v, def T) T {
	if v == 0 {
		return def
	}
	return v
}

// sdkPolicies is policyAPI over the REST client, which never retries.
type sdkPolicies struct {
	sa *iam.ProjectsServiceAccountsService
}

func (s sdkPolicies) GetIamPolicy(ctx context.Context, resource string) (*iam.Policy, error) {
	return s.sa.GetIamPolicy(resource).OptionsRequestedPolicyVersion(3).Context(ctx).Do()
}

func (s sdkPolicies) SetIamPolicy(ctx context.Context, resource string, p *iam.Policy) (*iam.Policy, error) {
	return s.sa.SetIamPolicy(resource, &iam.SetIamPolicyRequest{Policy: p}).Context(ctx).Do()
}
