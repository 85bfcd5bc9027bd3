package aws

import (
	"fmt"
	"maps"
	"net/http"
)

// createInput is CreatePodIdentityAssociationRequest's body.
type createInput struct {
	Namespace          string            `json:"namespace"`
	ServiceAccount     string            `json:"serviceAccount"`
	RoleArn            string            `json:"roleArn"`
	ClientRequestToken string            `json:"clientRequestToken"`
	Tags               map[string]string `json:"tags"`
	DisableSessionTags *bool             `json:"disableSessionTags"`
	TargetRoleArn      *string           `json:"targetRoleArn"`
	Policy             *string           `json:"policy"`
}

// apiError is an EKS error answer; seeding methods return it as an error.
type apiError struct {
	status    int
	typ, msg  string
	clusterID string
}

func (e *apiError) Error() string { return e.typ + ": " + e.msg }

func (e *apiError) write(w http.ResponseWriter) { writeError(w, e.status, e.typ, e.msg, e.clusterID) }

func badParam(format string, a ...any) *apiError {
	return &apiError{status: http.StatusBadRequest, typ: "InvalidParameterException", msg: fmt.Sprintf(format, a...)}
}

func (s *Server) create(w http.ResponseWriter, r *http.Request) {
	var in createInput
	if !readJSON(w, r, &in) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.cluster(w, r)
	if !ok {
		return
	}
	seq := s.seq
	a, err := s.insert(c, in)
	if err != nil {
		err.write(w)
		return
	}
	if s.seq != seq {
		s.created++
	}
	writeJSON(w, map[string]any{"association": a.wire()})
}

// insert applies EKS's rules for a new association. Callers hold s.mu.
func (s *Server) insert(c *cluster, in createInput) (Association, *apiError) {
	for _, f := range []struct{ name, v string }{
		{"namespace", in.Namespace}, {"serviceAccount", in.ServiceAccount}, {"roleArn", in.RoleArn},
	} {
		if f.v == "" {
			return Association{}, badParam("The parameter %s is required.", f.name)
		}
	}
	if used, ok := c.tokens[in.ClientRequestToken]; ok && in.ClientRequestToken != "" {
		switch {
		case s.now().Sub(used.at) >= TokenLifetime: // expired: a new token
			delete(c.tokens, in.ClientRequestToken)
		case used.params != in.fingerprint():
			return Association{}, badParam("The clientRequestToken %s was already used for a request with different parameters.", in.ClientRequestToken)
		default: // a retry: answer as the first time, even if deleted since
			if rec, exists := c.assocs[used.first.AssociationID]; exists {
				return rec.copy(), nil
			}
			return used.first.copy(), nil
		}
	}
	target := deref(in.TargetRoleArn)
	for _, msg := range []string{s.checkRole(c, in.RoleArn), checkTarget(target), checkTags(in.Tags)} {
		if msg != "" {
			return Association{}, badParam("%s", msg)
		}
	}
	if deref(in.Policy) != "" && !deref(in.DisableSessionTags) {
		return Association{}, badParam("A session policy can only be set when disableSessionTags is true.")
	}
	for _, rec := range c.assocs {
		if rec.Namespace == in.Namespace && rec.ServiceAccount == in.ServiceAccount {
			return Association{}, &apiError{status: http.StatusConflict, typ: "ResourceInUseException",
				msg: "Association already exists: " + rec.AssociationID}
		}
	}
	if len(c.assocs) >= s.limit {
		return Association{}, &apiError{status: http.StatusBadRequest, typ: "ResourceLimitExceededException",
			msg: fmt.Sprintf("Cluster %s has reached the limit of %d pod identity associations.", c.name, s.limit), clusterID: c.name}
	}
	now := s.now()
	id := s.newID(c)
	a := Association{
		ClusterName: c.name, Namespace: in.Namespace, ServiceAccount: in.ServiceAccount,
		RoleARN: in.RoleArn, TargetRoleARN: target, DisableSessionTags: deref(in.DisableSessionTags),
		Policy: deref(in.Policy), AssociationID: id, Tags: maps.Clone(in.Tags),
		AssociationARN: "arn:" + c.partition + ":eks:" + c.region + ":" + c.account + ":podidentityassociation/" + c.name + "/" + id,
		CreatedAt:      now, ModifiedAt: now,
	}
	if target != "" {
		a.ExternalID = s.newExternalID()
	}
	s.seq++
	c.assocs[id] = &record{Association: a, seq: s.seq}
	if in.ClientRequestToken != "" {
		c.tokens[in.ClientRequestToken] = tokenUse{params: in.fingerprint(), first: a.copy(), at: now}
	}
	return a.copy(), nil
}

// copy returns a deep copy, so callers never share the stored tags.
func (a Association) copy() Association {
	a.Tags = maps.Clone(a.Tags)
	return a
}
