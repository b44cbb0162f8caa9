package config

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// validConfig is a configuration with one of everything, which validates.
func validConfig() *Config {
	c := Default()
	c.Auth.Tokens = []Token{
		{Name: "ci", Role: RoleOperator, Token: NewSecret("ci-token-0123456789")},
		{Name: "root", Role: RoleAdmin, Token: NewSecret("admin-token-0123456789")},
	}
	in := DefaultAirflowInstance()
	in.Name, in.URL, in.Username, in.Password = "prod", "https://airflow.example.com", "medic", NewSecret("pw")
	c.Airflow.Instances = []AirflowInstance{in}
	return c
}

// openAIEmbedder is a valid embedder of kind openai.
func openAIEmbedder() Embedder {
	return Embedder{
		Kind: EmbedderOpenAI, URL: "http://localhost:11434", Model: "nomic-embed-text",
		APIKey: NewSecret("sk-embed-0123456789"), Dimensions: 768, Timeout: 5 * time.Second,
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		edit func(c *Config)
		path string // "" means valid
		msg  string // expected message of the problem with path, if given
	}{
		{name: "valid", edit: func(*Config) {}},
		{name: "no auth on an instance", edit: func(c *Config) {
			c.Airflow.Instances[0].Username, c.Airflow.Instances[0].Password = "", Secret{}
		}},
		{name: "token auth", edit: func(c *Config) {
			c.Airflow.Instances[0].Username, c.Airflow.Instances[0].Password = "", Secret{}
			c.Airflow.Instances[0].Token = NewSecret("bearer")
		}},
		{name: "port 0", edit: func(c *Config) { c.Server.Addr = "127.0.0.1:0" }},
		{
			name: "log level", edit: func(c *Config) { c.Log.Level = "verbose" }, path: "log.level",
			msg: `log.level: want one of [debug info warn error], got "verbose"`,
		},
		{name: "log format", edit: func(c *Config) { c.Log.Format = "xml" }, path: "log.format"},
		{name: "addr without port", edit: func(c *Config) { c.Server.Addr = "localhost" }, path: "server.addr"},
		{name: "addr bad port", edit: func(c *Config) { c.Server.Addr = "localhost:http" }, path: "server.addr"},
		{name: "public url relative", edit: func(c *Config) { c.Server.PublicURL = "/medic" }, path: "server.public_url"},
		{name: "shutdown timeout", edit: func(c *Config) { c.Server.ShutdownTimeout = 0 }, path: "server.shutdown_timeout"},
		{name: "environment", edit: func(c *Config) { c.Environment = "" }, path: "environment"},
		{name: "database url", edit: func(c *Config) { c.Database.URL = "" }, path: "database.url"},
		{name: "token name empty", edit: func(c *Config) { c.Auth.Tokens[1].Name = "" }, path: "auth.tokens[1].name"},
		{
			name: "token name twice", edit: func(c *Config) { c.Auth.Tokens[1].Name = "ci" }, path: "auth.tokens[1].name",
			msg: `auth.tokens[1].name: "ci" is already the name of auth.tokens[0]`,
		},
		{name: "token role", edit: func(c *Config) { c.Auth.Tokens[0].Role = "root" }, path: "auth.tokens[0].role"},
		{name: "token unset", edit: func(c *Config) { c.Auth.Tokens[0].Token = Secret{} }, path: "auth.tokens[0].token"},
		{
			name: "token short", edit: func(c *Config) { c.Auth.Tokens[0].Token = NewSecret("short-secret") }, path: "auth.tokens[0].token",
			msg: "auth.tokens[0].token: must be at least 16 characters",
		},
		{name: "token value twice", edit: func(c *Config) { c.Auth.Tokens[1].Token = c.Auth.Tokens[0].Token }, path: "auth.tokens[1].token"},
		{name: "instance name empty", edit: func(c *Config) { c.Airflow.Instances[0].Name = "" }, path: "airflow.instances[0].name"},
		{name: "instance name pattern", edit: func(c *Config) { c.Airflow.Instances[0].Name = "-prod" }, path: "airflow.instances[0].name"},
		{name: "instance name twice", edit: func(c *Config) {
			c.Airflow.Instances = append(c.Airflow.Instances, c.Airflow.Instances[0])
		}, path: "airflow.instances[1].name"},
		{name: "instance url scheme", edit: func(c *Config) { c.Airflow.Instances[0].URL = "ftp://x" }, path: "airflow.instances[0].url"},
		{name: "instance url empty", edit: func(c *Config) { c.Airflow.Instances[0].URL = "" }, path: "airflow.instances[0].url"},
		{name: "instance version", edit: func(c *Config) { c.Airflow.Instances[0].Version = "1" }, path: "airflow.instances[0].version"},
		{name: "token and basic auth", edit: func(c *Config) { c.Airflow.Instances[0].Token = NewSecret("t") }, path: "airflow.instances[0].token"},
		{name: "username without password", edit: func(c *Config) { c.Airflow.Instances[0].Password = Secret{} }, path: "airflow.instances[0].password"},
		{name: "password without username", edit: func(c *Config) { c.Airflow.Instances[0].Username = "" }, path: "airflow.instances[0].username"},
		{name: "instance timeout", edit: func(c *Config) { c.Airflow.Instances[0].Timeout = -time.Second }, path: "airflow.instances[0].timeout"},
		{name: "rate limit zero", edit: func(c *Config) { c.Airflow.Instances[0].RateLimit = 0 }, path: "airflow.instances[0].rate_limit"},
		{name: "rate limit NaN", edit: func(c *Config) { c.Airflow.Instances[0].RateLimit = math.NaN() }, path: "airflow.instances[0].rate_limit"},
		{name: "burst", edit: func(c *Config) { c.Airflow.Instances[0].Burst = 0 }, path: "airflow.instances[0].burst"},
		{name: "max concurrency", edit: func(c *Config) { c.Airflow.Instances[0].MaxConcurrency = 0 }, path: "airflow.instances[0].max_concurrency"},
		{name: "max retries", edit: func(c *Config) { c.Airflow.Instances[0].MaxRetries = -1 }, path: "airflow.instances[0].max_retries"},
		{name: "poll interval", edit: func(c *Config) { c.Airflow.Instances[0].Poll.Interval = 0 }, path: "airflow.instances[0].poll.interval"},
		{name: "poll lookback", edit: func(c *Config) { c.Airflow.Instances[0].Poll.Lookback = 0 }, path: "airflow.instances[0].poll.lookback"},
		{name: "workers", edit: func(c *Config) { c.Jobs.Workers = 0 }, path: "jobs.workers"},
		{name: "rescue after", edit: func(c *Config) { c.Jobs.RescueAfter = 0 }, path: "jobs.rescue_after"},
		{name: "rescue before timeout", edit: func(c *Config) { c.Jobs.RescueAfter = time.Minute }, path: "jobs.rescue_after"},
		{name: "job timeout", edit: func(c *Config) { c.Jobs.JobTimeout = 0 }, path: "jobs.job_timeout"},
		{name: "max attempts", edit: func(c *Config) { c.Jobs.MaxAttempts = 0 }, path: "jobs.max_attempts"},
		{name: "poll interval zero", edit: func(c *Config) { c.Jobs.PollInterval = 0 }, path: "jobs.poll_interval"},
		{name: "poll interval too slow", edit: func(c *Config) { c.Jobs.PollInterval = time.Minute }, path: "jobs.poll_interval"},
		{name: "body too small", edit: func(c *Config) { c.Ingest.Webhook.MaxBodyBytes = 1023 }, path: "ingest.webhook.max_body_bytes"},
		{name: "body too large", edit: func(c *Config) { c.Ingest.Webhook.MaxBodyBytes = 64<<20 + 1 }, path: "ingest.webhook.max_body_bytes"},
		{name: "frequency lookback", edit: func(c *Config) { c.Triage.FrequencyLookback = 0 }, path: "triage.frequency_lookback"},
		{name: "recurring threshold", edit: func(c *Config) { c.Triage.RecurringThreshold = 0 }, path: "triage.recurring_threshold"},
		{name: "log tail lines", edit: func(c *Config) { c.Triage.LogTailLines = 0 }, path: "triage.log_tail_lines"},
		{name: "log max bytes", edit: func(c *Config) { c.Triage.LogMaxBytes = 0 }, path: "triage.log_max_bytes"},
		{name: "step timeout", edit: func(c *Config) { c.Triage.StepTimeout = 0 }, path: "triage.step_timeout"},
		{name: "openai embedder", edit: func(c *Config) { c.Memory.Embedder = openAIEmbedder() }},
		{name: "hash embedder dimensions", edit: func(c *Config) { c.Memory.Embedder.Dimensions = 512 }},
		{
			name: "embedder kind", edit: func(c *Config) { c.Memory.Embedder.Kind = "bert" }, path: "memory.embedder.kind",
			msg: `memory.embedder.kind: want one of [hash openai], got "bert"`,
		},
		{
			name: "openai without url", edit: func(c *Config) { c.Memory.Embedder = openAIEmbedder(); c.Memory.Embedder.URL = "" },
			path: "memory.embedder.url",
			msg:  "memory.embedder.url: must be set for kind openai: the server root, such as http://localhost:11434 (Ollama) or https://api.openai.com",
		},
		{name: "openai url relative", edit: func(c *Config) { c.Memory.Embedder = openAIEmbedder(); c.Memory.Embedder.URL = "localhost:11434" }, path: "memory.embedder.url"},
		{name: "openai without model", edit: func(c *Config) { c.Memory.Embedder = openAIEmbedder(); c.Memory.Embedder.Model = "" }, path: "memory.embedder.model"},
		{name: "openai without dimensions", edit: func(c *Config) { c.Memory.Embedder = openAIEmbedder(); c.Memory.Embedder.Dimensions = 0 }, path: "memory.embedder.dimensions"},
		{name: "openai timeout", edit: func(c *Config) { c.Memory.Embedder = openAIEmbedder(); c.Memory.Embedder.Timeout = 0 }, path: "memory.embedder.timeout"},
		{name: "dimensions negative", edit: func(c *Config) { c.Memory.Embedder.Dimensions = -1 }, path: "memory.embedder.dimensions"},
		{name: "dimensions too many", edit: func(c *Config) { c.Memory.Embedder.Dimensions = MaxEmbedDimensions + 1 }, path: "memory.embedder.dimensions"},
		{
			name: "hash with url", edit: func(c *Config) { c.Memory.Embedder.URL = "http://localhost:11434" }, path: "memory.embedder.url",
			msg: "memory.embedder.url: is only used with kind openai: set memory.embedder.kind: openai, or remove it",
		},
		{name: "hash with model", edit: func(c *Config) { c.Memory.Embedder.Model = "nomic-embed-text" }, path: "memory.embedder.model"},
		{name: "hash with api key", edit: func(c *Config) { c.Memory.Embedder.APIKey = NewSecret("sk-test") }, path: "memory.embedder.api_key"},
		{name: "top k zero", edit: func(c *Config) { c.Memory.TopK = 0 }, path: "memory.top_k"},
		{name: "top k too many", edit: func(c *Config) { c.Memory.TopK = MaxMemoryTopK + 1 }, path: "memory.top_k"},
		{name: "min similarity zero", edit: func(c *Config) { c.Memory.MinSimilarity = 0 }, path: "memory.min_similarity"},
		{name: "min similarity above one", edit: func(c *Config) { c.Memory.MinSimilarity = 1.01 }, path: "memory.min_similarity"},
		{name: "min similarity NaN", edit: func(c *Config) { c.Memory.MinSimilarity = math.NaN() }, path: "memory.min_similarity"},
		{name: "min similarity one", edit: func(c *Config) { c.Memory.MinSimilarity = 1 }},
		{name: "min trust one", edit: func(c *Config) { c.Memory.MinTrust = 1 }, path: "memory.min_trust"},
		{name: "min trust negative", edit: func(c *Config) { c.Memory.MinTrust = -0.1 }, path: "memory.min_trust"},
		{name: "sync interval", edit: func(c *Config) { c.Memory.SyncInterval = 0 }, path: "memory.sync_interval"},
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
			for _, tok := range c.Auth.Tokens {
				if tok.Token.IsSet() {
					require.NotContains(t, err.Error(), tok.Token.Reveal())
				}
			}
			if key := c.Memory.Embedder.APIKey; key.IsSet() {
				require.NotContains(t, err.Error(), key.Reveal())
			}
		})
	}
}

func TestToken(t *testing.T) {
	t.Parallel()
	c := validConfig()
	tests := []struct {
		value string
		want  string // token name, "" for no match
	}{
		{"ci-token-0123456789", "ci"},
		{"admin-token-0123456789", "root"},
		{"admin-token-012345678", ""},
		{"ADMIN-TOKEN-0123456789", ""},
		{"", ""},
	}
	for _, tt := range tests {
		got, ok := c.Token(tt.value)
		require.Equal(t, tt.want != "", ok, tt.value)
		require.Equal(t, tt.want, got.Name, tt.value)
	}
	require.False(t, c.LoopbackOnly())

	// An unset token never matches, not even the empty string.
	c.Auth.Tokens = []Token{{Name: "unset", Role: RoleAdmin}}
	_, ok := c.Token("")
	require.False(t, ok)
}
