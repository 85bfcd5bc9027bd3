package controller

import (
	"encoding/json"
	"hash/fnv"
	"strconv"
	"strings"

	"github.com/keyless-dev/keyless/pkg/annotations"
	"github.com/keyless-dev/keyless/pkg/cloud"
)

// Status is one cloud's connection status (see annotations.Status).
type Status = annotations.Status

// The connection states.
const (
	StateReady    = annotations.StateReady
	StatePending  = annotations.StatePending
	StateError    = annotations.StateError
	StateDisabled = annotations.StateDisabled
)

// servedBy returns what s says pods were given. A status written before
// Served existed with an object ID (or Ready) counts as served, so that an
// upgrade restarts nothing.
func servedBy(s *Status) string {
	if s == nil {
		return ""
	}
	if s.Served == "" && (s.State == StateReady || s.ID != "") {
		return s.Identity
	}
	return s.Served
}

// identityIn is s.Identity, "" for a nil status.
func identityIn(s *Status) string {
	if s == nil {
		return ""
	}
	return s.Identity
}

// served is what a ready connection gives new pods.
func served(c *annotations.Cloud, identity, clientID string, before *Status) string {
	if c.ServesClientID {
		if clientID == "" && before != nil && before.Identity == identity {
			if _, cid, ok := strings.Cut(servedBy(before), "|"); ok {
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
func needsRestart(c *annotations.Cloud, before, after *Status) bool {
	if !c.CredentialsAtPodStart || after == nil || after.State != StateReady {
		return false
	}
	prev := servedBy(before)
	if prev == after.Served {
		return false
	}
	// A status from before Served existed records the identity alone.
	if before != nil && before.Served == "" && strings.HasPrefix(after.Served, prev+"|") {
		return false
	}
	return true
}

func encodeStatus(s *Status) *string {
	raw, _ := json.Marshal(s)
	str := string(raw)
	return &str
}

// connectionFromStatus rebuilds the connection a status was recorded for,
// for removing its cloud object once the annotation is gone.
func connectionFromStatus(c cloud.Name, subject cloud.Subject, s *Status, opts annotations.Options) (cloud.Connection, bool) {
	parsed, errs := annotations.Parse(c.Info().IdentityAnnotations(s.Identity), opts)
	if len(errs) > 0 {
		return cloud.Connection{Subject: subject}, false
	}
	return cloud.Wanted(c, subject, parsed)
}

// readStatus returns the recorded status of cloud c, or nil.
func readStatus(annots map[string]string, c cloud.Name) *Status {
	return annotations.ReadStatus(annots, c.Info().StatusKey)
}

// identityOf names the identity of one cloud's connection as stored in Status.
func identityOf(c cloud.Name, conns annotations.Connections) string { return c.Info().Identity(conns) }

// fingerprint hashes a wanted connection.
func fingerprint(c cloud.Connection) string {
	raw, _ := json.Marshal(c)
	h := fnv.New64a()
	_, _ = h.Write(raw)
	return strconv.FormatUint(h.Sum64(), 36)
}
