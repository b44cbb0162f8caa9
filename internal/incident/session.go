package incident

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// MaxSessionDepth bounds the investigation tree: the commander (depth 1) may
// start specialists (depth 2), and specialists may not start anyone.
const MaxSessionDepth = 2

// ErrDepth is returned when a session would exceed MaxSessionDepth.
var ErrDepth = errors.New("session depth limit reached")

// SessionStatus is the progress of one investigation session.
type SessionStatus string

// Session statuses. completed, failed, timed_out and partial are final.
const (
	SessionPending   SessionStatus = "pending"
	SessionRunning   SessionStatus = "running"
	SessionCompleted SessionStatus = "completed"
	SessionPartial   SessionStatus = "partial" // finished, but some steps or children failed
	SessionFailed    SessionStatus = "failed"
	SessionTimedOut  SessionStatus = "timed_out"
)

// Final reports whether a session in st does no further work.
func (st SessionStatus) Final() bool {
	switch st {
	case SessionCompleted, SessionPartial, SessionFailed, SessionTimedOut:
		return true
	}
	return false
}

// Session is one node of an investigation tree: a unit of work by one agent
// with its own status and findings.
type Session struct {
	ID         string        `json:"id"`
	IncidentID string        `json:"incident_id"`
	ParentID   string        `json:"parent_id,omitempty"`
	Agent      string        `json:"agent"`
	Depth      int           `json:"depth"`
	Status     SessionStatus `json:"status"`
	Error      string        `json:"error,omitempty"`
	// Input is what the parent asked this session to do (a specialist's
	// brief), set when it was spawned.
	Input json.RawMessage `json:"input,omitempty"`
	// Result is the session's structured outcome (a specialist's findings
	// and evidence for its parent to compose), set when it finished.
	Result json.RawMessage `json:"result,omitempty"`
	// Deadline is when the session's parent composes without it: for a
	// child, the time it must finish by; for a parent, the time its
	// children's results are composed, finished or not.
	Deadline   *time.Time `json:"deadline,omitempty"`
	CreatedAt  time.Time  `json:"created_at"`
	UpdatedAt  time.Time  `json:"updated_at"`
	FinishedAt *time.Time `json:"finished_at,omitempty"`
}

// NewRootSession opens the top session of an incident's investigation.
func NewRootSession(id, incidentID, agent string, at time.Time) *Session {
	return &Session{ID: id, IncidentID: incidentID, Agent: agent, Depth: 1, Status: SessionPending, CreatedAt: at, UpdatedAt: at}
}

// NewChild opens a child session under s, enforcing the depth limit.
func (s *Session) NewChild(id, agent string, at time.Time) (*Session, error) {
	if s.Depth+1 > MaxSessionDepth {
		return nil, fmt.Errorf("session %s (%s, depth %d) cannot start %s: %w", s.ID, s.Agent, s.Depth, agent, ErrDepth)
	}
	return &Session{ID: id, IncidentID: s.IncidentID, ParentID: s.ID, Agent: agent, Depth: s.Depth + 1, Status: SessionPending, CreatedAt: at, UpdatedAt: at}, nil
}

// Evidence is one quoted, redacted piece of data supporting a finding.
type Evidence struct {
	// Source says where the quote came from: "log", "airflow_api", "event".
	Source string `json:"source"`
	// Ref locates it: a log name with try number, an API path.
	Ref  string `json:"ref,omitempty"`
	Line int    `json:"line,omitempty"`
	Text string `json:"text"`
}

// FindingKind names what a finding is about.
type FindingKind string

// Finding kinds produced by triage v1.
const (
	FindingRunSummary  FindingKind = "run_summary"
	FindingFailedTasks FindingKind = "failed_tasks"
	FindingFrequency   FindingKind = "frequency"
	FindingLogExcerpt  FindingKind = "log_excerpt"
	FindingHistory     FindingKind = "history"
	// FindingRemediation is the policy's decision about an incident,
	// recorded once on its root session.
	FindingRemediation FindingKind = "remediation"
)

// StepRemediationDecision is the step of the FindingRemediation finding on
// an incident's root session: the remediation policy's decision.
const StepRemediationDecision = "remediate.decision"

// Finding is a structured result of one investigation step.
type Finding struct {
	ID         string      `json:"id"`
	SessionID  string      `json:"session_id"`
	IncidentID string      `json:"incident_id"`
	Kind       FindingKind `json:"kind"`
	// Step is the triage step that produced it; (session, step) is unique so
	// a resumed session never records a step twice.
	Step     string          `json:"step"`
	Summary  string          `json:"summary"`
	Data     json.RawMessage `json:"data,omitempty"`
	Evidence []Evidence      `json:"evidence,omitempty"`
	// Error is set when the step failed; the finding then records what was
	// tried so the report can say what is missing.
	Error     string    `json:"error,omitempty"`
	CreatedAt time.Time `json:"created_at"`
}
