package aws

import (
	"context"
	"errors"
	"reflect"
	"testing"

	"github.com/keyless-dev/keyless/pkg/annotations"
	"github.com/keyless-dev/keyless/pkg/cloud"
)

func TestEnsure(t *testing.T) {
	withTarget := conn("ns", "sa", role("orders"))
	withTarget.AWS.TargetRoleARN = "arn:aws:iam::444455556666:role/data"
	noSessionTags := conn("ns", "sa", role("orders"))
	noSessionTags.AWS.DisableSessionTags = true
	tests := []struct {
		name       string
		setup      func(*testing.T, *env)
		conn       cloud.Connection
		want       cloud.Action
		wantErr    error
		wantRole   string // of the one association afterwards
		wantOurs   bool   // it carries Keyless's tags
		wantWrites int    // write calls, a Create refused with 409 included
	}{
		{name: "creates", conn: conn("ns", "sa", role("orders")),
			want: cloud.Created, wantRole: roleARN("orders"), wantOurs: true, wantWrites: 1},
		{name: "unchanged", setup: ensured(conn("ns", "sa", role("orders"))), conn: conn("ns", "sa", role("orders")),
			want: cloud.Unchanged, wantRole: roleARN("orders"), wantOurs: true},
		{name: "role changed: updated", setup: ensured(conn("ns", "sa", role("old"))), conn: conn("ns", "sa", role("orders")),
			want: cloud.Updated, wantRole: roleARN("orders"), wantOurs: true, wantWrites: 1},
		{name: "drift: corrected", setup: func(t *testing.T, e *env) {
			ensured(conn("ns", "sa", role("orders")))(t, e)
			if err := e.sim.SetRole(testCluster, e.sim.Associations()[0].AssociationID, roleARN("drift")); err != nil {
				t.Fatal(err)
			}
		}, conn: conn("ns", "sa", role("orders")), want: cloud.Updated, wantRole: roleARN("orders"), wantOurs: true, wantWrites: 1},
		{name: "target role removed: updated", setup: ensured(withTarget), conn: conn("ns", "sa", role("orders")),
			want: cloud.Updated, wantRole: roleARN("orders"), wantOurs: true, wantWrites: 1},
		{name: "session tags turned off: updated", setup: ensured(conn("ns", "sa", role("orders"))), conn: noSessionTags,
			want: cloud.Updated, wantRole: roleARN("orders"), wantOurs: true, wantWrites: 1},
		{name: "identical foreign: adopted as it is", setup: seeded(roleARN("orders"), nil), conn: conn("ns", "sa", role("orders")),
			want: cloud.Adopted, wantRole: roleARN("orders"), wantWrites: 1},
		{name: "different foreign: refused", setup: seeded(roleARN("theirs"), map[string]string{"team": "x"}),
			conn: conn("ns", "sa", role("orders")), wantErr: cloud.ErrConflict, wantRole: roleARN("theirs"), wantWrites: 1},
		{name: "another cluster's Keyless association: refused",
			setup: seeded(roleARN("theirs"), map[string]string{TagManagedBy: ManagedByValue, TagCluster: "staging"}),
			conn:  conn("ns", "sa", role("orders")), wantErr: cloud.ErrConflict, wantRole: roleARN("theirs"), wantWrites: 1},
		{name: "name with path", conn: conn("ns", "sa", annotations.AWSRole{Path: "/service-role/", Name: "orders"}),
			want: cloud.Created, wantRole: "arn:aws:iam::111122223333:role/service-role/orders", wantOurs: true, wantWrites: 1},
		{name: "ARN with path", conn: conn("ns", "sa", annotations.AWSRole{Partition: "aws", Account: testAccount, Path: "/team/a/", Name: "orders"}),
			want: cloud.Created, wantRole: "arn:aws:iam::111122223333:role/team/a/orders", wantOurs: true, wantWrites: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, nil)
			if tt.setup != nil {
				tt.setup(t, e)
			}
			before, writes := e.sim.Associations(), e.writes()
			c := tt.conn
			c.KnownID = e.known // as the controller passes the recorded ID
			res, err := e.p.Ensure(context.Background(), c)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("error %v, want %v", err, tt.wantErr)
			}
			after := e.sim.Associations()
			if err != nil && !reflect.DeepEqual(after, before) {
				t.Errorf("a failed Ensure changed the cloud:\nbefore %+v\nafter  %+v", before, after)
			}
			if len(after) != 1 {
				t.Fatalf("%d associations, want 1: %+v", len(after), after)
			}
			a := after[0]
			if res.Action != tt.want || (err == nil && res.ID != a.AssociationID) {
				t.Errorf("result %+v, want %s of %s", res, tt.want, a.AssociationID)
			}
			if a.RoleARN != tt.wantRole {
				t.Errorf("role %s, want %s", a.RoleARN, tt.wantRole)
			}
			if w := tt.conn.AWS; err == nil && (a.TargetRoleARN != w.TargetRoleARN || a.DisableSessionTags != w.DisableSessionTags) {
				t.Errorf("target role %q, session tags off %t; want %q, %t", a.TargetRoleARN, a.DisableSessionTags, w.TargetRoleARN, w.DisableSessionTags)
			}
			if ours := a.Tags[TagManagedBy] == ManagedByValue && a.Tags[TagCluster] == testCluster; ours != tt.wantOurs {
				t.Errorf("tags %v: Keyless's = %t, want %t", a.Tags, ours, tt.wantOurs)
			}
			if n := e.writes() - writes; n != tt.wantWrites {
				t.Errorf("%d writes, want %d", n, tt.wantWrites)
			}
		})
	}
}

// ensured is a setup that ensures c first.
func ensured(c cloud.Connection) func(*testing.T, *env) {
	return func(t *testing.T, e *env) { e.mustEnsure(t, c) }
}

// seeded is a setup that adds someone else's association of ns/sa.
func seeded(roleARN string, tags map[string]string) func(*testing.T, *env) {
	return func(t *testing.T, e *env) { e.seed(t, "ns", "sa", roleARN, tags) }
}

func TestClusterAccountReadOnce(t *testing.T) {
	tests := []struct {
		name      string
		region    string
		role      annotations.AWSRole
		wantRole  string
		wantReads int
	}{
		{"name: the cluster's account", testRegion, role("orders"), roleARN("orders"), 1},
		{"name in China: the cluster's partition", "cn-north-1", role("orders"), "arn:aws-cn:iam::111122223333:role/orders", 1},
		{"ARN: no DescribeCluster", testRegion, annotations.AWSRole{Partition: "aws", Account: testAccount, Path: "/", Name: "orders"}, roleARN("orders"), 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, nil)
			e.sim.AddCluster(testCluster, testAccount, tt.region)
			for _, sa := range []string{"a", "b", "c"} {
				e.mustEnsure(t, conn("ns", sa, tt.role))
			}
			for _, a := range e.sim.Associations() {
				if a.RoleARN != tt.wantRole {
					t.Errorf("%s/%s has role %s, want %s", a.Namespace, a.ServiceAccount, a.RoleARN, tt.wantRole)
				}
			}
			if n := e.sim.Calls()["DescribeCluster"]; n != tt.wantReads {
				t.Errorf("%d DescribeCluster calls for three Ensures, want %d", n, tt.wantReads)
			}
		})
	}
}
