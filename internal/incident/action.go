package incident

import (
	"encoding/json"
	"time"
)

// Outcome is what a decision concluded.
type Outcome string

// Decision outcomes.
const (
	OutcomeExecute  Outcome = "execute"
	OutcomePropose  Outcome = "propose"  // needs a human approval
	OutcomeShadow   Outcome = "shadow"   // would execute; shadow mode recorded it only
	OutcomeDeny     Outcome = "deny"     // policy forbids it
	OutcomeEscalate Outcome = "escalate" // hand to a person
)

// Decision records what code decided to do about an incident and which rules
// produced that decision.
type Decision struct {
	ID         string    `json:"id"`
	IncidentID string    `json:"incident_id"`
	Action     string    `json:"action"`
	Outcome    Outcome   `json:"outcome"`
	Rules      []string  `json:"rules"`
	Reason     string    `json:"reason"`
	CreatedAt  time.Time `json:"created_at"`
}

// ActionStatus is the progress of one write medic makes.
type ActionStatus string

// Action statuses.
const (
	ActionPending   ActionStatus = "pending"
	ActionRunning   ActionStatus = "running"
	ActionSucceeded ActionStatus = "succeeded"
	ActionFailed    ActionStatus = "failed"
	ActionSkipped   ActionStatus = "skipped"
)

// Action is one write to an external system (an Airflow clear, a trigger),
// done at most once per idempotency key.
type Action struct {
	ID             string          `json:"id"`
	IncidentID     string          `json:"incident_id"`
	DecisionID     string          `json:"decision_id,omitempty"`
	Kind           string          `json:"kind"`
	IdempotencyKey string          `json:"idempotency_key"`
	Params         json.RawMessage `json:"params,omitempty"`
	Status         ActionStatus    `json:"status"`
	Result         string          `json:"result,omitempty"`
	CreatedAt      time.Time       `json:"created_at"`
	UpdatedAt      time.Time       `json:"updated_at"`
}

// AuditEntry is one append-only record of something medic or a person did.
type AuditEntry struct {
	ID         int64           `json:"id"`
	At         time.Time       `json:"at"`
	Actor      string          `json:"actor"`
	Action     string          `json:"action"`
	IncidentID string          `json:"incident_id,omitempty"`
	Detail     json.RawMessage `json:"detail,omitempty"`
	// PrevHash is the Hash of the entry before this one (64 zeros for the
	// first) and Hash the SHA-256 that chains this entry to it; see package
	// audit.
	PrevHash string `json:"prev_hash,omitempty"`
	Hash     string `json:"hash,omitempty"`
}
