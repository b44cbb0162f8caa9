package config

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// fakeEnv is an environment for tests, which must never touch os.Setenv.
func fakeEnv(vars map[string]string) func(string) string {
	return func(name string) string { return vars[name] }
}

// fieldErrors returns the problems in err, of which there must be some.
func fieldErrors(t *testing.T, err error) []*FieldError {
	t.Helper()
	out := Problems(err)
	require.NotEmpty(t, out, "no *FieldError in %v", err)
	return out
}

// requireFieldError asserts that err holds a problem with the key at path
// and returns it.
func requireFieldError(t *testing.T, err error, path string) *FieldError {
	t.Helper()
	for _, fe := range fieldErrors(t, err) {
		if fe.Path == path {
			return fe
		}
	}
	require.Failf(t, "missing problem", "no problem with %q in:\n%v", path, err)
	return nil
}

func readFixture(t *testing.T, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	require.NoError(t, err)
	return data
}

func TestDefaultValidates(t *testing.T) {
	t.Parallel()
	c := Default()
	require.NoError(t, c.Validate())
	require.True(t, c.LoopbackOnly())
	require.Equal(t, "http://127.0.0.1:8080", c.Server.PublicURL)
	require.Equal(t, int64(1<<20), c.Ingest.Webhook.MaxBodyBytes)
	require.GreaterOrEqual(t, c.Jobs.RescueAfter, c.Jobs.JobTimeout)

	loaded, err := Load("", nil)
	require.NoError(t, err)
	require.Equal(t, c, loaded)
}

func TestParseEmptyIsDefaults(t *testing.T) {
	t.Parallel()
	for _, in := range []string{"", "\n", "# only a comment\n", "---\n", "~\n", "{}\n"} {
		c, err := Parse([]byte(in), "medic.yaml")
		require.NoError(t, err, "%q", in)
		require.Equal(t, Default(), c, "%q", in)
	}
}

func TestParseValid(t *testing.T) {
	t.Parallel()
	c, err := Parse(readFixture(t, "valid.yaml"), "valid.yaml")
	require.NoError(t, err)
	require.NoError(t, c.Validate())

	require.Equal(t, "staging", c.Environment)
	require.Equal(t, Log{Level: "debug", Format: "json"}, c.Log)
	require.Equal(t, "http://localhost:9090", c.Server.PublicURL, "derived from a wildcard addr")
	require.Equal(t, 90*time.Second, c.Server.ShutdownTimeout)
	require.Equal(t, 72*time.Hour, c.Triage.FrequencyLookback)
	require.Equal(t, 200, c.Triage.LogTailLines, "unset keys keep their defaults")
	emb := c.Memory.Embedder
	require.Equal(t, EmbedderOpenAI, emb.Kind)
	require.Equal(t, "http://localhost:11434/v1", emb.URL)
	require.Equal(t, "nomic-embed-text", emb.Model)
	require.Equal(t, "sk-embed-key", emb.APIKey.Reveal())
	require.Equal(t, 768, emb.Dimensions)
	require.Equal(t, 10*time.Second, emb.Timeout, "a partial embedder mapping keeps the other defaults")
	require.Equal(t, 0.9, c.Memory.MinSimilarity)
	require.Equal(t, 0.4, c.Memory.MinTrust)
	require.Equal(t, 5, c.Memory.TopK)
	require.Equal(t, time.Minute, c.Memory.SyncInterval)
	require.False(t, c.LoopbackOnly())

	prod, dev := c.Airflow.Instances[0], c.Airflow.Instances[1]
	require.Equal(t, "2", prod.Version, "an unquoted number is a string")
	require.Equal(t, "0123", prod.Password.Reveal())
	require.True(t, prod.Poll.Enabled)
	require.False(t, dev.Poll.Enabled, "an explicit false is not replaced by the default")
	require.Equal(t, 2.5, dev.RateLimit)

	tok, ok := c.Token("admin-token-0123456789")
	require.True(t, ok)
	require.Equal(t, "root", tok.Name)
	_, ok = c.Token("admin-token-012345678")
	require.False(t, ok)
	_, ok = c.Token("")
	require.False(t, ok)
}

func TestParseInstanceDefaults(t *testing.T) {
	t.Parallel()
	c, err := Parse([]byte("airflow:\n  instances:\n    - {name: a, url: 'http://a'}\n    - name: b\n      url: http://b\n      poll: {interval: 5m}\n"), "")
	require.NoError(t, err)
	want := DefaultAirflowInstance()
	want.Name, want.URL = "a", "http://a"
	require.Equal(t, want, c.Airflow.Instances[0])
	want.Name, want.URL, want.Poll.Interval = "b", "http://b", 5*time.Minute
	require.Equal(t, want, c.Airflow.Instances[1], "a partial poll mapping keeps the other poll defaults")
}

func TestParseAnchors(t *testing.T) {
	t.Parallel()
	c, err := Parse(readFixture(t, "anchors.yaml"), "anchors.yaml")
	require.NoError(t, err)
	require.NoError(t, c.Validate())
	eu := c.Airflow.Instances[1]
	require.Equal(t, "prod-eu", eu.Name)
	require.Equal(t, 30*time.Second, eu.Timeout)
	require.Equal(t, 1, eu.MaxRetries)
	require.Equal(t, 10, eu.Burst)
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		fixture string
		kind    error
		path    string
		line    int
		msg     string // exact message of the problem with path
	}{
		{
			"unknown_key.yaml", ErrUnknownKey, "environmen", 4,
			`unknown_key.yaml:4: environmen: unknown key (did you mean "environment"?)`,
		},
		{
			"nested_unknown.yaml", ErrUnknownKey, "airflow.instances[1].pasword", 10,
			`nested_unknown.yaml:10: airflow.instances[1].pasword: unknown key (did you mean "password"?)`,
		},
		{"nested_unknown.yaml", ErrUnknownKey, "airflow.instances[1].poll.intervall", 12, ""},
		{
			"wrong_type.yaml", ErrWrongType, "jobs.workers", 2,
			`wrong_type.yaml:2: jobs.workers: want an integer, got "four"`,
		},
		{"wrong_type.yaml", ErrWrongType, "notify.console.enabled", 6, ""},
		{
			"wrong_type.yaml", ErrWrongType, "server", 7,
			`wrong_type.yaml:7: server: want a mapping of keys, got "127.0.0.1:8080"`,
		},
		{
			"bad_duration.yaml", ErrWrongType, "triage.frequency_lookback", 2,
			`bad_duration.yaml:2: triage.frequency_lookback: invalid duration "7d": durations have no day unit: write 168h`,
		},
		{
			"bad_duration.yaml", ErrWrongType, "triage.step_timeout", 3,
			`bad_duration.yaml:3: triage.step_timeout: invalid duration "30": a duration needs a unit: write 30s for seconds`,
		},
		{"bad_duration.yaml", ErrWrongType, "jobs.job_timeout", 5, ""},
		{"duplicate.yaml", ErrDuplicateKey, "ingest.webhook.secret_env", 4, ""},
		{
			"duplicate.yaml", ErrDuplicateKey, "log.level", 7,
			`duplicate.yaml:7: log.level: level is already set by "level" on line 6; give it once`,
		},
		{"multi_doc.yaml", ErrMultipleDocuments, "", 2, ""},
	}
	for _, tt := range tests {
		t.Run(tt.fixture+"/"+tt.path, func(t *testing.T) {
			t.Parallel()
			_, err := Parse(readFixture(t, tt.fixture), tt.fixture)
			require.ErrorIs(t, err, tt.kind)
			fe := requireFieldError(t, err, tt.path)
			require.Equal(t, tt.line, fe.Line)
			require.Equal(t, tt.fixture, fe.File)
			if tt.msg != "" {
				require.Equal(t, tt.msg, fe.Error())
			}
		})
	}
}

func TestParseReportsEveryProblem(t *testing.T) {
	t.Parallel()
	_, err := Parse(readFixture(t, "bad_duration.yaml"), "bad_duration.yaml")
	require.Len(t, fieldErrors(t, err), 3)
}

func TestParseSyntaxError(t *testing.T) {
	t.Parallel()
	_, err := Parse([]byte("log:\n  level: [info\n"), "medic.yaml")
	require.Error(t, err)
	require.ErrorIs(t, err, ErrSyntax)
	ps := Problems(err)
	require.Len(t, ps, 1, "a syntax error is one problem with its position")
	require.Equal(t, "medic.yaml", ps[0].File)
	require.Positive(t, ps[0].Line)
	require.Empty(t, ps[0].Path, "it belongs to no key")
	require.True(t, strings.HasPrefix(err.Error(), fmt.Sprintf("medic.yaml:%d: ", ps[0].Line)), err.Error())
	require.Empty(t, Problems(nil))
}

func TestParseMergeCycle(t *testing.T) {
	t.Parallel()
	_, err := Parse([]byte("server: &s {<<: *s}\n"), "")
	require.ErrorIs(t, err, ErrInvalid)
}

func TestLoadEnvOverrides(t *testing.T) {
	t.Parallel()
	env := fakeEnv(map[string]string{
		"MEDIC_DATABASE_URL":   "postgres://env/medic",
		"MEDIC_ADDR":           ":7070",
		"MEDIC_LOG_LEVEL":      "warn",
		"MEDIC_LOG_FORMAT":     "json",
		"MEDIC_ENVIRONMENT":    "production",
		"MEDIC_WEBHOOK_SECRET": "env-hook",
	})
	c, err := Load(filepath.Join("testdata", "valid.yaml"), env)
	require.NoError(t, err)
	require.Equal(t, "postgres://env/medic", c.Database.URL)
	require.Equal(t, ":7070", c.Server.Addr)
	require.Equal(t, "http://localhost:7070", c.Server.PublicURL, "derived after the override")
	require.Equal(t, Log{Level: "warn", Format: "json"}, c.Log)
	require.Equal(t, "production", c.Environment)
	require.Equal(t, "env-hook", c.Ingest.Webhook.Secret.Reveal())

	c, err = Load("", fakeEnv(map[string]string{"MEDIC_PUBLIC_URL": "https://medic.example.com", "MEDIC_ADDR": ""}))
	require.NoError(t, err)
	require.Equal(t, "https://medic.example.com", c.Server.PublicURL)
	require.Equal(t, "127.0.0.1:8080", c.Server.Addr, "an empty variable counts as unset")
}

func TestLoadErrors(t *testing.T) {
	t.Parallel()
	_, err := Load(filepath.Join("testdata", "missing.yaml"), nil)
	require.ErrorIs(t, err, os.ErrNotExist)

	// Validation problems carry the file and line of the key, or the
	// variable that set it.
	path := filepath.Join("testdata", "invalid.yaml")
	_, err = Load(path, fakeEnv(map[string]string{"MEDIC_ENVIRONMENT": "prod", "MEDIC_LOG_FORMAT": "xml"}))
	require.ErrorIs(t, err, ErrInvalid)
	for _, want := range []struct {
		path string
		line int
	}{
		{"log.level", 3},
		{"server.addr", 5},
		{"auth.tokens[0].role", 9},
		{"auth.tokens[0].token", 10},
		{"airflow.instances[0].name", 13},
		{"airflow.instances[0].url", 14},
		{"airflow.instances[0].version", 15},
		{"airflow.instances[0].rate_limit", 16},
		{"ingest.webhook.max_body_bytes", 19},
	} {
		fe := requireFieldError(t, err, want.path)
		require.Equal(t, path, fe.File, want.path)
		require.Equal(t, want.line, fe.Line, want.path)
	}
	fe := requireFieldError(t, err, "log.format")
	require.Equal(t, "MEDIC_LOG_FORMAT", fe.Env)
	require.Equal(t, `log.format (set by MEDIC_LOG_FORMAT): want one of [text json], got "xml"`, fe.Error())
}
