// Package cloud is the one small interface every cloud provider implements,
// in domain types only: no SDK type crosses it. The controller calls
// providers; providers call their cloud's SDK.
package cloud

import (
	"context"
	"errors"

	"github.com/keyless-dev/keyless/pkg/annotations"
)

// Name names a cloud.
type Name string

// The clouds.
const (
	AWS   Name = "aws"
	Azure Name = "azure"
	GCP   Name = "gcp"
)

// Subject is the Kubernetes ServiceAccount a connection is for.
type Subject struct {
	Namespace string
	Name      string
}

// Connection is one ServiceAccount's connection to one identity. Exactly one
// of AWS, Azure and GCP is set, matching the provider it is given to.
type Connection struct {
	Subject Subject
	AWS     *AWSConnection
	Azure   *annotations.AzureIdentity
	GCP     *annotations.GCPServiceAccount
	// KnownID is the ID of the cloud object an earlier call returned (see
	// Result.ID), or "". It is a hint to save calls, never trusted: a
	// provider checks it against the cloud and falls back to finding the
	// object by listing when it names nothing or something else.
	KnownID string `json:"-"`
}

// AWSConnection is an EKS Pod Identity association's wanted state.
type AWSConnection struct {
	Role annotations.AWSRole
	// TargetRoleARN, when set, is the role in another account that the
	// association's role chains to.
	TargetRoleARN string
	// DisableSessionTags turns off the session tags EKS adds.
	DisableSessionTags bool
}

// Action says what a provider did.
type Action string

// Actions.
const (
	Created   Action = "Created"
	Updated   Action = "Updated"
	Adopted   Action = "Adopted"
	Unchanged Action = "Unchanged"
	Deleted   Action = "Deleted"
	// Absent: Remove found nothing that Keyless made.
	Absent Action = "Absent"
)

// Result is the outcome of Ensure or Remove.
type Result struct {
	Action Action
	// ID identifies the cloud object: the association ID (AWS), the
	// credential's resource ID (Azure), or "EMAIL MEMBER" (GCP).
	ID string
	// ClientID is the Azure identity's client ID, for azure.workload.identity/client-id.
	ClientID string
}

// Provider makes one cloud match the connections.
//
// Both methods are idempotent and find the cloud object again in the cloud,
// never only by something Keyless stored (KnownID is checked, not trusted),
// so a crash between a cloud call and the recording of its result can
// neither lose nor duplicate an object.
type Provider interface {
	// Ensure creates, adopts or corrects the one cloud object for c.
	Ensure(ctx context.Context, c Connection) (Result, error)
	// Remove deletes the cloud object Keyless made for c, if any. Objects
	// Keyless did not make are left alone; nothing found is Absent, not an error.
	Remove(ctx context.Context, c Connection) (Result, error)
}

// Error kinds. Providers wrap them with %w next to the cloud's own error, and
// with a message in plain words; the controller uses them to decide whether
// to retry soon, back off, or wait for the user.
var (
	// ErrConflict: an object Keyless did not make holds the connection's
	// place (an association of the ServiceAccount to another role). Not retried
	// until something changes.
	ErrConflict = errors.New("conflict with an object Keyless did not create")
	// ErrNotFound: the identity (role, managed identity, Google service
	// account) or its parent does not exist.
	ErrNotFound = errors.New("identity not found")
	// ErrClusterNotFound: the cluster Keyless is configured for is not
	// where the provider looks: none of that name (a wrong cluster name or
	// region), or one in another account than configured. It says nothing
	// about the identity, so unlike ErrNotFound it never means that what
	// Keyless made is gone.
	ErrClusterNotFound = errors.New("cluster not found")
	// ErrPermission: Keyless's own cloud credentials may not do this.
	ErrPermission = errors.New("permission denied")
	// ErrLimit: a cloud quota is exhausted (20 credentials per Azure identity,
	// 5,000 associations per EKS cluster).
	ErrLimit = errors.New("cloud limit reached")
	// ErrNotEnabled: the cloud feature is off (GCP Workload Identity pool missing).
	ErrNotEnabled = errors.New("cloud feature not enabled")
	// ErrInvalid: the cloud rejected the request as invalid.
	ErrInvalid = errors.New("invalid request")
	// ErrThrottled: the cloud asked to slow down; retried with backoff.
	ErrThrottled = errors.New("throttled")
)

// Permanent reports whether retrying err unchanged cannot help: the user or
// an administrator must act first. Everything else is retried with backoff.
func Permanent(err error) bool {
	for _, e := range []error{ErrConflict, ErrNotFound, ErrClusterNotFound, ErrPermission, ErrLimit, ErrNotEnabled, ErrInvalid} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// Wanted is the connection of subject to cloud n that conns ask for, and
// false when they ask for none.
func Wanted(n Name, subject Subject, conns annotations.Connections) (Connection, bool) {
	conn := Connection{Subject: subject}
	switch {
	case n == AWS && conns.AWS != nil:
		conn.AWS = &AWSConnection{Role: *conns.AWS, DisableSessionTags: conns.AWSDisableSessionTags}
		if conns.AWSTargetRole != nil {
			conn.AWS.TargetRoleARN = conns.AWSTargetRole.String()
		}
	case n == Azure && conns.Azure != nil:
		conn.Azure = conns.Azure
	case n == GCP && conns.GCP != nil:
		conn.GCP = conns.GCP
	default:
		return conn, false
	}
	return conn, true
}

// Info is the table row of cloud n (see annotations.Clouds), nil when n
// is unknown.
func (n Name) Info() *annotations.Cloud { return annotations.CloudNamed(string(n)) }

// Names lists the clouds, in annotations.Clouds's order.
func Names() []Name {
	out := make([]Name, len(annotations.Clouds))
	for i, c := range annotations.Clouds {
		out[i] = Name(c.Name)
	}
	return out
}
