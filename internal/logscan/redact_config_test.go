package logscan_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/medic-sh/medic/internal/config"
	"github.com/medic-sh/medic/internal/logscan"
)

// These tests cover the logscan.redact section of the configuration (it
// lives in internal/config, which imports this package), from YAML to a
// working Redactor.

func TestConfigRulesBuildARedactor(t *testing.T) {
	t.Parallel()
	c, err := config.Parse([]byte(`
logscan:
  redact:
    rules:
      - name: acme_token
        keywords: [ACME_]
        pattern: '\bacme_[0-9a-f]{8}\b'
      - name: employee_id
        keywords: [emp-]
        pattern: '(?i)\b(emp-)(\d{6})\b'
        secret_group: 2
`), "medic.yaml")
	require.NoError(t, err)
	require.NoError(t, c.Validate())
	rules := c.Logscan.Redact.RedactRules()
	require.Len(t, rules, 2)
	r, err := logscan.NewRedactor(rules)
	require.NoError(t, err)
	require.Equal(t, "[REDACTED:acme_token] EMP-[REDACTED:employee_id]", r.Redact("acme_0123abcd EMP-123456"))
}

func TestConfigWithoutRules(t *testing.T) {
	t.Parallel()
	require.Nil(t, config.Default().Logscan.Redact.RedactRules())
	c, err := config.Parse([]byte("logscan:\n  redact:\n    rules: []\n"), "medic.yaml")
	require.NoError(t, err)
	require.NoError(t, c.Validate())
	require.Empty(t, c.Logscan.Redact.RedactRules())
}

func TestConfigRejectsBadRules(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, rules, path string
	}{
		{"bad pattern", "- {name: a, keywords: [x], pattern: 'x(('}", "logscan.redact.rules[0].pattern"},
		{"empty match", "- {name: a, keywords: [x], pattern: 'x*'}", "logscan.redact.rules[0].pattern"},
		{"no keywords", "- {name: a, pattern: x}", "logscan.redact.rules[0].keywords"},
		{"built-in name", "- {name: jwt, keywords: [x], pattern: x}", "logscan.redact.rules[0].name"},
		{"bad name", "- {name: My-Rule, keywords: [x], pattern: x}", "logscan.redact.rules[0].name"},
		{"duplicate name", "- {name: a, keywords: [x], pattern: x}\n      - {name: a, keywords: [y], pattern: y}", "logscan.redact.rules[1].name"},
		{"group", "- {name: a, keywords: [x], pattern: '(x)', secret_group: 3}", "logscan.redact.rules[0].secret_group"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			yaml := "logscan:\n  redact:\n    rules:\n      " + tt.rules + "\n"
			p := filepath.Join(t.TempDir(), "medic.yaml")
			require.NoError(t, os.WriteFile(p, []byte(yaml), 0o600))
			_, err := config.Load(p, func(string) string { return "" })
			require.ErrorIs(t, err, config.ErrInvalid)
			var fe *config.FieldError
			require.True(t, errors.As(err, &fe))
			require.Equal(t, tt.path, fe.Path, "%v", err)
			require.Positive(t, fe.Line, "the problem names its line")
		})
	}
}

func TestConfigRejectsUnknownRuleKeys(t *testing.T) {
	t.Parallel()
	_, err := config.Parse([]byte("logscan:\n  redact:\n    rules:\n      - {name: a, keywords: [x], pattern: x, secretgroup: 1}\n"), "medic.yaml")
	require.ErrorIs(t, err, config.ErrUnknownKey)
}
