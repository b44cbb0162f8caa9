package cli_test

import (
	"context"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/medic-sh/medic/internal/cli"
	"github.com/medic-sh/medic/internal/store"
)

func TestSilenceAddValidation(t *testing.T) {
	t.Parallel()
	// The flags are checked before anything is sent: no server is needed.
	env := map[string]string{"MEDIC_SERVER": "http://127.0.0.1:1"}
	tests := []struct {
		name   string
		args   []string
		stderr string
	}{
		{"no dag", []string{"--for", "2h", "--reason", "x"}, `needs --dag`},
		{"no reason", []string{"--dag", "*", "--for", "2h"}, `needs --reason`},
		{"no end", []string{"--dag", "*", "--reason", "x"}, `needs --for \(such as 2h\) or --until`},
		{"both ends", []string{"--dag", "*", "--reason", "x", "--for", "2h", "--until", "2026-05-01T06:00:00Z"}, `not both`},
		{"bad duration", []string{"--dag", "*", "--reason", "x", "--for", "2 hours"}, `--for "2 hours": want a positive duration`},
		{"negative duration", []string{"--dag", "*", "--reason", "x", "--for", "-1h"}, `want a positive duration`},
		{"bad time", []string{"--dag", "*", "--reason", "x", "--until", "tomorrow"}, `--until "tomorrow": want an RFC 3339 time`},
		{"bad severity", []string{"--dag", "*", "--reason", "x", "--for", "1h", "--severity", "urgent"}, `want low, medium, high or critical`},
		{"an argument", []string{"extra", "--dag", "*", "--reason", "x", "--for", "1h"}, `takes 0 argument`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res := medic(t, env, append([]string{"silence", "add"}, tt.args...)...)
			require.Equal(t, cli.ExitUsage, res.code, res.stderr)
			require.Regexp(t, tt.stderr, res.stderr)
			require.Empty(t, res.stdout)
		})
	}
}

func TestSilenceLifecycle(t *testing.T) {
	t.Parallel()
	b := actionsSetup(t, "dev")
	until := time.Now().Add(3 * time.Hour).UTC().Truncate(time.Second).Format(time.RFC3339)
	id := regexp.MustCompile(`^sil_[0-9a-f]{32}`)

	res := medic(t, b.env, "silence", "add", "--dag", "finance_*", "--for", "2h", "--reason", "warehouse migration")
	require.Equal(t, cli.ExitOK, res.code, res.stderr)
	require.Regexp(t, `^sil_[0-9a-f]{32} silences dag finance_\* until \S+Z\n$`, res.stdout)
	first := id.FindString(res.stdout)

	res = medic(t, b.env, "silence", "add", "--dag", "*", "--instance", "main", "--severity", "low", "--until", until,
		"--reason", "release", "--json")
	require.Equal(t, cli.ExitOK, res.code, res.stderr)
	require.Regexp(t, `^\{"id":"sil_[0-9a-f]{32}","matcher":\{"dag":"\*","instance":"main","severity":"low"\},"reason":"release",`+
		`"created_by":"oncall",.*"ends_at":"`+regexp.QuoteMeta(until)+`"\}\n$`, res.stdout)
	second := regexp.MustCompile(`sil_[0-9a-f]{32}`).FindString(res.stdout)

	res = medic(t, b.env, "silence", "add", "--dag", "*", "--for", "1h", "--reason", "x", "--token", viewerToken)
	require.Equal(t, cli.ExitError, res.code)
	require.Regexp(t, `HTTP 403\); pass a token with the right role`, res.stderr)

	res = medic(t, b.env, "silence", "list", "--token", viewerToken)
	require.Equal(t, cli.ExitOK, res.code, res.stderr)
	require.Regexp(t, `^ID\s+STATE\s+DAG\s+INSTANCE\s+SEVERITY\s+STARTS\s+ENDS\s+CREATED BY\s+REASON\n`+
		second+`\s+active\s+\*\s+main\s+low\s+\S+\s+`+regexp.QuoteMeta(until)+`\s+oncall\s+release\n`+
		first+`\s+active\s+finance_\*\s+-\s+-\s+\S+\s+\S+\s+oncall\s+warehouse migration\n$`, res.stdout)
	require.Equal(t, "2 silences\n", res.stderr)

	res = medic(t, b.env, "silence", "expire", first)
	require.Equal(t, cli.ExitOK, res.code, res.stderr)
	require.Equal(t, first+" expired: dag finance_*\n", res.stdout)

	res = medic(t, b.env, "silence", "expire", first)
	require.Equal(t, cli.ExitError, res.code)
	require.Regexp(t, `silence `+first+` was already expired by oncall at \S+: conflict \(HTTP 409\)\n$`, res.stderr)

	res = medic(t, b.env, "silence", "expire", "sil_nope")
	require.Equal(t, cli.ExitNotFound, res.code)
	require.Regexp(t, `silence sil_nope not found \(HTTP 404\)`, res.stderr)

	res = medic(t, b.env, "silence", "list", "--json")
	require.Equal(t, cli.ExitOK, res.code, res.stderr)
	require.Regexp(t, `^\{"silences":\[\{"id":"`+second+`".*\}\]\}\n$`, res.stdout)
	require.NotContains(t, res.stdout, first, "an expired silence is not active")

	res = medic(t, b.env, "silence", "list", "--all")
	require.Equal(t, cli.ExitOK, res.code, res.stderr)
	require.Regexp(t, `\n`+first+`\s+expired\s+finance_\*`, res.stdout)
	require.Equal(t, "2 silences\n", res.stderr)

	entries, err := b.store.AuditList(context.Background(), &store.AuditListParams{ActionPrefix: "silence."})
	require.NoError(t, err)
	require.Len(t, entries, 3)
	require.Equal(t, "silence.expired", entries[2].Action)
	require.Equal(t, "oncall", entries[2].Actor)
}
