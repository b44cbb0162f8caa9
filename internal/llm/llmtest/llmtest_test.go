package llmtest_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/medic-sh/medic/internal/llm/llmtest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// TestViolations checks that the fakes reject requests a real server would.
func TestViolations(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		protocol llmtest.Protocol
		path     string
		header   map[string]string
		body     string
		want     string
	}{
		{name: "openai wrong path", protocol: llmtest.OpenAI, path: "/chat/completions", body: `{"model":"m","messages":[{"role":"user","content":"x"}]}`, want: "want POST /v1/chat/completions"},
		{name: "openai no model", protocol: llmtest.OpenAI, path: "/v1/chat/completions", body: `{"messages":[{"role":"user","content":"x"}]}`, want: "model is empty"},
		{
			name: "openai unanswered tool call", protocol: llmtest.OpenAI, path: "/v1/chat/completions",
			body: `{"model":"m","messages":[{"role":"user","content":"x"},{"role":"assistant","content":null,"tool_calls":[{"id":"a","type":"function","function":{"name":"f","arguments":"{}"}}]},{"role":"user","content":"y"}]}`,
			want: "have no result",
		},
		{
			name: "openai arguments not a string", protocol: llmtest.OpenAI, path: "/v1/chat/completions",
			body: `{"model":"m","messages":[{"role":"user","content":"x"},{"role":"assistant","tool_calls":[{"id":"a","type":"function","function":{"name":"f","arguments":{}}}]},{"role":"tool","tool_call_id":"a","content":"r"}]}`,
			want: "arguments as a JSON string",
		},
		{name: "anthropic no version", protocol: llmtest.Anthropic, path: "/v1/messages", body: `{"model":"m","max_tokens":5,"messages":[{"role":"user","content":"x"}]}`, want: "anthropic-version"},
		{name: "anthropic no max_tokens", protocol: llmtest.Anthropic, path: "/v1/messages", header: map[string]string{"anthropic-version": "2023-06-01"}, body: `{"model":"m","messages":[{"role":"user","content":"x"}]}`, want: "max_tokens is required"},
		{
			name: "anthropic roles not alternating", protocol: llmtest.Anthropic, path: "/v1/messages", header: map[string]string{"anthropic-version": "2023-06-01"},
			body: `{"model":"m","max_tokens":5,"messages":[{"role":"user","content":"x"},{"role":"user","content":"y"}]}`,
			want: "turns alternate",
		},
		{
			name: "anthropic orphan tool_result", protocol: llmtest.Anthropic, path: "/v1/messages", header: map[string]string{"anthropic-version": "2023-06-01"},
			body: `{"model":"m","max_tokens":5,"tools":[{"name":"f","input_schema":{"type":"object"}}],"messages":[{"role":"user","content":[{"type":"tool_result","tool_use_id":"zz","content":"r"}]}]}`,
			want: `tool_result for "zz"`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := llmtest.New(t, tt.protocol, "", llmtest.Repeat(llmtest.Reply{Text: "ok"}))
			req, err := http.NewRequest(http.MethodPost, srv.URL+tt.path, strings.NewReader(tt.body))
			require.NoError(t, err)
			req.Header.Set("Content-Type", "application/json")
			for k, v := range tt.header {
				req.Header.Set(k, v)
			}
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			defer resp.Body.Close()
			require.Equal(t, http.StatusBadRequest, resp.StatusCode)
			v := srv.Violations()
			require.NotEmpty(t, v)
			require.Contains(t, strings.Join(v, "\n"), tt.want)
		})
	}
}

func TestSequenceExhausted(t *testing.T) {
	t.Parallel()
	srv := llmtest.New(t, llmtest.OpenAI, "", llmtest.Sequence())
	resp, err := http.Post(srv.URL+"/v1/chat/completions", "application/json", strings.NewReader(`{"model":"m","messages":[{"role":"user","content":"x"}]}`))
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusInternalServerError, resp.StatusCode)
	require.Empty(t, srv.Violations())
	require.Len(t, srv.Requests(), 1)
}
