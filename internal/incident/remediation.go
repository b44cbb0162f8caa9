package incident

import (
	"encoding/json"
	"time"
)

// ApprovalStatus is where a proposed action stands with the people who must
// approve it.
type ApprovalStatus string

// Approval statuses. Only a pending approval can be decided; every other
// status is final.
const (
	ApprovalPending  ApprovalStatus = "pending"
	ApprovalApproved ApprovalStatus = "approved"
	ApprovalRejected ApprovalStatus = "rejected"
	ApprovalExpired  ApprovalStatus = "expired"
	ApprovalExecuted ApprovalStatus = "executed"
)

// Valid reports whether s is one of the approval statuses.
func (s ApprovalStatus) Valid() bool {
	switch s {
	case ApprovalPending, ApprovalApproved, ApprovalRejected, ApprovalExpired, ApprovalExecuted:
		return true
	}
	return false
}

// Approval is an action the policy proposed (remediate.OutcomePropose),
// waiting for a person to approve or reject it before it lapses. It holds
// everything that person needs to judge it: the dry-run preview, the
// evidence and the policy's decision with its reasons and gate figures.
type Approval struct {
	ID         string          `json:"id"`
	IncidentID string          `json:"incident_id"`
	Action     string          `json:"action"`
	Params     json.RawMessage `json:"params,omitempty"`
	// IdempotencyKey is the key the action runs under once approved; at
	// most one approval per key is pending at a time.
	IdempotencyKey string `json:"idempotency_key"`
	// Preview is the dry run: what the action would change.
	Preview  json.RawMessage `json:"preview,omitempty"`
	Evidence json.RawMessage `json:"evidence,omitempty"`
	// Decision is the policy's decision (remediate.Decision) with its
	// reasons and gate figures.
	Decision    json.RawMessage `json:"decision,omitempty"`
	RequestedBy string          `json:"requested_by"`
	Status      ApprovalStatus  `json:"status"`
	// DecidedBy and DecidedRole are who approved or rejected it, and with
	// which role; empty while pending and for an expired approval.
	DecidedBy   string     `json:"decided_by,omitempty"`
	DecidedRole string     `json:"decided_role,omitempty"`
	Reason      string     `json:"reason,omitempty"`
	CreatedAt   time.Time  `json:"created_at"`
	ExpiresAt   time.Time  `json:"expires_at"`
	DecidedAt   *time.Time `json:"decided_at,omitempty"`
}

// RunStatus is the progress of one executed action.
type RunStatus string

// Run statuses. Unknown is for a run whose outcome medic could not learn
// (a timeout after the request left): the caller checks Airflow.
const (
	RunStarted   RunStatus = "started"
	RunSucceeded RunStatus = "succeeded"
	RunFailed    RunStatus = "failed"
	RunUnknown   RunStatus = "unknown"
)

// Final reports whether s is a status a run ends in.
func (s RunStatus) Final() bool {
	return s == RunSucceeded || s == RunFailed || s == RunUnknown
}

// Verification is whether an executed action was seen to work.
type Verification string

// Verification states; pending until the verifier decides.
const (
	VerificationPending   Verification = "pending"
	VerificationVerified  Verification = "verified"
	VerificationFailed    Verification = "failed"
	VerificationEscalated Verification = "escalated"
)

// ActionRun is one execution of an action, stored under its idempotency
// key before medic acts, so that a redelivered job or a crash between
// acting and recording never acts twice.
type ActionRun struct {
	IdempotencyKey string `json:"idempotency_key"`
	IncidentID     string `json:"incident_id"`
	// ApprovalID is the approval it ran under; empty for an autonomous run.
	ApprovalID string          `json:"approval_id,omitempty"`
	Action     string          `json:"action"`
	Params     json.RawMessage `json:"params,omitempty"`
	// DagID, RunID, TaskID and TryNumber are the target, which the
	// policy's budgets count runs by.
	DagID     string    `json:"dag_id"`
	RunID     string    `json:"run_id"`
	TaskID    string    `json:"task_id,omitempty"`
	TryNumber int       `json:"try_number,omitempty"`
	Status    RunStatus `json:"status"`
	// Attempts counts the begins asked for this key: more than one means a
	// redelivery, and the caller must check Airflow before acting.
	Attempts int `json:"attempts"`
	// Request and Response summarise what was sent and what came back,
	// redacted by the caller.
	Request      string       `json:"request,omitempty"`
	Response     string       `json:"response,omitempty"`
	StartedAt    time.Time    `json:"started_at"`
	FinishedAt   *time.Time   `json:"finished_at,omitempty"`
	Verification Verification `json:"verification"`
	VerifiedAt   *time.Time   `json:"verified_at,omitempty"`
	// Limits, when set on a run being begun, are checked atomically with
	// the begin; they are not stored.
	Limits *ActionLimits `json:"-"`
}

// ActionLimits are the policy's budgets and rate limit, enforced when a run
// begins so that concurrent decisions can never overshoot them together.
// Zero fields do not limit.
type ActionLimits struct {
	PerTaskInstance int
	PerDagPerDay    int
	RateActions     int
	RateWindow      time.Duration
}
