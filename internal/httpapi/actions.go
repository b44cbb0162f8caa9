package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/medic-sh/medic/internal/incident"
	"github.com/medic-sh/medic/internal/logscan"
	"github.com/medic-sh/medic/internal/store"
)

// codeConflict is the error code of a change refused because of the state
// it would change: an approval already decided or expired.
const codeConflict = "conflict"

// productionEnvironment is the environment in which nobody may approve
// their own request.
const productionEnvironment = "production"

// reasonRequest is the body of the kill switch and approval decisions.
type reasonRequest struct {
	// Reason says why, for the audit trail.
	Reason string `json:"reason"`
	// Params, on an approval only, replace the proposed action's
	// parameters (an edited trigger conf: {"conf": {...}}); medic checks
	// them again, against the DAG's conf schema, before it acts.
	Params json.RawMessage `json:"params,omitempty"`
}

// decodeReason reads a reasonRequest, redacting the reason; required says
// whether an empty one is refused, for says what it is for in messages.
func (s *server) decodeReason(w http.ResponseWriter, r *http.Request, required bool, what string) (string, error) {
	req, err := s.decodeDecision(w, r, required, what, false)
	if err != nil {
		return "", err
	}
	return req.Reason, nil
}

// decodeDecision reads a reasonRequest with its reason redacted; params
// says whether edited parameters are allowed.
func (s *server) decodeDecision(w http.ResponseWriter, r *http.Request, required bool, what string, params bool) (*reasonRequest, error) {
	body, err := s.readBody(w, r)
	if err != nil {
		return nil, err
	}
	var req reasonRequest
	if err := decodeStrict(body, &req); err != nil {
		return nil, err
	}
	reason := strings.TrimSpace(req.Reason)
	switch {
	case required && reason == "":
		return nil, &apiError{status: http.StatusBadRequest, code: codeInvalidPayload, message: "reason is required to " + what}
	case utf8.RuneCountInString(reason) > maxReasonLen:
		return nil, &apiError{
			status: http.StatusBadRequest, code: codeInvalidPayload,
			message: fmt.Sprintf("reason is longer than %d characters: summarise it", maxReasonLen),
		}
	case len(req.Params) > 0 && !params:
		return nil, &apiError{status: http.StatusBadRequest, code: codeInvalidPayload, message: "params can only be given when approving"}
	case len(req.Params) > 0 && (len(bytes.TrimSpace(req.Params)) == 0 || bytes.TrimSpace(req.Params)[0] != '{'):
		return nil, &apiError{status: http.StatusBadRequest, code: codeInvalidPayload, message: `params must be a JSON object, such as {"conf": {"date": "2026-05-01"}}`}
	}
	req.Reason = logscan.Redact(reason)
	return &req, nil
}

// postPause turns the kill switch on: medic takes no action until resumed.
func (s *server) postPause(w http.ResponseWriter, r *http.Request) error {
	return s.setKillSwitch(w, r, true)
}

// postResume turns the kill switch off.
func (s *server) postResume(w http.ResponseWriter, r *http.Request) error {
	return s.setKillSwitch(w, r, false)
}

func (s *server) setKillSwitch(w http.ResponseWriter, r *http.Request, on bool) error {
	reason, err := s.decodeReason(w, r, on, "pause medic's actions")
	if err != nil {
		return err
	}
	ctx := r.Context()
	who, _ := IdentityFromContext(ctx)
	k, err := s.store.KillSwitchSet(ctx, &store.KillSwitchSetParams{On: on, By: who.Name, Reason: reason})
	if err != nil {
		return fmt.Errorf("set the kill switch on=%t: %w", on, err)
	}
	s.log.InfoContext(ctx, "kill switch set", "on", on, "actor", who.Name, "reason", reason, "request_id", requestIDFrom(ctx))
	s.writeJSON(w, r, http.StatusOK, k)
	return nil
}

// getActionsStatus answers the kill switch state.
func (s *server) getActionsStatus(w http.ResponseWriter, r *http.Request) error {
	k, err := s.store.KillSwitchGet(r.Context())
	if err != nil {
		return fmt.Errorf("read the kill switch: %w", err)
	}
	s.writeJSON(w, r, http.StatusOK, k)
	return nil
}

// approvalPage is the body of GET /api/v1/approvals.
type approvalPage struct {
	Approvals []*incident.Approval `json:"approvals"`
}

// approvalParams are the query parameters GET /api/v1/approvals understands.
var approvalParams = []string{"status", "incident_id", "limit"}

// listApprovals lists approvals, newest first.
func (s *server) listApprovals(w http.ResponseWriter, r *http.Request) error {
	p, err := parseApprovalParams(r.URL.Query())
	if err != nil {
		return err
	}
	list, err := s.store.ApprovalList(r.Context(), p)
	if err != nil {
		return fmt.Errorf("list approvals: %w", err)
	}
	if list == nil {
		list = []*incident.Approval{}
	}
	s.writeJSON(w, r, http.StatusOK, approvalPage{Approvals: list})
	return nil
}

func parseApprovalParams(q url.Values) (*store.ApprovalListParams, error) {
	if err := checkQuery(q, approvalParams); err != nil {
		return nil, err
	}
	p := &store.ApprovalListParams{Status: incident.ApprovalStatus(q.Get("status")), IncidentID: q.Get("incident_id")}
	if p.Status != "" && !p.Status.Valid() {
		return nil, badParam("status", fmt.Sprintf("status must be one of pending, approved, rejected, expired, executed, got %q",
			clip(string(p.Status), 32)))
	}
	if len(p.IncidentID) > 200 {
		return nil, badParam("incident_id", "incident_id is longer than 200 characters")
	}
	limit, err := limitParam(q)
	if err != nil {
		return nil, err
	}
	p.Limit = limit
	return p, nil
}

// getApproval answers one approval.
func (s *server) getApproval(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	missing := notFound(fmt.Sprintf("approval %s not found", clip(id, 100)))
	if len(id) > 200 {
		return missing
	}
	a, err := s.store.ApprovalGet(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		return missing
	}
	if err != nil {
		return fmt.Errorf("get approval %s: %w", id, err)
	}
	s.writeJSON(w, r, http.StatusOK, a)
	return nil
}

func (s *server) postApprove(w http.ResponseWriter, r *http.Request) error {
	return s.decideApproval(w, r, true)
}

func (s *server) postReject(w http.ResponseWriter, r *http.Request) error {
	return s.decideApproval(w, r, false)
}

// decideApproval approves or rejects a pending approval as the caller,
// with the caller's role. It records the decision and, for an approval,
// the job that executes it (in the same transaction): the action itself
// runs in the background, checked by the policy again just before.
func (s *server) decideApproval(w http.ResponseWriter, r *http.Request, approve bool) error {
	id := r.PathValue("id")
	req, err := s.decodeDecision(w, r, !approve, "reject an approval", approve)
	if err != nil {
		return err
	}
	reason := req.Reason
	missing := notFound(fmt.Sprintf("approval %s not found", clip(id, 100)))
	if len(id) > 200 {
		return missing
	}
	ctx := r.Context()
	who, _ := IdentityFromContext(ctx)
	a, err := s.store.ApprovalDecide(ctx, &store.ApprovalDecideParams{
		ID: id, Approve: approve, By: who.Name, Role: string(who.Role), Reason: reason, Now: s.now(),
		ForbidSelfApproval: s.environment == productionEnvironment, Params: req.Params,
	})
	switch {
	case errors.Is(err, store.ErrNotFound):
		return missing
	case errors.Is(err, store.ErrForbidden):
		return &apiError{status: http.StatusForbidden, code: codeSelfApproval, message: err.Error(), err: err}
	case errors.Is(err, store.ErrConflict):
		return &apiError{status: http.StatusConflict, code: codeConflict, message: err.Error(), err: err}
	case err != nil:
		return fmt.Errorf("decide approval %s: %w", id, err)
	}
	s.log.InfoContext(ctx, "approval decided", "approval_id", a.ID, "incident_id", a.IncidentID, "status", a.Status,
		"actor", who.Name, "role", who.Role, "request_id", requestIDFrom(ctx))
	s.writeJSON(w, r, http.StatusOK, a)
	return nil
}
