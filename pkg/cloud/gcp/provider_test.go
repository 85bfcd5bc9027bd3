package gcp

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/keyless-dev/keyless/pkg/cloud"
	fakegcp "github.com/keyless-dev/keyless/pkg/fakecloud/gcp"
)

func TestEnsure(t *testing.T) {
	tests := []struct {
		name       string
		seed       []fakegcp.Binding
		want       cloud.Action
		wantSets   int
		wantGrants []string // members of the unconditional Role binding after
	}{
		{name: "creates the binding", want: cloud.Created, wantSets: 1, wantGrants: []string{ksa("web")}},
		{name: "joins the existing binding", seed: []fakegcp.Binding{{Role: Role, Members: []string{ksa("api")}}},
			want: cloud.Created, wantSets: 1, wantGrants: []string{ksa("api"), ksa("web")}},
		// Whether Keyless or someone else put the member there, only the
		// controller's record can tell: IAM members carry no owner.
		{name: "already there: adopted without a write", seed: []fakegcp.Binding{{Role: Role, Members: []string{ksa("web")}}},
			want: cloud.Adopted, wantGrants: []string{ksa("web")}},
		{name: "crash after set: member already added, adopted", seed: []fakegcp.Binding{tokenCreator, {Role: Role, Members: []string{ksa("api"), ksa("web")}}},
			want: cloud.Adopted, wantGrants: []string{ksa("api"), ksa("web")}},
		{name: "keeps conditions and other roles", seed: []fakegcp.Binding{condOther, tokenCreator, condGrant},
			want: cloud.Created, wantSets: 1, wantGrants: []string{ksa("web")}},
		{name: "a conditional grant is not enough", seed: []fakegcp.Binding{{Role: Role, Members: []string{ksa("web")}, Condition: condGrant.Condition}},
			want: cloud.Created, wantSets: 1, wantGrants: []string{ksa("web")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, sim := newEnv(t, Options{})
			if tt.seed != nil {
				seed(t, sim, tt.seed...)
			}
			before := policy(t, sim)
			got, err := p.Ensure(t.Context(), conn("web"))
			if err != nil {
				t.Fatal(err)
			}
			if got.Action != tt.want || got.ID != gsa+" "+ksa("web") {
				t.Errorf("Ensure = %+v, want %s with ID %q", got, tt.want, gsa+" "+ksa("web"))
			}
			if calls := sim.Calls(); calls[fakegcp.OpSetIamPolicy] != tt.wantSets || calls[fakegcp.OpGetIamPolicy] != 1 {
				t.Errorf("calls = %v, want 1 get and %d sets", calls, tt.wantSets)
			}
			after := policy(t, sim)
			if g := grants(after); !slices.Equal(g, tt.wantGrants) {
				t.Errorf("granted = %v, want %v", g, tt.wantGrants)
			}
			if b, a := others(t, before), others(t, after); b != a {
				t.Errorf("other bindings changed:\n before %s\n after  %s", b, a)
			}
			if wantV := version(before); after.Version != wantV {
				t.Errorf("version = %d, want %d", after.Version, wantV)
			}
		})
	}
}

func TestRemove(t *testing.T) {
	tests := []struct {
		name       string
		seed       []fakegcp.Binding
		deleteGSA  bool
		want       cloud.Action
		wantSets   int
		wantGrants []string
	}{
		{name: "keeps other members", seed: []fakegcp.Binding{tokenCreator, {Role: Role, Members: []string{ksa("api"), ksa("web")}}, condOther},
			want: cloud.Deleted, wantSets: 1, wantGrants: []string{ksa("api")}},
		{name: "drops the emptied binding", seed: []fakegcp.Binding{{Role: Role, Members: []string{ksa("web")}}, condGrant},
			want: cloud.Deleted, wantSets: 1},
		{name: "absent without a write", seed: []fakegcp.Binding{{Role: Role, Members: []string{ksa("api")}}},
			want: cloud.Absent, wantGrants: []string{ksa("api")}},
		{name: "conditional grant is left alone", seed: []fakegcp.Binding{{Role: Role, Members: []string{ksa("web")}, Condition: condGrant.Condition}},
			want: cloud.Absent},
		{name: "service account gone", deleteGSA: true, want: cloud.Absent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, sim := newEnv(t, Options{})
			if tt.seed != nil {
				seed(t, sim, tt.seed...)
			}
			before := policy(t, sim)
			if tt.deleteGSA {
				sim.DeleteServiceAccount(gsa)
			}
			got, err := p.Remove(t.Context(), conn("web"))
			if err != nil {
				t.Fatal(err)
			}
			if got.Action != tt.want || got.ID != gsa+" "+ksa("web") {
				t.Errorf("Remove = %+v, want %s", got, tt.want)
			}
			if n := sim.Calls()[fakegcp.OpSetIamPolicy]; n != tt.wantSets {
				t.Errorf("set calls = %d, want %d", n, tt.wantSets)
			}
			if tt.deleteGSA {
				return
			}
			after := policy(t, sim)
			if g := grants(after); !slices.Equal(g, tt.wantGrants) {
				t.Errorf("granted = %v, want %v", g, tt.wantGrants)
			}
			if b, a := others(t, before), others(t, after); b != a {
				t.Errorf("other bindings changed:\n before %s\n after  %s", b, a)
			}
		})
	}
}

// grants returns the members of the unconditional Role bindings.
func grants(p fakegcp.Policy) []string {
	var out []string
	for _, b := range p.Bindings {
		if b.Role == Role && b.Condition == nil {
			out = append(out, b.Members...)
		}
	}
	return out
}

// others returns the JSON of every binding but the unconditional Role ones.
func others(t *testing.T, p fakegcp.Policy) string {
	t.Helper()
	var keep []fakegcp.Binding
	for _, b := range p.Bindings {
		if b.Role != Role || b.Condition != nil {
			keep = append(keep, b)
		}
	}
	j, err := json.Marshal(keep)
	if err != nil {
		t.Fatal(err)
	}
	return string(j)
}

func version(p fakegcp.Policy) int {
	if p.HasConditions() {
		return 3
	}
	return 1
}
