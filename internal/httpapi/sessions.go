package httpapi

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/medic-sh/medic/internal/incident"
	"github.com/medic-sh/medic/internal/store"
)

// sessionView is a session with the ids of the sessions it started, so a
// client can walk the investigation tree as it grows.
type sessionView struct {
	*incident.Session
	// ChildSessionIDs is always an array, empty for a leaf.
	ChildSessionIDs []string `json:"child_session_ids"`
}

// sessionDetail is the body of GET /api/v1/sessions/{id}.
type sessionDetail struct {
	*sessionView
	Findings []*incident.Finding `json:"findings"`
}

func (s *server) getSession(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	if len(id) > 200 {
		return notFound(fmt.Sprintf("session %s not found", clip(id, 100)))
	}
	view, err := s.sessionView(r, id)
	if errors.Is(err, store.ErrNotFound) {
		return notFound(fmt.Sprintf("session %s not found", clip(id, 100)))
	}
	if err != nil {
		return err
	}
	out := sessionDetail{sessionView: view}
	if out.Findings, err = s.findings(r, id); err != nil {
		return err
	}
	s.writeJSON(w, r, http.StatusOK, out)
	return nil
}

// sessionView loads a session and its children's ids; a missing session is
// store.ErrNotFound.
func (s *server) sessionView(r *http.Request, id string) (*sessionView, error) {
	sess, err := s.store.SessionGetByID(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	if err != nil {
		return nil, fmt.Errorf("get session %s: %w", id, err)
	}
	children, err := s.store.SessionListChildren(r.Context(), id)
	if err != nil {
		return nil, fmt.Errorf("list children of session %s: %w", id, err)
	}
	view := &sessionView{Session: sess, ChildSessionIDs: make([]string, 0, len(children))}
	for _, c := range children {
		view.ChildSessionIDs = append(view.ChildSessionIDs, c.ID)
	}
	return view, nil
}

// findings lists a session's findings, as an array even when there are none.
func (s *server) findings(r *http.Request, sessionID string) ([]*incident.Finding, error) {
	fs, err := s.store.FindingListBySession(r.Context(), sessionID)
	if err != nil {
		return nil, fmt.Errorf("list findings of session %s: %w", sessionID, err)
	}
	if fs == nil {
		fs = []*incident.Finding{}
	}
	return fs, nil
}
