package investigate

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/medic-sh/medic/internal/classify"
	"github.com/medic-sh/medic/internal/incident"
	"github.com/medic-sh/medic/internal/memory"
)

// Report is the commander's composed report, stored as the root session's
// Result: one root cause, its impact, its owner and one next action, in the
// diagnostic report format. A report composed without some specialist's
// findings is Partial and says which one is missing and why.
type Report struct {
	Status incident.SessionStatus `json:"status"`
	// Partial is set when a specialist timed out or failed, or a step of
	// the commander's did: the report is composed from what came in.
	Partial bool      `json:"partial"`
	Missing []Missing `json:"missing,omitempty"`
	// Error is why the investigation could not run at all.
	Error      string            `json:"error,omitempty"`
	Summary    string            `json:"summary"`
	Severity   incident.Severity `json:"severity"`
	RootCause  *RootCause        `json:"root_cause,omitempty"`
	Impact     *Impact           `json:"impact,omitempty"`
	Owner      *Owner            `json:"owner,omitempty"`
	NextAction string            `json:"next_action"`
	// Warnings are what people should look at before trusting the report,
	// each naming its specialist: a suspected prompt injection in a log, a
	// model's answer that was not used and why.
	Warnings []string `json:"warnings,omitempty"`
	// ModelUsage totals the tokens and cost of the specialists' models;
	// each session's result has its own. Nil when no model ran.
	ModelUsage *ModelUsage `json:"model_usage,omitempty"`
	// Warehouse is the query-profiler's report, when it ran.
	Warehouse   *WarehouseReport `json:"warehouse,omitempty"`
	Diagnostic  Diagnostic       `json:"diagnostic"`
	Commander   string           `json:"commander"`
	Specialists []SpecialistRun  `json:"specialists"`
	Deadline    *time.Time       `json:"deadline,omitempty"`
	ComposedAt  time.Time        `json:"composed_at"`
}

// Missing is a specialist whose findings a partial report lacks.
type Missing struct {
	Agent  string                 `json:"agent"`
	Status incident.SessionStatus `json:"status"`
	Reason string                 `json:"reason"`
}

// RootCause is the composed root cause.
type RootCause struct {
	Label       classify.Label       `json:"label"`
	Confidence  float64              `json:"confidence"`
	RetrySafe   bool                 `json:"retry_safe"`
	Remediation classify.Remediation `json:"remediation"`
	// Summary is the line naming the error.
	Summary  string              `json:"summary,omitempty"`
	Reason   string              `json:"reason,omitempty"`
	Evidence []incident.Evidence `json:"evidence"`
	// Source is the specialist whose hypothesis this is.
	Source string `json:"source"`
	// Model names the model that proposed it; "" for the calibrated
	// diagnosis of the deterministic engines.
	Model     string            `json:"model,omitempty"`
	Similar   int               `json:"similar"`
	Precedent *memory.Precedent `json:"precedent,omitempty"`
}

// Diagnostic is the diagnostic report format: where and when it failed,
// what was checked and found, the classification, what was tried and what
// to do.
type Diagnostic struct {
	// Stage is where in the pipeline it failed: DAG, task, operator, try.
	Stage          string     `json:"stage"`
	FailureTime    *time.Time `json:"failure_time,omitempty"`
	ErrorSummary   string     `json:"error_summary"`
	Steps          []Step     `json:"steps"`
	Classification string     `json:"classification"`
	// RemediationAttempted and RemediationOutcome say what medic did
	// about it (nothing yet: it reports, people act).
	RemediationAttempted  string `json:"remediation_attempted"`
	RemediationOutcome    string `json:"remediation_outcome"`
	RecommendedResolution string `json:"recommended_resolution"`
	// RunbookLink is "" when no runbook is configured.
	RunbookLink string `json:"runbook_link,omitempty"`
}

// Step is one diagnostic step taken, by which agent, with its result.
type Step struct {
	Agent  string `json:"agent"`
	Step   string `json:"step"`
	Result string `json:"result"`
	Failed bool   `json:"failed,omitempty"`
}

// SpecialistRun is how one specialist's session went.
type SpecialistRun struct {
	Agent     string                 `json:"agent"`
	SessionID string                 `json:"session_id"`
	Status    incident.SessionStatus `json:"status"`
	Summary   string                 `json:"summary,omitempty"`
	Error     string                 `json:"error,omitempty"`
	// Model is the model the specialist asked, when it is model-driven.
	Model      string     `json:"model,omitempty"`
	StartedAt  *time.Time `json:"started_at,omitempty"`
	FinishedAt *time.Time `json:"finished_at,omitempty"`
	DurationMS int64      `json:"duration_ms"`
}

// ModelUsage is what the models of an investigation used.
type ModelUsage struct {
	InputTokens  int64 `json:"input_tokens"`
	OutputTokens int64 `json:"output_tokens"`
	// CostUSD sums the known costs; CostKnown is false when some model had
	// no price, so that the sum is a lower bound.
	CostUSD   float64 `json:"cost_usd"`
	CostKnown bool    `json:"cost_known"`
}

// ParseReport reads a root session's Result; nil when it holds none.
func ParseReport(raw json.RawMessage) (*Report, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var r Report
	if err := json.Unmarshal(raw, &r); err != nil {
		return nil, fmt.Errorf("parse composed report: %w", err)
	}
	return &r, nil
}

// ParseResult reads a specialist session's Result; nil when it holds none.
func ParseResult(raw json.RawMessage) (*Result, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var r Result
	if err := json.Unmarshal(raw, &r); err != nil {
		return nil, fmt.Errorf("parse specialist result: %w", err)
	}
	return &r, nil
}
