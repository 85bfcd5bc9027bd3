package azure

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// list answers one page, in name order. $skiptoken holds the last name
// served, so paging stays correct while credentials come and go.
func (s *Server) list(w http.ResponseWriter, r *http.Request, rt route) {
	q := r.URL.Query()
	s.mu.Lock()
	size, most := s.pageSize, s.maxPageSize
	s.mu.Unlock()
	if top := q.Get("$top"); top != "" {
		n, err := strconv.Atoi(top)
		if err != nil || n < 1 {
			writeError(w, newError(http.StatusBadRequest, "InvalidParameter",
				"The value '%s' of query parameter '$top' is invalid. It must be a positive integer.", top))
			return
		}
		size = n
	}
	if most > 0 {
		size = min(size, most)
	}
	var after string
	if tok := q.Get("$skiptoken"); tok != "" {
		b, err := base64.RawURLEncoding.DecodeString(tok)
		if err != nil {
			writeError(w, newError(http.StatusBadRequest, "InvalidSkipToken", "The skip token '%s' is invalid.", tok))
			return
		}
		after = string(b)
	}
	s.faults.Delay()

	s.mu.Lock()
	id := s.identities[key(rt.sub, rt.rg, rt.identity)]
	var page listJSON
	more := false
	if id != nil {
		page.Value = []credentialJSON{}
		for _, c := range sortedCreds(id) {
			if strings.ToLower(c.name) <= after {
				continue
			}
			if len(page.Value) == size {
				more = true
				break
			}
			page.Value = append(page.Value, c.json(id))
		}
	}
	s.mu.Unlock()
	if id == nil {
		writeError(w, parentMissing())
		return
	}
	if more {
		page.NextLink = nextLink(r, strings.ToLower(page.Value[len(page.Value)-1].Name))
	}
	writeJSON(w, http.StatusOK, page)
}

// nextLink is absolute, on the host the request came to, as ARM's are.
func nextLink(r *http.Request, last string) string {
	u := url.URL{Scheme: "http", Host: r.Host, Path: r.URL.Path}
	if r.TLS != nil {
		u.Scheme = "https"
	}
	q := url.Values{}
	q.Set("api-version", r.URL.Query().Get("api-version"))
	if top := r.URL.Query().Get("$top"); top != "" {
		q.Set("$top", top)
	}
	q.Set("$skiptoken", base64.RawURLEncoding.EncodeToString([]byte(last)))
	u.RawQuery = q.Encode()
	return u.String()
}
