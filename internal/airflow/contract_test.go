package airflow_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/medic-sh/medic/internal/airflow"
	"github.com/medic-sh/medic/internal/airflow/airflowsim"
	"github.com/medic-sh/medic/internal/airflow/airflowsim/spectest"
)

// The contract tests run the client against the in-process stand-in of each
// Airflow version, behind spectest's validating middleware, so every request
// the client sends and every response it has to understand is checked against
// the real OpenAPI document.

// simClock is a settable clock shared by the stand-in and the client, so JWT
// expiry and run times agree.
type simClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *simClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *simClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

type contract struct {
	sim    *airflowsim.Server
	val    *spectest.SpecValidator
	client *airflow.Client
	clock  *simClock
	logs   *syncBuffer
}

// newContract wires a stand-in of version v behind val and a client to it.
func newContract(t *testing.T, v int, val *spectest.SpecValidator) *contract {
	t.Helper()
	k := &contract{val: val, clock: &simClock{now: time.Date(2026, 5, 4, 8, 0, 0, 0, time.UTC)}, logs: &syncBuffer{}}
	k.sim = airflowsim.New(airflowsim.Options{Version: v, Username: testUser, Password: testPassword, Clock: k.clock.Now})
	if v == 2 {
		// The version probe asks /api/v2/version first, which 2.x does not
		// serve (404) and the v1 spec does not describe.
		val.AllowUndocumented("/api/v2/")
	}
	srv := httptest.NewServer(val.Middleware(k.sim))
	t.Cleanup(srv.Close)
	c, err := airflow.New(airflow.Options{
		Name: "sim", BaseURL: srv.URL, Version: "auto", Username: testUser, Password: testPassword,
		Timeout: 10 * time.Second, RateLimit: -1, MaxRetries: 3, MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond,
		HTTPClient: srv.Client(), Clock: k.clock.Now,
		Logger: slog.New(slog.NewJSONHandler(k.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	require.NoError(t, err)
	k.client = c
	t.Cleanup(func() {
		require.NotContains(t, k.logs.String(), testPassword)
		val.RequireNoViolations(t)
	})
	return k
}

func (k *contract) addDAGs(t *testing.T) {
	t.Helper()
	require.NoError(t, k.sim.AddDAG(airflowsim.DAG{
		ID: "etl_orders", Description: "orders into the warehouse", Owners: []string{"data-eng"},
		Tags: []string{"prod", "orders"}, Schedule: "@daily",
		Tasks: []airflowsim.Task{
			{ID: "extract", Operator: "PythonOperator", Downstream: []string{"transform"}},
			{ID: "transform", Operator: "PythonOperator", Downstream: []string{"load"}},
			{ID: "load", Operator: "PostgresOperator", Retries: 1},
		},
	}))
	require.NoError(t, k.sim.AddDAG(airflowsim.DAG{
		ID: "ml_features", Owners: []string{"ml"},
		Tasks: []airflowsim.Task{{ID: "build", Operator: "PythonOperator"}},
	}))
	require.NoError(t, k.sim.AddDAG(airflowsim.DAG{
		ID: "flaky", Owners: []string{"ops"},
		Tasks: []airflowsim.Task{{ID: "ping", Operator: "BashOperator"}},
	}))
}

func TestContractWithStandIn(t *testing.T) {
	// The validators are built before t.Parallel: loading registers a body
	// decoder in kin-openapi's global table, which must not race with the
	// other spec tests' validation.
	vals := map[int]*spectest.SpecValidator{2: spectest.NewSpecValidator(t, 2), 3: spectest.NewSpecValidator(t, 3)}
	t.Parallel()
	for _, v := range []int{2, 3} {
		t.Run(fmt.Sprint("airflow ", v), func(t *testing.T) {
			t.Parallel()
			k := newContract(t, v, vals[v])
			k.addDAGs(t)
			testContract(t, k, v)
		})
	}
}

func testContract(t *testing.T, k *contract, v int) {
	ctx, c := context.Background(), k.client
	got, err := c.Version(ctx)
	require.NoError(t, err)
	require.Equal(t, v, got)

	// A run whose load task fails twice (retries=1), then succeeds when
	// cleared.
	day := time.Date(2026, 5, 3, 0, 0, 0, 0, time.UTC)
	pgFail := airflowsim.LogPostgresUndefinedColumn("orders", "discount_code", "discount")
	run, err := k.sim.StartRun("etl_orders", "", day, map[string][]airflowsim.Outcome{
		"load": {airflowsim.Failure(pgFail), airflowsim.Failure(pgFail), airflowsim.Success("")},
	})
	require.NoError(t, err)
	require.Equal(t, "failed", run.State)
	runID := run.RunID
	require.Contains(t, runID, "+00:00", "ids with + and : travel percent-encoded")
	// Enough failed runs of another DAG to need two pages.
	for i := range 105 {
		_, err := k.sim.StartRun("flaky", "", day.AddDate(0, 0, -i-1), map[string][]airflowsim.Outcome{"ping": {airflowsim.Failure("")}})
		require.NoError(t, err)
	}
	since := k.clock.Now().Add(-24 * time.Hour)

	failed, err := c.ListFailedDagRuns(ctx, since)
	require.NoError(t, err)
	require.Len(t, failed, 106)
	runs, err := c.ListDagRuns(ctx, "flaky", airflow.RunQuery{States: []string{"failed"}, EndedAfter: since, Limit: 7})
	require.NoError(t, err)
	require.Len(t, runs, 7)
	require.Equal(t, "scheduled__2026-01-18T00:00:00+00:00", runs[0].RunID, "the most recently created first")

	dr, err := c.GetDagRun(ctx, "etl_orders", runID)
	require.NoError(t, err)
	require.Equal(t, "failed", dr.State)
	require.Equal(t, day, *dr.LogicalDate)

	tis, err := c.ListTaskInstances(ctx, "etl_orders", runID)
	require.NoError(t, err)
	require.Len(t, tis, 3)
	ti, err := c.GetTaskInstance(ctx, "etl_orders", runID, "load")
	require.NoError(t, err)
	require.Equal(t, "failed", ti.State)
	require.Equal(t, 2, ti.TryNumber)
	require.Equal(t, "PostgresOperator", ti.Operator)
	tries, err := c.ListTaskTries(ctx, "etl_orders", runID, "load")
	require.NoError(t, err)
	require.Len(t, tries, 2)
	failures, err := c.ListTaskFailures(ctx, "flaky", "ping", since)
	require.NoError(t, err)
	require.Len(t, failures, 105)

	for _, try := range []int{1, 0} { // 0: the current try (2)
		l, err := c.TaskLog(ctx, "etl_orders", runID, "load", try, airflow.LogOptions{MaxLines: 200})
		require.NoError(t, err)
		require.Contains(t, l.Text, `column "discount_code" does not exist`)
		require.NotEmpty(t, l.Sources)
		require.NotContains(t, l.Text, "*** Found local files")
	}

	dag, err := c.GetDag(ctx, "etl_orders")
	require.NoError(t, err)
	require.Equal(t, []string{"data-eng"}, dag.Owners)
	require.ElementsMatch(t, []string{"prod", "orders"}, dag.Tags)
	require.NotEmpty(t, dag.FileLoc)
	require.Len(t, dag.Tasks, 3)
	byID := map[string]airflow.Task{}
	for _, task := range dag.Tasks {
		byID[task.ID] = task
	}
	require.Equal(t, []string{"transform"}, byID["extract"].Downstream)
	require.Equal(t, 1, byID["load"].Retries)
	require.Equal(t, "PostgresOperator", byID["load"].Operator)

	// Clear: a dry run changes nothing; the real clear re-runs load, which
	// takes its next scripted outcome (success).
	clear := airflow.ClearRequest{RunID: runID, TaskIDs: []string{"load"}, OnlyFailed: true, DryRun: true}
	refs, err := c.ClearTaskInstances(ctx, "etl_orders", clear)
	require.NoError(t, err)
	require.Equal(t, []airflow.TaskInstanceRef{{DagID: "etl_orders", RunID: runID, TaskID: "load"}}, refs)
	snap, ok := k.sim.DagRun("etl_orders", runID)
	require.True(t, ok)
	require.Equal(t, "failed", snap.State)
	require.Equal(t, 2, snap.TaskInstance("load").TryNumber)
	clear.DryRun = false
	refs, err = c.ClearTaskInstances(ctx, "etl_orders", clear)
	require.NoError(t, err)
	require.Len(t, refs, 1)
	dr, err = c.GetDagRun(ctx, "etl_orders", runID)
	require.NoError(t, err)
	require.Equal(t, "success", dr.State)
	ti, err = c.GetTaskInstance(ctx, "etl_orders", runID, "load")
	require.NoError(t, err)
	require.Equal(t, "success", ti.State)
	require.Equal(t, 3, ti.TryNumber)

	// Trigger with conf, then the same run id again.
	trig, err := c.TriggerDagRun(ctx, "etl_orders", airflow.TriggerRequest{
		RunID: "medic__rerun_1", Conf: map[string]any{"source": "medic", "n": 2.0}, Note: "triggered by medic",
	})
	require.NoError(t, err)
	require.Equal(t, "manual", trig.RunType)
	dr, err = c.GetDagRun(ctx, "etl_orders", "medic__rerun_1")
	require.NoError(t, err)
	require.Equal(t, map[string]any{"source": "medic", "n": 2.0}, dr.Conf)
	_, err = c.TriggerDagRun(ctx, "etl_orders", airflow.TriggerRequest{RunID: "medic__rerun_1"})
	require.ErrorIs(t, err, airflow.ErrConflict)
	require.False(t, airflow.IsRetryable(err))
	// 2.x defaults logical_date to now, unique per DAG: let time pass.
	k.clock.advance(time.Minute)
	gen, err := c.TriggerDagRun(ctx, "etl_orders", airflow.TriggerRequest{})
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(gen.RunID, "medic__"))

	// Pause and unpause: idempotent, visible in the DAG's details.
	for _, paused := range []bool{true, true, false} {
		d, err := c.SetDagPaused(ctx, "etl_orders", paused)
		require.NoError(t, err)
		require.Equal(t, "etl_orders", d.ID)
		require.Equal(t, paused, d.Paused)
		got, err := c.GetDag(ctx, "etl_orders")
		require.NoError(t, err)
		require.Equal(t, paused, got.Paused)
	}
	_, err = c.SetDagPaused(ctx, "no_such_dag", true)
	require.ErrorIs(t, err, airflow.ErrNotFound)

	// A huge log: only the tail is kept.
	big := airflowsim.Outcome{
		State: airflowsim.StateFailed, ExitCode: -9,
		Log: airflowsim.LogWithNoise(airflowsim.HugeLogBytes, airflowsim.LogOOMGrowth(48_000_000)),
	}
	mlRun, err := k.sim.StartRun("ml_features", "", day, map[string][]airflowsim.Outcome{"build": {big}})
	require.NoError(t, err)
	l, err := c.TaskLog(ctx, "ml_features", mlRun.RunID, "build", 1, airflow.LogOptions{MaxBytes: 32 << 10, MaxLines: 100})
	require.NoError(t, err)
	require.True(t, l.Truncated)
	require.LessOrEqual(t, len(l.Text), 32<<10)
	require.LessOrEqual(t, strings.Count(l.Text, "\n"), 99)
	require.Contains(t, l.Text, "7.9 GiB of the 8.0 GiB container limit")
	require.Greater(t, l.Lines, 10_000)

	// Binary bytes in a log come out as valid text.
	binRun, err := k.sim.StartRun("ml_features", "", day.AddDate(0, 0, -1),
		map[string][]airflowsim.Outcome{"build": {airflowsim.Failure(airflowsim.LogBinaryGarbage())}})
	require.NoError(t, err)
	l, err = c.TaskLog(ctx, "ml_features", binRun.RunID, "build", 1, airflow.LogOptions{})
	require.NoError(t, err)
	require.True(t, utf8.ValidString(l.Text))
	require.NotContains(t, l.Text, "\x00")
	require.Contains(t, l.Text, "UnicodeDecodeError: 'utf-8' codec can't decode byte 0x8b")

	// Unknown DAG and run.
	_, err = c.GetDag(ctx, "no_such_dag")
	require.ErrorIs(t, err, airflow.ErrNotFound)
	require.ErrorContains(t, err, "get dag no_such_dag")
	_, err = c.TriggerDagRun(ctx, "no_such_dag", airflow.TriggerRequest{RunID: "x"})
	require.ErrorIs(t, err, airflow.ErrNotFound)
	_, err = c.GetDagRun(ctx, "etl_orders", "no_such_run")
	require.ErrorIs(t, err, airflow.ErrNotFound)

	testContractFaults(t, k, v)
}

// testContractFaults drives the transport rules against the stand-in's
// injected faults.
func testContractFaults(t *testing.T, k *contract, v int) {
	ctx, c := context.Background(), k.client
	prefix := k.sim.APIPrefix() + "/dags/etl_orders"
	count := func(method, pathPrefix string) int {
		n := 0
		for _, r := range k.sim.Requests() {
			if r.Method == method && strings.HasPrefix(r.Path, pathPrefix) {
				n++
			}
		}
		return n
	}

	// 503 with Retry-After on a read: retried, then fine.
	k.sim.SetFault(airflowsim.Fault{PathPrefix: prefix + "/details", Status: http.StatusServiceUnavailable, RetryAfter: time.Second, Count: 2})
	before := count(http.MethodGet, prefix+"/details")
	_, err := c.GetDag(ctx, "etl_orders")
	require.NoError(t, err)
	require.Equal(t, before+3, count(http.MethodGet, prefix+"/details"))

	// 500 on a trigger: not retried, the outcome is unknown.
	k.sim.SetFault(airflowsim.Fault{PathPrefix: prefix + "/dagRuns", Method: http.MethodPost, Status: http.StatusInternalServerError, Count: 1})
	before = count(http.MethodPost, prefix+"/dagRuns")
	_, err = c.TriggerDagRun(ctx, "etl_orders", airflow.TriggerRequest{RunID: "medic__fault_1"})
	require.Error(t, err)
	require.False(t, airflow.IsRetryable(err))
	require.Equal(t, before+1, count(http.MethodPost, prefix+"/dagRuns"))

	// 429 on a clear: the server did not act, so it is retried.
	k.sim.SetFault(airflowsim.Fault{PathPrefix: prefix + "/clearTaskInstances", Status: http.StatusTooManyRequests, Count: 1})
	before = count(http.MethodPost, prefix+"/clearTaskInstances")
	_, err = c.ClearTaskInstances(ctx, "etl_orders", airflow.ClearRequest{RunID: "medic__rerun_1", DryRun: false, OnlyFailed: true})
	require.NoError(t, err)
	require.Equal(t, before+2, count(http.MethodPost, prefix+"/clearTaskInstances"))
	k.sim.ClearFaults()

	want := []string{
		"get_version", "get_dag_runs", "get_dag_run", "get_task_instances", "get_task_instance",
		"get_task_instance_tries", "get_log", "get_dag_details", "get_tasks", "post_clear_task_instances",
	}
	if v == 2 {
		want = append(want, "get_dag_runs_batch", "get_task_instances_batch", "post_dag_run")
	} else {
		want = append(want, "trigger_dag_run")
	}
	require.Subset(t, k.val.Operations(), want, "every client operation went through the validator")
}
