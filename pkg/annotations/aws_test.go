package annotations

import (
	"reflect"
	"strings"
	"testing"
)

// awsRoleTests also seed FuzzParse.
var awsRoleTests = []struct {
	name    string
	value   string
	want    *AWSRole
	wantErr string // substring of the only error; "" means valid
}{
	{name: "name", value: "orders-api", want: &AWSRole{Path: "/", Name: "orders-api"}},
	{name: "name with path", value: "service-role/orders-api", want: &AWSRole{Path: "/service-role/", Name: "orders-api"}},
	{name: "name with leading slash", value: "/service-role/orders-api", want: &AWSRole{Path: "/service-role/", Name: "orders-api"}},
	{name: "deep path", value: "a/b/orders-api", want: &AWSRole{Path: "/a/b/", Name: "orders-api"}},
	{name: "all name characters", value: "Az09+=,.@_-", want: &AWSRole{Path: "/", Name: "Az09+=,.@_-"}},
	{name: "64-character name", value: strings.Repeat("r", 64), want: &AWSRole{Path: "/", Name: strings.Repeat("r", 64)}},
	{name: "512-character path", value: strings.Repeat("p", 510) + "/r", want: &AWSRole{Path: "/" + strings.Repeat("p", 510) + "/", Name: "r"}},
	{name: "arn", value: "arn:aws:iam::123456789012:role/orders-api",
		want: &AWSRole{Partition: "aws", Account: "123456789012", Path: "/", Name: "orders-api"}},
	{name: "arn with path", value: "arn:aws-cn:iam::123456789012:role/service-role/orders-api",
		want: &AWSRole{Partition: "aws-cn", Account: "123456789012", Path: "/service-role/", Name: "orders-api"}},
	{name: "arn aws-us-gov", value: "arn:aws-us-gov:iam::123456789012:role/r", want: &AWSRole{Partition: "aws-us-gov", Account: "123456789012", Path: "/", Name: "r"}},
	{name: "arn aws-iso", value: "arn:aws-iso:iam::123456789012:role/r", want: &AWSRole{Partition: "aws-iso", Account: "123456789012", Path: "/", Name: "r"}},
	{name: "arn aws-iso-b", value: "arn:aws-iso-b:iam::123456789012:role/r", want: &AWSRole{Partition: "aws-iso-b", Account: "123456789012", Path: "/", Name: "r"}},
	{name: "arn aws-iso-e", value: "arn:aws-iso-e:iam::123456789012:role/r", want: &AWSRole{Partition: "aws-iso-e", Account: "123456789012", Path: "/", Name: "r"}},
	{name: "arn aws-iso-f", value: "arn:aws-iso-f:iam::123456789012:role/r", want: &AWSRole{Partition: "aws-iso-f", Account: "123456789012", Path: "/", Name: "r"}},
	{name: "arn aws-eusc", value: "arn:aws-eusc:iam::123456789012:role/r", want: &AWSRole{Partition: "aws-eusc", Account: "123456789012", Path: "/", Name: "r"}},

	{name: "empty", value: "", wantErr: `Invalid value: "": must not be empty; give a role name such as "orders-api"`},
	{name: "leading space", value: " orders-api", wantErr: "has leading or trailing spaces; remove the spaces"},
	{name: "trailing newline", value: "orders-api\n", wantErr: "remove the spaces"},
	{name: "space inside", value: "orders api", wantErr: `role name "orders api" may contain only letters, digits and + = , . @ _ -`},
	{name: "bad path character", value: "a$b/orders-api", wantErr: `role path segment "a$b" may contain only`},
	{name: "empty segment", value: "a//orders-api", wantErr: "role path has an empty segment"},
	{name: "double leading slash", value: "//orders-api", wantErr: "role path has an empty segment"},
	{name: "trailing slash", value: "service-role/", wantErr: "role name is missing"},
	{name: "only slash", value: "/", wantErr: "role name is missing"},
	{name: "65-character name", value: strings.Repeat("r", 65), wantErr: "role name is 65 characters, but IAM allows at most 64"},
	{name: "513-character path", value: strings.Repeat("p", 511) + "/r", wantErr: "role path is 513 characters, but IAM allows at most 512"},
	{name: "user arn", value: "arn:aws:iam::123456789012:user/alice", wantErr: `names an IAM "user" resource, not a role`},
	{name: "root arn", value: "arn:aws:iam::123456789012:root", wantErr: `names an IAM "root" resource, not a role`},
	{name: "assumed-role arn", value: "arn:aws:sts::123456789012:assumed-role/orders-api/session",
		wantErr: `is an STS session ARN, not a role; use the role's IAM ARN, e.g. "arn:aws:iam::123456789012:role/orders-api"`},
	{name: "other sts arn", value: "arn:aws:sts::123456789012:federated-user/bob", wantErr: "is an STS ARN, not an IAM role"},
	{name: "s3 arn", value: "arn:aws:s3:::bucket", wantErr: `is an ARN of service "s3", not an IAM role`},
	{name: "region", value: "arn:aws:iam:us-east-1:123456789012:role/r", wantErr: `has region "us-east-1", but IAM ARNs have none`},
	{name: "short account", value: "arn:aws:iam::12345678901:role/r", wantErr: `account "12345678901" must be exactly 12 digits`},
	{name: "long account", value: "arn:aws:iam::1234567890123:role/r", wantErr: "must be exactly 12 digits"},
	{name: "account alias", value: "arn:aws:iam::my-account:role/r", wantErr: "must be exactly 12 digits"},
	{name: "unknown partition", value: "arn:aws-foo:iam::123456789012:role/r", wantErr: `unknown ARN partition "aws-foo"; use one of aws, aws-cn,`},
	{name: "upper-case partition", value: "arn:AWS:iam::123456789012:role/r", wantErr: `unknown ARN partition "AWS"`},
	{name: "truncated arn", value: "arn:aws:iam::123456789012", wantErr: "nor a role ARN; a role ARN has the form arn:PARTITION:iam::ACCOUNT:role/[PATH/]NAME"},
	{name: "upper-case arn", value: "ARN:aws:iam::123456789012:role/r", wantErr: "nor a role ARN"},
	{name: "arn without name", value: "arn:aws:iam::123456789012:role/", wantErr: "role name is missing"},
	{name: "arn with empty segment", value: "arn:aws:iam::123456789012:role//r", wantErr: "role path has an empty segment"},
	{name: "arn with colon in name", value: "arn:aws:iam::123456789012:role/a:b", wantErr: `role name "a:b" may contain only`},
}

func TestParseAWSRole(t *testing.T) {
	for _, tt := range awsRoleTests {
		t.Run(tt.name, func(t *testing.T) {
			c, errs := Parse(map[string]string{KeyAWSRole: tt.value}, Options{})
			checkErrs(t, errs, errWants(tt.wantErr)...)
			if tt.wantErr == "" && !reflect.DeepEqual(c.AWS, tt.want) {
				t.Errorf("AWS = %+v, want %+v", c.AWS, tt.want)
			}
		})
	}
}

func TestAWSRoleString(t *testing.T) {
	tests := []struct {
		role *AWSRole
		want string
	}{
		{&AWSRole{Path: "/", Name: "orders-api"}, "orders-api"},
		{&AWSRole{Path: "/service-role/", Name: "orders-api"}, "service-role/orders-api"},
		{&AWSRole{Partition: "aws", Account: "123456789012", Path: "/", Name: "r"}, "arn:aws:iam::123456789012:role/r"},
		{&AWSRole{Partition: "aws-cn", Account: "123456789012", Path: "/a/b/", Name: "r"}, "arn:aws-cn:iam::123456789012:role/a/b/r"},
		{nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := tt.role.String(); got != tt.want {
				t.Errorf("String() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestAWSRoleSame(t *testing.T) {
	arn := &AWSRole{Partition: "aws", Account: "123456789012", Path: "/", Name: "orders-api"}
	tests := []struct {
		name string
		a, b *AWSRole
		want bool
	}{
		{"both nil", nil, nil, true},
		{"one nil", arn, nil, false},
		{"other nil", nil, arn, false},
		{"equal", arn, &AWSRole{Partition: "aws", Account: "123456789012", Path: "/", Name: "orders-api"}, true},
		{"name case", arn, &AWSRole{Partition: "aws", Account: "123456789012", Path: "/", Name: "Orders-API"}, true},
		{"path case", &AWSRole{Path: "/a/", Name: "r"}, &AWSRole{Path: "/A/", Name: "r"}, false},
		{"partition", arn, &AWSRole{Partition: "aws-cn", Account: "123456789012", Path: "/", Name: "orders-api"}, false},
		{"account", arn, &AWSRole{Partition: "aws", Account: "210987654321", Path: "/", Name: "orders-api"}, false},
		{"name vs arn", arn, &AWSRole{Path: "/", Name: "orders-api"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.a.Same(tt.b); got != tt.want {
				t.Errorf("Same() = %v, want %v", got, tt.want)
			}
		})
	}
}
