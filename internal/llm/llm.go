package llm

import (
	"context"
	"encoding/json"
)

// Client sends one chat request to a model and returns its reply. The
// implementations are OpenAI (any OpenAI-compatible server) and Anthropic.
type Client interface {
	Chat(ctx context.Context, req *Request) (*Response, error)
}

// Request is one provider-neutral chat request.
type Request struct {
	Model string
	// System is the system prompt: a top-level field for Anthropic, a
	// leading system message for OpenAI-compatible servers.
	System   string
	Messages []Message
	// Tools are offered to the model; it may ask for any of them by name.
	Tools []ToolSpec
	// MaxTokens bounds the reply (DefaultMaxTokens when zero).
	MaxTokens int
	// Temperature is sent when set; nil leaves the server's default.
	Temperature *float64
}

// DefaultMaxTokens bounds a reply when Request.MaxTokens is zero. The
// Anthropic API requires a bound, and a small one keeps a runaway reply cheap.
const DefaultMaxTokens = 2048

// Role says who a Message is from.
type Role string

// Message roles.
const (
	RoleUser      Role = "user"
	RoleAssistant Role = "assistant"
	// RoleTool carries the result of one tool call back to the model.
	RoleTool Role = "tool"
)

// Message is one turn of a conversation.
type Message struct {
	Role    Role
	Content string
	// ToolCalls are the calls an assistant message asked for.
	ToolCalls []ToolCall
	// ToolCallID links a RoleTool message to the call it answers.
	ToolCallID string
	// IsError marks a RoleTool message that reports a failed or refused call.
	IsError bool
}

// ToolSpec describes one tool to the model.
type ToolSpec struct {
	Name        string
	Description string
	// Parameters is the JSON Schema of the tool's arguments (an object
	// schema); nil means a tool without arguments.
	Parameters json.RawMessage
}

// ToolCall is one tool call the model asked for.
type ToolCall struct {
	ID   string
	Name string
	// Arguments is what the model sent, as it sent it. It is not guaranteed
	// to be valid JSON: the tool loop checks it and answers a malformed call
	// with an error the model can correct.
	Arguments json.RawMessage
}

// StopReason says why the model stopped, normalised across providers.
// Reasons a provider adds later pass through as the provider spells them.
type StopReason string

// Normalised stop reasons.
const (
	StopEnd           StopReason = "end"
	StopToolUse       StopReason = "tool_use"
	StopMaxTokens     StopReason = "max_tokens"
	StopContentFilter StopReason = "content_filter"
	StopRefusal       StopReason = "refusal"
)

// Response is the model's reply to one Request.
type Response struct {
	// Content is the reply's text (all text blocks, joined).
	Content    string
	ToolCalls  []ToolCall
	StopReason StopReason
	Usage      Usage
}

// Usage counts the tokens of one or more requests.
type Usage struct {
	InputTokens  int64 `json:"input_tokens"`
	OutputTokens int64 `json:"output_tokens"`
}

// Add returns the sum of u and o.
func (u Usage) Add(o Usage) Usage {
	return Usage{InputTokens: u.InputTokens + o.InputTokens, OutputTokens: u.OutputTokens + o.OutputTokens}
}

// Price is what one model costs, in US dollars per million tokens.
type Price struct {
	InputPerMTok  float64 `json:"input_per_mtok" yaml:"input_per_mtok"`
	OutputPerMTok float64 `json:"output_per_mtok" yaml:"output_per_mtok"`
}

// Cost returns the estimated cost of u at price p, in US dollars.
func (p Price) Cost(u Usage) float64 {
	return float64(u.InputTokens)*p.InputPerMTok/1e6 + float64(u.OutputTokens)*p.OutputPerMTok/1e6
}

// Pricing maps a model name, exactly as sent in Request.Model, to its price.
// A local model can be left out (its cost is unknown) or priced at zero.
type Pricing map[string]Price
