package act

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/riverqueue/river"

	"github.com/medic-sh/medic/internal/audit"
	"github.com/medic-sh/medic/internal/incident"
	"github.com/medic-sh/medic/internal/logscan"
	"github.com/medic-sh/medic/internal/memory"
	"github.com/medic-sh/medic/internal/remediate"
	"github.com/medic-sh/medic/internal/store"
)

// Step is what a job attempt asks of its worker besides success or error.
type Step struct {
	// Snooze, when positive, asks for the job to run again after it.
	Snooze time.Duration
}

// Job describes the attempt a worker runs.
type Job struct {
	// Created is when the job was first enqueued (a wait counts from it).
	Created time.Time
	// Last reports the job's last attempt.
	Last bool
}

// Act is the action job: it runs an autonomous decision or an approved
// proposal once, after checking again what may have changed since the
// decision (the kill switch, Airflow's state, an edited conf, the budgets),
// and hands a successful run to verification.
func (r *Remediator) Act(ctx context.Context, args store.ActionJobArgs, job Job) (Step, error) {
	inc, err := r.store.IncidentGetByID(ctx, args.IncidentID)
	if err != nil {
		return Step{}, fmt.Errorf("act on %s: %w", args.IncidentID, err)
	}
	if inc.State == incident.StateAwaitingApproval && args.ApprovalID != "" {
		// Approved before the incident was seen awaiting approval.
		if a, err := r.store.ApprovalGet(ctx, args.ApprovalID); err == nil &&
			(a.Status == incident.ApprovalApproved || a.Status == incident.ApprovalExecuted) {
			if err := r.move(ctx, inc.ID, incident.StateAwaitingApproval, incident.StateRemediating, "the proposal was approved"); err != nil {
				return Step{}, err
			}
			inc.State = incident.StateRemediating
		}
	}
	if inc.State != incident.StateRemediating && inc.State != incident.StateVerifying {
		// Only an incident handed to remediation is acted on (verifying:
		// a redelivery after the action ran, which the ledger settles).
		r.log.InfoContext(ctx, "incident is not remediating: nothing runs", "incident_id", inc.ID, "state", inc.State)
		return Step{}, nil
	}
	rec, approvedBy, params, err := r.planned(ctx, inc, args)
	if err != nil || rec == nil {
		return Step{}, err
	}
	af, err := r.airflow(inc)
	if err != nil {
		return Step{}, err
	}
	d, err := r.confirm(ctx, inc, af, rec, approvedBy, params)
	if err != nil {
		return r.lastTry(ctx, inc, job, err)
	}
	if d == nil {
		return Step{}, nil // refused or shadowed, and recorded
	}
	x := r.executor(af, args.ApprovalID)
	if c := d.Params.Condition; c != nil {
		if _, err := r.store.ActionGet(ctx, d.IdempotencyKey); errors.Is(err, store.ErrNotFound) {
			met, detail, err := x.ConditionMet(ctx, *c, rec.Target)
			if err != nil {
				return r.lastTry(ctx, inc, job, err)
			}
			if !met {
				if r.now().Before(job.Created.Add(c.Timeout)) {
					return Step{Snooze: c.PollInterval}, nil
				}
				why := fmt.Sprintf("waited %s for the condition: %s", c.Timeout, logscan.Redact(detail))
				if err := r.auditOnce(ctx, inc.ID, "action.wait_timeout", &audit.Detail{RequestedBy: Actor, Reason: why}); err != nil {
					return Step{}, err
				}
				return Step{}, r.move(ctx, inc.ID, incident.StateRemediating, incident.StateEscalated, why)
			}
		}
	}
	run, err := x.Execute(ctx, *d, rec.Target)
	switch {
	case errors.Is(err, store.ErrLimit):
		why := "the ledger refused the action: " + err.Error()
		if err := r.audit(ctx, inc.ID, Actor, "action.refused", &audit.Detail{RequestedBy: Actor, Decision: string(remediate.OutcomeRefuse), Reasons: []string{why}}); err != nil {
			return Step{}, err
		}
		return Step{}, r.move(ctx, inc.ID, incident.StateRemediating, incident.StateEscalated, why)
	case run != nil && run.Status == remediate.RunFailed:
		return Step{}, r.move(ctx, inc.ID, incident.StateRemediating, incident.StateEscalated,
			fmt.Sprintf("%s failed in Airflow: %s", d.Action, logscan.Redact(run.Summary)))
	case err != nil:
		return r.lastTry(ctx, inc, job, err)
	}
	dj, _ := json.Marshal(d)
	tj, _ := json.Marshal(rec.Target)
	if err := r.enqueue(ctx, store.VerifyJobArgs{IncidentID: inc.ID, IdempotencyKey: d.IdempotencyKey, Decision: dj, Target: tj},
		&river.InsertOpts{UniqueOpts: river.UniqueOpts{ByArgs: true}}); err != nil {
		return Step{}, fmt.Errorf("act on %s: schedule verification: %w", inc.ID, err)
	}
	return Step{}, r.move(ctx, inc.ID, incident.StateRemediating, incident.StateVerifying,
		fmt.Sprintf("%s ran (%s); verifying", d.Action, logscan.Redact(run.Summary)))
}

// lastTry returns err for the job to retry it, or, on the last attempt,
// escalates the incident with it.
func (r *Remediator) lastTry(ctx context.Context, inc *incident.Incident, job Job, err error) (Step, error) {
	if !job.Last {
		return Step{}, err
	}
	why := "medic could not carry out the action: " + logscan.Redact(err.Error())
	if aerr := r.audit(ctx, inc.ID, Actor, "action.abandoned", &audit.Detail{RequestedBy: Actor, Reasons: []string{why}}); aerr != nil {
		return Step{}, aerr
	}
	return Step{}, r.move(ctx, inc.ID, incident.StateRemediating, incident.StateEscalated, why)
}

// planned returns the decision an action job carries out: the incident's
// recorded decision, or the one an approval holds with who approved it
// and the edited parameters. Nil when there is nothing to run.
func (r *Remediator) planned(ctx context.Context, inc *incident.Incident, args store.ActionJobArgs) (*Record, string, remediate.Params, error) {
	if args.ApprovalID == "" {
		rec, err := r.recorded(ctx, args.SessionID)
		if err != nil {
			return nil, "", remediate.Params{}, err
		}
		if rec == nil || rec.Decision.Outcome != remediate.OutcomeExecute {
			return nil, "", remediate.Params{}, nil
		}
		return rec, "", rec.Decision.Params, nil
	}
	a, err := r.store.ApprovalGet(ctx, args.ApprovalID)
	if err != nil {
		return nil, "", remediate.Params{}, fmt.Errorf("act on approval %s: %w", args.ApprovalID, err)
	}
	if a.Status != incident.ApprovalApproved && a.Status != incident.ApprovalExecuted {
		r.log.InfoContext(ctx, "approval is not approved: nothing runs", "approval_id", a.ID, "status", a.Status)
		return nil, "", remediate.Params{}, nil
	}
	var rec Record
	if err := json.Unmarshal(a.Decision, &rec); err != nil {
		return nil, "", remediate.Params{}, fmt.Errorf("act on approval %s: its decision is unreadable: %w", a.ID, err)
	}
	params := rec.Decision.Params
	if len(a.Params) > 0 {
		var edited remediate.Params
		if err := json.Unmarshal(a.Params, &edited); err != nil {
			return r.refuseApproval(ctx, inc, a, "the edited parameters are not valid: "+err.Error())
		}
		params = edited
	}
	return &rec, a.DecidedBy, params, nil
}

func (r *Remediator) refuseApproval(ctx context.Context, inc *incident.Incident, a *incident.Approval, why string) (*Record, string, remediate.Params, error) {
	why = logscan.Redact(why)
	if err := r.audit(ctx, inc.ID, Actor, "action.refused", &audit.Detail{RequestedBy: a.DecidedBy, Approver: a.DecidedBy, Decision: string(remediate.OutcomeRefuse), Reasons: []string{why}}); err != nil {
		return nil, "", remediate.Params{}, err
	}
	return nil, "", remediate.Params{}, r.move(ctx, inc.ID, incident.StateRemediating, incident.StateEscalated, why)
}

// confirm asks the policy again just before acting, with Airflow's state
// now, the counters and the kill switch: a decision made minutes ago (a
// backoff, an approval) must still hold. The decision returned has
// outcome execute; nil means the policy now refuses (or shadows), which is
// recorded and the incident escalated. A run already in the ledger is
// confirmed as it is: the executor settles it and never acts twice.
func (r *Remediator) confirm(ctx context.Context, inc *incident.Incident, af remediate.Airflow, rec *Record, approvedBy string, params remediate.Params) (*remediate.Decision, error) {
	by := approvedBy
	if by == "" {
		by = Actor
	}
	in := remediate.Input{
		Target: rec.Target, Class: rec.Class, Confidence: rec.Confidence, RetrySafe: rec.RetrySafe,
		Proposed: string(rec.Decision.Action), Params: params, Facts: rec.Facts, ApprovedBy: by, Now: r.now().UTC(),
	}
	// The same inputs give the same key: look the run up first.
	planned := r.policy.Evaluate(in)
	if planned.IdempotencyKey != "" {
		if _, err := r.store.ActionGet(ctx, planned.IdempotencyKey); err == nil {
			planned.Outcome = remediate.OutcomeExecute
			return &planned, nil
		} else if !errors.Is(err, store.ErrNotFound) {
			return nil, fmt.Errorf("act on %s: %w", inc.ID, err)
		}
	}
	f, err := facts(ctx, af, rec.Target)
	if err != nil {
		return nil, fmt.Errorf("act on %s: %w", inc.ID, err)
	}
	in.Facts = f
	if err := r.counters(ctx, &in); err != nil {
		return nil, err
	}
	in.PriorFailedVerification = false // a person approved, or the decision already weighed it
	d := r.policy.Evaluate(in)
	if d.Outcome == remediate.OutcomeExecute {
		return &d, nil
	}
	action, state := "action.refused", "medic did not run "+string(d.Action)+": "+escalation(d)
	if d.Outcome == remediate.OutcomeShadow {
		action, state = "action.shadow", fmt.Sprintf("shadow mode: medic would have run %s; a person decides", d.Action)
	}
	if err := r.audit(ctx, inc.ID, Actor, action, decisionDetail(d, by)); err != nil {
		return nil, err
	}
	return nil, r.move(ctx, inc.ID, incident.StateRemediating, incident.StateEscalated, state)
}

// Verify is the verification job: one look at Airflow per attempt,
// snoozing until the action's window passes. A verified action resolves
// the incident; a failed or undecided one escalates it, and medic never
// repeats that action for this incident without a person. Either way the
// outcome is the incident's memory record's feedback.
func (r *Remediator) Verify(ctx context.Context, args store.VerifyJobArgs) (Step, error) {
	run, err := r.store.ActionGet(ctx, args.IdempotencyKey)
	if err != nil {
		return Step{}, fmt.Errorf("verify %s: %w", args.IdempotencyKey, err)
	}
	if run.Verification != incident.VerificationPending {
		return Step{}, nil
	}
	var (
		d remediate.Decision
		t remediate.Target
	)
	if err := json.Unmarshal(args.Decision, &d); err != nil {
		return Step{}, fmt.Errorf("verify %s: decision: %w", args.IdempotencyKey, err)
	}
	if err := json.Unmarshal(args.Target, &t); err != nil {
		return Step{}, fmt.Errorf("verify %s: target: %w", args.IdempotencyKey, err)
	}
	inc, err := r.store.IncidentGetByID(ctx, args.IncidentID)
	if err != nil {
		return Step{}, fmt.Errorf("verify %s: %w", args.IdempotencyKey, err)
	}
	af, err := r.airflow(inc)
	if err != nil {
		return Step{}, err
	}
	window := d.Verify.Window
	if window <= 0 {
		window = time.Hour
	}
	since := run.StartedAt
	if run.FinishedAt != nil {
		since = *run.FinishedAt
	}
	open := r.now().Before(since.Add(window))
	res, done, err := r.executor(af, run.ApprovalID).Check(ctx, d, t, remediate.RunOf(run))
	switch {
	case err != nil && open:
		r.log.WarnContext(ctx, "verification check failed; trying again", "incident_id", inc.ID, "error", err)
		return Step{Snooze: r.opts.VerifyEvery}, nil
	case err != nil:
		res = remediate.VerifyResult{Outcome: remediate.Undecided, Detail: "Airflow could not be read at the end of the window: " + err.Error()}
	case !done && open:
		return Step{Snooze: r.opts.VerifyEvery}, nil
	case !done:
		res = remediate.VerifyResult{Outcome: remediate.Undecided, Detail: "the " + window.String() + " window passed: " + res.Detail}
	}
	return Step{}, r.settle(ctx, inc, d, run, res)
}

// settle records a verification's outcome once and acts on it.
func (r *Remediator) settle(ctx context.Context, inc *incident.Incident, d remediate.Decision, run *incident.ActionRun, res remediate.VerifyResult) error {
	detail := logscan.Redact(res.Detail)
	v, outcome, to := incident.VerificationEscalated, memory.OutcomeUnknown, incident.StateEscalated
	switch res.Outcome {
	case remediate.Verified:
		v, outcome, to = incident.VerificationVerified, memory.OutcomeFixed, incident.StateResolved
	case remediate.NotVerified:
		v, outcome = incident.VerificationFailed, memory.OutcomeFailed
	}
	if _, err := r.store.ActionSetVerification(ctx, &store.ActionSetVerificationParams{
		IdempotencyKey: run.IdempotencyKey, Verification: v, Detail: detail,
	}); errors.Is(err, store.ErrConflict) {
		return nil // another attempt recorded it first
	} else if err != nil {
		return fmt.Errorf("verify %s: %w", run.IdempotencyKey, err)
	}
	if r.memory != nil && outcome != memory.OutcomeUnknown {
		if _, err := r.memory.Feedback(ctx, inc.ID, memory.Update{Feedback: memory.Feedback{Outcome: outcome}, Action: remediate.Remediation(d.Action)}); err != nil &&
			!errors.Is(err, memory.ErrNotFound) {
			// The verification is recorded; a lost trust update is logged,
			// not retried, so that it can never count twice.
			r.log.ErrorContext(ctx, "memory feedback lost", "incident_id", inc.ID, "outcome", outcome, "error", err)
		}
	}
	if d.Action == remediate.RetryWithMoreResources {
		// The override was for this retry only: later clears run on the
		// task's own resources again.
		if af, err := r.airflow(inc); err == nil {
			if err := af.SetVariable(ctx, remediate.ResourcesVariable(run.DagID, run.TaskID), "{}",
				"reset by medic after verifying "+inc.ID+": no override"); err != nil {
				r.log.WarnContext(ctx, "resources override not reset", "incident_id", inc.ID, "error", err)
			}
		}
	}
	reason := fmt.Sprintf("%s verified: %s", d.Action, detail)
	if to == incident.StateEscalated {
		reason = fmt.Sprintf("%s did not fix it (%s): a person decides what next; medic will not repeat it", d.Action, detail)
	}
	r.log.InfoContext(ctx, "verification settled", "incident_id", inc.ID, "action", d.Action, "outcome", res.Outcome)
	// The verify job may have started before the action job moved the
	// incident to verifying.
	if err := r.move(ctx, inc.ID, incident.StateRemediating, incident.StateVerifying, fmt.Sprintf("%s ran; verifying", d.Action)); err != nil {
		return err
	}
	return r.move(ctx, inc.ID, incident.StateVerifying, to, reason)
}
