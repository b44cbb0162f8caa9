package logparse

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite golden files")

// writeSystem writes a hand-made <dir>/<s>/<s>_2k.log_structured_corrected.csv.
func writeSystem(t *testing.T, dir, s string, rows [][2]string) {
	t.Helper()
	var b strings.Builder
	b.WriteString("LineId,Level,Content,EventId,EventTemplate\n")
	for i, r := range rows {
		b.WriteString(strings.Join([]string{
			string(rune('1' + i)), "INFO", csvQuote(r[0]), "E1", csvQuote(r[1]),
		}, ","))
		b.WriteString("\n")
	}
	require.NoError(t, os.MkdirAll(filepath.Join(dir, s), 0o755))
	require.NoError(t, os.WriteFile(structuredPath(dir, s), []byte(b.String()), 0o644))
}

func csvQuote(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

func fixture(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	writeSystem(t, dir, "Alpha", [][2]string{
		{"Deleting block blk_1 file /data/blk_1", "Deleting block <*> file <*>"},
		{"Deleting block blk_22 file /data/blk_22", "Deleting block <*> file <*>"},
		{`Served "block" blk_3 to 10.0.0.1:50010`, `Served "block" <*> to <*>:<*>`},
	})
	writeSystem(t, dir, "Beta", [][2]string{
		{"Link error", "Link error"},
		{"Link ok", "Link ok"},
	})
	// Not systems: a directory without the file, a file at the top, and a
	// nested copy in another layout.
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "Empty"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "METRICS.md"), []byte("x"), 0o644))
	writeSystem(t, filepath.Join(dir, "Beta", "corrected_icse22"), "Beta", [][2]string{{"x", "x"}})
	return dir
}

func TestRun(t *testing.T) {
	t.Parallel()
	dir := fixture(t)
	res, err := Run(context.Background(), dir, Options{TimingRuns: 2})
	require.NoError(t, err)
	require.Len(t, res.Systems, 2)
	require.Len(t, res.Baseline.Systems, 2)
	require.Equal(t, "Alpha", res.Systems[0].System)
	require.Equal(t, "Beta", res.Systems[1].System)
	for _, s := range append(res.Systems, res.Baseline.Systems...) {
		require.Positive(t, s.LinesPerSec, s.System)
	}
	alpha := res.Systems[0]
	require.Equal(t, Scores{GA: 1, FGA: 1, PA: 1, FTA: 1}, alpha.Scores)
	require.Equal(t, 3, alpha.Lines)
	require.Equal(t, 2, alpha.TruthTemplates)
	require.False(t, res.Baseline.Systems[0].Tuned, "Alpha has no logparser settings")
	require.InDelta(t, (alpha.GA+res.Systems[1].GA)/2, res.Mean.GA, 1e-12)

	only, err := Run(context.Background(), dir, Options{Systems: []string{"Beta"}})
	require.NoError(t, err)
	require.Len(t, only.Systems, 1)
	_, err = Run(context.Background(), dir, Options{Systems: []string{"Gamma"}})
	require.ErrorIs(t, err, ErrNoData)
}

func TestRunErrors(t *testing.T) {
	t.Parallel()
	_, err := Run(context.Background(), t.TempDir(), Options{})
	require.ErrorIs(t, err, ErrNoData)
	_, err = Run(context.Background(), filepath.Join(t.TempDir(), "missing"), Options{})
	require.ErrorIs(t, err, os.ErrNotExist)

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = Run(ctx, fixture(t), Options{})
	require.ErrorIs(t, err, context.Canceled)

	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "Bad"), 0o755))
	require.NoError(t, os.WriteFile(structuredPath(dir, "Bad"), []byte("LineId,Content\n1,x\n"), 0o644))
	_, err = Run(context.Background(), dir, Options{})
	require.ErrorContains(t, err, "EventTemplate")
}

// TestResultJSON pins the JSON keys the CLI and its users rely on.
func TestResultJSON(t *testing.T) {
	t.Parallel()
	res, err := Run(context.Background(), fixture(t), Options{})
	require.NoError(t, err)
	var buf bytes.Buffer
	require.NoError(t, res.WriteJSON(&buf))
	var doc map[string]any
	require.NoError(t, json.Unmarshal(buf.Bytes(), &doc))
	for _, part := range []map[string]any{doc, doc["baseline"].(map[string]any)} {
		sys := part["systems"].([]any)[0].(map[string]any)
		for _, k := range []string{"system", "ga", "fga", "pa", "fta", "lines_per_sec"} {
			require.Contains(t, sys, k)
		}
		mean := part["mean"].(map[string]any)
		for _, k := range []string{"ga", "fga", "pa", "fta"} {
			require.Contains(t, mean, k)
		}
	}
}

func TestWriteTableGolden(t *testing.T) {
	t.Parallel()
	res := &Result{
		Summary: Summary{
			Systems: []SystemResult{
				{System: "Alpha", Scores: Scores{GA: 1, FGA: 0.9, PA: 0.8, FTA: 0.7}, LinesPerSec: 1234567},
				{System: "Beta", Scores: Scores{GA: 0.5, FGA: 0.25, PA: 0.125, FTA: 0}, LinesPerSec: 2000000},
			},
			Mean: Scores{GA: 0.75, FGA: 0.575, PA: 0.4625, FTA: 0.35},
		},
		Baseline: Summary{
			Systems: []SystemResult{
				{System: "Alpha", Scores: Scores{GA: 0.9, FGA: 0.8, PA: 0.3, FTA: 0.2}, LinesPerSec: 10000, Tuned: true},
				{System: "Beta", Scores: Scores{GA: 0.4, FGA: 0.3, PA: 0.2, FTA: 0.1}, LinesPerSec: 20000},
			},
			Mean: Scores{GA: 0.65, FGA: 0.55, PA: 0.25, FTA: 0.15},
		},
		Measured: Environment{Go: "go1.26", OS: "linux", Arch: "amd64", GOMAXPROCS: 2, TimingRuns: 3},
	}
	var buf bytes.Buffer
	require.NoError(t, res.WriteTable(&buf))
	golden := filepath.Join("testdata", "table.golden")
	if *update {
		require.NoError(t, os.MkdirAll("testdata", 0o755))
		require.NoError(t, os.WriteFile(golden, buf.Bytes(), 0o644))
	}
	want, err := os.ReadFile(golden)
	require.NoError(t, err)
	require.Equal(t, string(want), buf.String())
}
