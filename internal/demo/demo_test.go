package demo_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/medic-sh/medic/internal/airflow/airflowsim"
	"github.com/medic-sh/medic/internal/demo"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// syncBuffer is a buffer medic's notifier and the test share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// failedRuns plays the demo's scenario on a fresh stand-in and counts the
// runs that end failed: each is one incident.
func failedRuns(t *testing.T) int {
	t.Helper()
	sim := airflowsim.New(airflowsim.Options{Version: 3})
	sc := airflowsim.Demo()
	require.NoError(t, sim.Load(sc))
	n := 0
	for _, st := range sc.Steps {
		run, err := sim.RunStep(st)
		require.NoError(t, err)
		if run.State == airflowsim.StateFailed {
			n++
		}
	}
	require.Positive(t, n)
	return n
}

func runOnce(t *testing.T, db string, reports io.Writer) *demo.Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	res, err := demo.Run(ctx, demo.Options{
		Once: true, Addr: "127.0.0.1:0", DatabasePath: db, Reports: reports, Status: io.Discard,
	})
	require.NoError(t, err)
	require.NotNil(t, res)
	return res
}

func TestRunOnce(t *testing.T) {
	t.Parallel()
	want := failedRuns(t)
	db := filepath.Join(t.TempDir(), "demo.db")
	reports := &syncBuffer{}
	res := runOnce(t, db, reports)

	require.Equal(t, want, res.Incidents, "one incident per failed run")
	require.Equal(t, res.Incidents, res.Triaged)
	require.Equal(t, res.Incidents, res.Notified)
	require.Len(t, res.Rows, res.Incidents)
	require.Equal(t, len(airflowsim.Demo().Steps), res.ScriptedRuns)
	require.Zero(t, res.CallbackErrors)

	headlines := map[string]bool{}
	pollerOnly, recurring := 0, 0
	outcomes := map[string]int{}
	out := reports.String()
	for _, row := range res.Rows {
		if row.Headline != "" {
			headlines[row.Headline] = true
		}
		if row.Sources == "poller" {
			pollerOnly++
		}
		if strings.HasPrefix(row.Pattern, "recurring") {
			recurring++
		}
		require.Equal(t, 1, strings.Count(out, "INCIDENT "+row.IncidentID+" "), "the report of %s is printed exactly once", row.IncidentID)
		require.Equal(t, "incident-commander", row.Commander, "%s was investigated by the commander", row.IncidentID)
		agentsRun := make([]string, len(row.Specialists))
		for i, s := range row.Specialists {
			agentsRun[i] = s.Agent
			require.Equal(t, "completed", s.Status, "%s of %s", s.Agent, row.IncidentID)
		}
		require.Equal(t, []string{"log-analyzer", "query-profiler", "owner-notifier"}, agentsRun)
		require.Equal(t, "no warehouse configured", row.Specialists[1].Note)
		require.False(t, row.Partial)
		require.NotNil(t, row.Remediation, "the policy decided %s", row.IncidentID)
		outcomes[row.Remediation.Outcome]++
		switch row.Remediation.Outcome {
		case "propose":
			require.NotEmpty(t, row.Remediation.ApprovalID, "%s: a proposal waits as an approval", row.IncidentID)
			require.Equal(t, "awaiting_approval", row.State)
		default:
			require.Equal(t, "escalated", row.State, "%s: %+v", row.IncidentID, row.Remediation)
		}
	}
	require.Positive(t, outcomes["propose"], "retryable failures are proposed: %v", outcomes)
	require.Positive(t, outcomes["escalate"], "failures that need a person are escalated: %v", outcomes)
	require.Zero(t, outcomes["execute"], "nothing runs without a person in the demo")
	require.Contains(t, out, "Investigation: incident-commander → log-analyzer completed")
	require.GreaterOrEqual(t, len(headlines), 8, "distinct headlines: %v", headlines)
	require.GreaterOrEqual(t, pollerOnly, 1, "the OOM kill fires no callback: only the poller sees it")
	require.GreaterOrEqual(t, res.FromPoller, pollerOnly)
	require.GreaterOrEqual(t, recurring, 1, "failures that recur on later days are recurring")
	require.Equal(t, res.Incidents, strings.Count(out, "INCIDENT inc_"), "no report but the incidents'")

	var buf bytes.Buffer
	require.NoError(t, res.WriteJSON(&buf))
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	var got map[string]any
	require.NoError(t, json.Unmarshal([]byte(lines[len(lines)-1]), &got))
	require.Equal(t, float64(res.Incidents), got["incidents"])
	require.Equal(t, float64(res.Triaged), got["triaged"])
	median, ok := got["median_triage_ms"].(float64)
	require.True(t, ok, "median_triage_ms is a number: %v", got["median_triage_ms"])
	require.Positive(t, median)

	buf.Reset()
	require.NoError(t, res.WriteTable(&buf))
	for _, row := range res.Rows {
		require.Contains(t, buf.String(), row.IncidentID)
		require.Regexp(t, row.IncidentID+`  incident-commander → log-analyzer \d+ms, query-profiler \(no warehouse configured\) \d+ms, owner-notifier \d+ms\n`, buf.String())
	}
	require.Contains(t, buf.String(), "INVESTIGATIONS (commander → specialists, in parallel)")
	require.Regexp(t, `\ninc_\S+  propose \S+: awaiting approval apr_\S+ \(with its dry run\)\n`, buf.String())

	// The database is recreated: a second run finds what the first found.
	again := runOnce(t, db, io.Discard)
	require.Equal(t, res.Incidents, again.Incidents)
	require.Equal(t, res.Triaged, again.Triaged)
}

// TestRunInteractiveStopsOnCancel cancels the interactive demo while it
// plays its scenario: that is how a person stops it, so it is no error.
func TestRunInteractiveStopsOnCancel(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	status := &syncBuffer{}
	type ret struct {
		res *demo.Result
		err error
	}
	done := make(chan ret, 1)
	go func() {
		res, err := demo.Run(ctx, demo.Options{
			Addr: "127.0.0.1:0", DatabasePath: filepath.Join(t.TempDir(), "demo.db"), Pace: time.Hour,
			Reports: io.Discard, Status: status,
		})
		done <- ret{res, err}
	}()
	require.Eventually(t, func() bool { return strings.Contains(status.String(), "medic demo: airflow ran") },
		30*time.Second, 10*time.Millisecond)
	cancel()
	select {
	case r := <-done:
		require.NoError(t, r.err)
		require.Nil(t, r.res)
	case <-time.After(20 * time.Second):
		t.Fatal("demo did not stop")
	}
}

// TestRunOnceDeadline gives triage no time at all: Once reports how far it
// got instead of hanging or claiming success.
func TestRunOnceDeadline(t *testing.T) {
	t.Parallel()
	_, err := demo.Run(context.Background(), demo.Options{
		Once: true, Addr: "127.0.0.1:0", DatabasePath: filepath.Join(t.TempDir(), "demo.db"),
		Deadline: time.Nanosecond, Reports: io.Discard, Status: io.Discard,
	})
	require.Error(t, err)
	require.Regexp(t, `^demo: \d+ of \d+ incident\(s\) triaged when the deadline passed; run with -v to see what medic was doing$`, err.Error())
}

func TestRunRefusesToDeleteADatabaseItDidNotMake(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "production.db")
	require.NoError(t, os.WriteFile(db, []byte("not a demo database"), 0o600))
	_, err := demo.Run(context.Background(), demo.Options{
		Once: true, Addr: "127.0.0.1:0", DatabasePath: db, Reports: io.Discard, Status: io.Discard,
	})
	require.ErrorContains(t, err, "was not made by medic demo")
	got, err := os.ReadFile(db)
	require.NoError(t, err)
	require.Equal(t, "not a demo database", string(got), "the file is untouched")
}
