package config

import (
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
)

// withLLM returns an edit configuring a local model server, then edit.
func withLLM(edit func(l *LLM)) func(c *Config) {
	return func(c *Config) {
		c.LLM.Provider, c.LLM.BaseURL = LLMProviderOpenAI, "http://localhost:11434"
		if edit != nil {
			edit(&c.LLM)
		}
	}
}

func withManifest(edit func(o *Owners)) func(c *Config) {
	return func(c *Config) {
		c.Owners.DbtManifest = "/srv/dbt/target/manifest.json"
		if edit != nil {
			edit(&c.Owners)
		}
	}
}

func ptr[T any](v T) *T { return &v }

func TestValidateOwnersAndLLM(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		edit func(c *Config)
		path string // "" means valid
		msg  string
	}{
		{name: "defaults", edit: func(*Config) {}},
		{name: "ownership file only", edit: func(c *Config) { c.Owners.File = "/etc/medic/owners.yaml" }},
		{name: "manifest with schema", edit: withManifest(func(o *Owners) { o.DbtManifestSchema = "/srv/schemas/v12.json"; o.ManifestWarnOnly = true })},
		{name: "manifest max zero", edit: withManifest(func(o *Owners) { o.ManifestMaxBytes = 0 }), path: "owners.manifest_max_bytes"},
		{name: "manifest max too large", edit: withManifest(func(o *Owners) { o.ManifestMaxBytes = MaxManifestBytes + 1 }), path: "owners.manifest_max_bytes"},
		{name: "validate max negative", edit: withManifest(func(o *Owners) { o.ManifestValidateMaxBytes = -1 }), path: "owners.manifest_validate_max_bytes"},
		{
			name: "validate above read limit", edit: withManifest(func(o *Owners) { o.ManifestMaxBytes, o.ManifestValidateMaxBytes = 1<<20, 2<<20 }),
			path: "owners.manifest_validate_max_bytes",
			msg:  "owners.manifest_validate_max_bytes: must be at most owners.manifest_max_bytes (1048576): a manifest too large to read cannot be validated; got 2097152",
		},
		{
			name: "schema without manifest", edit: func(c *Config) { c.Owners.DbtManifestSchema = "/srv/schemas/v12.json" },
			path: "owners.dbt_manifest_schema",
			msg:  "owners.dbt_manifest_schema: is only used with owners.dbt_manifest: set the manifest's path, or remove it",
		},
		{name: "warn-only without manifest", edit: func(c *Config) { c.Owners.ManifestWarnOnly = true }, path: "owners.manifest_warn_only"},
		{name: "max downstream zero", edit: func(c *Config) { c.Owners.MaxDownstream = 0 }, path: "owners.max_downstream"},
		{name: "max downstream huge", edit: func(c *Config) { c.Owners.MaxDownstream = MaxOwnersDownstream + 1 }, path: "owners.max_downstream"},
		{name: "broad impact zero", edit: func(c *Config) { c.Owners.BroadImpact = 0 }, path: "owners.broad_impact"},

		{name: "local model", edit: withLLM(nil)},
		{name: "anthropic with key", edit: func(c *Config) {
			c.LLM.Provider, c.LLM.APIKey = LLMProviderAnthropic, NewSecret("sk-ant-test-0123456789")
		}},
		{name: "temperature zero", edit: withLLM(func(l *LLM) { l.Temperature = ptr(0.0) })},
		{name: "priced models", edit: withLLM(func(l *LLM) {
			l.Pricing = map[string]LLMPrice{"qwen2.5:7b": {}, "gpt-4o-mini": {InputPerMTok: 0.15, OutputPerMTok: 0.6}}
		})},
		{
			name: "unknown provider", edit: func(c *Config) { c.LLM.Provider = "gemini" }, path: "llm.provider",
			msg: `llm.provider: want "" (no model), "openai" or "anthropic", got "gemini"`,
		},
		{
			name: "public API without key", edit: func(c *Config) { c.LLM.Provider = LLMProviderOpenAI }, path: "llm.api_key",
			msg: "llm.api_key: must be set when llm.base_url is empty: openai's public API needs a key (api_key, api_key_file or api_key_env); set llm.base_url for a local server",
		},
		{name: "base url without a provider", edit: func(c *Config) { c.LLM.BaseURL = "http://localhost:11434" }, path: "llm.base_url"},
		{
			name: "api key without a provider", edit: func(c *Config) { c.LLM.APIKey = NewSecret("sk-test-0123456789") }, path: "llm.api_key",
			msg: "llm.api_key: is only used with a model: set llm.provider, or remove it",
		},
		{name: "base url relative", edit: withLLM(func(l *LLM) { l.BaseURL = "localhost:11434" }), path: "llm.base_url"},
		{
			name: "base url with a password", edit: withLLM(func(l *LLM) { l.BaseURL = "https://medic:hunter2@llm.internal" }), path: "llm.base_url",
			msg: "llm.base_url: must not hold user information, a query or a fragment: put credentials in llm.api_key",
		},
		{name: "base url with a query", edit: withLLM(func(l *LLM) { l.BaseURL = "https://llm.internal/?key=x" }), path: "llm.base_url"},
		{name: "timeout zero", edit: withLLM(func(l *LLM) { l.Timeout = 0 }), path: "llm.timeout"},
		{name: "attempts zero", edit: withLLM(func(l *LLM) { l.MaxAttempts = 0 }), path: "llm.max_attempts"},
		{name: "attempts too many", edit: withLLM(func(l *LLM) { l.MaxAttempts = MaxLLMAttempts + 1 }), path: "llm.max_attempts"},
		{name: "retry base zero", edit: withLLM(func(l *LLM) { l.RetryBaseDelay = 0 }), path: "llm.retry_base_delay"},
		{name: "retry max below base", edit: withLLM(func(l *LLM) { l.RetryMaxDelay = 100 * time.Millisecond }), path: "llm.retry_max_delay"},
		{name: "response too small", edit: withLLM(func(l *LLM) { l.MaxResponseBytes = MinLLMResponseBytes - 1 }), path: "llm.max_response_bytes"},
		{name: "response too large", edit: withLLM(func(l *LLM) { l.MaxResponseBytes = MaxLLMResponseBytes + 1 }), path: "llm.max_response_bytes"},
		{name: "max tokens zero", edit: withLLM(func(l *LLM) { l.MaxTokens = 0 }), path: "llm.max_tokens"},
		{name: "temperature negative", edit: withLLM(func(l *LLM) { l.Temperature = ptr(-0.1) }), path: "llm.temperature"},
		{name: "temperature NaN", edit: withLLM(func(l *LLM) { l.Temperature = ptr(math.NaN()) }), path: "llm.temperature"},
		{name: "temperature too hot", edit: withLLM(func(l *LLM) { l.Temperature = ptr(2.5) }), path: "llm.temperature"},
		{name: "tool output too small", edit: withLLM(func(l *LLM) { l.MaxToolOutputBytes = MinLLMToolOutput - 1 }), path: "llm.max_tool_output_bytes"},
		{name: "tool output too large", edit: withLLM(func(l *LLM) { l.MaxToolOutputBytes = MaxLLMToolOutput + 1 }), path: "llm.max_tool_output_bytes"},
		{name: "price negative", edit: withLLM(func(l *LLM) { l.Pricing = map[string]LLMPrice{"m": {InputPerMTok: -1}} }), path: "llm.pricing.m.input_per_mtok"},
		{name: "price infinite", edit: withLLM(func(l *LLM) { l.Pricing = map[string]LLMPrice{"m": {OutputPerMTok: math.Inf(1)}} }), path: "llm.pricing.m.output_per_mtok"},
		{name: "price of no model", edit: withLLM(func(l *LLM) { l.Pricing = map[string]LLMPrice{" ": {}} }), path: "llm.pricing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := validConfig()
			tt.edit(c)
			err := c.Validate()
			if tt.path == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, ErrInvalid)
			problems := fieldErrors(t, err)
			require.Len(t, problems, 1, "one edit, one problem: %v", err)
			require.Equal(t, tt.path, problems[0].Path)
			if tt.msg != "" {
				require.Equal(t, tt.msg, problems[0].Error())
			}
			require.NotContains(t, err.Error(), "hunter2", "a URL's password never prints")
			if key := c.LLM.APIKey; key.IsSet() {
				require.NotContains(t, err.Error(), key.Reveal())
			}
		})
	}
}

func TestOwnersAndLLMDecode(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "llm.key"), []byte("sk-local-0123456789\n"), 0o600))
	path := filepath.Join(dir, "medic.yaml")
	require.NoError(t, os.WriteFile(path, []byte(`owners:
  file: owners.yaml
  dbt_manifest: dbt/target/manifest.json
  dbt_manifest_schema: /opt/schemas/manifest-v12.json
  max_downstream: 50
llm:
  provider: anthropic
  base_url: http://localhost:8000
  api_key_file: llm.key
  temperature: 0
  pricing:
    claude-sonnet-4-5: {input_per_mtok: 3, output_per_mtok: 15}
    qwen2.5:7b:
`), 0o600))
	c, err := Load(path, nil)
	require.NoError(t, err)

	want := defaultOwners()
	want.File, want.DbtManifest = filepath.Join(dir, "owners.yaml"), filepath.Join(dir, "dbt", "target", "manifest.json")
	want.DbtManifestSchema, want.MaxDownstream = "/opt/schemas/manifest-v12.json", 50
	require.Equal(t, want, c.Owners, "relative paths are the file's neighbours; keys left out keep their defaults")
	require.True(t, c.Owners.Configured())

	require.True(t, c.LLM.Enabled())
	require.Equal(t, "sk-local-0123456789", c.LLM.APIKey.Reveal())
	require.Equal(t, ptr(0.0), c.LLM.Temperature, "an explicit 0 is kept, not taken for unset")
	require.Equal(t, map[string]LLMPrice{"claude-sonnet-4-5": {InputPerMTok: 3, OutputPerMTok: 15}, "qwen2.5:7b": {}}, c.LLM.Pricing)
	require.Equal(t, defaultLLMTimeout, c.LLM.Timeout)

	fixture, err := Parse(readFixture(t, "owners_llm.yaml"), filepath.Join("testdata", "owners_llm.yaml"))
	require.NoError(t, err)
	require.NoError(t, fixture.Validate())
	require.Equal(t, filepath.Join("testdata", "schemas", "manifest-v12.json"), fixture.Owners.DbtManifestSchema)
	require.Len(t, fixture.LLM.Pricing, 2)

	require.False(t, Default().Owners.Configured())
	require.False(t, Default().LLM.Enabled())
	require.Nil(t, Default().LLM.Temperature)
}

func TestPricingIsStrict(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		doc  string
		kind error
		path string
		line int
	}{
		{
			name: "unknown key in a price", kind: ErrUnknownKey, path: "llm.pricing.gpt-4o.input_per_tok", line: 3,
			doc: "llm:\n  pricing:\n    gpt-4o: {input_per_tok: 2.5}\n",
		},
		{
			name: "model given twice", kind: ErrDuplicateKey, path: "llm.pricing.gpt-4o", line: 4,
			doc: "llm:\n  pricing:\n    gpt-4o: {input_per_mtok: 2.5}\n    gpt-4o: {input_per_mtok: 5}\n",
		},
		{name: "a list", kind: ErrWrongType, path: "llm.pricing", line: 2, doc: "llm:\n  pricing: [gpt-4o]\n"},
		{name: "a price that is not a number", kind: ErrWrongType, path: "llm.pricing.m.output_per_mtok", line: 2, doc: "llm:\n  pricing: {m: {output_per_mtok: cheap}}\n"},
		{name: "temperature that is not a number", kind: ErrWrongType, path: "llm.temperature", line: 2, doc: "llm:\n  temperature: warm\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Parse([]byte(tt.doc), "medic.yaml")
			require.ErrorIs(t, err, tt.kind)
			fe := requireFieldError(t, err, tt.path)
			require.Equal(t, tt.line, fe.Line)
		})
	}
}

// TestExamplePricingEntry uncomments the example's pricing entry and checks
// that it parses and validates: pricing is empty by default, so the entry
// is a comment the other example tests cannot see.
func TestExamplePricingEntry(t *testing.T) {
	t.Parallel()
	_, section, ok := strings.Cut(Example(), "\nllm:\n")
	require.True(t, ok, "example.yaml has an llm section")
	_, section, ok = strings.Cut(section, "an entry looks like this:\n")
	require.True(t, ok, "the llm section shows a commented pricing entry")
	body, ok := strings.CutPrefix(strings.SplitN(section, "\n", 2)[0], "  #   ")
	require.True(t, ok)
	doc := "llm:\n  provider: openai\n  base_url: http://localhost:11434\n  pricing:\n    " + body + "\n"
	c, err := Parse([]byte(doc), "example.yaml")
	require.NoError(t, err)
	require.NoError(t, c.Validate())
	require.Len(t, c.LLM.Pricing, 1)

	var node yaml.Node
	require.NoError(t, yaml.Unmarshal([]byte(doc), &node))
	have := map[string]bool{}
	nodePaths(&node, "", have)
	for _, leaf := range leafPaths(reflect.TypeFor[LLMPrice](), "llm.pricing.gpt-4o-mini") {
		require.True(t, have[leaf], "the example price does not show %s", leaf)
	}
}
