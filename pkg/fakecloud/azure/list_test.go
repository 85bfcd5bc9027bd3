package azure

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
)

func TestListPaging(t *testing.T) {
	tests := []struct {
		name     string
		seeded   int
		query    string
		wantPage []int
	}{
		{"empty", 0, "", []int{0}},
		{"top 2", 5, "&$top=2", []int{2, 2, 1}},
		{"top equals count", 4, "&$top=4", []int{4}},
		{"default page size", 12, "", []int{10, 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, hs := newTestServer(t)
			var want []string
			for i := range tt.seeded {
				name := fmt.Sprintf("fic-%02d", i)
				want = append(want, name)
				if err := s.PutCredential(sub, rg, uami, Credential{Name: name, Issuer: issuer, Subject: name, Audiences: []string{aud}}); err != nil {
					t.Fatal(err)
				}
			}
			var got []string
			var sizes []int
			link := identityPath() + "/federatedIdentityCredentials" + v + tt.query
			for link != "" {
				r := call(t, hs, http.MethodGet, link, "")
				if r.status != http.StatusOK {
					t.Fatalf("%s: %d %v", link, r.status, r.body)
				}
				values, _ := r.body["value"].([]any)
				sizes = append(sizes, len(values))
				for _, v := range values {
					got = append(got, v.(map[string]any)["name"].(string))
				}
				link = r.str("nextLink")
				if link != "" && !strings.HasPrefix(link, hs.URL+"/") {
					t.Fatalf("nextLink %q is not absolute on %s", link, hs.URL)
				}
			}
			if !slices.Equal(sizes, tt.wantPage) || !slices.Equal(got, want) {
				t.Errorf("pages %v with %v, want %v with %v", sizes, got, tt.wantPage, want)
			}
		})
	}
}

func TestListChecks(t *testing.T) {
	_, hs := newTestServer(t)
	list := identityPath() + "/federatedIdentityCredentials" + v
	tests := []struct {
		name, url string
		status    int
	}{
		{"bad $top", list + "&$top=0", http.StatusBadRequest},
		{"bad $skiptoken", list + "&" + url.Values{"$skiptoken": {"%%%"}}.Encode(), http.StatusBadRequest},
		{"missing parent", strings.Replace(list, uami, "nope", 1), http.StatusNotFound},
		{"lower-case path", strings.ToLower(identityPath()) + "/federatedidentitycredentials" + v, http.StatusOK},
		{"POST not allowed", list, http.StatusMethodNotAllowed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			method := http.MethodGet
			if strings.HasPrefix(tt.name, "POST") {
				method = http.MethodPost
			}
			if r := call(t, hs, method, tt.url, ""); r.status != tt.status {
				t.Errorf("status %d, want %d (%v)", r.status, tt.status, r.body)
			}
		})
	}
}
