package controller

import (
	"encoding/json"
	"hash/fnv"
	"strconv"
	"strings"
	"time"

	"github.com/keyless-dev/keyless/pkg/annotations"
	"github.com/keyless-dev/keyless/pkg/cloud"
)

// Connection states written in the status annotations.
const (
	StateReady = "Ready"
	// StatePending: a transient failure; the controller retries with backoff.
	StatePending = "Pending"
	// StateError: the cloud refused for a reason that needs a person.
	StateError = "Error"
	// StateDisabled: the cloud is not configured in Keyless.
	StateDisabled = "CloudDisabled"
)

// Status is one cloud's connection status, stored as JSON in the
// keyless.dev/status-<cloud> annotation of the ServiceAccount.
type Status struct {
	State string `json:"state"`
	// Reason is the outcome: the action taken or the kind of error.
	Reason string `json:"reason,omitempty"`
	// Identity is the identity the cloud object was made for, as the
	// annotation named it; it lets the controller remove the object after
	// the annotation is gone.
	Identity string `json:"identity,omitempty"`
	// ID is the cloud object's ID.
	ID string `json:"id,omitempty"`
	// Hash fingerprints the wanted connection (identity and settings), so
	// that a change of any of them is noticed.
	Hash     string    `json:"hash,omitempty"`
	Message  string    `json:"message,omitempty"`
	LastSync time.Time `json:"lastSync"`
	// Adopted: the object existed before Keyless ensured it; Keyless never
	// removes it.
	Adopted bool `json:"adopted,omitempty"`
	// Served names the credentials that the ServiceAccount's pods were last
	// given (the identity, and for Azure its client ID): the workloads are
	// restarted when a new pod would get other ones, never after an error
	// or a refusal that changed nothing.
	Served string `json:"served,omitempty"`
}

// served returns what s says pods were given. A status written before
// Served existed with an object ID (or Ready) counts as served, so that an
// upgrade restarts nothing.
func (s *Status) served() string {
	if s == nil {
		return ""
	}
	if s.Served == "" && (s.State == StateReady || s.ID != "") {
		return s.Identity
	}
	return s.Served
}

// identity is s.Identity, "" for a nil status.
func (s *Status) identity() string {
	if s == nil {
		return ""
	}
	return s.Identity
}

// served is what a ready connection gives new pods.
func served(c cloud.Name, identity, clientID string, before *Status) string {
	if c == cloud.Azure {
		if clientID == "" && before != nil && before.Identity == identity {
			if _, cid, ok := strings.Cut(before.served(), "|"); ok {
				clientID = cid
			}
		}
		if clientID != "" {
			return identity + "|" + clientID
		}
	}
	return identity
}

// needsRestart reports whether the running pods of the ServiceAccount hold
// other credentials than new pods would get: the connection became ready
// for the first time or for another identity or client ID. GKE's metadata
// server serves a changed identity to running pods; EKS and Azure inject
// credentials only at pod creation.
func needsRestart(c cloud.Name, before, after *Status) bool {
	if c == cloud.GCP || after == nil || after.State != StateReady {
		return false
	}
	prev := before.served()
	if prev == after.Served {
		return false
	}
	// A status from before Served existed records the identity alone.
	if before != nil && before.Served == "" && strings.HasPrefix(after.Served, prev+"|") {
		return false
	}
	return true
}

var statusKeys = map[cloud.Name]string{
	cloud.AWS:   annotations.KeyStatusAWS,
	cloud.Azure: annotations.KeyStatusAzure,
	cloud.GCP:   annotations.KeyStatusGCP,
}

// clouds in a fixed order.
var clouds = []cloud.Name{cloud.AWS, cloud.Azure, cloud.GCP}

// readStatus returns the recorded status of a cloud, or nil.
func readStatus(annots map[string]string, c cloud.Name) *Status {
	raw, ok := annots[statusKeys[c]]
	if !ok {
		return nil
	}
	s := &Status{}
	if err := json.Unmarshal([]byte(raw), s); err != nil {
		// Written by Keyless; if mangled, keep what can be used: nothing.
		return &Status{State: StatePending, Message: "unreadable status"}
	}
	return s
}

func encodeStatus(s *Status) *string {
	raw, _ := json.Marshal(s)
	str := string(raw)
	return &str
}

// identityOf names the identity of one cloud's connection as stored in Status.
func identityOf(c cloud.Name, conns annotations.Connections) string { return conns.Identity(string(c)) }

// connectionFromStatus rebuilds the connection a status was recorded for,
// for removing its cloud object once the annotation is gone.
func connectionFromStatus(c cloud.Name, subject cloud.Subject, s *Status, opts annotations.Options) (cloud.Connection, bool) {
	conn := cloud.Connection{Subject: subject}
	switch c {
	case cloud.AWS:
		parsed, errs := annotations.Parse(map[string]string{annotations.KeyAWSRole: s.Identity}, opts)
		if len(errs) > 0 {
			return conn, false
		}
		conn.AWS = &cloud.AWSConnection{Role: *parsed.AWS}
	case cloud.Azure:
		a := map[string]string{annotations.KeyAzureIdentity: s.Identity}
		if rg, name, ok := strings.Cut(s.Identity, "/"); ok && rg != "" && !strings.Contains(name, "/") {
			a = map[string]string{annotations.KeyAzureIdentity: name, annotations.KeyAzureResourceGroup: rg}
		}
		parsed, errs := annotations.Parse(a, opts)
		if len(errs) > 0 {
			return conn, false
		}
		conn.Azure = parsed.Azure
	case cloud.GCP:
		parsed, errs := annotations.Parse(map[string]string{annotations.KeyGCPServiceAccount: s.Identity}, opts)
		if len(errs) > 0 {
			return conn, false
		}
		conn.GCP = parsed.GCP
	}
	return conn, true
}

// fingerprint hashes a wanted connection.
func fingerprint(c cloud.Connection) string {
	raw, _ := json.Marshal(c)
	h := fnv.New64a()
	_, _ = h.Write(raw)
	return strconv.FormatUint(h.Sum64(), 36)
}

// connectionFor builds the wanted connection of one cloud, or false when the
// ServiceAccount has none.
func connectionFor(c cloud.Name, subject cloud.Subject, conns annotations.Connections) (cloud.Connection, bool) {
	conn := cloud.Connection{Subject: subject}
	switch {
	case c == cloud.AWS && conns.AWS != nil:
		conn.AWS = &cloud.AWSConnection{Role: *conns.AWS, DisableSessionTags: conns.AWSDisableSessionTags}
		if conns.AWSTargetRole != nil {
			conn.AWS.TargetRoleARN = conns.AWSTargetRole.String()
		}
	case c == cloud.Azure && conns.Azure != nil:
		conn.Azure = conns.Azure
	case c == cloud.GCP && conns.GCP != nil:
		conn.GCP = conns.GCP
	default:
		return conn, false
	}
	return conn, true
}
