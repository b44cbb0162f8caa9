package llm

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
)

// OpenAI is a client for any server speaking OpenAI's chat completions API:
// OpenAI itself, Ollama (its /v1), vLLM, LM Studio and the llama.cpp server.
type OpenAI struct {
	*poster
}

var _ Client = (*OpenAI)(nil)

// NewOpenAI checks cfg and returns a client; it makes no request.
func NewOpenAI(cfg ClientConfig) (*OpenAI, error) {
	cfg, url, err := cfg.withDefaults(ProviderOpenAI, DefaultOpenAIURL, "/v1/chat/completions")
	if err != nil {
		return nil, err
	}
	key := cfg.APIKey
	return &OpenAI{newPoster(ProviderOpenAI, url, cfg, func(h http.Header) {
		if key.IsSet() {
			h.Set("Authorization", "Bearer "+key.Reveal())
		}
	})}, nil
}

type oaRequest struct {
	Model       string      `json:"model"`
	Messages    []oaMessage `json:"messages"`
	Tools       []oaTool    `json:"tools,omitempty"`
	MaxTokens   int         `json:"max_tokens,omitempty"`
	Temperature *float64    `json:"temperature,omitempty"`
	Stream      bool        `json:"stream"`
}

type oaMessage struct {
	Role string `json:"role"`
	// Content is null on an assistant message that only calls tools.
	Content    *string      `json:"content"`
	ToolCalls  []oaToolCall `json:"tool_calls,omitempty"`
	ToolCallID string       `json:"tool_call_id,omitempty"`
}

type oaTool struct {
	Type     string     `json:"type"`
	Function oaFunction `json:"function"`
}

type oaFunction struct {
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	Parameters  json.RawMessage `json:"parameters,omitempty"`
}

type oaToolCall struct {
	ID       string `json:"id"`
	Type     string `json:"type"`
	Function struct {
		Name string `json:"name"`
		// Arguments is a JSON string holding JSON; some servers send the
		// object itself, which decodeOpenAI accepts too.
		Arguments json.RawMessage `json:"arguments"`
	} `json:"function"`
}

type oaResponse struct {
	Choices []struct {
		Message struct {
			Content   *string      `json:"content"`
			ToolCalls []oaToolCall `json:"tool_calls"`
		} `json:"message"`
		FinishReason string `json:"finish_reason"`
	} `json:"choices"`
	Usage struct {
		PromptTokens     int64 `json:"prompt_tokens"`
		CompletionTokens int64 `json:"completion_tokens"`
	} `json:"usage"`
}

// Chat sends req to POST /v1/chat/completions. Errors are *APIError, except
// the caller's cancellation of ctx, which is returned as ctx's cause.
func (c *OpenAI) Chat(ctx context.Context, req *Request) (*Response, error) {
	body, err := json.Marshal(encodeOpenAI(req))
	if err != nil {
		return nil, c.fail(0, false, fmt.Errorf("encode request: %w", err))
	}
	raw, err := c.post(ctx, body)
	if err != nil {
		return nil, err
	}
	resp, err := decodeOpenAI(raw)
	if err != nil {
		return nil, c.fail(http.StatusOK, false, err)
	}
	return resp, nil
}

func encodeOpenAI(req *Request) oaRequest {
	out := oaRequest{Model: req.Model, MaxTokens: maxTokens(req), Temperature: req.Temperature}
	if req.System != "" {
		out.Messages = append(out.Messages, oaMessage{Role: "system", Content: ptr(req.System)})
	}
	for _, m := range req.Messages {
		om := oaMessage{Role: string(m.Role)}
		switch m.Role {
		case RoleAssistant:
			if m.Content != "" || len(m.ToolCalls) == 0 {
				om.Content = ptr(m.Content)
			}
			for _, tc := range m.ToolCalls {
				otc := oaToolCall{ID: tc.ID, Type: "function"}
				otc.Function.Name = tc.Name
				// Sent back as the model wrote it, valid or not: the
				// conversation must show what the model said.
				otc.Function.Arguments, _ = json.Marshal(string(tc.Arguments))
				om.ToolCalls = append(om.ToolCalls, otc)
			}
		case RoleTool:
			om.ToolCallID = m.ToolCallID
			om.Content = ptr(m.Content)
		default:
			om.Content = ptr(m.Content)
		}
		out.Messages = append(out.Messages, om)
	}
	for _, t := range req.Tools {
		out.Tools = append(out.Tools, oaTool{Type: "function", Function: oaFunction{
			Name: t.Name, Description: t.Description, Parameters: schemaOrEmpty(t.Parameters),
		}})
	}
	return out
}

func decodeOpenAI(raw []byte) (*Response, error) {
	var r oaResponse
	if err := json.Unmarshal(raw, &r); err != nil {
		return nil, fmt.Errorf("decode response (is base_url an OpenAI-compatible server?): %w", err)
	}
	if len(r.Choices) == 0 {
		return nil, fmt.Errorf("response has no choices: %s", snippet(raw, noKey))
	}
	ch := r.Choices[0]
	out := &Response{
		StopReason: openAIStop(ch.FinishReason),
		Usage:      Usage{InputTokens: r.Usage.PromptTokens, OutputTokens: r.Usage.CompletionTokens},
	}
	if ch.Message.Content != nil {
		out.Content = *ch.Message.Content
	}
	for i, tc := range ch.Message.ToolCalls {
		id := tc.ID
		if id == "" { // llama.cpp and older Ollama may omit it
			id = "call_" + strconv.Itoa(i+1)
		}
		out.ToolCalls = append(out.ToolCalls, ToolCall{ID: id, Name: tc.Function.Name, Arguments: openAIArguments(tc.Function.Arguments)})
	}
	if len(out.ToolCalls) > 0 && out.StopReason == StopEnd {
		out.StopReason = StopToolUse // some servers say "stop" while calling tools
	}
	return out, nil
}

// openAIArguments unwraps the JSON string OpenAI puts the arguments in. An
// object is taken as it is; anything else is returned raw, for the tool
// loop to reject.
func openAIArguments(raw json.RawMessage) json.RawMessage {
	raw = bytes.TrimSpace(raw)
	var s string
	if len(raw) > 0 && raw[0] == '"' && json.Unmarshal(raw, &s) == nil {
		return json.RawMessage(s)
	}
	return raw
}

func openAIStop(s string) StopReason {
	switch s {
	case "stop", "":
		return StopEnd
	case "tool_calls", "function_call":
		return StopToolUse
	case "length":
		return StopMaxTokens
	case "content_filter":
		return StopContentFilter
	}
	return StopReason(s)
}

func maxTokens(req *Request) int {
	if req.MaxTokens > 0 {
		return req.MaxTokens
	}
	return DefaultMaxTokens
}

// schemaOrEmpty returns the tool's schema, or an empty object schema for a
// tool without arguments (both APIs want one).
func schemaOrEmpty(s json.RawMessage) json.RawMessage {
	if len(bytes.TrimSpace(s)) == 0 {
		return json.RawMessage(`{"type":"object","properties":{}}`)
	}
	return s
}

func ptr[T any](v T) *T { return &v }
