package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
)

const leak = "hunter2-do-not-print"

func TestSecretNeverPrints(t *testing.T) {
	t.Parallel()
	s := NewSecret(leak)
	cfg := Default()
	cfg.Auth.Tokens = []Token{{Name: "a", Role: RoleAdmin, Token: s}}
	cfg.Ingest.Webhook.Secret = s
	type hidden struct{ secret Secret } // unexported: fmt cannot call methods

	render := map[string]func() (string, error){
		"%v":           func() (string, error) { return fmt.Sprintf("%v", s), nil },
		"%+v":          func() (string, error) { return fmt.Sprintf("%+v", s), nil },
		"%#v":          func() (string, error) { return fmt.Sprintf("%#v", s), nil },
		"%s":           func() (string, error) { return fmt.Sprintf("%s", s), nil },
		"%q":           func() (string, error) { return fmt.Sprintf("%q", s), nil },
		"%x":           func() (string, error) { return fmt.Sprintf("%x", s), nil },
		"%d":           func() (string, error) { return fmt.Sprintf("%d", s), nil },
		"pointer %v":   func() (string, error) { return fmt.Sprintf("%v", &s), nil },
		"config %+v":   func() (string, error) { return fmt.Sprintf("%+v", cfg), nil },
		"config %#v":   func() (string, error) { return fmt.Sprintf("%#v", *cfg), nil },
		"unexported":   func() (string, error) { return fmt.Sprintf("%+v %#v", hidden{s}, hidden{s}), nil },
		"String":       func() (string, error) { return s.String(), nil },
		"GoString":     func() (string, error) { return s.GoString(), nil },
		"json":         func() (string, error) { b, err := json.Marshal(s); return string(b), err },
		"json config":  func() (string, error) { b, err := json.Marshal(cfg); return string(b), err },
		"yaml":         func() (string, error) { b, err := yaml.Marshal(s); return string(b), err },
		"yaml config":  func() (string, error) { b, err := yaml.Marshal(cfg); return string(b), err },
		"text":         func() (string, error) { b, err := s.MarshalText(); return string(b), err },
		"slog json":    func() (string, error) { return logWith(slog.NewJSONHandler, s, cfg), nil },
		"slog text":    func() (string, error) { return logWith(slog.NewTextHandler, s, cfg), nil },
		"errors.Join":  func() (string, error) { return fmt.Errorf("wrapped %v", s).Error(), nil },
		"map of value": func() (string, error) { return fmt.Sprint(map[string]Secret{"k": s}), nil },
	}
	for name, fn := range render {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			out, err := fn()
			require.NoError(t, err)
			require.NotContains(t, out, leak)
			require.NotContains(t, out, "hunter2")
		})
	}
	require.Equal(t, leak, s.Reveal())
	require.True(t, s.IsSet())
	require.Equal(t, "[redacted]", fmt.Sprint(s))
	require.Equal(t, `"[redacted]"`, fmt.Sprintf("%q", s))
}

func logWith[H slog.Handler](newHandler func(w io.Writer, o *slog.HandlerOptions) H, s Secret, cfg *Config) string {
	var buf bytes.Buffer
	slog.New(newHandler(&buf, nil)).Info("loaded", "secret", s, "config", cfg, "token", cfg.Auth.Tokens[0])
	return buf.String()
}

func TestSecretUnset(t *testing.T) {
	t.Parallel()
	var s Secret
	require.False(t, s.IsSet())
	require.Empty(t, s.Reveal())
	require.Empty(t, fmt.Sprint(s))
	b, err := json.Marshal(s)
	require.NoError(t, err)
	require.JSONEq(t, `""`, string(b))
	require.Equal(t, Secret{}, NewSecret(""))
}

func TestSecretUnmarshalYAML(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		in      string
		want    string
		wantErr error
	}{
		{name: "plain", in: "v: abc", want: "abc"},
		{name: "kept verbatim", in: "v: 0123", want: "0123"},
		{name: "null is unset", in: "v: ~", want: ""},
		{name: "placeholder refused", in: "v: '[redacted]'", wantErr: ErrInvalid},
		{name: "mapping refused", in: "v: {a: b}", wantErr: ErrWrongType},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var got struct{ V Secret }
			err := yaml.Unmarshal([]byte(tt.in), &got)
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got.V.Reveal())
		})
	}
}

func TestSecretSources(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(content), 0o600))
		return p
	}
	tokenFile := write("token", "file-token-0123456789\n")
	emptyFile := write("empty", "\n")
	env := fakeEnv(map[string]string{"PW": "env-password", "HOOK": "env-hook"})
	tests := []struct {
		name     string
		yaml     string
		check    func(t *testing.T, c *Config)
		wantErr  error
		wantPath string // YAML path the error must name
	}{
		{
			name: "file and env",
			yaml: "auth:\n  tokens:\n    - {name: a, role: admin, token_file: " + tokenFile + "}\n" +
				"airflow:\n  instances:\n    - {name: p, url: 'http://x', username: u, password_env: PW}\n" +
				"ingest: {webhook: {secret_env: HOOK}}\n",
			check: func(t *testing.T, c *Config) {
				require.Equal(t, "file-token-0123456789", c.Auth.Tokens[0].Token.Reveal())
				require.Equal(t, "env-password", c.Airflow.Instances[0].Password.Reveal())
				require.Equal(t, "env-hook", c.Ingest.Webhook.Secret.Reveal())
			},
		},
		{
			name: "missing file", yaml: "ingest: {webhook: {secret_file: " + filepath.Join(dir, "nope") + "}}",
			wantErr: os.ErrNotExist, wantPath: "ingest.webhook.secret_file",
		},
		{
			name: "empty file", yaml: "ingest: {webhook: {secret_file: " + emptyFile + "}}",
			wantErr: ErrSecretSource, wantPath: "ingest.webhook.secret_file",
		},
		{
			name: "directory", yaml: "ingest: {webhook: {secret_file: " + dir + "}}",
			wantErr: ErrSecretSource, wantPath: "ingest.webhook.secret_file",
		},
		{
			name: "unset variable", yaml: "ingest: {webhook: {secret_env: NOPE}}",
			wantErr: ErrSecretSource, wantPath: "ingest.webhook.secret_env",
		},
		{
			name: "both inline and env", yaml: "ingest: {webhook: {secret: x, secret_env: HOOK}}",
			wantErr: ErrDuplicateKey, wantPath: "ingest.webhook.secret_env",
		},
		{
			name: "suffix on a non-secret", yaml: "database: {url_env: DB}",
			wantErr: ErrUnknownKey, wantPath: "database.url_env",
		},
		{
			name: "reference not a string", yaml: "ingest: {webhook: {secret_file: [a]}}",
			wantErr: ErrWrongType, wantPath: "ingest.webhook.secret_file",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := ParseEnv([]byte(tt.yaml), "medic.yaml", env)
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
				require.NotNil(t, requireFieldError(t, err, tt.wantPath))
				require.NotContains(t, err.Error(), "file-token")
				return
			}
			require.NoError(t, err)
			require.NoError(t, c.Validate())
			tt.check(t, c)
		})
	}
}

func TestSecretFileContentNeverInErrors(t *testing.T) {
	t.Parallel()
	// A secret file that is too large fails; its content must not be quoted.
	p := filepath.Join(t.TempDir(), "big")
	require.NoError(t, os.WriteFile(p, bytes.Repeat([]byte(leak), maxSecretFileBytes/len(leak)+1), 0o600))
	_, err := Parse([]byte("ingest: {webhook: {secret_file: "+p+"}}"), "medic.yaml")
	require.ErrorIs(t, err, ErrSecretSource)
	require.Contains(t, err.Error(), p)
	require.NotContains(t, err.Error(), leak)
}

func TestSecretFileRelativeToConfig(t *testing.T) {
	t.Parallel()
	c, err := Load(filepath.Join("testdata", "secrets.yaml"),
		fakeEnv(map[string]string{"AIRFLOW_PASSWORD": "pw", "WEBHOOK_SECRET": "hook", "OPENAI_API_KEY": "sk-from-env"}))
	require.NoError(t, err)
	require.Equal(t, "sk-from-env", c.Memory.Embedder.APIKey.Reveal())
	require.Equal(t, "admin-token-from-file-0123", c.Auth.Tokens[0].Token.Reveal())
	require.Equal(t, "pw", c.Airflow.Instances[0].Password.Reveal())
	require.Equal(t, "hook", c.Ingest.Webhook.Secret.Reveal())
}
