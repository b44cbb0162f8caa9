package logscan_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/medic-sh/medic/internal/logscan"
)

// TestGenerateLogNoneMissed is the "zero planted secrets missed" target on
// a generated log. It is not parallel: it holds a few MB, and tests
// elsewhere in the package measure allocations.
func TestGenerateLogNoneMissed(t *testing.T) {
	var buf bytes.Buffer
	planted, err := logscan.GenerateLog(&buf, 4<<20, 7)
	require.NoError(t, err)
	text := buf.String()
	lines := strings.Count(text, "\n")
	require.Greater(t, len(planted), lines/400, "about 1%% of lines carry secrets")
	for _, p := range planted {
		require.GreaterOrEqual(t, len(p), 8)
		require.Contains(t, text, p)
	}
	out := logscan.Redact(text)
	var missed []string
	for _, p := range planted {
		if strings.Contains(out, p) {
			missed = append(missed, p)
		}
	}
	require.Empty(t, missed, "planted secrets missed")
	require.Contains(t, out, "Token Expired, refreshing access token with the token_type bearer")
	require.Contains(t, out, `password authentication failed for user "etl"`)

	var again bytes.Buffer
	planted2, err := logscan.GenerateLog(&again, 4<<20, 7)
	require.NoError(t, err)
	require.Equal(t, planted, planted2, "same seed, same log")
	require.Equal(t, text, again.String())
}

func benchLog(b *testing.B, size int64) string {
	b.Helper()
	var buf bytes.Buffer
	if _, err := logscan.GenerateLog(&buf, size, 1); err != nil {
		b.Fatal(err)
	}
	return buf.String()
}

// BenchmarkRedact measures redaction of a realistic Airflow task log with
// about 1% secret lines, in MB/s per core:
//
//	go test -run '^$' -bench BenchmarkRedact -cpu 1 ./internal/logscan/
func BenchmarkRedact(b *testing.B) {
	text := benchLog(b, 16<<20)
	lines := strings.Split(text, "\n")
	b.Run("text", func(b *testing.B) {
		b.SetBytes(int64(len(text)))
		for b.Loop() {
			logscan.Redact(text)
		}
	})
	b.Run("lines", func(b *testing.B) {
		b.SetBytes(int64(len(text)))
		work := make([]string, len(lines))
		for b.Loop() {
			copy(work, lines)
			logscan.RedactLines(work)
		}
	})
	b.Run("no_keywords", func(b *testing.B) {
		line := "[2026-05-01, 02:00:03 UTC] {taskinstance.py:1157} INFO - Dependencies all met for ti=<TaskInstance: etl.load [queued]>"
		b.SetBytes(int64(len(line)))
		for b.Loop() {
			logscan.Redact(line)
		}
	})
}
