package aws

import (
	"cmp"
	"encoding/base64"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

func (s *Server) list(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit := 100
	if v := q.Get("maxResults"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100 {
			invalidParameter(w, "The parameter maxResults must be a number between 1 and 100.")
			return
		}
		limit = n
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.cluster(w, r)
	if !ok {
		return
	}
	after, ok := decodeToken(c.name, q.Get("nextToken"))
	if !ok {
		invalidParameter(w, "The nextToken provided is not valid.")
		return
	}
	// Page over all associations in creation order, then filter the page.
	var rest []*record
	for _, rec := range c.assocs {
		if rec.seq > after {
			rest = append(rest, rec)
		}
	}
	slices.SortFunc(rest, func(a, b *record) int { return cmp.Compare(a.seq, b.seq) })
	page := rest[:min(limit, len(rest))]
	out := map[string]any{}
	summaries := []summaryJSON{}
	for _, rec := range page {
		if match(q.Get("namespace"), rec.Namespace) && match(q.Get("serviceAccount"), rec.ServiceAccount) {
			summaries = append(summaries, rec.summary())
		}
	}
	out["associations"] = summaries
	if len(rest) > len(page) {
		out["nextToken"] = encodeToken(c.name, page[len(page)-1].seq)
	}
	writeJSON(w, out)
}

func match(filter, v string) bool { return filter == "" || filter == v }

func encodeToken(cluster string, seq uint64) string {
	return base64.RawURLEncoding.EncodeToString([]byte(cluster + "/" + strconv.FormatUint(seq, 10)))
}

// decodeToken returns the last sequence number already listed (0: none).
func decodeToken(cluster, token string) (uint64, bool) {
	if token == "" {
		return 0, true
	}
	b, err := base64.RawURLEncoding.DecodeString(token)
	name, seq, found := strings.Cut(string(b), "/")
	if err != nil || !found || name != cluster {
		return 0, false
	}
	n, err := strconv.ParseUint(seq, 10, 64)
	return n, err == nil
}

func (s *Server) describe(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if rec, ok := s.association(w, r); ok {
		writeJSON(w, map[string]any{"association": rec.wire()})
	}
}

// updateInput is UpdatePodIdentityAssociationRequest's body. A nil member
// keeps the current value; targetRoleArn "" unsets the target role.
type updateInput struct {
	RoleArn            *string `json:"roleArn"`
	TargetRoleArn      *string `json:"targetRoleArn"`
	DisableSessionTags *bool   `json:"disableSessionTags"`
	Policy             *string `json:"policy"`
	ClientRequestToken string  `json:"clientRequestToken"`
}

func (s *Server) update(w http.ResponseWriter, r *http.Request) {
	var in updateInput
	if !readJSON(w, r, &in) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, ok := s.association(w, r)
	if !ok {
		return
	}
	next := rec.Association.copy()
	if in.RoleArn != nil {
		if msg := s.checkRole(s.clusters[rec.ClusterName], *in.RoleArn); msg != "" {
			invalidParameter(w, msg)
			return
		}
		next.RoleARN = *in.RoleArn
	}
	if in.TargetRoleArn != nil {
		if msg := checkTarget(*in.TargetRoleArn); msg != "" {
			invalidParameter(w, msg)
			return
		}
		next.TargetRoleARN = *in.TargetRoleArn
	}
	if in.DisableSessionTags != nil {
		next.DisableSessionTags = *in.DisableSessionTags
	}
	if in.Policy != nil {
		next.Policy = *in.Policy
	}
	if next.Policy != "" && !next.DisableSessionTags {
		invalidParameter(w, "A session policy can only be set when disableSessionTags is true.")
		return
	}
	switch {
	case next.TargetRoleARN == "":
		next.ExternalID = ""
	case next.ExternalID == "":
		next.ExternalID = s.newExternalID()
	}
	next.ModifiedAt = s.now()
	rec.Association = next
	writeJSON(w, map[string]any{"association": next.wire()})
}

func (s *Server) delete(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if rec, ok := s.association(w, r); ok {
		delete(s.clusters[rec.ClusterName].assocs, rec.AssociationID)
		writeJSON(w, map[string]any{"association": rec.wire()})
	}
}

// association finds the association named in the path or answers the
// error EKS gives. Callers hold s.mu.
func (s *Server) association(w http.ResponseWriter, r *http.Request) (*record, bool) {
	id := r.PathValue("id")
	if msg := checkID(id); msg != "" {
		invalidParameter(w, msg)
		return nil, false
	}
	c, ok := s.cluster(w, r)
	if !ok {
		return nil, false
	}
	rec, ok := c.assocs[id]
	if !ok {
		writeError(w, http.StatusNotFound, "ResourceNotFoundException",
			"No Pod Identity Association found for id: "+id+".", c.name)
	}
	return rec, ok
}
