package incident

import (
	"errors"
	"fmt"
	"slices"
	"time"
)

// State is where an incident stands in its life.
type State string

// Incident states. resolved and escalated are terminal for medic's own work;
// a person may still reopen an escalated incident by resolving it.
const (
	StateOpen             State = "open"
	StateInvestigating    State = "investigating"
	StateAwaitingApproval State = "awaiting_approval"
	StateRemediating      State = "remediating"
	StateVerifying        State = "verifying"
	StateResolved         State = "resolved"
	StateEscalated        State = "escalated"
)

// States lists every state in lifecycle order.
var States = []State{
	StateOpen, StateInvestigating, StateAwaitingApproval, StateRemediating,
	StateVerifying, StateResolved, StateEscalated,
}

// transitions is the state machine: from → allowed next states.
var transitions = map[State][]State{
	StateOpen:             {StateInvestigating, StateResolved, StateEscalated},
	StateInvestigating:    {StateAwaitingApproval, StateRemediating, StateResolved, StateEscalated},
	StateAwaitingApproval: {StateRemediating, StateResolved, StateEscalated},
	StateRemediating:      {StateVerifying, StateEscalated},
	StateVerifying:        {StateResolved, StateEscalated, StateRemediating},
	// A person who picks up an escalated incident may propose an action
	// for it (an approval, through medic), which a person then decides.
	StateEscalated: {StateResolved, StateAwaitingApproval},
	StateResolved:  nil,
}

// ErrTransition is returned for a move the state machine does not allow.
var ErrTransition = errors.New("transition not allowed")

// Valid reports whether s is a known state.
func (s State) Valid() bool { _, ok := transitions[s]; return ok }

// Decided reports whether the incident's triage completed and remediation
// moved it on from investigating (to a proposal, an action, or a person).
func (in *Incident) Decided() bool {
	return in.TriagedAt != nil && in.State != StateInvestigating && in.State != StateOpen
}

// Terminal reports whether medic does no further work on an incident in s.
func (s State) Terminal() bool { return s == StateResolved || s == StateEscalated }

// CanTransition reports whether an incident may move from s to next.
func (s State) CanTransition(next State) bool {
	return slices.Contains(transitions[s], next)
}

// Severity ranks incidents for routing and display.
type Severity string

// Severities, least to most urgent.
const (
	SeverityLow      Severity = "low"
	SeverityMedium   Severity = "medium"
	SeverityHigh     Severity = "high"
	SeverityCritical Severity = "critical"
)

// Severities lists the severities, least to most urgent.
var Severities = []Severity{SeverityLow, SeverityMedium, SeverityHigh, SeverityCritical}

// Rank orders severities, least urgent first: 0 for low to 3 for
// critical, -1 for an unknown one.
func (s Severity) Rank() int { return slices.Index(Severities, s) }

// Incident is one failure, or a group of failures with one cause, that medic
// investigates and reports once.
type Incident struct {
	ID       string   `json:"id"`
	State    State    `json:"state"`
	Severity Severity `json:"severity"`
	Title    string   `json:"title"`
	Instance string   `json:"instance"`
	DagID    string   `json:"dag_id"`
	RunID    string   `json:"run_id"`
	// GroupKey is the structured key events coalesce on (v1: the DAG run).
	GroupKey string `json:"group_key"`
	// FirstTaskID is the task whose failure opened the incident.
	FirstTaskID string    `json:"first_task_id"`
	EventCount  int       `json:"event_count"`
	Owner       string    `json:"owner,omitempty"`
	Tags        []string  `json:"tags,omitempty"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
	// TriagedAt is set once, when the triage session completed.
	TriagedAt *time.Time `json:"triaged_at,omitempty"`
	// NotifiedAt is set once the incident's report went out.
	NotifiedAt *time.Time `json:"notified_at,omitempty"`
	// TriageSessionID is the root session investigating the incident.
	TriageSessionID string `json:"triage_session_id,omitempty"`
	Summary         string `json:"summary,omitempty"`
	// Signature identifies the root cause's failure across runs, dates and
	// hosts, once triage has found it.
	Signature string `json:"signature,omitempty"`
}

// Transition moves the incident to next, or explains why it cannot.
func (in *Incident) Transition(next State, at time.Time) error {
	if !next.Valid() {
		return fmt.Errorf("incident %s: unknown state %q: %w", in.ID, next, ErrTransition)
	}
	if !in.State.CanTransition(next) {
		return fmt.Errorf("incident %s: %s → %s: %w", in.ID, in.State, next, ErrTransition)
	}
	in.State = next
	in.UpdatedAt = at
	return nil
}

// NewFromEvent opens an incident for the first event of its group.
func NewFromEvent(id string, ev *FailureEvent, at time.Time) *Incident {
	return &Incident{
		ID:          id,
		State:       StateOpen,
		Severity:    SeverityMedium,
		Title:       fmt.Sprintf("%s.%s failed (run %s)", ev.DagID, ev.TaskID, ev.RunID),
		Instance:    ev.Instance,
		DagID:       ev.DagID,
		RunID:       ev.RunID,
		GroupKey:    ev.RunKey(),
		FirstTaskID: ev.TaskID,
		EventCount:  1,
		Owner:       ev.Owner,
		Tags:        slices.Clone(ev.Tags),
		CreatedAt:   at,
		UpdatedAt:   at,
	}
}
