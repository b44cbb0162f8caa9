package store

import "encoding/json"

// Durable jobs a Store enqueues in the same transaction as the state change
// that causes them. Workers elsewhere (triage, notify) consume them. Every job
// is idempotent: running it twice after a crash has the effect of running it
// once, because the work it records is keyed in the database.

// TriageJobArgs asks for an incident's triage session to run (or resume):
// the root of the investigation, the commander.
type TriageJobArgs struct {
	IncidentID string `json:"incident_id"`
	SessionID  string `json:"session_id"`
}

// Kind is the job kind stored with the job.
func (TriageJobArgs) Kind() string { return "medic_triage" }

// NotifyJobArgs asks for an incident's people to be told what happened:
// the report once it is triaged, then each move of the incident.
type NotifyJobArgs struct {
	IncidentID string `json:"incident_id"`
	// Reason is what happened: "triaged", "state:<state>" for a move, or
	// "approval:<id>" for a proposal awaiting a person.
	Reason string `json:"reason"`
	// Detail says why, for a move (the transition's reason).
	Detail string `json:"detail,omitempty"`
}

// Kind is the job kind stored with the job.
func (NotifyJobArgs) Kind() string { return "medic_notify" }

// SpecialistJobArgs asks for one child session of an investigation to run
// (or resume): a specialist such as the log analyzer. SessionSpawn enqueues
// it, one per child.
type SpecialistJobArgs struct {
	IncidentID string `json:"incident_id"`
	SessionID  string `json:"session_id"`
	Agent      string `json:"agent"`
}

// Kind is the job kind stored with the job.
func (SpecialistJobArgs) Kind() string { return "medic_specialist" }

// ComposeJobArgs asks for a parent session to compose its children's
// results into its own. There is one per parent: SessionSpawn schedules it
// at the parent's deadline, and SessionFinish makes it due at once when the
// last child finishes. Composing is idempotent, and composing before every
// child finished is how a timed-out or failed specialist yields a partial
// report.
type ComposeJobArgs struct {
	IncidentID string `json:"incident_id"`
	SessionID  string `json:"session_id"`
}

// Kind is the job kind stored with the job.
func (ComposeJobArgs) Kind() string { return "medic_compose" }

// RemediateJobArgs asks for the policy to decide what medic does about a
// triaged incident: TriageComplete enqueues it when asked to. Deciding is
// idempotent: the decision is recorded once, as the root session's
// "remediate.decision" finding, and a redelivered job acts on that record.
type RemediateJobArgs struct {
	IncidentID string `json:"incident_id"`
	SessionID  string `json:"session_id"`
}

// Kind is the job kind stored with the job.
func (RemediateJobArgs) Kind() string { return "medic_remediate" }

// ActionJobArgs asks for one decided action to run: an autonomous
// decision (Key names it in the root session's decision finding) or an
// approved proposal (ApprovalID). Running is idempotent by the action's
// idempotency key. A delayed action (retry_with_backoff) is scheduled for
// the end of its delay; a waiting one polls by snoozing.
type ActionJobArgs struct {
	IncidentID string `json:"incident_id"`
	SessionID  string `json:"session_id,omitempty"`
	ApprovalID string `json:"approval_id,omitempty"`
}

// Kind is the job kind stored with the job.
func (ActionJobArgs) Kind() string { return "medic_action" }

// VerifyJobArgs asks for an executed action to be verified: one check of
// Airflow per try, snoozing until the action's window passes.
type VerifyJobArgs struct {
	IncidentID     string `json:"incident_id"`
	IdempotencyKey string `json:"idempotency_key"`
	// Decision and Target are the executed remediate.Decision and
	// remediate.Target, as JSON.
	Decision json.RawMessage `json:"decision"`
	Target   json.RawMessage `json:"target"`
}

// Kind is the job kind stored with the job.
func (VerifyJobArgs) Kind() string { return "medic_verify" }

// ApprovalExpiryJobArgs asks for an approval still pending at its expiry
// to lapse, and its incident to go to a person. ApprovalCreate schedules it
// for the approval's ExpiresAt.
type ApprovalExpiryJobArgs struct {
	ApprovalID string `json:"approval_id"`
}

// Kind is the job kind stored with the job.
func (ApprovalExpiryJobArgs) Kind() string { return "medic_approval_expiry" }
