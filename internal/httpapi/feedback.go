package httpapi

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/medic-sh/medic/internal/audit"
	"github.com/medic-sh/medic/internal/classify"
	"github.com/medic-sh/medic/internal/incident"
	"github.com/medic-sh/medic/internal/logscan"
	"github.com/medic-sh/medic/internal/memory"
	"github.com/medic-sh/medic/internal/store"
)

// feedbackRequest is the body of POST /api/v1/incidents/{id}/feedback. Every
// field is optional, but at least one of outcome, verdict, action and label
// must be given.
type feedbackRequest struct {
	// Outcome is how the action taken turned out: fixed or failed.
	Outcome string `json:"outcome"`
	// Action is what was done, from the remediation vocabulary.
	Action string `json:"action"`
	// Verdict is a person's thumbs-up or thumbs-down on the diagnosis.
	Verdict string `json:"verdict"`
	// Label corrects the failure's class; it counts as a thumbs-up for the
	// corrected record.
	Label string `json:"label"`
	// Reason says why, for the log.
	Reason string `json:"reason"`
}

// maxReasonLen bounds a feedback reason.
const maxReasonLen = 1000

// feedbackAccepted is the 200 body of POST /api/v1/incidents/{id}/feedback.
type feedbackAccepted struct {
	IncidentID string `json:"incident_id"`
	// Record is the incident's memory record after the feedback, without
	// its embedding.
	Record *memory.Record `json:"record"`
}

// postFeedback records what was done about an incident's failure, how it
// turned out, or what a person thinks of the diagnosis, on the failure
// memory's record of that incident, so that the next failure like it is
// diagnosed with that knowledge.
func (s *server) postFeedback(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	body, err := s.readBody(w, r)
	if err != nil {
		return err
	}
	var req feedbackRequest
	if err := decodeStrict(body, &req); err != nil {
		return err
	}
	u, err := req.update()
	if err != nil {
		return err
	}
	if s.memory == nil {
		return &apiError{
			status: http.StatusServiceUnavailable, code: codeMemoryDisabled,
			message: "the failure memory is not enabled on this medic, so there is no record to give feedback on",
		}
	}
	missing := notFound(fmt.Sprintf("incident %s not found", clip(id, 100)))
	if len(id) > 200 {
		return missing
	}
	ctx := r.Context()
	inc, err := s.store.IncidentGetByID(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return missing
	}
	if err != nil {
		return fmt.Errorf("get incident %s: %w", id, err)
	}
	noRecord := notFound(fmt.Sprintf("incident %s has no memory record: its triage has not finished, "+
		"or its log showed no error to remember", inc.ID))
	if _, ok := s.memory.Get(inc.ID); !ok {
		return noRecord
	}
	rec, err := s.memory.Feedback(ctx, inc.ID, u)
	switch {
	case errors.Is(err, memory.ErrNotFound):
		return noRecord
	case errors.Is(err, memory.ErrInvalid):
		return &apiError{status: http.StatusBadRequest, code: codeInvalidPayload, message: "feedback refused: " + err.Error(), err: err}
	case err != nil:
		return fmt.Errorf("memory feedback on incident %s: %w", inc.ID, err)
	}
	// A reason is a person's text, redacted like any other before it is
	// logged or audited.
	actor, _ := IdentityFromContext(ctx)
	reason := logscan.Redact(req.Reason)
	s.log.InfoContext(ctx, "memory feedback recorded", "incident_id", inc.ID, "actor", actor.Name,
		"outcome", req.Outcome, "verdict", req.Verdict, "action", req.Action, "label", req.Label,
		"reason", reason, "trust", rec.Trust, "request_id", requestIDFrom(ctx))
	// The memory has applied the feedback: failing the request now would
	// invite a retry that counts it twice. A lost audit entry is logged
	// with everything it would have held, at error level, instead.
	if err := s.auditFeedback(r, inc.ID, actor.Name, &req, reason); err != nil {
		s.log.ErrorContext(ctx, "memory feedback not audited", "incident_id", inc.ID, "actor", actor.Name,
			"error", err, "request_id", requestIDFrom(ctx))
	}
	out := *rec
	out.Embedding, out.EmbeddedBy = nil, ""
	s.writeJSON(w, r, http.StatusOK, feedbackAccepted{IncidentID: inc.ID, Record: &out})
	return nil
}

// auditFeedback appends the memory.feedback audit entry: who, the update
// and the redacted reason.
func (s *server) auditFeedback(r *http.Request, incidentID, actor string, req *feedbackRequest, reason string) error {
	d := audit.Detail{RequestedBy: actor, Update: map[string]string{}, Reason: reason}
	for k, v := range map[string]string{"outcome": req.Outcome, "verdict": req.Verdict, "action": req.Action, "label": req.Label} {
		if v != "" {
			d.Update[k] = v
		}
	}
	detail, err := d.JSON()
	if err != nil {
		return err
	}
	if actor == "" {
		actor = "unknown"
	}
	_, err = s.store.AuditAppend(r.Context(), &incident.AuditEntry{
		At: s.now(), Actor: actor, Action: actionMemoryFeedback, IncidentID: incidentID, Detail: detail,
	})
	return err
}

// actionMemoryFeedback is the audit action of feedback on the memory.
const actionMemoryFeedback = "memory.feedback"

// update validates the request, naming the field at fault, and turns it
// into a memory update.
func (req *feedbackRequest) update() (memory.Update, error) {
	invalid := func(field, msg string) error {
		return &apiError{
			status: http.StatusBadRequest, code: codeInvalidPayload, message: msg,
			details: map[string]any{"field": field},
		}
	}
	req.Reason = strings.TrimSpace(req.Reason)
	switch {
	case req.Outcome != "" && req.Outcome != string(memory.OutcomeFixed) && req.Outcome != string(memory.OutcomeFailed):
		return memory.Update{}, invalid("outcome", fmt.Sprintf("outcome %q is not known: want fixed or failed", clip(req.Outcome, 64)))
	case req.Verdict != "" && req.Verdict != string(memory.VerdictUp) && req.Verdict != string(memory.VerdictDown):
		return memory.Update{}, invalid("verdict", fmt.Sprintf("verdict %q is not known: want up or down", clip(req.Verdict, 64)))
	case req.Action != "" && !classify.Remediation(req.Action).Valid():
		return memory.Update{}, invalid("action", fmt.Sprintf("action %q is not a remediation: want one of %s", clip(req.Action, 64), remediationList()))
	case req.Label != "" && !classify.Label(req.Label).Valid():
		return memory.Update{}, invalid("label", fmt.Sprintf("label %q is not a failure class: want one of %s", clip(req.Label, 64), labelList()))
	case req.Label != "" && req.Verdict == string(memory.VerdictDown):
		return memory.Update{}, invalid("verdict", "a label correction is itself a thumbs-up for the corrected label: send it without verdict down")
	case utf8.RuneCountInString(req.Reason) > maxReasonLen:
		return memory.Update{}, invalid("reason", fmt.Sprintf("reason is longer than %d characters", maxReasonLen))
	case req.Outcome == "" && req.Verdict == "" && req.Action == "" && req.Label == "":
		return memory.Update{}, invalid("outcome", "nothing to record: give at least one of outcome, action, verdict and label")
	}
	return memory.Update{
		Feedback: memory.Feedback{Outcome: memory.Outcome(req.Outcome), Verdict: memory.Verdict(req.Verdict)},
		Action:   req.Action, Label: req.Label,
	}, nil
}

func remediationList() string {
	rs := classify.Remediations()
	names := make([]string, len(rs))
	for i, r := range rs {
		names[i] = string(r)
	}
	return strings.Join(names, ", ")
}

func labelList() string {
	ls := classify.Labels()
	names := make([]string, len(ls))
	for i, l := range ls {
		names[i] = string(l)
	}
	return strings.Join(names, ", ")
}
