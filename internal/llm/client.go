package llm

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/medic-sh/medic/internal/config"
)

// Provider names a wire protocol.
type Provider string

// Providers.
const (
	// ProviderOpenAI is any server speaking OpenAI's POST
	// /v1/chat/completions: OpenAI, Ollama's /v1, vLLM, LM Studio and the
	// llama.cpp server.
	ProviderOpenAI Provider = "openai"
	// ProviderAnthropic is the Anthropic Messages API, POST /v1/messages.
	ProviderAnthropic Provider = "anthropic"
)

// Defaults of ClientConfig.
const (
	DefaultTimeout          = 60 * time.Second
	DefaultMaxAttempts      = 3
	DefaultRetryBaseDelay   = 500 * time.Millisecond
	DefaultRetryMaxDelay    = 30 * time.Second
	DefaultMaxResponseBytes = 4 << 20
)

// Default server roots, used when ClientConfig.BaseURL is empty.
const (
	DefaultOpenAIURL    = "https://api.openai.com"
	DefaultAnthropicURL = "https://api.anthropic.com"
)

// ClientConfig configures an OpenAI or Anthropic client.
type ClientConfig struct {
	// Provider selects the protocol for New; NewOpenAI and NewAnthropic
	// ignore it.
	Provider Provider
	// BaseURL is the server root, e.g. http://localhost:11434 for Ollama or
	// http://localhost:8000 for vLLM; the endpoint path is appended (a
	// trailing "/v1" is accepted). Empty means the provider's public API.
	BaseURL string
	// APIKey is sent as a bearer token (OpenAI) or x-api-key (Anthropic)
	// when set. Local servers usually need none.
	APIKey config.Secret
	// Timeout bounds each attempt (DefaultTimeout when zero).
	Timeout time.Duration
	// MaxAttempts bounds the requests sent for one Chat call, the first
	// included (DefaultMaxAttempts when zero; 1 disables retries).
	MaxAttempts int
	// RetryBaseDelay is the first backoff; each retry doubles it, with
	// jitter (DefaultRetryBaseDelay when zero).
	RetryBaseDelay time.Duration
	// RetryMaxDelay caps the backoff. A server asking (Retry-After) for a
	// longer wait fails the call instead (DefaultRetryMaxDelay when zero).
	RetryMaxDelay time.Duration
	// MaxResponseBytes bounds a response body; a longer one is an error
	// (DefaultMaxResponseBytes when zero).
	MaxResponseBytes int64
	// HTTPClient defaults to a new http.Client.
	HTTPClient *http.Client
}

// New returns the client for cfg.Provider. An unknown or empty provider is
// an error: there is no silent fallback.
func New(cfg ClientConfig) (Client, error) {
	switch cfg.Provider {
	case ProviderOpenAI:
		return NewOpenAI(cfg)
	case ProviderAnthropic:
		return NewAnthropic(cfg)
	}
	return nil, fmt.Errorf("llm: unknown provider %q: use %q (OpenAI, Ollama, vLLM, LM Studio, llama.cpp) or %q",
		cfg.Provider, ProviderOpenAI, ProviderAnthropic)
}

// withDefaults checks cfg and fills its zero fields; def is the provider's
// public URL and path its endpoint.
func (cfg ClientConfig) withDefaults(p Provider, def, path string) (ClientConfig, string, error) {
	base := cfg.BaseURL
	if base == "" {
		base = def
	}
	base = strings.TrimSuffix(strings.TrimRight(base, "/"), "/v1")
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return cfg, "", fmt.Errorf("%s client: base_url %q must be an http:// or https:// URL such as http://localhost:11434", p, cfg.BaseURL)
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		// Credentials belong in api_key, which never prints; a URL does.
		return cfg, "", fmt.Errorf("%s client: base_url must not hold user information, a query or a fragment: put credentials in api_key", p)
	}
	if cfg.Timeout < 0 || cfg.MaxAttempts < 0 || cfg.RetryBaseDelay < 0 || cfg.RetryMaxDelay < 0 || cfg.MaxResponseBytes < 0 {
		return cfg, "", errors.New(string(p) + " client: timeout, max_attempts, retry delays and max_response_bytes must not be negative")
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.MaxAttempts == 0 {
		cfg.MaxAttempts = DefaultMaxAttempts
	}
	if cfg.RetryBaseDelay == 0 {
		cfg.RetryBaseDelay = DefaultRetryBaseDelay
	}
	if cfg.RetryMaxDelay == 0 {
		cfg.RetryMaxDelay = DefaultRetryMaxDelay
	}
	if cfg.MaxResponseBytes == 0 {
		cfg.MaxResponseBytes = DefaultMaxResponseBytes
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{}
	}
	return cfg, base + path, nil
}
