package logscanbench_test

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	logscanbench "github.com/medic-sh/medic/internal/bench/logscan"
	"github.com/medic-sh/medic/internal/logscan/extract"
)

func TestRun(t *testing.T) {
	t.Parallel()
	res, err := logscanbench.Run(context.Background(), logscanbench.Options{Size: 4 << 20, Seed: 7})
	require.NoError(t, err)
	require.InDelta(t, 4<<20, res.Bytes, 64<<10)
	require.Positive(t, res.Lines)
	require.Positive(t, res.SecretsPlanted)
	require.Zero(t, res.SecretsMissed, "missed: %v", res.Missed)
	require.Positive(t, res.MBPerSec)
	require.InDelta(t, res.Seconds, res.SplitSeconds+res.RedactSeconds+res.TailSeconds+res.ExtractSeconds, 1e-9)
	require.Equal(t, logscanbench.DefaultTailLines, res.TailLinesKept)
	require.True(t, res.TailTruncated)
	require.Equal(t, extract.KindPostgres, res.RootKind, "the failure at the end of the log is found in the tail")

	var table bytes.Buffer
	require.NoError(t, res.WriteTable(&table))
	require.Contains(t, table.String(), "secrets: ")
	require.Contains(t, table.String(), "MB/s")

	var js bytes.Buffer
	require.NoError(t, res.WriteJSON(&js))
	lines := strings.Split(strings.TrimSpace(js.String()), "\n")
	var back logscanbench.Result
	require.NoError(t, json.Unmarshal([]byte(lines[len(lines)-1]), &back))
	require.Equal(t, res.SecretsPlanted, back.SecretsPlanted)
}

func TestRunIsDeterministic(t *testing.T) {
	t.Parallel()
	a, err := logscanbench.Run(context.Background(), logscanbench.Options{Size: 1 << 20, Seed: 3})
	require.NoError(t, err)
	b, err := logscanbench.Run(context.Background(), logscanbench.Options{Size: 1 << 20, Seed: 3})
	require.NoError(t, err)
	require.Equal(t, a.Bytes, b.Bytes)
	require.Equal(t, a.Lines, b.Lines)
	require.Equal(t, a.SecretsPlanted, b.SecretsPlanted)
}

func TestRunCancelled(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := logscanbench.Run(ctx, logscanbench.Options{Size: 2 << 20})
	require.ErrorIs(t, err, context.Canceled)
}

func TestParseSize(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want int64
	}{
		{"100MB", 100e6},
		{"100mb", 100e6},
		{"1.5GB", 1.5e9},
		{"512KiB", 512 << 10},
		{"64MiB", 64 << 20},
		{"1048576", 1 << 20},
		{" 2 MB ", 2e6},
		{"10k", 10e3},
	}
	for _, tt := range tests {
		got, err := logscanbench.ParseSize(tt.in)
		require.NoError(t, err, tt.in)
		require.Equal(t, tt.want, got, tt.in)
	}
	for _, bad := range []string{"", "MB", "-1MB", "abc", "0", "2TB"} {
		_, err := logscanbench.ParseSize(bad)
		require.Error(t, err, bad)
	}
}

// BenchmarkPipeline reports the pipeline's own MB/s for `go test -bench`.
func BenchmarkPipeline(b *testing.B) {
	for b.Loop() {
		res, err := logscanbench.Run(context.Background(), logscanbench.Options{Size: 16 << 20, Seed: 1})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(res.MBPerSec, "MB/s")
		b.ReportMetric(float64(res.SecretsMissed), "missed")
	}
}
