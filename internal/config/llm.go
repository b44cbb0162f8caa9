package config

import (
	"maps"
	"math"
	"net/url"
	"slices"
	"strings"
	"time"
)

// LLM configures the optional model (docs/llm.md). With no provider, the
// default, medic uses no model: every specialist runs its deterministic
// engine. With one, a specialist whose agent definition names a model runs
// a tool loop over its allowlisted read-only tools instead, and falls back
// on its deterministic engine whenever the model gives no usable answer.
type LLM struct {
	// Provider is the wire protocol: "" (no model), "openai" (OpenAI,
	// Ollama, vLLM, LM Studio, llama.cpp) or "anthropic".
	Provider string `yaml:"provider"`
	// BaseURL is the server root; empty means the provider's public API.
	BaseURL string `yaml:"base_url"`
	// APIKey is sent as a bearer token (openai) or x-api-key (anthropic).
	APIKey Secret `yaml:"api_key"`
	// Timeout bounds each model request.
	Timeout time.Duration `yaml:"timeout"`
	// MaxAttempts bounds the requests sent for one model call, the first
	// included; 1 disables retries.
	MaxAttempts int `yaml:"max_attempts"`
	// RetryBaseDelay is the first backoff, doubled per retry with jitter.
	RetryBaseDelay time.Duration `yaml:"retry_base_delay"`
	// RetryMaxDelay caps the backoff; a server asking for a longer wait
	// fails the request instead.
	RetryMaxDelay time.Duration `yaml:"retry_max_delay"`
	// MaxResponseBytes bounds one response body.
	MaxResponseBytes int64 `yaml:"max_response_bytes"`
	// MaxTokens bounds each reply.
	MaxTokens int `yaml:"max_tokens"`
	// Temperature is sent when set; nil leaves the server's default.
	Temperature *float64 `yaml:"temperature"`
	// MaxToolOutputBytes caps what one tool call shows the model.
	MaxToolOutputBytes int `yaml:"max_tool_output_bytes"`
	// Pricing gives each model's price, by model name exactly as agent
	// definitions send it, for the cost recorded per session. A model left
	// out has an unknown cost, not a zero one.
	Pricing map[string]LLMPrice `yaml:"pricing"`
}

// LLMPrice is what one model costs, in US dollars per million tokens.
type LLMPrice struct {
	InputPerMTok  float64 `yaml:"input_per_mtok"`
	OutputPerMTok float64 `yaml:"output_per_mtok"`
}

// LLM providers.
const (
	LLMProviderNone      = ""
	LLMProviderOpenAI    = "openai"
	LLMProviderAnthropic = "anthropic"
)

// Limits that Validate enforces on the llm section.
const (
	MaxLLMAttempts       = 10
	MinLLMResponseBytes  = 1 << 10
	MaxLLMResponseBytes  = 64 << 20
	MaxLLMTokens         = 200_000
	MaxLLMTemperature    = 2.0
	MinLLMToolOutput     = 256
	MaxLLMToolOutput     = 1 << 20
	maxLLMModelName      = 200
	defaultLLMTimeout    = 60 * time.Second
	defaultLLMAttempts   = 3
	defaultLLMRetryBase  = 500 * time.Millisecond
	defaultLLMRetryMax   = 30 * time.Second
	defaultLLMResponse   = 4 << 20
	defaultLLMTokens     = 2048
	defaultLLMToolOutput = 16 << 10
)

var llmProviders = []string{LLMProviderNone, LLMProviderOpenAI, LLMProviderAnthropic}

func defaultLLM() LLM {
	return LLM{
		Timeout: defaultLLMTimeout, MaxAttempts: defaultLLMAttempts,
		RetryBaseDelay: defaultLLMRetryBase, RetryMaxDelay: defaultLLMRetryMax,
		MaxResponseBytes: defaultLLMResponse, MaxTokens: defaultLLMTokens, MaxToolOutputBytes: defaultLLMToolOutput,
	}
}

// Enabled reports whether a model is configured.
func (l LLM) Enabled() bool { return l.Provider != LLMProviderNone }

func (l LLM) validate(v *validator) {
	const p = "llm"
	known := slices.Contains(llmProviders, l.Provider)
	if !known {
		v.add(p+".provider", `want "" (no model), %q or %q, got %q`, LLMProviderOpenAI, LLMProviderAnthropic, l.Provider)
	}
	if l.BaseURL != "" {
		if msg := llmURLProblem(l.BaseURL); msg != "" {
			v.add(p+".base_url", "%s", msg)
		}
	}
	if !l.Enabled() {
		const hint = "is only used with a model: set llm.provider, or remove it"
		if l.BaseURL != "" {
			v.add(p+".base_url", "%s", hint)
		}
		if l.APIKey.IsSet() {
			v.add(p+".api_key", "%s", hint)
		}
	} else if known && l.BaseURL == "" && !l.APIKey.IsSet() {
		v.add(p+".api_key", "must be set when llm.base_url is empty: %s's public API needs a key (api_key, api_key_file or api_key_env); "+
			"set llm.base_url for a local server", l.Provider)
	}
	v.positive(p+".timeout", l.Timeout)
	if l.MaxAttempts < 1 || l.MaxAttempts > MaxLLMAttempts {
		v.add(p+".max_attempts", "want from 1 (no retries) to %d, got %d", MaxLLMAttempts, l.MaxAttempts)
	}
	v.positive(p+".retry_base_delay", l.RetryBaseDelay)
	v.positive(p+".retry_max_delay", l.RetryMaxDelay)
	if l.RetryBaseDelay > 0 && l.RetryMaxDelay > 0 && l.RetryMaxDelay < l.RetryBaseDelay {
		v.add(p+".retry_max_delay", "must be at least llm.retry_base_delay (%s); got %s", l.RetryBaseDelay, l.RetryMaxDelay)
	}
	if l.MaxResponseBytes < MinLLMResponseBytes || l.MaxResponseBytes > MaxLLMResponseBytes {
		v.add(p+".max_response_bytes", "want from %d (1 KiB) to %d (64 MiB), got %d", MinLLMResponseBytes, MaxLLMResponseBytes, l.MaxResponseBytes)
	}
	if l.MaxTokens < 1 || l.MaxTokens > MaxLLMTokens {
		v.add(p+".max_tokens", "want from 1 to %d, got %d", MaxLLMTokens, l.MaxTokens)
	}
	if t := l.Temperature; t != nil && !(*t >= 0 && *t <= MaxLLMTemperature) { // also catches NaN
		v.add(p+".temperature", "want from 0 to %g, or leave it out for the server's default; got %v", MaxLLMTemperature, *t)
	}
	if l.MaxToolOutputBytes < MinLLMToolOutput || l.MaxToolOutputBytes > MaxLLMToolOutput {
		v.add(p+".max_tool_output_bytes", "want from %d to %d (1 MiB), got %d", MinLLMToolOutput, MaxLLMToolOutput, l.MaxToolOutputBytes)
	}
	for _, name := range slices.Sorted(maps.Keys(l.Pricing)) {
		pp := p + ".pricing." + name
		price := l.Pricing[name]
		switch {
		case strings.TrimSpace(name) == "":
			v.add(p+".pricing", "a model name must not be empty")
		case len(name) > maxLLMModelName:
			v.add(pp, "model names are at most %d characters", maxLLMModelName)
		}
		for _, f := range []struct {
			key string
			usd float64
		}{{"input_per_mtok", price.InputPerMTok}, {"output_per_mtok", price.OutputPerMTok}} {
			if !(f.usd >= 0) || math.IsInf(f.usd, 0) { // also catches NaN
				v.add(pp+"."+f.key, "want a price of 0 or more US dollars per million tokens, got %v", f.usd)
			}
		}
	}
}

// llmURLProblem says what is wrong with a model server's base URL, or "".
// It never quotes a URL holding user information, which may be a password.
func llmURLProblem(raw string) string {
	u, err := url.Parse(raw)
	if err == nil && (u.User != nil || u.RawQuery != "" || u.Fragment != "") {
		// Credentials belong in api_key, which never prints; a URL does.
		return "must not hold user information, a query or a fragment: put credentials in llm.api_key"
	}
	return httpURLProblem(raw)
}
