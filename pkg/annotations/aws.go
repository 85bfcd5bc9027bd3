package annotations

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation/field"
)

const (
	awsExample   = `"arn:aws:iam::123456789012:role/orders-api"`
	awsARNForm   = "a role ARN has the form arn:PARTITION:iam::ACCOUNT:role/[PATH/]NAME, e.g. " + awsExample
	awsFix       = `give a role name such as "orders-api" or "service-role/orders-api", or a role ARN such as ` + awsExample
	awsCharset   = "letters, digits and + = , . @ _ -"
	awsMaxName   = 64
	awsMaxPath   = 512
	awsPartition = "aws, aws-cn, aws-us-gov, aws-iso, aws-iso-b, aws-iso-e, aws-iso-f, aws-eusc"
)

func parseAWSRole(p *field.Path, v string) (*AWSRole, *field.Error) {
	if err := checkValue(p, v, awsFix); err != nil {
		return nil, err
	}
	if strings.Contains(v, ":") { // role names never hold ":"; it is an ARN attempt
		return parseRoleARN(p, v)
	}
	path, name, detail := splitRolePath(strings.TrimPrefix(v, "/"))
	if detail != "" {
		return nil, field.Invalid(p, v, detail+"; "+awsFix)
	}
	return &AWSRole{Path: path, Name: name}, nil
}

func parseRoleARN(p *field.Path, v string) (*AWSRole, *field.Error) {
	bad := func(format string, a ...any) (*AWSRole, *field.Error) {
		return nil, field.Invalid(p, v, fmt.Sprintf(format, a...))
	}
	parts := strings.SplitN(v, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" {
		return bad("is neither a role name (which has no \":\") nor a role ARN; %s", awsARNForm)
	}
	partition, service, region, account, resource := parts[1], parts[2], parts[3], parts[4], parts[5]
	if !isAWSPartition(partition) {
		return bad("unknown ARN partition %q; use one of %s, e.g. %s", partition, awsPartition, awsExample)
	}
	if service == "sts" {
		// A common paste from "aws sts get-caller-identity"; point at the role.
		if rest, ok := strings.CutPrefix(resource, "assumed-role/"); ok {
			role, _, _ := strings.Cut(rest, "/")
			return bad("is an STS session ARN, not a role; use the role's IAM ARN, e.g. %q (with the role's path, if any)",
				"arn:"+partition+":iam::"+account+":role/"+role)
		}
		return bad("is an STS ARN, not an IAM role; %s", awsARNForm)
	}
	if service != "iam" {
		return bad("is an ARN of service %q, not an IAM role; %s", service, awsARNForm)
	}
	if region != "" {
		return bad("has region %q, but IAM ARNs have none; remove it, e.g. %s", region, awsExample)
	}
	if !isDigits(account, 12) {
		return bad("account %q must be exactly 12 digits; %s", account, awsARNForm)
	}
	typ, rest, ok := strings.Cut(resource, "/")
	if !ok || typ != "role" {
		return bad("names an IAM %q resource, not a role; %s", typ, awsARNForm)
	}
	path, name, detail := splitRolePath(rest)
	if detail != "" {
		return bad("%s; %s", detail, awsARNForm)
	}
	return &AWSRole{Partition: partition, Account: account, Path: path, Name: name}, nil
}

// splitRolePath splits "a/b/name" (no leading "/") into path "/a/b/" and name,
// or returns what is wrong.
func splitRolePath(s string) (path, name, detail string) {
	segs := strings.Split(s, "/")
	name, segs = segs[len(segs)-1], segs[:len(segs)-1]
	for _, seg := range segs {
		if seg == "" {
			return "", "", `role path has an empty segment ("//")`
		}
		if !isAWSChars(seg) {
			return "", "", fmt.Sprintf("role path segment %q may contain only %s", seg, awsCharset)
		}
	}
	path = "/"
	if len(segs) > 0 {
		path = "/" + strings.Join(segs, "/") + "/"
	}
	switch {
	case len(path) > awsMaxPath:
		return "", "", fmt.Sprintf("role path is %d characters, but IAM allows at most %d; use a shorter path", len(path), awsMaxPath)
	case name == "":
		return "", "", `role name is missing (the value ends with "/")`
	case len(name) > awsMaxName:
		return "", "", fmt.Sprintf("role name is %d characters, but IAM allows at most %d", len(name), awsMaxName)
	case !isAWSChars(name):
		return "", "", fmt.Sprintf("role name %q may contain only %s", name, awsCharset)
	}
	return path, name, ""
}

func isAWSPartition(s string) bool {
	switch s {
	case "aws", "aws-cn", "aws-us-gov", "aws-iso", "aws-iso-b", "aws-iso-e", "aws-iso-f", "aws-eusc":
		return true
	}
	return false
}

func isAWSChars(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isAlnum(s[i]) && !strings.ContainsRune("+=,.@_-", rune(s[i])) {
			return false
		}
	}
	return true
}

func isAlnum(b byte) bool {
	return 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || '0' <= b && b <= '9'
}

func isDigits(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// String returns the ARN when the account is known, else "[PATH/]NAME", the
// forms that Parse accepts back.
func (r *AWSRole) String() string {
	if r == nil {
		return ""
	}
	if r.Account != "" {
		return "arn:" + r.Partition + ":iam::" + r.Account + ":role" + r.Path + r.Name
	}
	return strings.TrimPrefix(r.Path, "/") + r.Name
}

// Same reports whether r and o name the same role. Names compare
// case-insensitively because IAM role names are case-insensitive.
func (r *AWSRole) Same(o *AWSRole) bool {
	if r == nil || o == nil {
		return r == o
	}
	return r.Partition == o.Partition && r.Account == o.Account && r.Path == o.Path && strings.EqualFold(r.Name, o.Name)
}
