package cli_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/medic-sh/medic/internal/sharedtest"
)

func lastJSONLine(t *testing.T, stdout string) map[string]any {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	var got map[string]any
	require.NoError(t, json.Unmarshal([]byte(lines[len(lines)-1]), &got), "last line: %s", lines[len(lines)-1])
	return got
}

func TestBenchLogparseJSON(t *testing.T) {
	t.Parallel()
	dir := sharedtest.Dir(t, "loghub")
	r := medic(t, nil, "bench", "logparse", "--loghub", dir, "--system", "HDFS", "--system", "Apache", "--timing-runs", "1", "--json")
	require.Equal(t, 0, r.code, r.stderr)
	got := lastJSONLine(t, r.stdout)
	for _, key := range []string{"systems", "mean", "baseline"} {
		require.Contains(t, got, key)
	}
	systems := got["systems"].([]any)
	require.Len(t, systems, 2)
	for _, s := range systems {
		for _, key := range []string{"system", "ga", "fga", "pa", "fta", "lines_per_sec"} {
			require.Contains(t, s, key)
		}
	}
	mean := got["mean"].(map[string]any)
	require.Greater(t, mean["ga"].(float64), 0.9, "HDFS and Apache are easy systems")
	require.Contains(t, got["baseline"], "mean")
}

func TestBenchLogparseNeedsADataFolder(t *testing.T) {
	t.Parallel()
	r := medic(t, nil, "bench", "logparse")
	require.Equal(t, 2, r.code)
	require.Contains(t, r.stderr, "--loghub DIR is required")
	r = medic(t, nil, "bench", "logparse", "--loghub", t.TempDir())
	require.Equal(t, 2, r.code, "an empty folder is a usage error")
	require.Contains(t, r.stderr, "_2k.log_structured_corrected.csv")
}

func TestBenchLogscanJSON(t *testing.T) {
	t.Parallel()
	r := medic(t, nil, "bench", "logscan", "--size", "2MB", "--json")
	require.Equal(t, 0, r.code, r.stderr)
	got := lastJSONLine(t, r.stdout)
	require.InDelta(t, 2e6, got["bytes"].(float64), 2e5)
	require.Greater(t, got["secrets_planted"].(float64), 0.0)
	require.Zero(t, got["secrets_missed"].(float64), "no planted secret survives redaction")
	require.Greater(t, got["mb_per_sec"].(float64), 0.0)
	r = medic(t, nil, "bench", "logscan", "--size", "lots")
	require.Equal(t, 2, r.code)
}

func TestBenchStormJSON(t *testing.T) {
	t.Parallel()
	r := medic(t, nil, "bench", "storm", "--events", "300", "--json")
	require.Equal(t, 0, r.code, r.stderr)
	got := lastJSONLine(t, r.stdout)
	require.InDelta(t, 300, got["events"].(float64), 0)
	require.Zero(t, got["lost"].(float64))
	require.InDelta(t, 4, got["incidents"].(float64), 0, "one incident per cause")
	require.Greater(t, got["events_per_sec"].(float64), 0.0)
	require.Greater(t, got["p99_ms"].(float64), 0.0)
	r = medic(t, nil, "bench", "storm", "--events", "0")
	require.Equal(t, 2, r.code)
}

func TestBenchMemoryJSON(t *testing.T) {
	t.Parallel()
	r := medic(t, nil, "bench", "memory", "--records", "2k", "--queries", "20", "--json")
	require.Equal(t, 0, r.code, r.stderr)
	got := lastJSONLine(t, r.stdout)
	sizes := got["sizes"].([]any)
	require.Len(t, sizes, 1)
	size := sizes[0].(map[string]any)
	require.InDelta(t, 2000, size["records"].(float64), 0)
	require.InDelta(t, 1.0, size["recall_at_k"].(float64), 1e-9, "the search is exact")
	require.Greater(t, size["p99_ms"].(float64), 0.0)
	r = medic(t, nil, "bench", "memory", "--records", "many")
	require.Equal(t, 2, r.code)
}

func TestBenchClassifyJSON(t *testing.T) {
	t.Parallel()
	cases := sharedtest.Dir(t, "corpus", "dev.jsonl")
	r := medic(t, nil, "bench", "classify", "--cases", cases, "--json")
	require.Equal(t, 0, r.code, r.stderr)
	got := lastJSONLine(t, r.stdout)
	for _, key := range []string{"cases", "accuracy", "macro_f1", "retry_safe_precision", "retry_safe_recall", "ece", "abstention_rate", "per_label"} {
		require.Contains(t, got, key)
	}
	require.Positive(t, got["cases"].(float64))
	r = medic(t, nil, "bench", "classify")
	require.Equal(t, 2, r.code)
	require.Contains(t, r.stderr, "--cases FILE.jsonl is required")
}
