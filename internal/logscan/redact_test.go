package logscan_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/medic-sh/medic/internal/logscan"
)

func TestRedact(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in, secret, placeholder string
	}{
		{"aws key", "using AKIAIOSFODNN7EXAMPLE for s3", "AKIAIOSFODNN7EXAMPLE", "[REDACTED:aws_access_key]"},
		{"url password", "postgresql://etl:hunter2secret@db.internal:5432/wh", "hunter2secret", "postgresql://etl:[REDACTED:url_password]@db"},
		{"password pair", "conn password=S3cretValue host=x", "S3cretValue", "password=[REDACTED:secret_pair]"},
		{"json secret", `{"client_secret": "abcd1234efgh"}`, "abcd1234efgh", `"client_secret": "[REDACTED:secret_pair]"`},
		{"bearer", "Authorization: Bearer abc.def.ghi123", "abc.def.ghi123", "Authorization: Bearer [REDACTED:auth_header]"},
		{"slack", "token xoxb-123456789012-abcdefABCDEF", "xoxb-123456789012-abcdefABCDEF", "[REDACTED:slack_token]"},
		{"github", "ghp_abcdefghijklmnopqrstuvwxyz0123456789", "ghp_abcdefghijklmnopqrstuvwxyz0123456789", "[REDACTED:github_token]"},
		{"jwt", "eyJhbGciOiJIUzUxMiJ9.eyJzdWIiOiJhZG1pbiJ9.c2lnbmF0dXJlc2lnbmF0dXJl", "c2lnbmF0dXJlc2lnbmF0dXJl", "[REDACTED:jwt]"},
		{"pem", "-----BEGIN RSA PRIVATE KEY-----\nMIIEow\n-----END RSA PRIVATE KEY-----", "MIIEow", "[REDACTED:private_key]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			out := logscan.Redact(tt.in)
			require.NotContains(t, out, tt.secret)
			require.Contains(t, out, tt.placeholder)
		})
	}
}

func TestRedactLeavesOrdinaryTextAlone(t *testing.T) {
	t.Parallel()
	for _, s := range []string{
		`psycopg2.errors.UndefinedColumn: column "customer_id" does not exist`,
		"[2026-05-01, 02:00:03 UTC] {taskinstance.py:2905} ERROR - Task failed with exception",
		"Task exited with return code -9",
	} {
		require.Equal(t, s, logscan.Redact(s))
	}
}

func TestErrorLines(t *testing.T) {
	t.Parallel()
	lines := strings.Split("INFO - starting\nTraceback (most recent call last):\n  File \"x.py\", line 1\nKeyError: 'a'\nINFO - done", "\n")
	require.Equal(t, []int{1, 3}, logscan.ErrorLines(lines))
	lines = append(lines, "[..] {taskinstance.py:1} ERROR - Task failed with exception")
	require.Equal(t, []int{1, 3, 5}, logscan.ErrorLines(lines))
}

func FuzzRedact(f *testing.F) {
	f.Add("password=hunter2 and AKIAIOSFODNN7EXAMPLE")
	f.Add("postgres://u:p@h/db")
	f.Add("-----BEGIN PRIVATE KEY-----\nabc")
	f.Fuzz(func(t *testing.T, s string) {
		out := logscan.Redact(s)
		require.Equal(t, out, logscan.Redact(out), "redaction is idempotent")
	})
}
