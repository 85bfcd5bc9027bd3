// Package propagation computes how a ServiceAccount's annotations follow
// the connections of the workloads that run as it: which keys are copied,
// which are held because the workloads disagree, and which the
// ServiceAccount's owner wrote and keeps. It is pure; the controller
// writes its result, and `keyless check` shows it.
package propagation

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/keyless-dev/keyless/pkg/annotations"
	"github.com/keyless-dev/keyless/pkg/workload"
)

// groups are the keys copied together, from one workload: each cloud's
// connection keys, and the deletion policy, a setting of the
// ServiceAccount's cloud objects.
var groups = func() []group {
	var out []group
	for _, c := range annotations.Clouds {
		out = append(out, group{keys: c.Keys, same: c.Same})
	}
	return append(out, group{keys: []string{annotations.KeyDeletionPolicy},
		same: func(a, b annotations.Connections) bool { return a.Retain == b.Retain }})
}()

// group is one set of keys copied together, and when two workloads agree on it.
type group struct {
	keys []string
	same func(a, b annotations.Connections) bool
}

// propagatedKeys are all the keys the controller copies, in a fixed order.
var propagatedKeys = func() []string {
	var out []string
	for _, g := range groups {
		out = append(out, g.keys...)
	}
	return out
}()

// Wanted merges the connection annotations of the workloads that use one
// ServiceAccount. A cloud on which they disagree is held (its keys stay as
// they are) and reported.
func Wanted(users []workload.User, opts annotations.Options) (want map[string]string, hold map[string]bool, problems []string) {
	want, hold = map[string]string{}, map[string]bool{}
	parsed := make([]annotations.Connections, len(users))
	valid := make([]bool, len(users))
	for i, u := range users {
		c, errs := annotations.Parse(u.Annotations, opts)
		parsed[i], valid[i] = c, len(errs) == 0
		if !valid[i] {
			problems = append(problems, fmt.Sprintf("%s has invalid keyless.dev annotations: %s", u, errs.ToAggregate()))
		}
	}
	for _, g := range groups {
		keys := g.keys
		first := -1
		for i, u := range users {
			if !valid[i] || !has(u.Annotations, keys[0]) {
				continue
			}
			if first < 0 {
				first = i
				continue
			}
			if !g.same(parsed[first], parsed[i]) {
				problems = append(problems, fmt.Sprintf("%s and %s connect it to different identities (%s); "+
					"the %s connection is left as it was until they agree", users[first], u, keys[0], keys[0]))
				for _, k := range keys {
					hold[k] = true
				}
				first = -2
				break
			}
		}
		if first >= 0 {
			for _, k := range keys {
				if v, ok := users[first].Annotations[k]; ok {
					want[k] = v
				}
			}
			if slices.Contains(keys, annotations.KeyAzureResourceGroup) {
				// The resource group is spelled out, so that the copy does
				// not depend on --azure-resource-group: removing that
				// default later must not make the ServiceAccount invalid.
				if rg := parsed[first].Annotations()[annotations.KeyAzureResourceGroup]; rg != "" {
					want[annotations.KeyAzureResourceGroup] = rg
				}
			}
		}
	}
	return want, hold, problems
}

func has(m map[string]string, k string) bool { _, ok := m[k]; return ok }

// Changes computes how the ServiceAccount's annotations must
// change: keys to set, keys to delete (nil value), and conflicts with values
// the ServiceAccount's owner wrote, which are never overridden.
func Changes(current, want map[string]string, hold map[string]bool) (map[string]*string, []string) {
	changes := map[string]*string{}
	var conflicts []string
	before := map[string]bool{}
	for _, k := range annotations.ParseList(current[annotations.KeyPropagated]) {
		before[annotations.Prefix+k] = true
	}
	// A cloud's keys go together: when the owner wrote one of them with
	// another value, none of the workloads' keys of that cloud is copied
	// next to it (a resource group or client ID would change what the
	// owner's identity means), as if the cloud were held.
	held := maps.Clone(hold)
	if held == nil {
		held = map[string]bool{}
	}
	for _, g := range groups {
		keys := g.keys
		clash := false
		for _, k := range keys {
			v, wantIt := want[k]
			cur, hasIt := current[k]
			if wantIt && hasIt && !before[k] && cur != v {
				conflicts = append(conflicts, fmt.Sprintf("the ServiceAccount's own %s=%q differs from the workloads' %q", k, cur, v))
				clash = true
			}
		}
		if clash {
			for _, k := range keys {
				held[k] = true
			}
		}
	}
	var after []string
	for _, k := range propagatedKeys {
		v, wantIt := want[k]
		cur, hasIt := current[k]
		switch {
		case held[k]:
			if before[k] {
				after = append(after, strings.TrimPrefix(k, annotations.Prefix))
			}
		case wantIt && hasIt && !before[k]:
			// The owner wrote the same value: it stays theirs.
		case wantIt:
			if cur != v || !hasIt {
				changes[k] = &v
			}
			after = append(after, strings.TrimPrefix(k, annotations.Prefix))
		case before[k] && hasIt:
			changes[k] = nil
		}
	}
	slices.Sort(after)
	list := annotations.FormatList(after)
	if list != current[annotations.KeyPropagated] {
		if list == "" {
			changes[annotations.KeyPropagated] = nil
		} else {
			changes[annotations.KeyPropagated] = &list
		}
	}
	return changes, conflicts
}

// Propagate returns the annotations the controller gives a ServiceAccount
// that has current annotations (nil: it does not exist yet) and is used by
// users, and what it would report. `keyless check` uses it offline.
func Propagate(current map[string]string, users []workload.User, opts annotations.Options) (map[string]string, []string) {
	want, hold, problems := Wanted(users, opts)
	out := maps.Clone(current)
	if out == nil {
		out = map[string]string{}
	}
	changes, conflicts := Changes(current, want, hold)
	for k, v := range changes {
		if v == nil {
			delete(out, k)
		} else {
			out[k] = *v
		}
	}
	return out, append(problems, conflicts...)
}
