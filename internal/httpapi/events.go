package httpapi

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/medic-sh/medic/internal/config"
	"github.com/medic-sh/medic/internal/incident"
	"github.com/medic-sh/medic/internal/ingest"
)

// eventAccepted is the 202 body of POST /api/v1/events.
type eventAccepted struct {
	EventID         string `json:"event_id"`
	IncidentID      string `json:"incident_id"`
	Duplicate       bool   `json:"duplicate"`
	IncidentCreated bool   `json:"incident_created"`
	// Deliveries counts the reports of this same failure so far.
	Deliveries int `json:"deliveries"`
}

// postEvent is the Airflow callback webhook. It checks the caller, reads and
// decodes the body, and records the event in one store transaction; the
// triage that follows is a job that transaction enqueued, so the reporter
// (a task's failure callback) is answered at once and nothing is half-stored
// when anything fails.
func (s *server) postEvent(w http.ResponseWriter, r *http.Request) error {
	id, err := s.authorizeWebhook(r)
	if err != nil {
		return err
	}
	body, err := s.readBody(w, r)
	if err != nil {
		return err
	}
	if s.webhookSecret != nil {
		if err := ingest.VerifySignature(s.webhookSecret, body, r.Header.Get(ingest.SignatureHeader)); err != nil {
			return &apiError{status: http.StatusUnauthorized, code: codeUnauthorized, message: signatureMessage(err)}
		}
	}
	stateFrom(r.Context()).identity = id

	ev, err := ingest.DecodeCallback(body, s.defaultInstance, s.now())
	if err != nil {
		ae := &apiError{status: http.StatusBadRequest, code: codeInvalidPayload, message: err.Error()}
		if de, ok := errors.AsType[*ingest.DecodeError](err); ok && de.Field != "" {
			ae.details = map[string]any{"field": de.Field}
		}
		return ae
	}
	if err := s.checkInstance(ev.Instance); err != nil {
		return err
	}
	res, err := s.events.RecordEvent(r.Context(), ev)
	if err != nil {
		if errors.Is(err, incident.ErrInvalid) {
			return &apiError{status: http.StatusBadRequest, code: codeInvalidPayload, message: err.Error()}
		}
		return fmt.Errorf("record event %s: %w", ev.Key, err)
	}
	// The ingest service logs the failure itself; this line adds who sent it.
	s.log.DebugContext(r.Context(), "failure event accepted", "event_id", res.Event.ID, "incident_id", res.Incident.ID,
		"duplicate", res.Duplicate, "incident_created", res.IncidentCreated, "actor", id.Name)
	s.writeJSON(w, r, http.StatusAccepted, eventAccepted{
		EventID: res.Event.ID, IncidentID: res.Incident.ID, Duplicate: res.Duplicate,
		IncidentCreated: res.IncidentCreated, Deliveries: res.Event.Deliveries,
	})
	return nil
}

// authorizeWebhook decides how a callback must prove itself, before its body
// is read: by signature when a webhook secret is configured, else by an
// operator token, else (loopback mode) by coming from this machine.
func (s *server) authorizeWebhook(r *http.Request) (Identity, error) {
	if s.auth.loopback() {
		if err := checkLoopback(r); err != nil {
			return Identity{}, err
		}
	}
	switch {
	case s.webhookSecret != nil:
		if strings.TrimSpace(r.Header.Get(ingest.SignatureHeader)) == "" {
			return Identity{}, &apiError{
				status: http.StatusUnauthorized, code: codeUnauthorized,
				message: signatureMessage(ingest.ErrSignatureMissing),
			}
		}
		return webhookIdentity, nil // the signature is checked once the body is read
	case s.auth.loopback():
		return localIdentity, nil
	}
	return s.authorize(r, config.RoleOperator)
}

// signatureMessage explains a signature failure without detail an attacker
// could use (which part mismatched).
func signatureMessage(err error) string {
	if errors.Is(err, ingest.ErrSignatureMissing) {
		return "missing " + ingest.SignatureHeader + " header: sign the raw body with HMAC-SHA256 and the webhook secret, as sha256=<hex>"
	}
	return ingest.SignatureHeader + " does not match the body: sign the exact bytes sent with the configured webhook secret, as sha256=<hex>"
}

// checkInstance refuses an Airflow instance medic is not configured for.
func (s *server) checkInstance(name string) error {
	if len(s.instances) == 0 || slices.Contains(s.instances, name) {
		return nil
	}
	return &apiError{
		status: http.StatusUnprocessableEntity, code: codeUnknownInstance,
		message: fmt.Sprintf("instance %q is not configured: known instances are %s", clip(name, 250), strings.Join(s.instances, ", ")),
		details: map[string]any{"known_instances": s.instances},
	}
}
