package cli_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/medic-sh/medic/internal/cli"
)

// demoEnv keeps the demo's database out of the working directory.
func demoEnv(t *testing.T) map[string]string {
	t.Helper()
	return map[string]string{"MEDIC_DATABASE_URL": filepath.Join(t.TempDir(), "demo.db")}
}

func TestDemoOnce(t *testing.T) {
	t.Parallel()
	t.Run("json", func(t *testing.T) {
		t.Parallel()
		env := demoEnv(t)
		res := medic(t, env, "demo", "--once", "--json")
		require.Equal(t, cli.ExitOK, res.code, res.stderr)
		require.FileExists(t, env["MEDIC_DATABASE_URL"])

		lines := strings.Split(strings.TrimSuffix(res.stdout, "\n"), "\n")
		require.Len(t, lines, 1, "with --json stdout is the one line of figures: %s", res.stdout)
		var got map[string]any
		require.NoError(t, json.Unmarshal([]byte(lines[len(lines)-1]), &got))
		for _, k := range []string{"incidents", "triaged", "median_triage_ms"} {
			require.IsType(t, float64(0), got[k], "key %s", k)
		}
		require.Positive(t, got["incidents"])
		require.Equal(t, got["incidents"], got["triaged"])
		require.Positive(t, got["median_triage_ms"])
		require.Contains(t, res.stderr, "medic demo: API on http://127.0.0.1:", "progress goes to stderr")
	})
	t.Run("table", func(t *testing.T) {
		t.Parallel()
		res := medic(t, demoEnv(t), "demo", "--once")
		require.Equal(t, cli.ExitOK, res.code, res.stderr)
		require.Contains(t, res.stdout, "INCIDENT inc_", "the reports")
		require.Regexp(t, `\nINCIDENT +DAG\.TASK +STATE`, res.stdout, "the summary table")
		require.Regexp(t, `\n14 scripted runs → \d+ incidents \(\d+ triaged, \d+ reported\)`, res.stdout)
		require.Regexp(t, `median time from event receipt to completed triage: [0-9.]+ ms \(max [0-9.]+ ms\)\n$`, res.stdout)
		require.NotContains(t, res.stderr, "INCIDENT ", "reports go to stdout")
	})
}

// TestDemoStopsCleanlyOnInterrupt presses Ctrl-C on the interactive demo,
// while it plays the scenario and after: either way it exits 0, the way the
// documentation says the demo ends.
func TestDemoStopsCleanlyOnInterrupt(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		pace string
		// after is what stderr shows when Ctrl-C comes.
		after string
	}{
		{"while playing", "1h", "medic demo: airflow ran orders_etl"},
		{"after playing", "1ms", "medic demo: scenario played; medic keeps serving"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var stdout, stderr syncBuffer
			done := make(chan int, 1)
			args := []string{"demo", "--addr", "127.0.0.1:0", "--pace", tt.pace}
			go func() {
				done <- cli.MainContext(ctx, args, cli.IO{Out: &stdout, Err: &stderr, Getenv: getenv(demoEnv(t))})
			}()
			require.Eventually(t, func() bool { return strings.Contains(stderr.String(), tt.after) },
				30*time.Second, 10*time.Millisecond, "stderr: %s", stderr.String())
			cancel()
			select {
			case code := <-done:
				require.Equal(t, cli.ExitOK, code, stderr.String())
			case <-time.After(20 * time.Second):
				t.Fatal("demo did not stop after the interrupt")
			}
			require.NotContains(t, stderr.String(), "medic: ", "no error: %s", stderr.String())
		})
	}
}

// TestDemoOnceInterrupted presses Ctrl-C on demo --once before it finished:
// there is no summary, and the command says it was interrupted.
func TestDemoOnceInterrupted(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- cli.MainContext(ctx, []string{"demo", "--once", "--json"}, cli.IO{Out: &stdout, Err: &stderr, Getenv: getenv(demoEnv(t))})
	}()
	require.Eventually(t, func() bool { return strings.Contains(stderr.String(), "medic demo: airflow ran") },
		30*time.Second, 10*time.Millisecond, "stderr: %s", stderr.String())
	cancel()
	select {
	case code := <-done:
		require.Equal(t, cli.ExitError, code)
	case <-time.After(20 * time.Second):
		t.Fatal("demo did not stop after the interrupt")
	}
	require.Empty(t, stdout.String())
	require.True(t, strings.HasSuffix(stderr.String(), "\nmedic: interrupted\n"), "stderr: %s", stderr.String())
}
