package aws

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
)

var roleARN = regexp.MustCompile(`^arn:(aws|aws-cn|aws-us-gov|aws-iso|aws-iso-[a-z]|aws-eusc):iam::(\d{12}):role/(?:[\w+=,.@-]+/)*[\w+=,.@-]{1,64}$`)

// checkRole returns EKS's complaint about a roleArn for cluster c, or "".
// Callers hold s.mu.
func (s *Server) checkRole(c *cluster, arn string) string {
	m := roleARN.FindStringSubmatch(arn)
	switch {
	case m == nil:
		return fmt.Sprintf("Role ARN %q is not a valid IAM role ARN.", arn)
	case m[1] != c.partition || m[2] != c.account:
		return "Role must be in the same account as the cluster. Use targetRoleArn to reach a role in another account."
	case s.roles != nil && !s.roles[arn]:
		return "Role provided in the request does not exist"
	}
	return ""
}

// checkTarget returns EKS's complaint about a targetRoleArn, or "".
func checkTarget(arn string) string {
	if arn != "" && !roleARN.MatchString(arn) {
		return fmt.Sprintf("Target role ARN %q is not a valid IAM role ARN.", arn)
	}
	return ""
}

func checkTags(tags map[string]string) string {
	if len(tags) > 50 {
		return "Too many tags: at most 50 tags are allowed per resource."
	}
	for k, v := range tags {
		switch {
		case k == "" || len(k) > 128:
			return fmt.Sprintf("Tag key %q must be 1 to 128 characters long.", k)
		case strings.HasPrefix(strings.ToLower(k), "aws:"):
			return fmt.Sprintf("Tag key %q uses the reserved prefix aws:.", k)
		case len(v) > 256:
			return fmt.Sprintf("Tag value of key %q must be at most 256 characters long.", k)
		}
	}
	return ""
}

// checkID returns EKS's complaint about a malformed association ID, or "".
func checkID(id string) string {
	if len(id) != 19 {
		return "The parameter associationId should be 19 characters long."
	}
	if !strings.HasPrefix(id, "a-") {
		return "The parameter associationId should start with a-."
	}
	return ""
}

// newID returns an unused "a-" + 17 lowercase alphanumerics. Callers hold s.mu.
func (s *Server) newID(c *cluster) string {
	const alnum = "abcdefghijklmnopqrstuvwxyz0123456789"
	for {
		b := []byte("a-")
		for range 17 {
			b = append(b, alnum[s.rnd.IntN(len(alnum))])
		}
		if _, taken := c.assocs[string(b)]; !taken {
			return string(b)
		}
	}
}

// newExternalID returns a UUID-shaped external ID. Callers hold s.mu.
func (s *Server) newExternalID() string {
	const hexDigits = "0123456789abcdef"
	b := make([]byte, 0, 36)
	for i := range 32 {
		if i == 8 || i == 12 || i == 16 || i == 20 {
			b = append(b, '-')
		}
		b = append(b, hexDigits[s.rnd.IntN(16)])
	}
	return string(b)
}

// fingerprint identifies a Create's parameters, to tell a retry (same
// token, same parameters) from a token reused for something else.
func (in createInput) fingerprint() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%q %q %q %q %v %q", in.Namespace, in.ServiceAccount, in.RoleArn,
		deref(in.TargetRoleArn), deref(in.DisableSessionTags), deref(in.Policy))
	for _, k := range slices.Sorted(maps.Keys(in.Tags)) {
		fmt.Fprintf(&b, " %q=%q", k, in.Tags[k])
	}
	return b.String()
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}
