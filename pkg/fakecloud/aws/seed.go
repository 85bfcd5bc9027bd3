package aws

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/keyless-dev/keyless/pkg/fakecloud"
)

// AddCluster adds an ACTIVE cluster. The partition follows the region
// (cn-* is aws-cn, us-gov-* is aws-us-gov, else aws). Adding a cluster
// again changes its account and region and keeps its associations.
func (s *Server) AddCluster(name, account, region string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	partition := "aws"
	switch {
	case strings.HasPrefix(region, "cn-"):
		partition = "aws-cn"
	case strings.HasPrefix(region, "us-gov-"):
		partition = "aws-us-gov"
	}
	c := s.clusters[name]
	if c == nil {
		c = &cluster{name: name, createdAt: s.now(), assocs: map[string]*record{}, tokens: map[string]tokenUse{}}
		s.clusters[name] = c
	}
	c.account, c.region, c.partition = account, region, partition
}

// AddRole seeds an IAM role. Once any role is seeded, Create and Update
// reject role ARNs that were not, as EKS does for a missing role.
func (s *Server) AddRole(arn string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.roles == nil {
		s.roles = map[string]bool{}
	}
	s.roles[arn] = true
}

// SetLimit sets the number of associations a cluster may hold.
func (s *Server) SetLimit(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.limit = n
}

// SetClock replaces the clock that timestamps associations and ages
// clientRequestTokens.
func (s *Server) SetClock(now func() time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.now = now
}

// SetFaults sets the faults injected into every call from now on.
func (s *Server) SetFaults(f fakecloud.Faults) { s.faults.Set(f) }

// Calls returns the number of calls so far by operation name, such as
// "CreatePodIdentityAssociation", faulted calls included.
func (s *Server) Calls() map[string]int { return s.calls.Snapshot() }

// Created counts the associations CreatePodIdentityAssociation made: a
// create answered from its clientRequestToken (a retry) makes none.
func (s *Server) Created() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.created
}

// AddAssociation creates an association as someone other than the caller
// under test would (nil tags: no Keyless tags), under the same rules as
// CreatePodIdentityAssociation but without faults or call counting.
func (s *Server) AddAssociation(clusterName, namespace, serviceAccount, roleARN string, tags map[string]string) (Association, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.clusters[clusterName]
	if !ok {
		return Association{}, fmt.Errorf("no cluster %q in the simulator", clusterName)
	}
	a, err := s.insert(c, createInput{Namespace: namespace, ServiceAccount: serviceAccount, RoleArn: roleARN, Tags: tags})
	if err != nil {
		return Association{}, err
	}
	return a, nil
}

// Associations returns a copy of every association, ordered by cluster,
// namespace and service account.
func (s *Server) Associations() []Association {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Association
	for _, c := range s.clusters {
		for _, rec := range c.assocs {
			out = append(out, rec.copy())
		}
	}
	slices.SortFunc(out, func(a, b Association) int {
		return cmp.Or(cmp.Compare(a.ClusterName, b.ClusterName),
			cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.ServiceAccount, b.ServiceAccount))
	})
	return out
}

// SetRole changes an association's role out of band (drift), unchecked.
func (s *Server) SetRole(clusterName, id, roleARN string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, err := s.find(clusterName, id)
	if err != nil {
		return err
	}
	rec.RoleARN, rec.ModifiedAt = roleARN, s.now()
	return nil
}

// DeleteAssociation deletes an association out of band.
func (s *Server) DeleteAssociation(clusterName, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.find(clusterName, id); err != nil {
		return err
	}
	delete(s.clusters[clusterName].assocs, id)
	return nil
}

// find looks an association up for the seeding methods. Callers hold s.mu.
func (s *Server) find(clusterName, id string) (*record, error) {
	if c, ok := s.clusters[clusterName]; ok {
		if rec, ok := c.assocs[id]; ok {
			return rec, nil
		}
	}
	return nil, fmt.Errorf("no association %s in cluster %q in the simulator", id, clusterName)
}
