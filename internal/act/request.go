package act

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/medic-sh/medic/internal/incident"
	"github.com/medic-sh/medic/internal/logscan"
	"github.com/medic-sh/medic/internal/remediate"
	"github.com/medic-sh/medic/internal/store"
)

// ApprovalRequest is an action someone other than the policy asks medic to
// take about an incident: a person, or an AI assistant through MCP. It only
// ever becomes a pending approval; a person decides it through medic.
type ApprovalRequest struct {
	IncidentID string
	// Action is an action of the registry or a remediation; empty asks
	// for the remediation the incident's diagnosis recommends.
	Action string
	// Params are the proposed parameters (a trigger's conf, whether a
	// clear includes downstream tasks); the policy fills in the rest.
	Params remediate.Params
	// RequestedBy names the requester for the approval and the audit
	// trail (a token name).
	RequestedBy string
	// Reason is the requester's own words, redacted before it is stored.
	Reason string
}

// ErrNotProposable matches a RefusedError.
var ErrNotProposable = errors.New("the policy refuses to propose this action")

// RefusedError is a request the policy would never let run (kill switch,
// deny list, an unmet precondition, a used-up budget): no approval is
// created, since approving it could not make it run.
type RefusedError struct {
	Action  string
	Reasons []string
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("the policy refuses %s: %s", e.Action, strings.Join(e.Reasons, "; "))
}

// Is makes a RefusedError match ErrNotProposable.
func (e *RefusedError) Is(target error) bool { return target == ErrNotProposable }

// RequestApproval turns a request into a pending approval, exactly as the
// policy's own proposals are made: the policy evaluates the action with
// Airflow's state now, the dry run previews it, and the approval is stored
// (with its approval.requested audit entry) under the action's idempotency
// key, so that asking twice returns the pending approval with
// created=false. It never acts: only a person's approval through medic
// schedules the action, and the policy checks it again before it runs.
// An incident still investigating, or escalated to a person, moves to
// awaiting_approval, as with the policy's proposals; one whose action is
// running or being verified is refused (store.ErrConflict) until that
// settles. A request the policy refuses is an error matching
// ErrNotProposable; an unknown incident one matching store.ErrNotFound.
func (r *Remediator) RequestApproval(ctx context.Context, req *ApprovalRequest) (*incident.Approval, bool, error) {
	inc, err := r.store.IncidentGetByID(ctx, req.IncidentID)
	if err != nil {
		return nil, false, fmt.Errorf("request approval for %s: %w", req.IncidentID, err)
	}
	switch inc.State {
	case incident.StateResolved:
		return nil, false, fmt.Errorf("request approval for %s: the incident is resolved: %w", inc.ID, store.ErrConflict)
	case incident.StateRemediating, incident.StateVerifying:
		return nil, false, fmt.Errorf("request approval for %s: an action is already %s; wait for its outcome: %w",
			inc.ID, strings.ReplaceAll(string(inc.State), "_", " "), store.ErrConflict)
	}
	in := remediate.Input{Proposed: req.Action, Params: req.Params, Now: r.now().UTC()}
	if rep := r.report(ctx, inc); rep != nil && rep.RootCause != nil {
		rc := rep.RootCause
		in.Class, in.Confidence, in.RetrySafe = string(rc.Label), rc.Confidence, rc.RetrySafe
		if in.Proposed == "" {
			in.Proposed = string(rc.Remediation)
		}
	}
	if in.Proposed == "" {
		return nil, false, &RefusedError{Action: "(none)", Reasons: []string{"the incident has no diagnosis yet: name the action to propose"}}
	}
	af, err := r.airflow(inc)
	if err != nil {
		return nil, false, err
	}
	t := r.target(inc, 0)
	if in.Facts, err = facts(ctx, af, t); err != nil {
		return nil, false, fmt.Errorf("request approval for %s: %w", inc.ID, err)
	}
	t.TryNumber = in.Facts.TryNumber
	in.Target = t
	if err := r.counters(ctx, &in); err != nil {
		return nil, false, err
	}
	// Would a person's approval let it run? The policy answers as it will
	// when the approved action is about to run (confirm): every rule but
	// autonomy applies.
	approved := in
	approved.ApprovedBy = req.RequestedBy
	if d := r.policy.Evaluate(approved); d.Outcome != remediate.OutcomeExecute && d.Outcome != remediate.OutcomeShadow {
		return nil, false, &RefusedError{Action: in.Proposed, Reasons: failedReasons(d)}
	}
	d := r.policy.Evaluate(in)
	if d.Action == remediate.Escalate || d.IdempotencyKey == "" {
		return nil, false, &RefusedError{Action: in.Proposed, Reasons: failedReasons(d)}
	}
	// Whatever the autonomy level, a request waits for a person.
	d.Outcome = remediate.OutcomePropose
	if d.ExpiresAt.IsZero() {
		d.ExpiresAt = in.Now.Add(r.policy.ApprovalExpiry())
	}
	rec := &Record{
		Decision: d, Target: t, Class: in.Class, Confidence: in.Confidence, RetrySafe: in.RetrySafe,
		Proposed: in.Proposed, Facts: in.Facts, Counters: in.Counters,
	}
	// The incident waits for a person's decision, whether it was still
	// investigating or already handed to a person.
	if inc.State == incident.StateInvestigating || inc.State == incident.StateEscalated {
		if err := r.move(ctx, inc.ID, inc.State, incident.StateAwaitingApproval,
			fmt.Sprintf("%s asks for %s", req.RequestedBy, d.Action)); err != nil {
			return nil, false, err
		}
	}
	return r.createApproval(ctx, inc, af, rec, req.RequestedBy, logscan.Redact(strings.TrimSpace(req.Reason)))
}

// createApproval previews the recorded decision and stores its approval.
func (r *Remediator) createApproval(ctx context.Context, inc *incident.Incident, af remediate.Airflow, rec *Record, by, reason string) (*incident.Approval, bool, error) {
	d := rec.Decision
	preview := map[string]any{"action": d.Action, "params": d.Params}
	if reason != "" {
		preview["reason"] = reason
	}
	refs, err := r.executor(af, "").Preview(ctx, d, rec.Target)
	switch {
	case err != nil:
		preview["error"] = "the dry run failed: " + logscan.Redact(err.Error())
	case refs != nil:
		preview["would_clear"] = refs
	}
	previewJSON, _ := json.Marshal(preview)
	params, _ := json.Marshal(d.Params)
	decision, _ := json.Marshal(rec)
	evidence := json.RawMessage(`[]`)
	if rep := r.report(ctx, inc); rep != nil && rep.RootCause != nil {
		if raw, err := json.Marshal(rep.RootCause.Evidence); err == nil {
			evidence = raw
		}
	}
	a, created, err := r.store.ApprovalCreate(ctx, &incident.Approval{
		IncidentID: inc.ID, Action: string(d.Action), Params: params, IdempotencyKey: d.IdempotencyKey,
		Preview: previewJSON, Evidence: evidence, Decision: decision, RequestedBy: by, ExpiresAt: d.ExpiresAt,
	})
	if err != nil {
		return nil, false, fmt.Errorf("remediate %s: propose %s: %w", inc.ID, d.Action, err)
	}
	if created {
		r.log.InfoContext(ctx, "approval requested", "incident_id", inc.ID, "approval_id", a.ID, "action", d.Action, "requested_by", by)
	}
	return a, created, nil
}

// failedReasons are the rules that kept a decision from a proposal.
func failedReasons(d remediate.Decision) []string {
	var out []string
	for _, rs := range d.Reasons {
		if rs.Result == "fail" || rs.Result == "cap" {
			out = append(out, rs.Rule+": "+rs.Detail)
		}
	}
	if len(out) == 0 {
		out = append(out, "the policy's outcome is "+string(d.Outcome))
	}
	return out
}
