package llmtest

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// The request shapes below are this package's own reading of the two
// protocols, independent of the clients they check.

type oaReq struct {
	Model     string          `json:"model"`
	MaxTokens int             `json:"max_tokens"`
	Messages  []oaMsg         `json:"messages"`
	Tools     []oaTool        `json:"tools"`
	Stream    json.RawMessage `json:"stream"`
}

type oaMsg struct {
	Role       string          `json:"role"`
	Content    json.RawMessage `json:"content"`
	ToolCalls  []oaCall        `json:"tool_calls"`
	ToolCallID string          `json:"tool_call_id"`
}

type oaCall struct {
	ID       string `json:"id"`
	Type     string `json:"type"`
	Function struct {
		Name      string          `json:"name"`
		Arguments json.RawMessage `json:"arguments"`
	} `json:"function"`
}

type oaTool struct {
	Type     string `json:"type"`
	Function struct {
		Name       string          `json:"name"`
		Parameters json.RawMessage `json:"parameters"`
	} `json:"function"`
}

func checkOpenAI(rec *Received) {
	var req oaReq
	if err := json.Unmarshal(rec.Body, &req); err != nil {
		rec.Problems = append(rec.Problems, "body is not a chat completions request: "+err.Error())
		return
	}
	problem := func(f string, a ...any) { rec.Problems = append(rec.Problems, fmt.Sprintf(f, a...)) }
	rec.Model, rec.MaxTokens = req.Model, req.MaxTokens
	if req.Model == "" {
		problem("model is empty")
	}
	if string(req.Stream) == "true" {
		problem("stream is true; medic's client reads whole responses")
	}
	if len(req.Messages) == 0 {
		problem("messages is empty")
	}
	for _, t := range req.Tools {
		rec.Tools = append(rec.Tools, t.Function.Name)
		if t.Type != "function" || t.Function.Name == "" || !isObject(t.Function.Parameters) {
			problem("tool %q: want type function, a name and object parameters", t.Function.Name)
		}
	}
	var pending []string // tool call ids awaiting a result
	for i, m := range req.Messages {
		if m.Role != "tool" && len(pending) > 0 {
			problem("message %d (%s): tool calls %v have no result", i, m.Role, pending)
			pending = nil
		}
		switch m.Role {
		case "system":
			if i != 0 {
				problem("message %d: system message not first", i)
			}
			rec.System = text(m.Content)
		case "user":
			rec.UserTexts = append(rec.UserTexts, text(m.Content))
		case "assistant":
			for _, c := range m.ToolCalls {
				var s string
				if c.ID == "" || c.Type != "function" || json.Unmarshal(c.Function.Arguments, &s) != nil {
					problem("message %d: tool call %q wants an id, type function and arguments as a JSON string", i, c.Function.Name)
				}
				pending = append(pending, c.ID)
			}
			if len(m.ToolCalls) == 0 && string(m.Content) == "null" {
				problem("message %d: assistant message with neither content nor tool calls", i)
			}
		case "tool":
			j := slices.Index(pending, m.ToolCallID)
			if j < 0 {
				problem("message %d: tool result for %q, which no preceding assistant message called", i, m.ToolCallID)
			} else {
				pending = slices.Delete(pending, j, j+1)
			}
			rec.ToolResults = append(rec.ToolResults, ToolResult{CallID: m.ToolCallID, Content: text(m.Content)})
		default:
			problem("message %d: unknown role %q", i, m.Role)
		}
	}
	if len(pending) > 0 {
		problem("tool calls %v have no result", pending)
	}
}

type anReq struct {
	Model     string          `json:"model"`
	MaxTokens int             `json:"max_tokens"`
	System    json.RawMessage `json:"system"`
	Messages  []struct {
		Role    string          `json:"role"`
		Content json.RawMessage `json:"content"`
	} `json:"messages"`
	Tools []struct {
		Name        string          `json:"name"`
		InputSchema json.RawMessage `json:"input_schema"`
	} `json:"tools"`
}

type anBlock struct {
	Type      string          `json:"type"`
	Text      string          `json:"text"`
	ID        string          `json:"id"`
	Name      string          `json:"name"`
	Input     json.RawMessage `json:"input"`
	ToolUseID string          `json:"tool_use_id"`
	Content   json.RawMessage `json:"content"`
	IsError   bool            `json:"is_error"`
}

func checkAnthropic(rec *Received) {
	problem := func(f string, a ...any) { rec.Problems = append(rec.Problems, fmt.Sprintf(f, a...)) }
	if v := rec.Header.Get("anthropic-version"); v != "2023-06-01" {
		problem("anthropic-version %q, want 2023-06-01", v)
	}
	var req anReq
	if err := json.Unmarshal(rec.Body, &req); err != nil {
		problem("body is not a Messages request: %v", err)
		return
	}
	rec.Model, rec.MaxTokens, rec.System = req.Model, req.MaxTokens, text(req.System)
	if req.Model == "" {
		problem("model is empty")
	}
	if req.MaxTokens <= 0 {
		problem("max_tokens is required and positive")
	}
	for _, t := range req.Tools {
		rec.Tools = append(rec.Tools, t.Name)
		if t.Name == "" || !isObject(t.InputSchema) {
			problem("tool %q: wants a name and an object input_schema", t.Name)
		}
	}
	if len(req.Messages) > 0 && len(req.Tools) == 0 && strings.Contains(string(rec.Body), `"tool_use"`) {
		problem("requests with tool_use blocks must define tools")
	}
	var pending []string
	for i, m := range req.Messages {
		want := "user"
		if i%2 == 1 {
			want = "assistant"
		}
		if m.Role != want {
			problem("message %d: role %q, want %q (turns alternate, user first)", i, m.Role, want)
		}
		var blocks []anBlock
		if err := json.Unmarshal(m.Content, &blocks); err != nil {
			var s string
			if json.Unmarshal(m.Content, &s) != nil {
				problem("message %d: content is neither a string nor blocks", i)
			}
			blocks = []anBlock{{Type: "text", Text: s}}
		}
		if m.Role == "user" {
			answered := map[string]bool{}
			seenText := false
			for _, b := range blocks {
				switch b.Type {
				case "text":
					seenText = true
					rec.UserTexts = append(rec.UserTexts, b.Text)
				case "tool_result":
					if seenText {
						problem("message %d: tool_result after text", i)
					}
					if !slices.Contains(pending, b.ToolUseID) {
						problem("message %d: tool_result for %q, which the previous turn did not call", i, b.ToolUseID)
					}
					answered[b.ToolUseID] = true
					rec.ToolResults = append(rec.ToolResults, ToolResult{CallID: b.ToolUseID, Content: text(b.Content), IsError: b.IsError})
				default:
					problem("message %d: user block type %q", i, b.Type)
				}
			}
			for _, id := range pending {
				if !answered[id] {
					problem("message %d: tool_use %q has no tool_result", i, id)
				}
			}
			pending = nil
			continue
		}
		for _, b := range blocks {
			switch b.Type {
			case "text":
				if b.Text == "" {
					problem("message %d: empty text block", i)
				}
			case "tool_use":
				if b.ID == "" || b.Name == "" || !isObject(b.Input) {
					problem("message %d: tool_use wants an id, a name and an object input", i)
				}
				pending = append(pending, b.ID)
			default:
				problem("message %d: assistant block type %q", i, b.Type)
			}
		}
	}
	if len(req.Messages) > 0 && req.Messages[len(req.Messages)-1].Role != "user" {
		problem("last message must be the user's")
	}
}

func isObject(raw json.RawMessage) bool {
	var m map[string]json.RawMessage
	return json.Unmarshal(raw, &m) == nil && m != nil
}

// text reads a content field: a string, or text blocks.
func text(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var blocks []anBlock
	if json.Unmarshal(raw, &blocks) == nil {
		var parts []string
		for _, b := range blocks {
			parts = append(parts, b.Text)
		}
		return strings.Join(parts, "\n")
	}
	return ""
}

func encodeOpenAI(n int, model string, r Reply) any {
	msg := map[string]any{"role": "assistant", "content": nil}
	if r.Text != "" {
		msg["content"] = r.Text
	}
	finish := "stop"
	if len(r.ToolCalls) > 0 {
		finish = "tool_calls"
		var calls []any
		for _, c := range r.ToolCalls {
			calls = append(calls, map[string]any{
				"id": c.ID, "type": "function",
				"function": map[string]any{"name": c.Name, "arguments": string(c.Arguments)},
			})
		}
		msg["tool_calls"] = calls
	}
	if r.StopReason != "" {
		finish = r.StopReason
	}
	return map[string]any{
		"id": fmt.Sprintf("chatcmpl-%d", n), "object": "chat.completion", "model": model,
		"choices": []any{map[string]any{"index": 0, "message": msg, "finish_reason": finish}},
		"usage": map[string]any{
			"prompt_tokens": r.Usage.InputTokens, "completion_tokens": r.Usage.OutputTokens,
			"total_tokens": r.Usage.InputTokens + r.Usage.OutputTokens,
		},
	}
}

func encodeAnthropic(n int, model string, r Reply) any {
	var content []any
	if r.Text != "" {
		content = append(content, map[string]any{"type": "text", "text": r.Text})
	}
	stop := "end_turn"
	for _, c := range r.ToolCalls {
		stop = "tool_use"
		var input any = c.Arguments
		switch {
		case len(c.Arguments) == 0:
			input = map[string]any{}
		case !json.Valid(c.Arguments):
			input = string(c.Arguments) // keep the reply valid JSON; the input is then not an object
		}
		content = append(content, map[string]any{"type": "tool_use", "id": c.ID, "name": c.Name, "input": input})
	}
	if r.StopReason != "" {
		stop = r.StopReason
	}
	return map[string]any{
		"id": fmt.Sprintf("msg_%d", n), "type": "message", "role": "assistant", "model": model,
		"content": content, "stop_reason": stop,
		"usage": map[string]any{"input_tokens": r.Usage.InputTokens, "output_tokens": r.Usage.OutputTokens},
	}
}
