package triage_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/medic-sh/medic/internal/airflow"
	"github.com/medic-sh/medic/internal/airflow/airflowsim"
	"github.com/medic-sh/medic/internal/classify"
	"github.com/medic-sh/medic/internal/incident"
	"github.com/medic-sh/medic/internal/ingest"
	"github.com/medic-sh/medic/internal/store"
	"github.com/medic-sh/medic/internal/store/sqlite"
	"github.com/medic-sh/medic/internal/store/storetest"
	"github.com/medic-sh/medic/internal/triage"
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "medic-triage-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	template.dir = dir
	code := m.Run()
	_ = os.RemoveAll(dir)
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// template is a migrated, empty database that openStore copies: migrating a
// fresh file costs far more than the tests that use it.
var template struct {
	dir  string
	once sync.Once
	db   []byte
	err  error
}

// openStore opens a real SQLite store in a fresh file for t.
func openStore(t *testing.T, now func() time.Time) *sqlite.Store {
	t.Helper()
	ctx := context.Background()
	template.once.Do(func() {
		path := filepath.Join(template.dir, "template.db")
		st, err := sqlite.Open(ctx, sqlite.Options{Path: path})
		if err != nil {
			template.err = err
			return
		}
		if template.err = st.Close(); template.err == nil {
			template.db, template.err = os.ReadFile(path)
		}
	})
	require.NoError(t, template.err)
	path := filepath.Join(t.TempDir(), "medic.db")
	require.NoError(t, os.WriteFile(path, template.db, 0o600))
	st, err := sqlite.Open(ctx, sqlite.Options{Path: path, Now: now})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, st.Close()) })
	return st
}

// start is the shared clock's time when a test begins: the stand-in, the
// store, the client and the runner all read the same clock.
var start = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

var versions = []int{2, 3}

// instances is a fixed set of Airflow clients by name.
type instances map[string]triage.Airflow

func (in instances) Instance(name string) (triage.Airflow, bool) {
	c, ok := in[name]
	return c, ok
}

type bundleOpts struct {
	triage  triage.Options
	timeout time.Duration // client attempt timeout
	retries int           // client MaxRetries; 0 means none
}

type testBundle struct {
	version int
	clock   *storetest.Clock
	sim     *airflowsim.Server
	srv     *httptest.Server
	client  *airflow.Client
	store   *sqlite.Store
	ingest  *ingest.Service
	runner  *triage.Runner

	arrived atomic.Int64 // requests that reached the stand-in

	mu       sync.Mutex
	failures []airflowsim.TaskFailure
}

func defaultTriageOptions() triage.Options {
	return triage.Options{
		FrequencyLookback: 7 * 24 * time.Hour, RecurringThreshold: 3,
		LogTailLines: 500, LogMaxBytes: 256 << 10, StepTimeout: 60 * time.Second, ExcerptLines: 40,
	}
}

func setup(t *testing.T, version int, opt ...func(*bundleOpts)) *testBundle {
	t.Helper()
	// Generous bounds: they only guard against hangs, and a loaded CI
	// machine under -race reads a huge log slowly.
	o := bundleOpts{triage: defaultTriageOptions(), timeout: 30 * time.Second}
	for _, f := range opt {
		f(&o)
	}
	b := &testBundle{version: version, clock: storetest.NewClock(start)}
	b.sim = airflowsim.New(airflowsim.Options{Version: version, Username: "medic", Password: "pw", Clock: b.clock.Now})
	b.sim.OnTaskFailed(func(f airflowsim.TaskFailure) {
		b.mu.Lock()
		defer b.mu.Unlock()
		b.failures = append(b.failures, f)
	})
	for _, d := range dags() {
		require.NoError(t, b.sim.AddDAG(d))
	}
	b.srv = httptest.NewServer(drainBody(b.sim, &b.arrived))
	t.Cleanup(b.srv.Close)
	transport := &http.Transport{}
	t.Cleanup(transport.CloseIdleConnections)
	retries := o.retries
	if retries == 0 {
		retries = -1
	}
	var err error
	b.client, err = airflow.New(airflow.Options{
		Name: "main", BaseURL: b.srv.URL, Version: fmt.Sprint(version), Username: "medic", Password: "pw",
		Timeout: o.timeout, MaxRetries: retries, MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond,
		RateLimit: -1, HTTPClient: &http.Client{Transport: transport}, Clock: b.clock.Now,
	})
	require.NoError(t, err)
	b.store = openStore(t, b.clock.Now)
	logger := slog.New(slog.DiscardHandler)
	b.ingest = ingest.NewService(b.store, 24*time.Hour, logger, nil)
	b.runner = triage.NewRunner(b.store, instances{"main": b.client}, b.ingest, o.triage, logger, b.clock.Now)
	return b
}

// drainBody reads a request's body before h sees it. The stand-in's Hang
// fault waits for the request's context, which net/http only cancels on a
// client disconnect once the body has been read: without this a hung POST (a
// 3.x login, a 2.x batch list) would outlive the client and block Close.
// It also counts arrivals: the stand-in records a request only once it is
// answered.
func drainBody(h http.Handler, arrived *atomic.Int64) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived.Add(1)
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		h.ServeHTTP(w, r)
	})
}

func dags() []airflowsim.DAG {
	return []airflowsim.DAG{
		{
			ID: "orders_etl", Owners: []string{"data-eng"}, Tags: []string{"orders", "tier1"}, Schedule: "0 2 * * *",
			Tasks: []airflowsim.Task{
				{ID: "extract", Downstream: []string{"load"}},
				{ID: "load", Operator: "PostgresOperator", Downstream: []string{"report"}},
				{ID: "report"},
			},
		},
		{
			ID: "wide_etl", Owners: []string{"platform"},
			Tasks: []airflowsim.Task{
				{ID: "extract", Downstream: []string{"load"}},
				{ID: "load", Operator: "SparkSubmitOperator", Downstream: []string{"a", "b", "c"}},
				{ID: "a"},
				{ID: "b"},
				{ID: "c"},
			},
		},
		{
			ID: "finance", Owners: []string{"finance-data"},
			Tasks: []airflowsim.Task{
				{ID: "build_report", Operator: "BigQueryInsertJobOperator", Downstream: []string{"notify"}},
				{ID: "export_ledger", Downstream: []string{"notify"}},
				{ID: "notify"},
			},
		},
	}
}

// failRun starts a run that fails as scripted and reports every failure the
// stand-in signals as a callback, returning the incident they opened.
func (b *testBundle) failRun(t *testing.T, dagID, runID string, outcomes map[string][]airflowsim.Outcome) *incident.Incident {
	t.Helper()
	b.mu.Lock()
	before := len(b.failures)
	b.mu.Unlock()
	_, err := b.sim.StartRun(dagID, runID, b.clock.Now().Add(-time.Hour), outcomes)
	require.NoError(t, err)
	b.mu.Lock()
	fresh := append([]airflowsim.TaskFailure(nil), b.failures[before:]...)
	b.mu.Unlock()
	require.NotEmpty(t, fresh, "the scripted run must fail with a callback")
	var inc *incident.Incident
	for _, f := range fresh {
		res, err := b.ingest.RecordEvent(context.Background(), &incident.FailureEvent{
			Key:      incident.Key{Instance: "main", DagID: f.DagID, RunID: f.RunID, TaskID: f.TaskID, TryNumber: f.TryNumber},
			MapIndex: -1, Source: incident.SourceCallback, Exception: f.Exception, LogURL: f.LogURL,
			Owner: f.Owner, Tags: f.Tags, OccurredAt: f.EndDate,
		})
		require.NoError(t, err)
		if inc == nil {
			inc = res.Incident
		}
	}
	return inc
}

func (b *testBundle) run(t *testing.T, inc *incident.Incident, final bool) error {
	t.Helper()
	return b.runner.Run(context.Background(), inc.ID, inc.TriageSessionID, final)
}

// findings returns the session's findings by step, failing if any step was
// recorded twice.
func (b *testBundle) findings(t *testing.T, inc *incident.Incident) map[string]*incident.Finding {
	t.Helper()
	list, err := b.store.FindingListBySession(context.Background(), inc.TriageSessionID)
	require.NoError(t, err)
	out := map[string]*incident.Finding{}
	for _, f := range list {
		require.NotContains(t, out, f.Step, "step %s recorded twice", f.Step)
		require.Equal(t, inc.ID, f.IncidentID)
		out[f.Step] = f
	}
	return out
}

func (b *testBundle) incident(t *testing.T, id string) *incident.Incident {
	t.Helper()
	inc, err := b.store.IncidentGetByID(context.Background(), id)
	require.NoError(t, err)
	return inc
}

func (b *testBundle) session(t *testing.T, id string) *incident.Session {
	t.Helper()
	s, err := b.store.SessionGetByID(context.Background(), id)
	require.NoError(t, err)
	return s
}

func (b *testBundle) auditCounts(t *testing.T, incidentID string) map[string]int {
	t.Helper()
	entries, err := b.store.AuditList(context.Background(), &store.AuditListParams{IncidentID: incidentID})
	require.NoError(t, err)
	out := map[string]int{}
	for _, e := range entries {
		out[e.Action]++
	}
	return out
}

func decodeData[T any](t *testing.T, f *incident.Finding) *T {
	t.Helper()
	require.NotNil(t, f)
	require.Empty(t, f.Error, "step %s failed", f.Step)
	var v T
	require.NoError(t, json.Unmarshal(f.Data, &v), "data of step %s", f.Step)
	return &v
}

func versionName(v int) string { return fmt.Sprintf("airflow%d", v) }

// stepNames are the steps a triage records, in order.
// airflowSteps are the steps that read Airflow; history reads only the store.
var airflowSteps = []string{triage.StepRunSummary, triage.StepFailedTasks, triage.StepFrequency, triage.StepLogExcerpt}

var stepNames = []string{triage.StepResolve, triage.StepRunSummary, triage.StepFailedTasks, triage.StepFrequency, triage.StepLogExcerpt, triage.StepHistory}

// requireReadOnly checks that triage never wrote to Airflow: every request
// was a GET or one of the read-only POSTs (a login, a batch list).
func (b *testBundle) requireReadOnly(t *testing.T) {
	t.Helper()
	for _, r := range b.sim.Requests() {
		if r.Method == http.MethodGet {
			continue
		}
		require.Equal(t, http.MethodPost, r.Method, "triage sent %s %s", r.Method, r.Path)
		require.True(t, r.Path == "/auth/token" || strings.HasSuffix(r.Path, "/list"), "triage sent POST %s", r.Path)
	}
}

func (b *testBundle) pendingJobs(t *testing.T, kind string) int {
	t.Helper()
	n, err := b.store.PendingJobs(context.Background(), kind)
	require.NoError(t, err)
	return n
}

// requireEvidenceInExcerpt checks the excerpt's line numbers agree with its
// evidence and error lines.
func requireEvidenceInExcerpt(t *testing.T, f *incident.Finding, ex *triage.LogExcerpt) {
	t.Helper()
	require.NotEmpty(t, ex.Lines)
	last := ex.FirstLine + len(ex.Lines) - 1
	require.LessOrEqual(t, last, ex.TailLines)
	for _, n := range ex.ErrorLines {
		require.GreaterOrEqual(t, n, ex.FirstLine)
		require.LessOrEqual(t, n, last)
	}
	require.Len(t, f.Evidence, 1)
	ev := f.Evidence[0]
	require.Equal(t, "log", ev.Source)
	require.Equal(t, fmt.Sprintf("%s try %d", ex.TaskID, ex.TryNumber), ev.Ref)
	require.GreaterOrEqual(t, ev.Line, ex.FirstLine)
	require.LessOrEqual(t, ev.Line, last)
	require.Equal(t, ex.Lines[ev.Line-ex.FirstLine], ev.Text, "evidence points at its line of the excerpt")
}

const testRun = "scheduled__2026-06-01T02:00:00+00:00"

func TestRunRecordsEveryStep(t *testing.T) {
	t.Parallel()
	headlines := map[int]string{
		2: `psycopg2.errors.UndefinedColumn: column "customer_idd" does not exist`,
		3: `UndefinedColumn: column "customer_idd" does not exist`,
	}
	for _, v := range versions {
		t.Run(versionName(v), func(t *testing.T) {
			t.Parallel()
			b := setup(t, v)
			ctx := context.Background()
			inc := b.failRun(t, "orders_etl", testRun, map[string][]airflowsim.Outcome{
				"load": {airflowsim.Failure(airflowsim.LogPostgresUndefinedColumn("staging.orders", "customer_idd", "orders.customer_id"))},
			})
			require.Equal(t, 1, b.pendingJobs(t, store.TriageJobArgs{}.Kind()))

			require.NoError(t, b.run(t, inc, false))

			fs := b.findings(t, inc)
			require.Len(t, fs, len(stepNames))
			for _, step := range stepNames {
				require.Contains(t, fs, step)
				require.Empty(t, fs[step].Error, "step %s", step)
				require.Equal(t, inc.TriageSessionID, fs[step].SessionID)
				require.NotEmpty(t, fs[step].Summary)
			}
			require.Equal(t, incident.FindingRunSummary, fs[triage.StepRunSummary].Kind)
			require.Equal(t, incident.FindingFailedTasks, fs[triage.StepFailedTasks].Kind)
			require.Equal(t, incident.FindingFrequency, fs[triage.StepFrequency].Kind)
			require.Equal(t, incident.FindingLogExcerpt, fs[triage.StepLogExcerpt].Kind)
			require.Equal(t, "1 failure report(s) received", fs[triage.StepResolve].Summary)

			rs := decodeData[triage.RunSummary](t, fs[triage.StepRunSummary])
			require.Equal(t, "orders_etl", rs.DagID)
			require.Equal(t, testRun, rs.RunID)
			require.Equal(t, "failed", rs.State)
			require.Equal(t, "scheduled", rs.RunType)
			require.Equal(t, 3, rs.Tasks)
			require.Equal(t, map[string]int{"success": 1, "failed": 1, "upstream_failed": 1}, rs.TaskStates)
			require.Equal(t, "load", rs.FirstFailingTask)
			require.Equal(t, 1, rs.FirstFailingTry)
			require.Equal(t, []string{"data-eng"}, rs.Owners)
			require.Equal(t, []string{"orders", "tier1"}, rs.Tags)
			require.NotNil(t, rs.DurationSec)
			require.Positive(t, *rs.DurationSec)
			require.Equal(t, start, rs.EndDate.UTC(), "the stand-in ends a run at its clock's now")
			require.Equal(t, "run "+testRun+" is failed; 1 of 3 tasks failed; first failure: load (try 1)", fs[triage.StepRunSummary].Summary)

			ft := decodeData[triage.FailedTasks](t, fs[triage.StepFailedTasks])
			require.Len(t, ft.Failed, 1)
			require.Equal(t, "load", ft.Failed[0].TaskID)
			require.Equal(t, "failed", ft.Failed[0].State)
			require.Equal(t, 1, ft.Failed[0].TryNumber)
			require.Equal(t, "PostgresOperator", ft.Failed[0].Operator)
			require.Equal(t, []string{"report"}, ft.Failed[0].Downstream)
			require.NotEmpty(t, ft.Failed[0].Hostname)
			require.Equal(t, []string{"report"}, ft.UpstreamFailed)
			require.Equal(t, "1 failed: load (try 1/1); 1 blocked downstream", fs[triage.StepFailedTasks].Summary)

			fq := decodeData[triage.Frequency](t, fs[triage.StepFrequency])
			require.Equal(t, triage.Frequency{
				TaskID: "load", Lookback: 7 * 24 * time.Hour, LookbackHuman: "7d", Failures: 1, FailedRuns: 1,
				Recurring: false, Pattern: "one-off",
			}, *fq)

			ex := decodeData[triage.LogExcerpt](t, fs[triage.StepLogExcerpt])
			require.Equal(t, "load", ex.TaskID)
			require.Equal(t, 1, ex.TryNumber)
			require.Equal(t, headlines[v], ex.Headline)
			require.False(t, ex.Truncated)
			require.LessOrEqual(t, len(ex.Lines), 40)
			require.NotEmpty(t, ex.ErrorLines)
			require.NotEmpty(t, ex.Sources)
			requireEvidenceInExcerpt(t, fs[triage.StepLogExcerpt], ex)
			require.NotNil(t, ex.Diagnosis)
			require.Equal(t, classify.SchemaChange, ex.Diagnosis.Label, ex.Diagnosis.Reason)
			require.False(t, ex.Diagnosis.RetrySafe, "a schema change is not fixed by a retry")
			require.NotEmpty(t, ex.Diagnosis.Evidence)
			for _, e := range ex.Diagnosis.Evidence {
				require.NotEmpty(t, e.Text)
				require.LessOrEqual(t, e.Line, ex.TailLines, "evidence lines are tail line numbers")
			}

			got := b.incident(t, inc.ID)
			require.Equal(t, incident.StateEscalated, got.State)
			require.NotNil(t, got.TriagedAt)
			require.Equal(t, incident.SeverityMedium, got.Severity)
			require.Equal(t, "orders_etl.load failed: "+headlines[v]+" · SCHEMA_CHANGE ("+
				fmt.Sprintf("%.0f%%", 100*ex.Diagnosis.Confidence)+") · one-off (1 run(s) in 7d) · 1 downstream task(s) blocked", got.Summary)
			sess := b.session(t, inc.TriageSessionID)
			require.Equal(t, incident.SessionCompleted, sess.Status)
			require.NotNil(t, sess.FinishedAt)
			require.Empty(t, sess.Error)

			audit := b.auditCounts(t, inc.ID)
			require.Equal(t, 1, audit["incident.triaged"])
			require.Equal(t, 1, audit["incident.transition"], "open → investigating, audited once")
			require.Equal(t, 1, b.pendingJobs(t, store.NotifyJobArgs{}.Kind()))
			b.requireReadOnly(t)

			// A redelivered job finds the incident triaged and does nothing.
			n := len(b.sim.Requests())
			require.NoError(t, b.runner.Run(ctx, inc.ID, inc.TriageSessionID, false))
			require.Len(t, b.sim.Requests(), n, "a triaged incident is not investigated again")
			require.Equal(t, 1, b.auditCounts(t, inc.ID)["incident.triaged"])
		})
	}
}

func TestRunWithSeveralFailuresFocusesOnTheFirst(t *testing.T) {
	t.Parallel()
	for _, v := range versions {
		t.Run(versionName(v), func(t *testing.T) {
			t.Parallel()
			b := setup(t, v)
			inc := b.failRun(t, "finance", testRun, map[string][]airflowsim.Outcome{
				"build_report":  {{State: airflowsim.StateFailed, Log: airflowsim.LogBigQueryAccessDenied("acme:finance.ledger"), Duration: 90 * time.Second}},
				"export_ledger": {{State: airflowsim.StateFailed, Log: airflowsim.LogKeyError("currency_code"), Duration: 5 * time.Second}},
			})
			require.NoError(t, b.run(t, inc, false))
			fs := b.findings(t, inc)

			rs := decodeData[triage.RunSummary](t, fs[triage.StepRunSummary])
			require.Equal(t, "export_ledger", rs.FirstFailingTask, "the failure that ended first")
			require.Equal(t, map[string]int{"failed": 2, "upstream_failed": 1}, rs.TaskStates)

			ft := decodeData[triage.FailedTasks](t, fs[triage.StepFailedTasks])
			require.Len(t, ft.Failed, 2)
			require.Equal(t, "export_ledger", ft.Failed[0].TaskID, "failed tasks are listed in the order they ended")
			require.Equal(t, "build_report", ft.Failed[1].TaskID)
			require.True(t, ft.Failed[0].EndDate.Before(*ft.Failed[1].EndDate))
			for _, f := range ft.Failed {
				require.Equal(t, []string{"notify"}, f.Downstream)
			}
			require.Equal(t, []string{"notify"}, ft.UpstreamFailed)

			require.Equal(t, "export_ledger", decodeData[triage.Frequency](t, fs[triage.StepFrequency]).TaskID)
			ex := decodeData[triage.LogExcerpt](t, fs[triage.StepLogExcerpt])
			require.Equal(t, "export_ledger", ex.TaskID)
			require.Equal(t, "KeyError: 'currency_code'", ex.Headline)
			require.True(t, strings.HasPrefix(b.incident(t, inc.ID).Summary, "finance.export_ledger failed: KeyError: 'currency_code'"))
		})
	}
}

func TestRunSeverityFromBlockedTasks(t *testing.T) {
	t.Parallel()
	for _, v := range versions {
		t.Run(versionName(v), func(t *testing.T) {
			t.Parallel()
			b := setup(t, v)
			inc := b.failRun(t, "wide_etl", testRun, map[string][]airflowsim.Outcome{"load": {airflowsim.Failure("")}})
			require.NoError(t, b.run(t, inc, false))
			ft := decodeData[triage.FailedTasks](t, b.findings(t, inc)[triage.StepFailedTasks])
			require.Equal(t, []string{"a", "b", "c"}, ft.UpstreamFailed)
			require.Equal(t, []string{"a", "b", "c"}, ft.Failed[0].Downstream)
			got := b.incident(t, inc.ID)
			require.Equal(t, incident.SeverityHigh, got.Severity, "three blocked tasks rank high")
			require.Contains(t, got.Summary, "3 downstream task(s) blocked")
		})
	}
}

func TestRunFrequency(t *testing.T) {
	t.Parallel()
	day := 24 * time.Hour
	fail := map[string][]airflowsim.Outcome{"load": {airflowsim.Failure("")}}
	ok := map[string][]airflowsim.Outcome{}
	type run struct {
		after    time.Duration // clock advance before the run
		outcomes map[string][]airflowsim.Outcome
	}
	tests := []struct {
		name      string
		threshold int
		earlier   []run // runs before the one triaged, oldest first
		last      time.Duration
		want      triage.Frequency
		wantPrev  int // how many previous runs are listed
		severity  incident.Severity
	}{
		{
			name: "first failure is one-off", threshold: 3, last: 0,
			want:     triage.Frequency{Failures: 1, FailedRuns: 1, Pattern: "one-off"},
			severity: incident.SeverityMedium,
		},
		{
			name: "below the threshold is one-off", threshold: 3,
			earlier: []run{{0, fail}}, last: day,
			want:     triage.Frequency{Failures: 2, FailedRuns: 2, Pattern: "one-off"},
			wantPrev: 1, severity: incident.SeverityMedium,
		},
		{
			name: "at the threshold is recurring", threshold: 3,
			earlier: []run{{0, fail}, {day, fail}}, last: day,
			want:     triage.Frequency{Failures: 3, FailedRuns: 3, Recurring: true, Pattern: "recurring"},
			wantPrev: 2, severity: incident.SeverityHigh,
		},
		{
			name: "a lower threshold", threshold: 2,
			earlier: []run{{0, fail}}, last: day,
			want:     triage.Frequency{Failures: 2, FailedRuns: 2, Recurring: true, Pattern: "recurring"},
			wantPrev: 1, severity: incident.SeverityHigh,
		},
		{
			name: "successful runs do not count", threshold: 3,
			earlier: []run{{0, fail}, {day, ok}, {day, ok}}, last: day,
			want:     triage.Frequency{Failures: 2, FailedRuns: 2, Pattern: "one-off"},
			wantPrev: 1, severity: incident.SeverityMedium,
		},
		{
			name: "failures before the lookback do not count", threshold: 3,
			earlier: []run{{0, fail}, {0, fail}, {10 * day, fail}}, last: day,
			want:     triage.Frequency{Failures: 2, FailedRuns: 2, Pattern: "one-off"},
			wantPrev: 1, severity: incident.SeverityMedium,
		},
	}
	for _, v := range versions {
		for _, tt := range tests {
			t.Run(versionName(v)+"/"+tt.name, func(t *testing.T) {
				t.Parallel()
				b := setup(t, v, func(o *bundleOpts) { o.triage.RecurringThreshold = tt.threshold })
				var prevEnds []time.Time
				for i, r := range tt.earlier {
					b.clock.Advance(r.after)
					runID := fmt.Sprintf("scheduled__earlier-%d", i)
					_, err := b.sim.StartRun("orders_etl", runID, b.clock.Now().Add(-time.Hour), r.outcomes)
					require.NoError(t, err)
					if len(r.outcomes) > 0 {
						prevEnds = append(prevEnds, b.clock.Now())
					}
					b.clock.Advance(time.Minute)
				}
				b.clock.Advance(tt.last)
				inc := b.failRun(t, "orders_etl", testRun, fail)
				require.NoError(t, b.run(t, inc, false))
				f := b.findings(t, inc)[triage.StepFrequency]
				fq := decodeData[triage.Frequency](t, f)

				require.Equal(t, "load", fq.TaskID)
				require.Equal(t, tt.want.Failures, fq.Failures)
				require.Equal(t, tt.want.FailedRuns, fq.FailedRuns)
				require.Equal(t, tt.want.Recurring, fq.Recurring)
				require.Equal(t, tt.want.Pattern, fq.Pattern)
				require.Len(t, fq.PreviousRuns, tt.wantPrev)
				require.NotContains(t, fq.PreviousRuns, testRun, "the run being triaged is not a previous run")
				require.True(t, slices.IsSorted(fq.PreviousRuns))
				if tt.wantPrev == 0 {
					require.Nil(t, fq.LastFailure)
				} else {
					require.NotNil(t, fq.LastFailure)
					require.True(t, fq.LastFailure.Before(b.clock.Now()), "the last earlier failure, not this one")
					require.False(t, fq.LastFailure.After(prevEnds[len(prevEnds)-1]))
				}
				require.Equal(t, fmt.Sprintf("%s: failed in %d run(s) over the last 7d", tt.want.Pattern, tt.want.FailedRuns), f.Summary)
				got := b.incident(t, inc.ID)
				require.Equal(t, tt.severity, got.Severity)
				require.Contains(t, got.Summary, fmt.Sprintf("%s (%d run(s) in 7d)", tt.want.Pattern, tt.want.FailedRuns))
			})
		}
	}
}

// javaTrace is a Spark job failing the way SparkSubmitOperator logs it: the
// driver's exception, its stack, and the root cause in a "Caused by:" line.
const javaTrace = `{spark_submit.py:521} INFO - Exception in thread "main" org.apache.spark.SparkException: Job aborted due to stage failure: Task 3 in stage 7.0 failed 4 times
	at org.apache.spark.scheduler.DAGScheduler.failJobAndIndependentStages(DAGScheduler.scala:2672)
	at org.apache.spark.scheduler.DAGScheduler.abortStage(DAGScheduler.scala:2608)
Caused by: org.apache.spark.SparkException: Task failed while writing rows
	at org.apache.spark.sql.execution.datasources.FileFormatWriter.executeTask(FileFormatWriter.scala:413)
Caused by: java.io.FileNotFoundException: No such file or directory: s3a://acme-lake/events/part-0000.parquet
	at org.apache.hadoop.fs.s3a.S3AFileSystem.s3GetFileStatus(S3AFileSystem.java:3866)
	... 42 more
{spark_submit.py:600} ERROR - Cannot execute: spark-submit --master yarn job.py. Error code is: 1.
`

func TestRunLogExcerpt(t *testing.T) {
	t.Parallel()
	oom := airflowsim.LogOOMGrowth(48_000_000)
	tests := []struct {
		name    string
		outcome airflowsim.Outcome
		// headline is what the headline must contain, per Airflow version.
		headline  map[int]string
		truncated bool
	}{
		{
			name:     "python traceback",
			outcome:  airflowsim.Failure(airflowsim.LogKeyError("currency_code")),
			headline: map[int]string{2: "KeyError: 'currency_code'", 3: "KeyError: 'currency_code'"},
		},
		{
			name:    "java trace names the root cause",
			outcome: airflowsim.Failure(javaTrace),
			headline: map[int]string{
				2: "java.io.FileNotFoundException: No such file or directory: s3a://acme-lake/events/part-0000.parquet",
				3: "java.io.FileNotFoundException: No such file or directory: s3a://acme-lake/events/part-0000.parquet",
			},
		},
		{
			name:    "oom kill",
			outcome: airflowsim.Outcome{State: airflowsim.StateFailed, Log: oom, ExitCode: -9},
			headline: map[int]string{
				2: "was killed before it finished (likely due to running out of memory)",
				3: "Process terminated by signal",
			},
		},
		{
			name:    "task timeout",
			outcome: airflowsim.Failure(airflowsim.LogTaskTimeout()),
			headline: map[int]string{
				2: "airflow.exceptions.AirflowTaskTimeout: Timeout, PID: ",
				3: "AirflowTaskTimeout: Timeout, PID: ",
			},
		},
		{
			name: "huge log is tailed",
			outcome: airflowsim.Outcome{
				State: airflowsim.StateFailed, Log: airflowsim.LogWithNoise(airflowsim.HugeLogBytes, oom), ExitCode: -9, SilentKill: true,
			},
			headline: map[int]string{
				2: "was killed before it finished (likely due to running out of memory)",
				3: "Process terminated by signal",
			},
			truncated: true,
		},
	}
	for _, v := range versions {
		for _, tt := range tests {
			t.Run(versionName(v)+"/"+tt.name, func(t *testing.T) {
				t.Parallel()
				b := setup(t, v)
				var inc *incident.Incident
				if tt.outcome.SilentKill {
					// No callback: report the kill the way the poller would.
					_, err := b.sim.StartRun("orders_etl", testRun, start.Add(-time.Hour), map[string][]airflowsim.Outcome{"load": {tt.outcome}})
					require.NoError(t, err)
					res, err := b.ingest.RecordEvent(context.Background(), &incident.FailureEvent{
						Key:      incident.Key{Instance: "main", DagID: "orders_etl", RunID: testRun, TaskID: "load", TryNumber: 1},
						MapIndex: -1, Source: incident.SourcePoller,
					})
					require.NoError(t, err)
					inc = res.Incident
				} else {
					inc = b.failRun(t, "orders_etl", testRun, map[string][]airflowsim.Outcome{"load": {tt.outcome}})
				}
				require.NoError(t, b.run(t, inc, false))
				f := b.findings(t, inc)[triage.StepLogExcerpt]
				require.Empty(t, f.Error)
				ex := decodeData[triage.LogExcerpt](t, f)
				require.Contains(t, ex.Headline, tt.headline[v])
				require.Contains(t, f.Summary, ex.Headline)
				require.Equal(t, tt.truncated, ex.Truncated)
				require.LessOrEqual(t, len(ex.Lines), 40)
				requireEvidenceInExcerpt(t, f, ex)
				require.Contains(t, b.incident(t, inc.ID).Summary, "orders_etl.load failed: ")
				if tt.truncated {
					require.Greater(t, ex.LogBytes, int64(airflowsim.HugeLogBytes), "the size of the whole log is reported")
					require.Equal(t, 500, ex.TailLines, "only LogTailLines lines are kept")
					require.Contains(t, f.Summary, "(tail of a longer log)")
					for _, l := range ex.Lines {
						require.NotContains(t, l, "wrote 50000 rows", "the window holds the error, not the noise before it")
					}
				}
			})
		}
	}
}
