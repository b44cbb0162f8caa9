package llm

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// AnthropicVersion is the Messages API version medic speaks.
const AnthropicVersion = "2023-06-01"

// Anthropic is a client for the Anthropic Messages API.
type Anthropic struct {
	*poster
}

var _ Client = (*Anthropic)(nil)

// NewAnthropic checks cfg and returns a client; it makes no request.
func NewAnthropic(cfg ClientConfig) (*Anthropic, error) {
	cfg, url, err := cfg.withDefaults(ProviderAnthropic, DefaultAnthropicURL, "/v1/messages")
	if err != nil {
		return nil, err
	}
	key := cfg.APIKey
	return &Anthropic{newPoster(ProviderAnthropic, url, cfg, func(h http.Header) {
		if key.IsSet() {
			h.Set("x-api-key", key.Reveal())
		}
		h.Set("anthropic-version", AnthropicVersion)
	})}, nil
}

type anRequest struct {
	Model       string      `json:"model"`
	MaxTokens   int         `json:"max_tokens"`
	System      string      `json:"system,omitempty"`
	Messages    []anMessage `json:"messages"`
	Tools       []anTool    `json:"tools,omitempty"`
	Temperature *float64    `json:"temperature,omitempty"`
}

type anMessage struct {
	Role    string    `json:"role"`
	Content []anBlock `json:"content"`
}

// anBlock is one content block: text, tool_use or tool_result.
type anBlock struct {
	Type string `json:"type"`
	Text string `json:"text,omitempty"`
	// tool_use
	ID    string          `json:"id,omitempty"`
	Name  string          `json:"name,omitempty"`
	Input json.RawMessage `json:"input,omitempty"`
	// tool_result
	ToolUseID string `json:"tool_use_id,omitempty"`
	Content   string `json:"content,omitempty"`
	IsError   bool   `json:"is_error,omitempty"`
}

type anTool struct {
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	InputSchema json.RawMessage `json:"input_schema"`
}

type anResponse struct {
	Type       string    `json:"type"`
	Content    []anBlock `json:"content"`
	StopReason string    `json:"stop_reason"`
	Usage      struct {
		InputTokens  int64 `json:"input_tokens"`
		OutputTokens int64 `json:"output_tokens"`
	} `json:"usage"`
}

// Chat sends req to POST /v1/messages. Errors are *APIError, except the
// caller's cancellation of ctx, which is returned as ctx's cause.
func (c *Anthropic) Chat(ctx context.Context, req *Request) (*Response, error) {
	body, err := json.Marshal(encodeAnthropic(req))
	if err != nil {
		return nil, c.fail(0, false, fmt.Errorf("encode request: %w", err))
	}
	raw, err := c.post(ctx, body)
	if err != nil {
		return nil, err
	}
	resp, err := decodeAnthropic(raw)
	if err != nil {
		return nil, c.fail(http.StatusOK, false, err)
	}
	return resp, nil
}

// encodeAnthropic maps the neutral conversation onto Messages API turns.
// Tool results travel as tool_result blocks of a user turn, and consecutive
// turns of one role are merged: the API wants user and assistant turns to
// alternate, with all results of one step in the turn after it.
func encodeAnthropic(req *Request) anRequest {
	out := anRequest{Model: req.Model, MaxTokens: maxTokens(req), System: req.System, Temperature: req.Temperature}
	// The API refuses tool_use and tool_result blocks in a request without
	// tools, so a model that called tools it was never offered has those
	// turns sent back as text.
	noTools := len(req.Tools) == 0
	for _, m := range req.Messages {
		role := "user"
		var blocks []anBlock
		switch m.Role {
		case RoleAssistant:
			role = "assistant"
			if m.Content != "" {
				blocks = append(blocks, anBlock{Type: "text", Text: m.Content})
			}
			for _, tc := range m.ToolCalls {
				if noTools {
					blocks = append(blocks, anBlock{Type: "text", Text: fmt.Sprintf("[asked for tool %s]", tc.Name)})
					continue
				}
				blocks = append(blocks, anBlock{Type: "tool_use", ID: tc.ID, Name: tc.Name, Input: anthropicInput(tc.Arguments)})
			}
		case RoleTool:
			if noTools {
				blocks = append(blocks, anBlock{Type: "text", Text: m.Content})
				break
			}
			blocks = append(blocks, anBlock{Type: "tool_result", ToolUseID: m.ToolCallID, Content: m.Content, IsError: m.IsError})
		default:
			blocks = append(blocks, anBlock{Type: "text", Text: m.Content})
		}
		if len(blocks) == 0 {
			continue
		}
		if n := len(out.Messages); n > 0 && out.Messages[n-1].Role == role {
			out.Messages[n-1].Content = append(out.Messages[n-1].Content, blocks...)
			continue
		}
		out.Messages = append(out.Messages, anMessage{Role: role, Content: blocks})
	}
	for _, t := range req.Tools {
		out.Tools = append(out.Tools, anTool{Name: t.Name, Description: t.Description, InputSchema: schemaOrEmpty(t.Parameters)})
	}
	return out
}

// anthropicInput is a tool_use input for the conversation history: the API
// accepts only an object, so anything else the model sent becomes {} (the
// tool loop has already answered it with an error).
func anthropicInput(args json.RawMessage) json.RawMessage {
	args = bytes.TrimSpace(args)
	if len(args) > 0 && args[0] == '{' && json.Valid(args) {
		return args
	}
	return json.RawMessage(`{}`)
}

func decodeAnthropic(raw []byte) (*Response, error) {
	var r anResponse
	if err := json.Unmarshal(raw, &r); err != nil {
		return nil, fmt.Errorf("decode response (is base_url the Anthropic API?): %w", err)
	}
	if r.Type != "" && r.Type != "message" {
		return nil, fmt.Errorf("response is a %q, not a message: %s", r.Type, snippet(raw, noKey))
	}
	out := &Response{
		StopReason: anthropicStop(r.StopReason),
		Usage:      Usage{InputTokens: r.Usage.InputTokens, OutputTokens: r.Usage.OutputTokens},
	}
	var text []string
	for _, b := range r.Content {
		switch b.Type {
		case "text":
			text = append(text, b.Text)
		case "tool_use":
			id := b.ID
			if id == "" {
				id = "toolu_" + strconv.Itoa(len(out.ToolCalls)+1)
			}
			out.ToolCalls = append(out.ToolCalls, ToolCall{ID: id, Name: b.Name, Arguments: b.Input})
		}
	}
	out.Content = strings.Join(text, "\n")
	return out, nil
}

func anthropicStop(s string) StopReason {
	switch s {
	case "end_turn", "stop_sequence", "":
		return StopEnd
	case "tool_use":
		return StopToolUse
	case "max_tokens":
		return StopMaxTokens
	case "refusal":
		return StopRefusal
	}
	return StopReason(s)
}
