package memory

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/medic-sh/medic/internal/config"
)

// DefaultEmbedTimeout bounds one embeddings request unless configured.
const DefaultEmbedTimeout = 10 * time.Second

// maxEmbedResponseBytes bounds what an embeddings response may hold.
const maxEmbedResponseBytes = 64 << 20

// errEmbedTimeout is the cause recorded when a request hits its timeout.
var errEmbedTimeout = errors.New("embeddings request timed out")

// OpenAIConfig configures an OpenAIEmbedder.
type OpenAIConfig struct {
	// BaseURL is the server root, e.g. http://localhost:11434 for Ollama;
	// "/v1/embeddings" is appended (a trailing "/v1" is accepted).
	BaseURL string
	Model   string
	// Dim is the vector length the model returns; responses of any other
	// length are rejected.
	Dim int
	// APIKey is sent as a bearer token when set.
	APIKey config.Secret
	// Timeout bounds each request (DefaultEmbedTimeout when zero).
	Timeout time.Duration
	// Client defaults to a new http.Client.
	Client *http.Client
}

// OpenAIEmbedder calls an OpenAI-compatible POST /v1/embeddings endpoint
// (OpenAI, Ollama, vLLM, llama.cpp server).
type OpenAIEmbedder struct {
	url     string
	model   string
	dim     int
	key     config.Secret
	timeout time.Duration
	client  *http.Client
}

var _ Embedder = (*OpenAIEmbedder)(nil)

// NewOpenAIEmbedder checks cfg and returns an embedder; it makes no request.
func NewOpenAIEmbedder(cfg OpenAIConfig) (*OpenAIEmbedder, error) {
	base := strings.TrimSuffix(strings.TrimRight(cfg.BaseURL, "/"), "/v1")
	if !strings.HasPrefix(base, "http://") && !strings.HasPrefix(base, "https://") {
		return nil, fmt.Errorf("openai embedder: base_url %q must start with http:// or https://", cfg.BaseURL)
	}
	if cfg.Model == "" {
		return nil, errors.New("openai embedder: model is required (e.g. nomic-embed-text, text-embedding-3-small)")
	}
	if cfg.Dim <= 0 {
		return nil, fmt.Errorf("openai embedder: dim must be the model's vector length, got %d", cfg.Dim)
	}
	e := &OpenAIEmbedder{
		url: base + "/v1/embeddings", model: cfg.Model, dim: cfg.Dim, key: cfg.APIKey,
		timeout: cfg.Timeout, client: cfg.Client,
	}
	if e.timeout <= 0 {
		e.timeout = DefaultEmbedTimeout
	}
	if e.client == nil {
		e.client = &http.Client{}
	}
	return e, nil
}

// Dim returns the configured vector length.
func (e *OpenAIEmbedder) Dim() int { return e.dim }

// Name returns "openai/<model>/<dim>".
func (e *OpenAIEmbedder) Name() string { return fmt.Sprintf("openai/%s/%d", e.model, e.dim) }

// EmbedError is a failed embeddings call. Retryable says whether trying the
// same request again later may succeed (timeouts, connection errors, 429
// and 5xx) or not (4xx, malformed or wrong-sized responses).
type EmbedError struct {
	URL       string
	Status    int // HTTP status, 0 when there was no response
	Retryable bool
	Err       error
}

func (e *EmbedError) Error() string {
	kind := "not retryable"
	if e.Retryable {
		kind = "retryable"
	}
	if e.Status != 0 {
		return fmt.Sprintf("embed via %s: HTTP %d (%s): %v", e.URL, e.Status, kind, e.Err)
	}
	return fmt.Sprintf("embed via %s (%s): %v", e.URL, kind, e.Err)
}

func (e *EmbedError) Unwrap() error { return e.Err }

// IsRetryable reports whether err is an EmbedError worth retrying.
func IsRetryable(err error) bool {
	var ee *EmbedError
	return errors.As(err, &ee) && ee.Retryable
}

type embedRequest struct {
	Model string   `json:"model"`
	Input []string `json:"input"`
}

type embedResponse struct {
	Data []struct {
		Index     int       `json:"index"`
		Embedding []float32 `json:"embedding"`
	} `json:"data"`
}

// Embed sends all texts in one request and returns L2-normalised vectors
// in input order. Errors are *EmbedError, except cancellation of ctx by the
// caller, which is returned as ctx's cause.
func (e *OpenAIEmbedder) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	if len(texts) == 0 {
		return nil, nil
	}
	body, err := json.Marshal(embedRequest{Model: e.model, Input: texts})
	if err != nil {
		return nil, e.fail(0, false, fmt.Errorf("encode request: %w", err))
	}
	ctx, cancel := context.WithTimeoutCause(ctx, e.timeout, errEmbedTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.url, bytes.NewReader(body))
	if err != nil {
		return nil, e.fail(0, false, fmt.Errorf("build request: %w", err))
	}
	req.Header.Set("Content-Type", "application/json")
	if e.key.IsSet() {
		req.Header.Set("Authorization", "Bearer "+e.key.Reveal())
	}
	resp, err := e.client.Do(req)
	if err != nil {
		return nil, e.transportError(ctx, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxEmbedResponseBytes))
	if err != nil {
		return nil, e.transportError(ctx, fmt.Errorf("read response: %w", err))
	}
	if resp.StatusCode != http.StatusOK {
		retry := resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500
		return nil, e.fail(resp.StatusCode, retry, fmt.Errorf("server said: %s", snippet(raw)))
	}
	var out embedResponse
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, e.fail(resp.StatusCode, false, fmt.Errorf("decode response (is base_url an OpenAI-compatible server?): %w", err))
	}
	if len(out.Data) != len(texts) {
		return nil, e.fail(resp.StatusCode, false, fmt.Errorf("got %d embeddings for %d inputs", len(out.Data), len(texts)))
	}
	// Servers that omit "index" leave it 0 everywhere; then order is position.
	indexed := false
	for _, d := range out.Data {
		indexed = indexed || d.Index != 0
	}
	vecs := make([][]float32, len(texts))
	for i, d := range out.Data {
		idx := i
		if indexed {
			idx = d.Index
		}
		if idx < 0 || idx >= len(texts) || vecs[idx] != nil {
			return nil, e.fail(resp.StatusCode, false, fmt.Errorf("embedding %d has bad or repeated index %d", i, d.Index))
		}
		if len(d.Embedding) != e.dim {
			return nil, e.fail(resp.StatusCode, false, fmt.Errorf("embedding %d has %d dims, configured dim is %d: fix dim for model %s", i, len(d.Embedding), e.dim, e.model))
		}
		v, err := normalize(d.Embedding)
		if err != nil {
			return nil, e.fail(resp.StatusCode, false, fmt.Errorf("embedding %d: %w", i, err))
		}
		vecs[idx] = v
	}
	return vecs, nil
}

// transportError classifies a failure with no usable response. The
// caller's own cancellation passes through unwrapped; our timeout and
// network errors are retryable.
func (e *OpenAIEmbedder) transportError(ctx context.Context, err error) error {
	if cause := context.Cause(ctx); cause != nil {
		if errors.Is(cause, errEmbedTimeout) {
			return e.fail(0, true, fmt.Errorf("after %s: %w", e.timeout, cause))
		}
		return cause
	}
	return e.fail(0, true, err) // connection refused, reset, DNS: the server may come back
}

func (e *OpenAIEmbedder) fail(status int, retry bool, err error) *EmbedError {
	return &EmbedError{URL: e.url, Status: status, Retryable: retry, Err: err}
}

// snippet returns the start of a response body for an error message.
func snippet(b []byte) string {
	const n = 200
	s := strings.TrimSpace(string(b))
	if len(s) > n {
		s = s[:n] + "…"
	}
	if s == "" {
		return "(empty body)"
	}
	return s
}
