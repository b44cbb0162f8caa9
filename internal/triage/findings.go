package triage

import (
	"time"

	"github.com/medic-sh/medic/internal/classify"
	"github.com/medic-sh/medic/internal/incident"
	"github.com/medic-sh/medic/internal/logscan/extract"
	"github.com/medic-sh/medic/internal/logscan/signature"
	"github.com/medic-sh/medic/internal/memory"
)

// Step names. Each is recorded once per session, so a resumed triage skips
// the steps it already finished.
const (
	StepResolve     = "resolve"
	StepRunSummary  = "run_summary"
	StepFailedTasks = "failed_tasks"
	StepFrequency   = "frequency"
	StepLogExcerpt  = "log_excerpt"
	StepHistory     = "history"
	// StepMemory runs only when a failure memory is configured.
	StepMemory = "memory"
)

// FindingMemory is the kind of the memory step's finding.
const FindingMemory incident.FindingKind = "memory"

// RunSummary is the data of the run_summary finding.
type RunSummary struct {
	DagID       string         `json:"dag_id"`
	RunID       string         `json:"run_id"`
	State       string         `json:"state"`
	RunType     string         `json:"run_type,omitempty"`
	LogicalDate *time.Time     `json:"logical_date,omitempty"`
	StartDate   *time.Time     `json:"start_date,omitempty"`
	EndDate     *time.Time     `json:"end_date,omitempty"`
	DurationSec *float64       `json:"duration_sec,omitempty"`
	Tasks       int            `json:"tasks"`
	TaskStates  map[string]int `json:"task_states"`
	// FirstFailingTask is the failed task that ended first: usually the cause,
	// with the rest failing downstream of it.
	FirstFailingTask string   `json:"first_failing_task,omitempty"`
	FirstFailingTry  int      `json:"first_failing_try,omitempty"`
	Owners           []string `json:"owners,omitempty"`
	Tags             []string `json:"tags,omitempty"`
}

// FailedTask is one entry of the failed_tasks finding.
type FailedTask struct {
	TaskID      string     `json:"task_id"`
	State       string     `json:"state"`
	TryNumber   int        `json:"try_number"`
	MaxTries    int        `json:"max_tries"`
	Operator    string     `json:"operator,omitempty"`
	Hostname    string     `json:"hostname,omitempty"`
	StartDate   *time.Time `json:"start_date,omitempty"`
	EndDate     *time.Time `json:"end_date,omitempty"`
	DurationSec *float64   `json:"duration_sec,omitempty"`
	// Downstream lists the tasks this failure blocked.
	Downstream []string `json:"downstream,omitempty"`
}

// FailedTasks is the data of the failed_tasks finding.
type FailedTasks struct {
	Failed         []FailedTask `json:"failed"`
	UpstreamFailed []string     `json:"upstream_failed,omitempty"`
}

// Frequency is the data of the frequency finding: how often this task failed
// over the lookback window.
type Frequency struct {
	TaskID        string        `json:"task_id"`
	Lookback      time.Duration `json:"lookback_ns"`
	LookbackHuman string        `json:"lookback"`
	Failures      int           `json:"failures"`
	FailedRuns    int           `json:"failed_runs"`
	Recurring     bool          `json:"recurring"`
	Pattern       string        `json:"pattern"` // "one-off" or "recurring"
	PreviousRuns  []string      `json:"previous_runs,omitempty"`
	LastFailure   *time.Time    `json:"last_failure,omitempty"`
}

// LogExcerpt is the data of the log_excerpt finding: the redacted tail of the
// first failing task's log and the lines that look like the error.
type LogExcerpt struct {
	TaskID    string   `json:"task_id"`
	TryNumber int      `json:"try_number"`
	Lines     []string `json:"lines"`
	// FirstLine is the line number (1-based, within the fetched tail) of Lines[0].
	FirstLine int `json:"first_line"`
	// TailLines is how many lines of the tail were read; LogBytes is how
	// much of the log the client read to find that tail.
	TailLines  int    `json:"tail_lines"`
	LogBytes   int64  `json:"log_bytes"`
	Truncated  bool   `json:"truncated"`
	ErrorLines []int  `json:"error_lines,omitempty"`
	Headline   string `json:"headline,omitempty"`
	// Error is the root-cause error block extracted from the tail (line
	// numbers within the tail), nil when none was found.
	Error *extract.Block `json:"error,omitempty"`
	// Diagnosis is the failure's class with its confidence, retry-safety,
	// recommended remediation and evidence (1-based tail line numbers).
	Diagnosis *classify.Diagnosis `json:"diagnosis,omitempty"`
	// Signature identifies the failure across runs, dates and hosts.
	Signature *signature.Signature `json:"signature,omitempty"`
	// Templates are the mined templates of the error lines, by line number
	// within the tail (when a template miner is configured).
	Templates []LineTemplate `json:"templates,omitempty"`
	Sources   []string       `json:"sources,omitempty"`
}

// LineTemplate is the template one log line was mined into.
type LineTemplate struct {
	Line     int    `json:"line"`
	ID       string `json:"id"`
	Template string `json:"template"`
}

// History is the data of the history finding: earlier incidents whose root
// cause had the same failure signature.
type History struct {
	Signature string         `json:"signature,omitempty"`
	Total     int            `json:"total"`
	Previous  []PastIncident `json:"previous,omitempty"`
}

// PastIncident is one earlier incident of the same failure.
type PastIncident struct {
	ID        string    `json:"id"`
	DagID     string    `json:"dag_id"`
	RunID     string    `json:"run_id"`
	State     string    `json:"state"`
	Summary   string    `json:"summary,omitempty"`
	CreatedAt time.Time `json:"created_at"`
}

// Memory is the data of the memory finding: the past failures most like
// this one, what was done about them and whether it worked, and the
// diagnosis once they are taken into account.
type Memory struct {
	// Similar lists past failures: those with the same signature first (most
	// trusted first), then the most similar others. Always an array.
	Similar []SimilarFailure `json:"similar"`
	// Diagnosis is the final diagnosis: the log's, as memory.Recall changed
	// it. Nil when the log gave none.
	Diagnosis *classify.Diagnosis `json:"diagnosis,omitempty"`
	// Precedent is the past failure that most supports the final label; nil
	// when no past failure counted (none trusted, similar or resolved enough).
	Precedent *memory.Precedent `json:"precedent,omitempty"`
	// Remembered is the id of the record this failure is remembered as (the
	// incident's id), "" when it could not be remembered.
	Remembered string `json:"remembered,omitempty"`
	// Degraded, when set, says what part of memory did not work (an embedder
	// down, a lookup that failed): the triage went on without it.
	Degraded string `json:"degraded,omitempty"`
}

// SimilarFailure is one past failure memory recalled.
type SimilarFailure struct {
	RecordID string `json:"record_id"`
	// IncidentID, DagID and RunID point at the incident the record was made
	// from, when it is one this medic knows.
	IncidentID string         `json:"incident_id,omitempty"`
	DagID      string         `json:"dag_id,omitempty"`
	RunID      string         `json:"run_id,omitempty"`
	Signature  string         `json:"signature"`
	Label      string         `json:"label"`
	Action     string         `json:"action,omitempty"`
	Outcome    memory.Outcome `json:"outcome"`
	Verdict    memory.Verdict `json:"verdict"`
	Trust      float64        `json:"trust"`
	// Similarity is 1 for the same signature, else the cosine similarity.
	Similarity float32   `json:"similarity"`
	Exact      bool      `json:"exact"`
	CreatedAt  time.Time `json:"created_at"`
	// Excerpt is the record's line naming the error, redacted and short.
	Excerpt string `json:"excerpt,omitempty"`
}
