// Package act carries a triaged incident through remediation: the policy
// decides (code, never a model), a proposal waits for a person, an action
// runs once, and its outcome is verified before the incident is resolved or
// escalated. Every step is audited, and outcomes feed the failure memory's
// trust.
//
// Each step is a durable job and idempotent: the decision is recorded once
// as the root session's "remediate.decision" finding, an action runs under
// its idempotency key in the ledger, and a verification is recorded once on
// its run. A redelivered job, a restart or a second replica repeats nothing.
package act

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/riverqueue/river"

	"github.com/medic-sh/medic/internal/audit"
	"github.com/medic-sh/medic/internal/incident"
	"github.com/medic-sh/medic/internal/investigate"
	"github.com/medic-sh/medic/internal/logscan"
	"github.com/medic-sh/medic/internal/memory"
	"github.com/medic-sh/medic/internal/remediate"
	"github.com/medic-sh/medic/internal/store"
)

// Store is what remediation reads and records.
type Store interface {
	IncidentGetByID(ctx context.Context, id string) (*incident.Incident, error)
	IncidentTransition(ctx context.Context, p *store.IncidentTransitionParams) (*incident.Incident, error)
	SessionGetByID(ctx context.Context, id string) (*incident.Session, error)
	FindingInsert(ctx context.Context, f *incident.Finding) (bool, error)
	FindingListBySession(ctx context.Context, sessionID string) ([]*incident.Finding, error)
	ApprovalCreate(ctx context.Context, a *incident.Approval) (*incident.Approval, bool, error)
	ApprovalGet(ctx context.Context, id string) (*incident.Approval, error)
	ApprovalExpire(ctx context.Context, id string, now time.Time) (*incident.Approval, bool, error)
	ActionGet(ctx context.Context, idempotencyKey string) (*incident.ActionRun, error)
	ActionSetVerification(ctx context.Context, p *store.ActionSetVerificationParams) (*incident.ActionRun, error)
	RemediationCounters(ctx context.Context, p *store.CountersParams) (*store.RemediationCounts, error)
	KillSwitchGet(ctx context.Context) (*store.KillSwitch, error)
	AuditAppend(ctx context.Context, e *incident.AuditEntry) (*incident.AuditEntry, error)
	AuditList(ctx context.Context, p *store.AuditListParams) ([]*incident.AuditEntry, error)
	remediate.ActionStore
}

// Instances gives the Airflow client of an instance by name.
type Instances interface {
	Airflow(name string) (remediate.Airflow, bool)
}

// Memory takes outcomes as feedback on the incident's memory record.
type Memory interface {
	Feedback(ctx context.Context, id string, u memory.Update) (*memory.Record, error)
}

// Enqueue inserts a job; the app passes its River client's Insert.
type Enqueue func(ctx context.Context, args river.JobArgs, opts *river.InsertOpts) error

// Options configure a Remediator.
type Options struct {
	// VerifyEvery is how often a verification checks Airflow.
	VerifyEvery time.Duration
}

// Remediator runs the remediation jobs.
type Remediator struct {
	store     Store
	policy    *remediate.Policy
	instances Instances
	memory    Memory
	enqueue   Enqueue
	opts      Options
	log       *slog.Logger
	now       func() time.Time
}

// New builds a Remediator. mem may be nil (no failure memory).
func New(st Store, policy *remediate.Policy, in Instances, mem Memory, enqueue Enqueue, opts Options, logger *slog.Logger, now func() time.Time) *Remediator {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if now == nil {
		now = time.Now
	}
	if opts.VerifyEvery <= 0 {
		opts.VerifyEvery = 30 * time.Second
	}
	return &Remediator{
		store: st, policy: policy, instances: in, memory: mem, enqueue: enqueue, opts: opts,
		log: logger.With("component", "remediate"), now: now,
	}
}

// Actor is how medic's own policy appears as a requester and actor.
const Actor = "medic (policy)"

// Record is the recorded decision about an incident.
type Record struct {
	Decision remediate.Decision `json:"decision"`
	Target   remediate.Target   `json:"target"`
	Class    string             `json:"class"`
	// Confidence and RetrySafe are the diagnosis the decision was made on.
	Confidence float64 `json:"confidence"`
	RetrySafe  bool    `json:"retry_safe"`
	Proposed   string  `json:"proposed"`
	// Facts and Counters are what Airflow and the ledger said at the time.
	Facts    remediate.Facts    `json:"facts"`
	Counters remediate.Counters `json:"counters"`
	// Error says why medic could not decide (Airflow unreachable): the
	// decision is then to escalate.
	Error string `json:"error,omitempty"`
}

// Decide is the remediate job: it decides what to do about a triaged
// incident, records the decision once, and carries it out. last reports
// the job's last attempt: when Airflow cannot be read even then, medic
// escalates rather than leave the incident undecided.
func (r *Remediator) Decide(ctx context.Context, incidentID, sessionID string, last bool) error {
	inc, err := r.store.IncidentGetByID(ctx, incidentID)
	if err != nil {
		return fmt.Errorf("remediate %s: %w", incidentID, err)
	}
	rec, err := r.recorded(ctx, sessionID)
	if err != nil {
		return err
	}
	if rec == nil {
		if inc.State != incident.StateInvestigating {
			r.log.InfoContext(ctx, "incident moved on before remediation decided", "incident_id", inc.ID, "state", inc.State)
			return nil
		}
		rec, err = r.evaluate(ctx, inc, sessionID)
		if err != nil {
			if !last {
				return err
			}
			rec = &Record{
				Target: r.target(inc, 0), Error: logscan.Redact(err.Error()),
				Decision: remediate.Decision{Outcome: remediate.OutcomeEscalate, Action: remediate.Escalate, Reasons: []remediate.Reason{{
					Rule: "airflow", Result: "fail", Detail: "medic could not read the failure's state from Airflow: " + logscan.Redact(err.Error()),
				}}},
			}
		}
		if rec, err = r.record(ctx, inc, sessionID, rec); err != nil {
			return err
		}
	}
	switch {
	case inc.State == incident.StateInvestigating:
		return r.apply(ctx, inc, sessionID, rec)
	case inc.State == incident.StateAwaitingApproval && rec.Decision.Outcome == remediate.OutcomePropose:
		// Moved before a crash kept the approval from being stored: store
		// it (a pending one is not stored twice).
		return r.propose(ctx, inc, rec)
	case inc.State == incident.StateRemediating && rec.Decision.Outcome == remediate.OutcomeExecute:
		// Moved before a crash kept the job from being scheduled: schedule
		// it (a job already scheduled or done is not added twice).
		return r.schedule(ctx, inc, sessionID, rec.Decision)
	}
	// Carried out already (every branch of apply ends by moving the
	// incident on), or a person moved it: a redelivery repeats nothing.
	return nil
}

// recorded returns the recorded decision, nil when there is none yet.
func (r *Remediator) recorded(ctx context.Context, sessionID string) (*Record, error) {
	fs, err := r.store.FindingListBySession(ctx, sessionID)
	if err != nil {
		return nil, fmt.Errorf("remediate: read decision: %w", err)
	}
	for _, f := range fs {
		if f.Step == incident.StepRemediationDecision {
			var rec Record
			if err := json.Unmarshal(f.Data, &rec); err != nil {
				return nil, fmt.Errorf("remediate: decision of session %s is unreadable: %w", sessionID, err)
			}
			return &rec, nil
		}
	}
	return nil, nil
}

// record stores the decision as the root session's finding and audits it,
// once; a concurrent decision recorded first wins and is returned.
func (r *Remediator) record(ctx context.Context, inc *incident.Incident, sessionID string, rec *Record) (*Record, error) {
	data, err := json.Marshal(rec)
	if err != nil {
		return nil, fmt.Errorf("remediate %s: %w", inc.ID, err)
	}
	d := rec.Decision
	summary := fmt.Sprintf("%s %s", d.Outcome, d.Action)
	inserted, err := r.store.FindingInsert(ctx, &incident.Finding{
		SessionID: sessionID, IncidentID: inc.ID, Kind: incident.FindingRemediation, Step: incident.StepRemediationDecision,
		Summary: summary, Data: data, Evidence: []incident.Evidence{},
	})
	if err != nil {
		return nil, fmt.Errorf("remediate %s: record decision: %w", inc.ID, err)
	}
	if !inserted {
		got, err := r.recorded(ctx, sessionID)
		if err != nil || got == nil {
			return nil, fmt.Errorf("remediate %s: a decision was recorded but cannot be read: %w", inc.ID, err)
		}
		return got, nil
	}
	if err := r.audit(ctx, inc.ID, Actor, "remediation.decided", decisionDetail(d, Actor)); err != nil {
		return nil, err
	}
	r.log.InfoContext(ctx, "remediation decided", "incident_id", inc.ID, "outcome", d.Outcome, "action", d.Action)
	return rec, nil
}

// decisionDetail is a decision as an audit entry: the outcome, every rule
// consulted and the gate's figures.
func decisionDetail(d remediate.Decision, by string) *audit.Detail {
	det := &audit.Detail{RequestedBy: by, Decision: string(d.Outcome), Update: map[string]string{"action": string(d.Action)}}
	if d.IdempotencyKey != "" {
		det.Update["idempotency_key"] = d.IdempotencyKey
	}
	for _, rs := range d.Reasons {
		det.Reasons = append(det.Reasons, fmt.Sprintf("%s %s: %s", rs.Rule, rs.Result, rs.Detail))
	}
	if g := d.Gate; g.Evaluated {
		det.Gate = map[string]float64{
			"similarity": g.Similarity, "trust": g.Trust, "weighted_similarity": g.WeightedSimilarity,
			"similarity_threshold": g.SimilarityThreshold, "confidence": g.Confidence,
			"confidence_threshold": g.ConfidenceThreshold, "stage1": boolFig(g.Stage1), "stage2": boolFig(g.Stage2),
		}
	}
	return det
}

func boolFig(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func (r *Remediator) audit(ctx context.Context, incidentID, actor, action string, d *audit.Detail) error {
	raw, err := d.JSON()
	if err != nil {
		return fmt.Errorf("audit %s: %w", action, err)
	}
	if _, err := r.store.AuditAppend(ctx, &incident.AuditEntry{
		At: r.now().UTC(), Actor: actor, Action: action, IncidentID: incidentID, Detail: raw,
	}); err != nil {
		return fmt.Errorf("audit %s: %w", action, err)
	}
	return nil
}

func (r *Remediator) target(inc *incident.Incident, try int) remediate.Target {
	return remediate.Target{IncidentID: inc.ID, DagID: inc.DagID, RunID: inc.RunID, TaskID: inc.FirstTaskID, TryNumber: try}
}

func (r *Remediator) airflow(inc *incident.Incident) (remediate.Airflow, error) {
	af, ok := r.instances.Airflow(inc.Instance)
	if !ok {
		return nil, fmt.Errorf("airflow instance %q is not configured", inc.Instance)
	}
	return af, nil
}

func (r *Remediator) executor(af remediate.Airflow, approvalID string) *remediate.Executor {
	return &remediate.Executor{Airflow: af, Ledger: remediate.StoreLedger{Store: r.store, ApprovalID: approvalID}, Limits: r.policy.Limits()}
}

// facts reads the failure's state from Airflow.
func facts(ctx context.Context, af remediate.Airflow, t remediate.Target) (remediate.Facts, error) {
	var f remediate.Facts
	if t.TaskID != "" {
		ti, err := af.GetTaskInstance(ctx, t.DagID, t.RunID, t.TaskID)
		if err != nil {
			return f, fmt.Errorf("read task instance: %w", err)
		}
		f.TaskState, f.TryNumber, f.MaxTries = ti.State, ti.TryNumber, ti.MaxTries
	}
	run, err := af.GetDagRun(ctx, t.DagID, t.RunID)
	if err != nil {
		return f, fmt.Errorf("read DAG run: %w", err)
	}
	f.RunState = run.State
	dag, err := af.GetDag(ctx, t.DagID)
	if err != nil {
		return f, fmt.Errorf("read DAG: %w", err)
	}
	f.DagPaused = dag.Paused
	return f, nil
}

// evaluate gathers the diagnosis, Airflow's facts, the counters and the
// kill switch, and asks the policy.
func (r *Remediator) evaluate(ctx context.Context, inc *incident.Incident, sessionID string) (*Record, error) {
	root, err := r.store.SessionGetByID(ctx, sessionID)
	if err != nil {
		return nil, fmt.Errorf("remediate %s: %w", inc.ID, err)
	}
	rep, _ := investigate.ParseReport(root.Result) // an unreadable report is no diagnosis: escalate
	in := remediate.Input{Proposed: string(remediate.Escalate), Now: r.now().UTC()}
	if rep != nil && rep.RootCause != nil {
		rc := rep.RootCause
		in.Class, in.Confidence, in.RetrySafe, in.Proposed = string(rc.Label), rc.Confidence, rc.RetrySafe, string(rc.Remediation)
		in.ModelProposed = rc.Model != ""
		if p := rc.Precedent; p != nil {
			in.Precedent = &remediate.Precedent{
				RecordID: p.RecordID, Action: p.Action, Outcome: string(p.Outcome), Trust: p.Trust,
				Similarity: float64(p.Similarity), Exact: p.Exact,
			}
		}
	}
	af, err := r.airflow(inc)
	if err != nil {
		return nil, err
	}
	t := r.target(inc, 0)
	if in.Facts, err = facts(ctx, af, t); err != nil {
		return nil, fmt.Errorf("remediate %s: %w", inc.ID, err)
	}
	t.TryNumber = in.Facts.TryNumber
	in.Target = t
	if err := r.counters(ctx, &in); err != nil {
		return nil, err
	}
	d := r.policy.Evaluate(in)
	return &Record{
		Decision: d, Target: t, Class: in.Class, Confidence: in.Confidence, RetrySafe: in.RetrySafe,
		Proposed: in.Proposed, Facts: in.Facts, Counters: in.Counters,
	}, nil
}

// counters fills the ledger's counts and the kill switch into in.
func (r *Remediator) counters(ctx context.Context, in *remediate.Input) error {
	name, _ := remediate.Resolve(in.Proposed)
	c, err := r.store.RemediationCounters(ctx, &store.CountersParams{
		DagID: in.DagID, RunID: in.RunID, TaskID: in.TaskID, IncidentID: in.IncidentID, Action: string(name),
		Now: in.Now, RateWindow: r.policy.RateWindow(),
	})
	if err != nil {
		return fmt.Errorf("remediate %s: %w", in.IncidentID, err)
	}
	in.Counters = remediate.Counters{TaskInstanceAttempts: c.TaskInstanceAttempts, DagToday: c.DagToday, InRateWindow: c.InRateWindow}
	in.PriorFailedVerification = c.PriorFailedVerification
	ks, err := r.store.KillSwitchGet(ctx)
	if err != nil {
		return fmt.Errorf("remediate %s: %w", in.IncidentID, err)
	}
	in.KillSwitch = ks.On
	return nil
}

// apply carries out a recorded decision; each branch is idempotent.
func (r *Remediator) apply(ctx context.Context, inc *incident.Incident, sessionID string, rec *Record) error {
	d := rec.Decision
	switch d.Outcome {
	case remediate.OutcomeExecute:
		// Move first: the action job may start the moment it is enqueued,
		// and it acts only on an incident that is remediating.
		if err := r.move(ctx, inc.ID, incident.StateInvestigating, incident.StateRemediating,
			fmt.Sprintf("medic runs %s%s", d.Action, delayNote(d.Params.Delay))); err != nil {
			return err
		}
		return r.schedule(ctx, inc, sessionID, d)
	case remediate.OutcomePropose:
		return r.propose(ctx, inc, rec)
	case remediate.OutcomeShadow:
		if err := r.auditOnce(ctx, inc.ID, "action.shadow", decisionDetail(d, Actor)); err != nil {
			return err
		}
		return r.move(ctx, inc.ID, incident.StateInvestigating, incident.StateEscalated,
			fmt.Sprintf("shadow mode: medic would have run %s; a person decides", d.Action))
	default:
		return r.move(ctx, inc.ID, incident.StateInvestigating, incident.StateEscalated, escalation(d))
	}
}

// schedule enqueues the action job of an autonomous decision, at the end
// of its delay.
func (r *Remediator) schedule(ctx context.Context, inc *incident.Incident, sessionID string, d remediate.Decision) error {
	at := r.now()
	if d.Params.Delay > 0 {
		at = at.Add(d.Params.Delay)
	}
	if err := r.enqueue(ctx, jobArgs(inc.ID, sessionID), &river.InsertOpts{
		ScheduledAt: at, UniqueOpts: river.UniqueOpts{ByArgs: true},
	}); err != nil {
		return fmt.Errorf("remediate %s: schedule %s: %w", inc.ID, d.Action, err)
	}
	return nil
}

// jobArgs is the action job of an autonomous decision.
func jobArgs(incidentID, sessionID string) river.JobArgs {
	return store.ActionJobArgs{IncidentID: incidentID, SessionID: sessionID}
}

func delayNote(d time.Duration) string {
	if d <= 0 {
		return ""
	}
	return " after a backoff of " + d.String()
}

// escalation says why the incident goes to a person.
func escalation(d remediate.Decision) string {
	last := ""
	for _, rs := range d.Reasons {
		if rs.Result == "fail" || rs.Result == "cap" {
			last = rs.Rule + ": " + rs.Detail
		}
	}
	switch d.Outcome {
	case remediate.OutcomeSuggest:
		return fmt.Sprintf("medic suggests %s; a person acts (%s)", d.Action, orText(last, "autonomy is suggest"))
	case remediate.OutcomeRefuse:
		return "medic takes no action: " + orText(last, "refused by policy")
	}
	return "a person is needed: " + orText(last, string(d.Action))
}

func orText(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func (r *Remediator) move(ctx context.Context, incidentID string, from, to incident.State, reason string) error {
	if _, err := r.store.IncidentTransition(ctx, &store.IncidentTransitionParams{
		ID: incidentID, From: from, To: to, Actor: Actor, Reason: reason,
	}); err != nil {
		return fmt.Errorf("remediate %s: move to %s: %w", incidentID, to, err)
	}
	return nil
}

// auditOnce appends an entry unless the incident already has one with the
// same action (a redelivered job).
func (r *Remediator) auditOnce(ctx context.Context, incidentID, action string, d *audit.Detail) error {
	got, err := r.store.AuditList(ctx, &store.AuditListParams{IncidentID: incidentID, ActionPrefix: action, Limit: 1})
	if err != nil {
		return fmt.Errorf("audit %s: %w", action, err)
	}
	if len(got) > 0 {
		return nil
	}
	return r.audit(ctx, incidentID, Actor, action, d)
}

// propose previews the action and asks people for an approval.
func (r *Remediator) propose(ctx context.Context, inc *incident.Incident, rec *Record) error {
	d := rec.Decision
	af, err := r.airflow(inc)
	if err != nil {
		return err
	}
	// Move first: a person may approve the moment the approval exists,
	// and approving moves an incident that awaits approval.
	if err := r.move(ctx, inc.ID, incident.StateInvestigating, incident.StateAwaitingApproval,
		fmt.Sprintf("medic proposes %s", d.Action)); err != nil {
		return err
	}
	_, _, err = r.createApproval(ctx, inc, af, rec, Actor, "")
	return err
}

func (r *Remediator) report(ctx context.Context, inc *incident.Incident) *investigate.Report {
	if inc.TriageSessionID == "" {
		return nil
	}
	root, err := r.store.SessionGetByID(ctx, inc.TriageSessionID)
	if err != nil {
		return nil
	}
	rep, _ := investigate.ParseReport(root.Result)
	return rep
}

// Expire lapses an approval still pending at its expiry: the incident goes
// to a person, and the proposal can no longer be approved. A job that runs
// early (a clock moved) snoozes until the expiry.
func (r *Remediator) Expire(ctx context.Context, approvalID string) error {
	a, expired, err := r.store.ApprovalExpire(ctx, approvalID, r.now())
	if err != nil {
		return fmt.Errorf("expire approval %s: %w", approvalID, err)
	}
	if !expired && a.Status == incident.ApprovalPending {
		return river.JobSnooze(max(a.ExpiresAt.Sub(r.now()), time.Second))
	}
	if expired {
		r.log.InfoContext(ctx, "approval expired unapproved", "approval_id", a.ID, "incident_id", a.IncidentID)
	}
	return nil
}
