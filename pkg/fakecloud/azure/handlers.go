package azure

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"time"
)

const notFoundHelp = "For more details please go to https://aka.ms/ARMResourceNotFoundFix"

func parentMissing() *cloudError {
	return newError(http.StatusNotFound, "NotFound", "The parent user-assigned identity doesn't exist.")
}

func (s *Server) getIdentity(w http.ResponseWriter, rt route) {
	s.faults.Delay()
	s.mu.Lock()
	id := s.identities[key(rt.sub, rt.rg, rt.identity)]
	var body identityJSON
	if id != nil {
		body = identityJSON{
			ID: id.ID(), Name: id.Name, Type: identityType, Location: "eastus", Tags: map[string]string{},
			Properties: identityProps{TenantID: id.TenantID, PrincipalID: id.PrincipalID, ClientID: id.ClientID, IsolationScope: "None"},
		}
	}
	s.mu.Unlock()
	if id == nil {
		writeError(w, newError(http.StatusNotFound, "ResourceNotFound",
			"The Resource '%s/%s' under resource group '%s' was not found. %s", identityType, rt.identity, rt.rg, notFoundHelp))
		return
	}
	writeJSON(w, http.StatusOK, body)
}

func (s *Server) getCredential(w http.ResponseWriter, rt route) {
	s.faults.Delay()
	s.mu.Lock()
	id := s.identities[key(rt.sub, rt.rg, rt.identity)]
	var c *credential
	var body credentialJSON
	if id != nil {
		if c = id.creds[strings.ToLower(rt.credential)]; c != nil {
			body = c.json(id)
		}
	}
	s.mu.Unlock()
	switch {
	case id == nil:
		writeError(w, parentMissing())
	case c == nil:
		writeError(w, newError(http.StatusNotFound, "ResourceNotFound",
			"The Resource '%s/%s/federatedIdentityCredentials/%s' under resource group '%s' was not found. %s",
			identityType, rt.identity, rt.credential, rt.rg, notFoundHelp))
	default:
		writeJSON(w, http.StatusOK, body)
	}
}

// write runs a PUT or DELETE while holding the identity, as the service does.
func (s *Server) write(w http.ResponseWriter, r *http.Request, rt route, op string) {
	var body putBody
	if op == OpPutCredential {
		raw, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err == nil {
			err = json.Unmarshal(raw, &body)
		}
		if err != nil {
			writeError(w, newError(http.StatusBadRequest, "InvalidRequestContent",
				"The request content was invalid and could not be deserialized: '%v'.", err))
			return
		}
	}
	k := key(rt.sub, rt.rg, rt.identity)
	s.mu.Lock()
	if s.writing[k] {
		s.overlaps++
		s.mu.Unlock()
		writeError(w, concurrentWrites(rt.sub, rt.rg, rt.identity))
		return
	}
	s.writing[k] = true
	hold := max(s.window, s.faults.Faults().Latency)
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.writing, k)
		s.mu.Unlock()
	}()
	time.Sleep(hold)

	s.mu.Lock()
	status, resp, cerr := s.apply(rt, op, body.Properties)
	s.mu.Unlock()
	switch {
	case cerr != nil:
		writeError(w, cerr)
	case resp == nil:
		w.WriteHeader(status)
	default:
		writeJSON(w, status, resp)
	}
}

// apply makes the change of a PUT or DELETE. Callers hold s.mu.
func (s *Server) apply(rt route, op string, p *credentialProps) (int, any, *cloudError) {
	id := s.identities[key(rt.sub, rt.rg, rt.identity)]
	if op == OpPutCredential {
		created, c, err := s.put(rt.sub, rt.rg, rt.identity, rt.credential, p)
		if err != nil {
			return 0, nil, err
		}
		s.written++
		if created {
			return http.StatusCreated, c.json(id), nil
		}
		return http.StatusOK, c.json(id), nil
	}
	if id == nil {
		return 0, nil, parentMissing()
	}
	k := strings.ToLower(rt.credential)
	if _, ok := id.creds[k]; !ok {
		return http.StatusNoContent, nil, nil // ARM: nothing to delete
	}
	delete(id.creds, k)
	return http.StatusOK, nil, nil
}
