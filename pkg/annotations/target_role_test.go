package annotations

import (
	"reflect"
	"testing"
)

func TestParseAWSTargetRole(t *testing.T) {
	const target = "arn:aws:iam::210987654321:role/orders-api"
	tests := []struct {
		name     string
		annots   map[string]string
		want     *AWSRole
		wantErrs []string
	}{
		{name: "arn", annots: map[string]string{KeyAWSRole: "orders-api", KeyAWSTargetRole: target},
			want: &AWSRole{Partition: "aws", Account: "210987654321", Path: "/", Name: "orders-api"}},
		{name: "arn with path and digit bounds", annots: map[string]string{KeyAWSRole: "orders-api", KeyAWSTargetRole: "arn:aws-cn:iam::099999999990:role/a/b"},
			want: &AWSRole{Partition: "aws-cn", Account: "099999999990", Path: "/a/", Name: "b"}},

		{name: "without aws-role", annots: map[string]string{KeyAWSTargetRole: target},
			wantErrs: []string{"[keyless.dev/aws-target-role]: Forbidden: needs keyless.dev/aws-role; add keyless.dev/aws-role or remove this annotation"}},
		{name: "a name, not an arn", annots: map[string]string{KeyAWSRole: "orders-api", KeyAWSTargetRole: "orders-api"},
			wantErrs: []string{`[keyless.dev/aws-target-role]: Invalid value: "orders-api": must be a role ARN such as "arn:aws:iam::210987654321:role/orders-api" (the target role is in another account)`}},
		{name: "account ends in a letter", annots: map[string]string{KeyAWSRole: "orders-api", KeyAWSTargetRole: "arn:aws:iam::12345678901x:role/r"},
			wantErrs: []string{`account "12345678901x" must be exactly 12 digits`}},
		{name: "account starts with a letter", annots: map[string]string{KeyAWSRole: "orders-api", KeyAWSTargetRole: "arn:aws:iam::x23456789012:role/r"},
			wantErrs: []string{`account "x23456789012" must be exactly 12 digits`}},
		{name: "account with a character before 0", annots: map[string]string{KeyAWSRole: "orders-api", KeyAWSTargetRole: "arn:aws:iam::12345/789012:role/r"},
			wantErrs: []string{"must be exactly 12 digits"}},
		{name: "account with a character after 9", annots: map[string]string{KeyAWSRole: "orders-api", KeyAWSTargetRole: "arn:aws:iam::12345;789012:role/r"},
			wantErrs: []string{"must be exactly 12 digits"}},
		{name: "bad role name", annots: map[string]string{KeyAWSRole: "orders-api", KeyAWSTargetRole: "arn:aws:iam::210987654321:role/a b"},
			wantErrs: []string{`role name "a b" may contain only`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, errs := Parse(tt.annots, Options{})
			checkErrs(t, errs, tt.wantErrs...)
			if len(tt.wantErrs) == 0 && !reflect.DeepEqual(c.AWSTargetRole, tt.want) {
				t.Errorf("AWSTargetRole = %+v, want %+v", c.AWSTargetRole, tt.want)
			}
		})
	}
}
