package llm_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/medic-sh/medic/internal/config"
	"github.com/medic-sh/medic/internal/llm"
	"github.com/medic-sh/medic/internal/llm/llmtest"
)

var protocols = []llm.Provider{llmtest.OpenAI, llmtest.Anthropic}

// testKey is a fake API key; no test may find it in an error or transcript.
const testKey = "sk-test-9f8e7d6c5b4a39281706f5e4d3c2b1a0"

// sleepRecorder stands in for the wait between attempts.
type sleepRecorder struct {
	mu    sync.Mutex
	waits []time.Duration
}

func (s *sleepRecorder) sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	s.waits = append(s.waits, d)
	s.mu.Unlock()
	return ctx.Err()
}

func newClient(t *testing.T, srv *llmtest.Server, cfg llm.ClientConfig) (llm.Client, *sleepRecorder) {
	t.Helper()
	if !cfg.APIKey.IsSet() {
		cfg.APIKey = config.NewSecret(testKey)
	}
	c := srv.Client(t, cfg)
	rec := &sleepRecorder{}
	llm.SetSleep(c, rec.sleep)
	return c, rec
}

func TestChatRoundTrip(t *testing.T) {
	t.Parallel()
	for _, p := range protocols {
		t.Run(string(p), func(t *testing.T) {
			t.Parallel()
			srv := llmtest.New(t, p, testKey, llmtest.Sequence(llmtest.Reply{
				Text: "checking the log",
				ToolCalls: []llm.ToolCall{
					{ID: "call_9", Name: "get_task_log", Arguments: json.RawMessage(`{"try":2}`)},
					{ID: "call_10", Name: "get_dag_run", Arguments: json.RawMessage(`{}`)},
				},
				Usage: llm.Usage{InputTokens: 120, OutputTokens: 30},
			}))
			c, _ := newClient(t, srv, llm.ClientConfig{})
			temp := 0.0
			resp, err := c.Chat(context.Background(), &llm.Request{
				Model: "m1", System: "be brief", MaxTokens: 500, Temperature: &temp,
				Tools: []llm.ToolSpec{{Name: "get_task_log", Description: "log", Parameters: json.RawMessage(`{"type":"object","properties":{"try":{"type":"integer"}}}`)}, {Name: "get_dag_run"}},
				Messages: []llm.Message{
					{Role: llm.RoleUser, Content: "why did it fail?"},
					{Role: llm.RoleAssistant, ToolCalls: []llm.ToolCall{{ID: "call_1", Name: "get_task_log", Arguments: json.RawMessage(`{"try":1}`)}, {ID: "call_2", Name: "nope", Arguments: json.RawMessage(`{bad`)}}},
					{Role: llm.RoleTool, ToolCallID: "call_1", Content: "log text"},
					{Role: llm.RoleTool, ToolCallID: "call_2", Content: "refused", IsError: true},
				},
			})
			require.NoError(t, err)
			require.Equal(t, "checking the log", resp.Content)
			require.Equal(t, llm.StopToolUse, resp.StopReason)
			require.Equal(t, llm.Usage{InputTokens: 120, OutputTokens: 30}, resp.Usage)
			require.Len(t, resp.ToolCalls, 2)
			require.Equal(t, "call_9", resp.ToolCalls[0].ID)
			require.Equal(t, "get_task_log", resp.ToolCalls[0].Name)
			require.JSONEq(t, `{"try":2}`, string(resp.ToolCalls[0].Arguments))

			require.Empty(t, srv.Violations())
			got := srv.Requests()
			require.Len(t, got, 1)
			r := got[0]
			require.Equal(t, "m1", r.Model)
			require.Equal(t, "be brief", r.System)
			require.Equal(t, 500, r.MaxTokens)
			require.Equal(t, []string{"get_task_log", "get_dag_run"}, r.Tools)
			require.Equal(t, []string{"why did it fail?"}, r.UserTexts)
			require.Len(t, r.ToolResults, 2)
			require.Equal(t, llmtest.ToolResult{CallID: "call_1", Content: "log text"}, r.ToolResults[0])
			if p == llmtest.Anthropic {
				require.True(t, r.ToolResults[1].IsError)
				require.Equal(t, llm.AnthropicVersion, r.Header.Get("anthropic-version"))
				require.Equal(t, testKey, r.Header.Get("x-api-key"))
				require.Empty(t, r.Header.Get("Authorization"))
			} else {
				require.Equal(t, "Bearer "+testKey, r.Header.Get("Authorization"))
				require.Empty(t, r.Header.Get("x-api-key"))
			}
		})
	}
}

func TestChatNoKey(t *testing.T) {
	t.Parallel()
	for _, p := range protocols {
		t.Run(string(p), func(t *testing.T) {
			t.Parallel()
			srv := llmtest.New(t, p, "", llmtest.Sequence(llmtest.Reply{Text: "hi"}))
			c := srv.Client(t, llm.ClientConfig{})
			resp, err := c.Chat(context.Background(), &llm.Request{Model: "llama3.1", Messages: []llm.Message{{Role: llm.RoleUser, Content: "hello"}}})
			require.NoError(t, err)
			require.Equal(t, "hi", resp.Content)
			require.Equal(t, llm.StopEnd, resp.StopReason)
			r := srv.Requests()[0]
			require.Empty(t, r.Header.Get("Authorization"))
			require.Empty(t, r.Header.Get("x-api-key"))
			require.Equal(t, llm.DefaultMaxTokens, r.MaxTokens)
		})
	}
}

func TestChatRetries(t *testing.T) {
	t.Parallel()
	ok := llmtest.Reply{Text: "done"}
	tests := []struct {
		name      string
		script    llmtest.Script
		attempts  int
		wantErr   bool
		status    int
		retryable bool
		requests  int
		// minWaits are lower bounds of the waits between attempts.
		minWaits []time.Duration
		contains string
	}{
		{
			name:     "429 with Retry-After then success",
			script:   llmtest.Sequence(llmtest.Reply{Status: 429, Body: "slow down", Header: map[string]string{"Retry-After": "2"}}, ok),
			requests: 2, minWaits: []time.Duration{2 * time.Second},
		},
		{
			name:     "Retry-After as an HTTP date",
			script:   llmtest.Sequence(llmtest.Reply{Status: 503, Header: map[string]string{"Retry-After": time.Now().Add(40 * time.Second).UTC().Format(http.TimeFormat)}}, ok),
			requests: 2, minWaits: []time.Duration{20 * time.Second},
		},
		{
			name:     "retry-after-ms",
			script:   llmtest.Sequence(llmtest.Reply{Status: 429, Header: map[string]string{"Retry-After-Ms": "1500"}}, ok),
			requests: 2, minWaits: []time.Duration{1500 * time.Millisecond},
		},
		{
			name:     "500s exhausting retries",
			script:   llmtest.Repeat(llmtest.Reply{Status: 500, Body: "model crashed"}),
			attempts: 3, wantErr: true, status: 500, retryable: true, requests: 3,
			minWaits: []time.Duration{0, 0}, contains: "after 3 attempts",
		},
		{
			name:     "529 overloaded is retried",
			script:   llmtest.Sequence(llmtest.Reply{Status: 529}, llmtest.Reply{Status: 502}, ok),
			attempts: 3, requests: 3, minWaits: []time.Duration{0, 0},
		},
		{
			name:    "400 is not retried",
			script:  llmtest.Repeat(llmtest.Reply{Status: 400, Body: "unknown model"}),
			wantErr: true, status: 400, requests: 1, contains: "unknown model",
		},
		{
			name:    "Retry-After beyond retry_max_delay gives up",
			script:  llmtest.Repeat(llmtest.Reply{Status: 429, Header: map[string]string{"Retry-After": "3600"}}),
			wantErr: true, status: 429, retryable: true, requests: 1, contains: "longer than retry_max_delay",
		},
		{
			name:    "malformed response is not retried",
			script:  llmtest.Repeat(llmtest.Reply{Body: `{"choices": [`}),
			wantErr: true, status: 200, requests: 1, contains: "decode response",
		},
	}
	for _, tt := range tests {
		for _, p := range protocols {
			t.Run(tt.name+"/"+string(p), func(t *testing.T) {
				t.Parallel()
				srv := llmtest.New(t, p, testKey, tt.script)
				c, sleeps := newClient(t, srv, llm.ClientConfig{MaxAttempts: tt.attempts, RetryBaseDelay: time.Millisecond, RetryMaxDelay: time.Minute})
				resp, err := c.Chat(context.Background(), &llm.Request{Model: "m", Messages: []llm.Message{{Role: llm.RoleUser, Content: "x"}}})
				require.Len(t, srv.Requests(), tt.requests)
				require.Len(t, sleeps.waits, len(tt.minWaits))
				for i, w := range tt.minWaits {
					require.GreaterOrEqual(t, sleeps.waits[i], w, "wait %d", i)
				}
				if !tt.wantErr {
					require.NoError(t, err)
					require.Equal(t, "done", resp.Content)
					return
				}
				var ae *llm.APIError
				require.ErrorAs(t, err, &ae)
				require.Equal(t, tt.status, ae.Status)
				require.Equal(t, tt.retryable, ae.Retryable)
				require.Equal(t, tt.retryable, llm.IsRetryable(err))
				require.Equal(t, tt.requests, ae.Attempts)
				require.Equal(t, p, ae.Provider)
				require.Contains(t, err.Error(), tt.contains)
				require.NotContains(t, err.Error(), testKey)
			})
		}
	}
}

func TestChatTimeout(t *testing.T) {
	t.Parallel()
	for _, p := range protocols {
		for _, attempts := range []int{1, 2} {
			t.Run(fmt.Sprintf("%s/%d attempts", p, attempts), func(t *testing.T) {
				t.Parallel()
				srv := llmtest.New(t, p, testKey, llmtest.Repeat(llmtest.Reply{Text: "late", Delay: time.Minute}))
				c, _ := newClient(t, srv, llm.ClientConfig{Timeout: 50 * time.Millisecond, MaxAttempts: attempts, RetryBaseDelay: time.Millisecond})
				start := time.Now()
				_, err := c.Chat(context.Background(), &llm.Request{Model: "m", Messages: []llm.Message{{Role: llm.RoleUser, Content: "x"}}})
				require.Less(t, time.Since(start), 10*time.Second, "a slow server must not hang the client")
				require.ErrorIs(t, err, llm.ErrTimeout)
				require.True(t, llm.IsRetryable(err))
				require.Len(t, srv.Requests(), attempts)
			})
		}
	}
}

func TestChatCancel(t *testing.T) {
	t.Parallel()
	for _, p := range protocols {
		t.Run(string(p), func(t *testing.T) {
			t.Parallel()
			arrived := make(chan struct{})
			var once sync.Once
			srv := llmtest.New(t, p, testKey, func(int, *llmtest.Received) llmtest.Reply {
				once.Do(func() { close(arrived) })
				return llmtest.Reply{Text: "late", Delay: time.Minute}
			})
			c, _ := newClient(t, srv, llm.ClientConfig{})
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			go func() {
				<-arrived
				cancel()
			}()
			_, err := c.Chat(ctx, &llm.Request{Model: "m", Messages: []llm.Message{{Role: llm.RoleUser, Content: "x"}}})
			require.ErrorIs(t, err, context.Canceled)
			var ae *llm.APIError
			require.False(t, errors.As(err, &ae), "the caller's cancellation is not a model failure")
			require.Len(t, srv.Requests(), 1, "no retry after cancellation")
		})
	}
}

func TestChatErrorsNeverHoldTheKey(t *testing.T) {
	t.Parallel()
	const wrongKey = "sk-live-0123456789abcdefABCDEF0123456789"
	tests := []struct {
		name      string
		serverKey string
		script    llmtest.Script
	}{
		{name: "401 echoing the key sent", serverKey: testKey},
		{name: "500 echoing the key", script: llmtest.Repeat(llmtest.Reply{Status: 500, Body: "upstream rejected key " + wrongKey})},
		{name: "429 echoing a fragment", script: llmtest.Repeat(llmtest.Reply{Status: 429, Body: "rate limited for key=" + wrongKey + "; try later"})},
	}
	for _, tt := range tests {
		for _, p := range protocols {
			t.Run(tt.name+"/"+string(p), func(t *testing.T) {
				t.Parallel()
				srv := llmtest.New(t, p, tt.serverKey, tt.script)
				c, _ := newClient(t, srv, llm.ClientConfig{APIKey: config.NewSecret(wrongKey), MaxAttempts: 2, RetryBaseDelay: time.Millisecond})
				_, err := c.Chat(context.Background(), &llm.Request{Model: "m", Messages: []llm.Message{{Role: llm.RoleUser, Content: "x"}}})
				require.Error(t, err)
				for _, s := range []string{err.Error(), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err)} {
					require.NotContains(t, s, wrongKey)
					require.NotContains(t, s, wrongKey[8:24], "not even a fragment")
				}
				// The server did get the key, so the test would notice a client
				// that simply never sent it.
				require.Contains(t, srv.Requests()[0].Header.Get("Authorization")+srv.Requests()[0].Header.Get("x-api-key"), wrongKey)
			})
		}
	}
}

func TestChatResponseCap(t *testing.T) {
	t.Parallel()
	for _, p := range protocols {
		t.Run(string(p), func(t *testing.T) {
			t.Parallel()
			srv := llmtest.New(t, p, testKey, llmtest.Repeat(llmtest.Reply{Text: strings.Repeat("a", 10_000)}))
			c, _ := newClient(t, srv, llm.ClientConfig{MaxResponseBytes: 4096})
			_, err := c.Chat(context.Background(), &llm.Request{Model: "m", Messages: []llm.Message{{Role: llm.RoleUser, Content: "x"}}})
			require.ErrorContains(t, err, "larger than 4096 bytes")
			require.False(t, llm.IsRetryable(err))
			require.Len(t, srv.Requests(), 1)
		})
	}
}

func TestNewClientConfig(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		cfg      llm.ClientConfig
		contains string
	}{
		{name: "unknown provider", cfg: llm.ClientConfig{Provider: "gemini"}, contains: `unknown provider "gemini"`},
		{name: "empty provider", cfg: llm.ClientConfig{}, contains: `unknown provider ""`},
		{name: "not a URL", cfg: llm.ClientConfig{Provider: llm.ProviderOpenAI, BaseURL: "localhost:11434"}, contains: "must be an http:// or https:// URL"},
		{name: "ftp", cfg: llm.ClientConfig{Provider: llm.ProviderAnthropic, BaseURL: "ftp://x"}, contains: "must be an http:// or https:// URL"},
		{name: "credentials in URL", cfg: llm.ClientConfig{Provider: llm.ProviderOpenAI, BaseURL: "https://user:pw@example.com"}, contains: "put credentials in api_key"},
		{name: "query in URL", cfg: llm.ClientConfig{Provider: llm.ProviderOpenAI, BaseURL: "https://example.com/?key=abc"}, contains: "put credentials in api_key"},
		{name: "negative timeout", cfg: llm.ClientConfig{Provider: llm.ProviderOpenAI, Timeout: -time.Second}, contains: "must not be negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := llm.New(tt.cfg)
			require.Nil(t, c)
			require.ErrorContains(t, err, tt.contains)
			require.NotContains(t, err.Error(), "pw@")
		})
	}
}

func TestNewClientBaseURL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		provider llm.Provider
		base     string
	}{
		{llm.ProviderOpenAI, "URL"},
		{llm.ProviderOpenAI, "URL/v1"},
		{llm.ProviderOpenAI, "URL/v1/"},
		{llm.ProviderAnthropic, "URL/"},
		{llm.ProviderAnthropic, "URL/v1"},
	}
	for _, tt := range tests {
		t.Run(string(tt.provider)+" "+tt.base, func(t *testing.T) {
			t.Parallel()
			srv := llmtest.New(t, tt.provider, "", llmtest.Repeat(llmtest.Reply{Text: "ok"}))
			c, err := llm.New(llm.ClientConfig{Provider: tt.provider, BaseURL: strings.Replace(tt.base, "URL", srv.URL, 1)})
			require.NoError(t, err)
			_, err = c.Chat(context.Background(), &llm.Request{Model: "m", Messages: []llm.Message{{Role: llm.RoleUser, Content: "x"}}})
			require.NoError(t, err)
			require.Empty(t, srv.Violations(), "the endpoint path is right")
		})
	}
}
