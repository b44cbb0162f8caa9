package store

import (
	"errors"
	"time"

	"github.com/medic-sh/medic/internal/incident"
)

// ErrLimit is returned by ActionBegin for a run its limits refuse: a
// budget used up or the rate limit reached.
var ErrLimit = errors.New("limit reached")

// ErrForbidden is returned for a change the caller may not make, such as
// approving their own request where that is refused.
var ErrForbidden = errors.New("forbidden")

// ApprovalDecideParams is the input of Store.ApprovalDecide.
type ApprovalDecideParams struct {
	ID string
	// Approve approves the action; false rejects it.
	Approve bool
	// By and Role are the person deciding and the role they decide with.
	By     string
	Role   string
	Reason string
	// Now is the time of the decision, which expiry is judged at; the
	// store's clock when zero.
	Now time.Time
	// ForbidSelfApproval refuses an approval by the person who requested
	// it (production); rejecting one's own request is always allowed.
	ForbidSelfApproval bool
	// Params, when set on an approval, replaces the proposed parameters
	// (an edited trigger conf). The executor validates them again before
	// acting.
	Params []byte
}

// ApprovalListParams filters ApprovalList, newest first, at most Limit
// (ClampLimit applies).
type ApprovalListParams struct {
	Status     incident.ApprovalStatus
	IncidentID string
	Limit      int
}

// ActionFinishParams is the input of Store.ActionFinish.
type ActionFinishParams struct {
	IdempotencyKey string
	// Status must be final (incident.RunStatus.Final).
	Status incident.RunStatus
	// Response summarises what came back, redacted.
	Response string
}

// ActionSetVerificationParams is the input of Store.ActionSetVerification.
type ActionSetVerificationParams struct {
	IdempotencyKey string
	// Verification must not be pending.
	Verification incident.Verification
	// Detail says what the check saw, for the audit trail.
	Detail string
}

// CountersParams is the input of Store.RemediationCounters: the target of
// the action being decided, the incident and action a failed verification
// is looked up for, and the clock and rate window the counts are taken at.
type CountersParams struct {
	DagID  string
	RunID  string
	TaskID string
	// TryNumber, when above zero, counts only runs at that try.
	TryNumber  int
	IncidentID string
	Action     string
	Now        time.Time
	// RateWindow is remediate.Policy.RateWindow; zero counts nothing.
	RateWindow time.Duration
}

// RemediationCounts are medic's earlier action runs, counted for the
// policy; the fields mean what remediate.Counters' do, which this mirrors
// so that the store need not import the policy.
type RemediationCounts struct {
	// TaskInstanceAttempts counts runs on this DAG, run and task.
	TaskInstanceAttempts int `json:"task_instance_attempts"`
	// DagToday counts runs on this DAG since UTC midnight of Now.
	DagToday int `json:"dag_today"`
	// InRateWindow counts runs on any DAG in the RateWindow up to Now.
	InRateWindow int `json:"in_rate_window"`
	// PriorFailedVerification reports that the action already ran for the
	// incident and its verification failed.
	PriorFailedVerification bool `json:"prior_failed_verification"`
}

// KillSwitch is the runtime kill switch: while On, medic takes no action.
// The zero value, off and never set, is what a new store holds.
type KillSwitch struct {
	On     bool      `json:"on"`
	By     string    `json:"by,omitempty"`
	Reason string    `json:"reason,omitempty"`
	At     time.Time `json:"at,omitzero"`
}

// KillSwitchSetParams is the input of Store.KillSwitchSet.
type KillSwitchSetParams struct {
	On     bool
	By     string
	Reason string
}
