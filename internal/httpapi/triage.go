package httpapi

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/medic-sh/medic/internal/incident"
	"github.com/medic-sh/medic/internal/store"
)

// triageRequest is the body of POST /api/v1/triage.
type triageRequest struct {
	Instance string `json:"instance"`
	DagID    string `json:"dag_id"`
	RunID    string `json:"run_id"`
	TaskID   string `json:"task_id"`
}

// triageAccepted is the 202 body of POST /api/v1/triage.
type triageAccepted struct {
	IncidentID string `json:"incident_id"`
	SessionID  string `json:"session_id"`
	// Created is false when the run already had an incident, whose triage
	// is the one reported.
	Created bool `json:"created"`
}

// postTriage asks for a DAG run to be triaged. It only opens (or finds) the
// incident; the triage itself is the job the store enqueued with it.
func (s *server) postTriage(w http.ResponseWriter, r *http.Request) error {
	body, err := s.readBody(w, r)
	if err != nil {
		return err
	}
	var req triageRequest
	if err := decodeStrict(body, &req); err != nil {
		return err
	}
	if req.Instance == "" {
		req.Instance = s.defaultInstance
	}
	for _, f := range []struct{ name, v string }{{"instance", req.Instance}, {"dag_id", req.DagID}, {"run_id", req.RunID}} {
		if strings.TrimSpace(f.v) == "" {
			return &apiError{
				status: http.StatusBadRequest, code: codeInvalidPayload, message: f.name + " is required",
				details: map[string]any{"field": f.name},
			}
		}
	}
	if err := s.checkInstance(req.Instance); err != nil {
		return err
	}
	id, _ := IdentityFromContext(r.Context())
	res, err := s.triage.RequestTriage(r.Context(), &store.TriageRequestParams{
		Instance: req.Instance, DagID: req.DagID, RunID: req.RunID, TaskID: req.TaskID, Actor: id.Name,
	})
	if err != nil {
		if errors.Is(err, incident.ErrInvalid) {
			// Key validation: the message names the field and is the caller's to fix.
			return &apiError{status: http.StatusBadRequest, code: codeInvalidPayload, message: err.Error()}
		}
		return fmt.Errorf("request triage of %s run %s: %w", req.DagID, req.RunID, err)
	}
	s.log.InfoContext(r.Context(), "triage requested", "incident_id", res.Incident.ID, "session_id", res.Session.ID,
		"created", res.Created, "actor", id.Name)
	s.writeJSON(w, r, http.StatusAccepted, triageAccepted{IncidentID: res.Incident.ID, SessionID: res.Session.ID, Created: res.Created})
	return nil
}
