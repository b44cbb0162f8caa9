package llm

import (
	"slices"
	"time"
)

// Outcome says how a tool loop ended.
type Outcome string

// Outcomes. Only OutcomeProposal carries a usable Proposal; on every other
// outcome the caller runs its deterministic engine instead.
const (
	OutcomeProposal          Outcome = "proposal"
	OutcomeMalformedProposal Outcome = "malformed_proposal"
	OutcomeStepLimit         Outcome = "step_limit_reached"
	OutcomeLoop              Outcome = "loop_detected"
	OutcomeTimeout           Outcome = "timed_out"
	OutcomeCanceled          Outcome = "canceled"
	OutcomeModelError        Outcome = "model_error"
)

// FlagKind names something a tool loop noticed and a person should see.
type FlagKind string

// Flag kinds.
const (
	// FlagInjection: tool output, data or the model's answer reads like an
	// attempt to instruct the model.
	FlagInjection FlagKind = "prompt_injection"
	// FlagDisallowedTool: the model asked for a tool it was not allowed.
	FlagDisallowedTool FlagKind = "disallowed_tool"
	// FlagUnknownTool: the model asked for a tool that does not exist.
	FlagUnknownTool FlagKind = "unknown_tool"
	// FlagMalformedArguments: a tool call's arguments were not a JSON object.
	FlagMalformedArguments FlagKind = "malformed_arguments"
	// FlagTooManyCalls: one step asked for more calls than allowed.
	FlagTooManyCalls FlagKind = "too_many_tool_calls"
	// FlagLoop: the model repeated one call until the loop stopped it.
	FlagLoop FlagKind = "loop"
	// FlagStepLimit: the model was still calling tools at the step limit.
	FlagStepLimit FlagKind = "step_limit"
	// FlagMalformedProposal: the final answer was not a valid Proposal.
	FlagMalformedProposal FlagKind = "malformed_proposal"
	// FlagUngroundedEvidence: a quote in the proposal is in no data the
	// model was shown.
	FlagUngroundedEvidence FlagKind = "ungrounded_evidence"
	// FlagToolPanic: a tool panicked; the loop recovered.
	FlagToolPanic FlagKind = "tool_panic"
)

// Flag is one marked event of a tool loop.
type Flag struct {
	Kind FlagKind `json:"kind"`
	// Step is the step it happened in, from 1; 0 for the initial data.
	Step int `json:"step"`
	// Source says where: "tool:<name>", "data:<source>", "final_text", or
	// the tool the model asked for.
	Source string `json:"source,omitempty"`
	Detail string `json:"detail"`
}

// CallStatus says what became of one tool call.
type CallStatus string

// Call statuses.
const (
	CallOK        CallStatus = "ok"
	CallError     CallStatus = "error"
	CallRefused   CallStatus = "refused"
	CallMalformed CallStatus = "malformed_arguments"
	// CallRepeated: the same call was made before; its earlier result was
	// sent again and the tool did not run.
	CallRepeated CallStatus = "repeated"
	// CallSkipped: the loop stopped (step limit, loop) before running it.
	CallSkipped CallStatus = "skipped"
)

// ToolCallRecord is one tool call as the transcript keeps it. Arguments and
// output are redacted; output is what the model was shown.
type ToolCallRecord struct {
	ID        string        `json:"id"`
	Name      string        `json:"name"`
	Arguments string        `json:"arguments"`
	Status    CallStatus    `json:"status"`
	Output    string        `json:"output,omitempty"`
	Truncated bool          `json:"truncated,omitempty"`
	Error     string        `json:"error,omitempty"`
	Duration  time.Duration `json:"duration_ns"`
}

// Step is one model request of a tool loop and the calls it asked for.
type Step struct {
	Index      int              `json:"index"`
	Text       string           `json:"text,omitempty"`
	StopReason StopReason       `json:"stop_reason,omitempty"`
	ToolCalls  []ToolCallRecord `json:"tool_calls,omitempty"`
	Usage      Usage            `json:"usage"`
	Duration   time.Duration    `json:"duration_ns"`
}

// Transcript is the record of one tool loop, for the session that ran it.
// Everything in it is redacted; it never holds the API key.
type Transcript struct {
	Model   string  `json:"model"`
	Outcome Outcome `json:"outcome"`
	Steps   []Step  `json:"steps"`
	// FinalText is the model's last answer, redacted.
	FinalText string `json:"final_text,omitempty"`
	// Proposal is set only when Outcome is OutcomeProposal.
	Proposal *Proposal `json:"proposal,omitempty"`
	// ProposalError says why the final answer was not a valid Proposal.
	ProposalError string `json:"proposal_error,omitempty"`
	Flags         []Flag `json:"flags,omitempty"`
	Usage         Usage  `json:"usage"`
	// CostUSD is estimated from LoopConfig.Pricing; nil when the model has
	// no price there.
	CostUSD *float64 `json:"cost_usd,omitempty"`
	// Error is the failure that ended the loop early, if any.
	Error     string        `json:"error,omitempty"`
	StartedAt time.Time     `json:"started_at"`
	Duration  time.Duration `json:"duration_ns"`
}

// Flagged reports whether the transcript holds a flag of kind k.
func (t *Transcript) Flagged(k FlagKind) bool {
	return slices.ContainsFunc(t.Flags, func(f Flag) bool { return f.Kind == k })
}

// Suspicious reports whether the loop saw signs of a prompt injection or
// the model reached for a tool it was not given: its proposal deserves a
// person's eyes even when it is well formed.
func (t *Transcript) Suspicious() bool {
	return t.Flagged(FlagInjection) || t.Flagged(FlagDisallowedTool) || t.Flagged(FlagUnknownTool)
}
