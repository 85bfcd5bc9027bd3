package gcp

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

const versionsURL = " For more information, please refer to https://cloud.google.com/iam/docs/policies#versions."

func (s *Server) getPolicy(w http.ResponseWriter, r *http.Request, a *account, _ string) {
	v := 0
	if q := r.URL.Query().Get("options.requestedPolicyVersion"); q != "" {
		n, err := strconv.Atoi(q)
		if err != nil || !validVersion(n) {
			writeError(w, badRequest(fmt.Sprintf("Invalid value at 'options.requested_policy_version' (%q); valid values are 0, 1 and 3.", q)))
			return
		}
		v = n
	}
	writeJSON(w, http.StatusOK, a.policy.view(v))
}

// setRequest is SetIamPolicyRequest.
type setRequest struct {
	Policy     *Policy `json:"policy"`
	UpdateMask string  `json:"updateMask"`
}

func (s *Server) setPolicy(w http.ResponseWriter, r *http.Request, a *account, _ string) {
	var req setRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		writeError(w, badRequest("Invalid JSON payload received. "+err.Error()))
		return
	}
	if req.Policy == nil {
		writeError(w, badRequest("Request contains an invalid argument: policy is required."))
		return
	}
	in := *req.Policy
	mask, e := parseMask(req.UpdateMask)
	if e == nil {
		e = s.checkPolicy(in, mask)
	}
	if e == nil && mask["etag"] && in.Etag != "" {
		e = s.checkEtag(in, a)
	}
	if e != nil {
		writeError(w, *e)
		return
	}
	next := a.policy.Clone()
	if mask["bindings"] {
		next.Bindings = in.Clone().Bindings
	}
	if mask["auditConfigs"] {
		next.AuditConfigs = in.Clone().AuditConfigs
	}
	s.write(a, next)
	writeJSON(w, http.StatusOK, a.policy.view(3))
}

// checkPolicy validates what the request sends; one bad member fails all.
func (s *Server) checkPolicy(in Policy, mask map[string]bool) *apiError {
	if !validVersion(in.Version) {
		e := badRequest(fmt.Sprintf("Invalid policy version (%d); valid values are 0, 1 and 3.", in.Version))
		return &e
	}
	if !mask["bindings"] {
		return nil
	}
	for _, b := range in.Bindings {
		if b.Role == "" {
			e := badRequest("Role must be set on every binding.")
			return &e
		}
		for _, m := range b.Members {
			if pool, ok := kubernetesPool(m); ok && !s.pools[pool] {
				e := poolMissing(pool)
				return &e
			}
		}
	}
	return nil
}

// checkEtag applies a conditional set's concurrency and version rules. An
// injected conflict is someone else writing first: the etag really moves.
func (s *Server) checkEtag(in Policy, a *account) *apiError {
	if s.faults.Roll(s.faults.Faults().Conflict) {
		s.write(a, a.policy)
	}
	var e apiError
	switch {
	case in.Etag != a.policy.Etag:
		e = aborted(in.Etag, a.policy.Etag)
	case in.Version < 3 && a.policy.HasConditions():
		e = badRequest(fmt.Sprintf("Specified policy version (%d) cannot be less than the existing policy version (3).", in.Version) + versionsURL)
	case in.Version < 3 && in.HasConditions():
		e = badRequest(fmt.Sprintf("Specified policy version (%d) cannot hold conditional role bindings; use version 3.", in.Version) + versionsURL)
	default:
		return nil
	}
	return &e
}

// write stores p under a new etag; the caller holds s.mu.
func (s *Server) write(a *account, p Policy) {
	s.seq++
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], 0x07<<56|s.seq)
	p = normalize(p)
	p.Etag = base64.StdEncoding.EncodeToString(b[:])
	a.policy = p
}

// parseMask reads updateMask; empty means "bindings,etag".
func parseMask(m string) (map[string]bool, *apiError) {
	if strings.TrimSpace(m) == "" {
		m = "bindings,etag"
	}
	mask := map[string]bool{}
	for f := range strings.SplitSeq(m, ",") {
		f = strings.TrimSpace(f)
		if f != "bindings" && f != "etag" && f != "auditConfigs" {
			e := badRequest(fmt.Sprintf("Invalid update mask path %q; valid paths are bindings, etag and auditConfigs.", f))
			return nil, &e
		}
		mask[f] = true
	}
	return mask, nil
}

func validVersion(v int) bool { return v == 0 || v == 1 || v == 3 }
