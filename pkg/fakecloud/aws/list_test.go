package aws

import (
	"fmt"
	"net/url"
	"testing"
)

// listAll follows nextToken and returns the IDs and the number of pages.
func listAll(t *testing.T, s *Server, query url.Values) ([]string, int) {
	t.Helper()
	var ids []string
	for pages := 1; ; pages++ {
		r := call(t, s, "GET", assocPath+"?"+query.Encode(), nil)
		if r.status != 200 {
			t.Fatalf("page %d: status %d (%s) %v", pages, r.status, r.errType, r.body)
		}
		list, ok := r.body["associations"].([]any)
		if !ok {
			t.Fatalf("page %d: associations = %v, want a list", pages, r.body["associations"])
		}
		for _, x := range list {
			sum := x.(map[string]any)
			if _, has := sum["roleArn"]; has {
				t.Errorf("summary %v carries roleArn; EKS summaries do not", sum)
			}
			ids = append(ids, sum["associationId"].(string))
		}
		token, _ := r.body["nextToken"].(string)
		if token == "" {
			return ids, pages
		}
		query.Set("nextToken", token)
	}
}

func TestPagination(t *testing.T) {
	s := newTestServer()
	for i := range 250 {
		seed(t, s, fmt.Sprintf("ns-%d", i%5), fmt.Sprintf("sa-%d", i))
	}
	last := seed(t, s, "target", "sa")
	tests := []struct {
		name      string
		query     url.Values
		wantIDs   int
		wantPages int
	}{
		{"all, default page size", url.Values{}, 251, 3},
		{"all, 7 a page", url.Values{"maxResults": {"7"}}, 251, 36},
		{"one namespace", url.Values{"namespace": {"ns-1"}}, 50, 3},
		{"filtered pages may be empty", url.Values{"namespace": {"target"}, "serviceAccount": {"sa"}}, 1, 3},
		{"filter matching nothing", url.Values{"namespace": {"none"}, "maxResults": {"100"}}, 0, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ids, pages := listAll(t, s, tt.query)
			if len(ids) != tt.wantIDs || pages != tt.wantPages {
				t.Errorf("%d IDs in %d pages, want %d in %d", len(ids), pages, tt.wantIDs, tt.wantPages)
			}
			seen := map[string]bool{}
			for _, id := range ids {
				if seen[id] {
					t.Errorf("%s listed twice", id)
				}
				seen[id] = true
			}
		})
	}
	if ids, _ := listAll(t, s, url.Values{"namespace": {"target"}}); len(ids) != 1 || ids[0] != last.AssociationID {
		t.Errorf("target namespace lists %v, want [%s]", ids, last.AssociationID)
	}
}

func TestPaginationSurvivesDeletes(t *testing.T) {
	s := newTestServer()
	var all []Association
	for i := range 10 {
		all = append(all, seed(t, s, "ns", fmt.Sprintf("sa-%d", i)))
	}
	r := call(t, s, "GET", assocPath+"?maxResults=4", nil)
	// Deleting what the first page showed must not skip anything after it.
	for _, a := range all[:4] {
		if err := s.DeleteAssociation(testCluster, a.AssociationID); err != nil {
			t.Fatal(err)
		}
	}
	ids, _ := listAll(t, s, url.Values{"maxResults": {"4"}, "nextToken": {r.body["nextToken"].(string)}})
	if len(ids) != 6 || ids[0] != all[4].AssociationID {
		t.Errorf("after deletes the rest lists %v, want the 6 from %s on", ids, all[4].AssociationID)
	}
}
