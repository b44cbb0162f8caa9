package memory

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/medic-sh/medic/internal/config"
)

// embedServer is a recording OpenAI-compatible embeddings server; handle
// decides each response.
type embedServer struct {
	*httptest.Server
	mu       sync.Mutex
	requests []embedRequest
	auth     []string
}

func newEmbedServer(t *testing.T, handle func(w http.ResponseWriter, req embedRequest)) *embedServer {
	t.Helper()
	s := &embedServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req embedRequest
		if r.Method != http.MethodPost || r.URL.Path != "/v1/embeddings" || json.NewDecoder(r.Body).Decode(&req) != nil {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		s.mu.Lock()
		s.requests = append(s.requests, req)
		s.auth = append(s.auth, r.Header.Get("Authorization"))
		s.mu.Unlock()
		handle(w, req)
	}))
	t.Cleanup(s.Close)
	return s
}

// vectorsFor answers with one dim-long vector per input, in reverse order
// with explicit indexes, to check that Embed reorders by index.
func vectorsFor(dim int) func(w http.ResponseWriter, req embedRequest) {
	return func(w http.ResponseWriter, req embedRequest) {
		var data []map[string]any
		for i := len(req.Input) - 1; i >= 0; i-- {
			v := make([]float32, dim)
			v[i%dim] = 2 // not normalised: Embed must normalise
			data = append(data, map[string]any{"index": i, "embedding": v, "object": "embedding"})
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"object": "list", "data": data, "model": req.Model})
	}
}

func newTestOpenAI(t *testing.T, url string, timeout time.Duration, key string) *OpenAIEmbedder {
	t.Helper()
	e, err := NewOpenAIEmbedder(OpenAIConfig{BaseURL: url + "/v1/", Model: "nomic-embed-text", Dim: 4, APIKey: config.NewSecret(key), Timeout: timeout})
	require.NoError(t, err)
	return e
}

func TestOpenAIEmbedderSuccess(t *testing.T) {
	t.Parallel()
	srv := newEmbedServer(t, vectorsFor(4))
	e := newTestOpenAI(t, srv.URL, time.Second, "sk-test")
	require.Equal(t, "openai/nomic-embed-text/4", e.Name())
	require.Equal(t, 4, e.Dim())

	got, err := e.Embed(context.Background(), []string{"a", "b", "c"})
	require.NoError(t, err)
	require.Equal(t, [][]float32{{1, 0, 0, 0}, {0, 1, 0, 0}, {0, 0, 1, 0}}, got)
	require.Equal(t, []embedRequest{{Model: "nomic-embed-text", Input: []string{"a", "b", "c"}}}, srv.requests)
	require.Equal(t, []string{"Bearer sk-test"}, srv.auth)
}

func TestOpenAIEmbedderNoKeyNoIndex(t *testing.T) {
	t.Parallel()
	srv := newEmbedServer(t, func(w http.ResponseWriter, req embedRequest) {
		fmt.Fprint(w, `{"data":[{"embedding":[1,0,0,0]},{"embedding":[0,0,0,3]}]}`)
	})
	e := newTestOpenAI(t, srv.URL, time.Second, "")
	got, err := e.Embed(context.Background(), []string{"a", "b"})
	require.NoError(t, err)
	require.Equal(t, [][]float32{{1, 0, 0, 0}, {0, 0, 0, 1}}, got)
	require.Equal(t, []string{""}, srv.auth, "no key, no Authorization header")
}

func TestOpenAIEmbedderErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		handle    func(w http.ResponseWriter, req embedRequest)
		status    int
		retryable bool
		contains  string
	}{
		{
			name: "500",
			handle: func(w http.ResponseWriter, _ embedRequest) {
				http.Error(w, "model loading", http.StatusInternalServerError)
			},
			status:    500,
			retryable: true,
			contains:  "model loading",
		},
		{
			name:      "429",
			handle:    func(w http.ResponseWriter, _ embedRequest) { http.Error(w, "slow down", http.StatusTooManyRequests) },
			status:    429,
			retryable: true,
		},
		{
			name:      "401",
			handle:    func(w http.ResponseWriter, _ embedRequest) { http.Error(w, "bad key", http.StatusUnauthorized) },
			status:    401,
			retryable: false,
		},
		{
			name:      "malformed JSON",
			handle:    func(w http.ResponseWriter, _ embedRequest) { fmt.Fprint(w, `{"data":[{"embedding":[1,2`) },
			status:    200,
			retryable: false,
			contains:  "decode response",
		},
		{
			name:      "wrong dims",
			handle:    vectorsFor(3),
			status:    200,
			retryable: false,
			contains:  "3 dims, configured dim is 4",
		},
		{
			name:      "too few embeddings",
			handle:    func(w http.ResponseWriter, _ embedRequest) { fmt.Fprint(w, `{"data":[]}`) },
			status:    200,
			retryable: false,
			contains:  "got 0 embeddings for 2 inputs",
		},
		{
			name: "repeated index",
			handle: func(w http.ResponseWriter, _ embedRequest) {
				fmt.Fprint(w, `{"data":[{"index":1,"embedding":[1,0,0,0]},{"index":1,"embedding":[1,0,0,0]}]}`)
			},
			status:   200,
			contains: "repeated index",
		},
		{
			name: "zero vector",
			handle: func(w http.ResponseWriter, _ embedRequest) {
				fmt.Fprint(w, `{"data":[{"embedding":[0,0,0,0]},{"embedding":[1,0,0,0]}]}`)
			},
			status:   200,
			contains: "zero length",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := newEmbedServer(t, tt.handle)
			e := newTestOpenAI(t, srv.URL, time.Second, "")
			_, err := e.Embed(context.Background(), []string{"a", "b"})
			var ee *EmbedError
			require.ErrorAs(t, err, &ee)
			require.Equal(t, tt.status, ee.Status)
			require.Equal(t, tt.retryable, ee.Retryable)
			require.Equal(t, tt.retryable, IsRetryable(err))
			require.Contains(t, err.Error(), tt.contains)
		})
	}
}

func TestOpenAIEmbedderTimeout(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	srv := newEmbedServer(t, func(w http.ResponseWriter, r embedRequest) { <-release })
	defer close(release) // before srv.Close, which waits for handlers
	e := newTestOpenAI(t, srv.URL, 50*time.Millisecond, "")
	_, err := e.Embed(context.Background(), []string{"a"})
	var ee *EmbedError
	require.ErrorAs(t, err, &ee)
	require.True(t, ee.Retryable)
	require.ErrorIs(t, err, errEmbedTimeout)
}

func TestOpenAIEmbedderCallerCancel(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	ctx, cancel := context.WithCancelCause(context.Background())
	stop := errors.New("triage shutting down")
	srv := newEmbedServer(t, func(w http.ResponseWriter, r embedRequest) {
		cancel(stop)
		<-release
	})
	defer close(release)
	e := newTestOpenAI(t, srv.URL, time.Minute, "")
	_, err := e.Embed(ctx, []string{"a"})
	require.ErrorIs(t, err, stop)
	var ee *EmbedError
	require.False(t, errors.As(err, &ee), "the caller's cancellation is not an embedder failure")
}

func TestOpenAIEmbedderServerDown(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	e := newTestOpenAI(t, url, time.Second, "")
	_, err := e.Embed(context.Background(), []string{"a"})
	require.True(t, IsRetryable(err), "connection refused is retryable: %v", err)
}

func TestNewOpenAIEmbedderValidates(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cfg  OpenAIConfig
		want string
	}{
		{"no scheme", OpenAIConfig{BaseURL: "localhost:11434", Model: "m", Dim: 4}, "must start with http"},
		{"no model", OpenAIConfig{BaseURL: "http://x", Dim: 4}, "model is required"},
		{"no dim", OpenAIConfig{BaseURL: "http://x", Model: "m"}, "dim must be"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := NewOpenAIEmbedder(tt.cfg)
			require.Error(t, err)
			require.True(t, strings.Contains(err.Error(), tt.want), err.Error())
		})
	}
}
