package remediate_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/medic-sh/medic/internal/airflow"
	"github.com/medic-sh/medic/internal/airflow/airflowsim"
	"github.com/medic-sh/medic/internal/remediate"
	"github.com/medic-sh/medic/internal/store/sqlite"
)

// memLedger is an in-process Ledger for these tests; the store's ledger is
// held to the same contract by the store's conformance suite.
type memLedger struct {
	mu   sync.Mutex
	runs map[string]*remediate.Run
}

func (l *memLedger) Begin(_ context.Context, r *remediate.Run) (*remediate.Run, bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if got, ok := l.runs[r.Key]; ok {
		c := *got
		return &c, false, nil
	}
	c := *r
	l.runs[r.Key] = &c
	return r, true, nil
}

func (l *memLedger) Finish(_ context.Context, key string, st remediate.RunStatus, summary, newRunID string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	r := l.runs[key]
	r.Status, r.Summary, r.NewRunID = st, summary, newRunID
	return nil
}

type fixture struct {
	sim    *airflowsim.Server
	client *airflow.Client
	x      *remediate.Executor
	ledger *memLedger
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	sim := airflowsim.New(airflowsim.Options{Version: 3, Username: "medic", Password: "pw"})
	require.NoError(t, sim.AddDAG(airflowsim.DAG{ID: "orders_etl", Tasks: []airflowsim.Task{
		{ID: "load", Downstream: []string{"report"}}, {ID: "report"},
	}}))
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	transport := &http.Transport{}
	t.Cleanup(transport.CloseIdleConnections)
	c, err := airflow.New(airflow.Options{
		Name: "main", BaseURL: srv.URL, Version: "3", Username: "medic", Password: "pw", Timeout: 5 * time.Second,
		MaxRetries: -1, RateLimit: -1, HTTPClient: &http.Client{Transport: transport},
	})
	require.NoError(t, err)
	l := &memLedger{runs: map[string]*remediate.Run{}}
	return &fixture{sim: sim, client: c, ledger: l, x: &remediate.Executor{Airflow: c, Ledger: l}}
}

// failLoad starts a run whose load task fails once, then behaves as then.
func (f *fixture) failLoad(t *testing.T, runID string, then airflowsim.Outcome) remediate.Target {
	t.Helper()
	_, err := f.sim.StartRun("orders_etl", runID, time.Now().Add(-time.Hour), map[string][]airflowsim.Outcome{
		"load": {airflowsim.Failure("boom"), then},
	})
	require.NoError(t, err)
	return remediate.Target{IncidentID: "inc_1", DagID: "orders_etl", RunID: runID, TaskID: "load", TryNumber: 1}
}

func decision(t *testing.T, name remediate.Name, tg remediate.Target) remediate.Decision {
	t.Helper()
	a, ok := remediate.Lookup(name)
	require.True(t, ok)
	return remediate.Decision{
		Outcome: remediate.OutcomeExecute, Action: name, Verify: a.Verify,
		IdempotencyKey: remediate.IdempotencyKey(tg, name, remediate.Params{}),
	}
}

func (f *fixture) try(t *testing.T, tg remediate.Target) *airflow.TaskInstance {
	t.Helper()
	ti, err := f.client.GetTaskInstance(context.Background(), tg.DagID, tg.RunID, tg.TaskID)
	require.NoError(t, err)
	return ti
}

func TestExecuteClearThenVerify(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		then airflowsim.Outcome
		want remediate.VerifyOutcome
	}{
		{"the retry succeeds", airflowsim.Success("ok"), remediate.Verified},
		{"the retry fails again", airflowsim.Failure("boom again"), remediate.NotVerified},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			ctx := context.Background()
			tg := f.failLoad(t, "manual__1", tt.then)
			d := decision(t, remediate.ClearFailedTasks, tg)

			preview, err := f.x.Preview(ctx, d, tg)
			require.NoError(t, err)
			require.Len(t, preview, 1, "the dry run names the failed task")
			require.Equal(t, 1, f.try(t, tg).TryNumber, "a preview changes nothing")

			r, err := f.x.Execute(ctx, d, tg)
			require.NoError(t, err)
			require.Equal(t, remediate.RunSucceeded, r.Status)
			require.Equal(t, 2, f.try(t, tg).TryNumber)

			res, err := f.x.Verify(ctx, d, tg, r, 10*time.Millisecond)
			require.NoError(t, err)
			require.Equal(t, tt.want, res.Outcome, res.Detail)
		})
	}
}

func TestExecuteNeverActsTwice(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	tg := f.failLoad(t, "manual__1", airflowsim.Failure("boom again"))
	d := decision(t, remediate.ClearFailedTasks, tg)
	for range 3 { // a retry, a redelivery, a second replica
		r, err := f.x.Execute(ctx, d, tg)
		require.NoError(t, err)
		require.Equal(t, remediate.RunSucceeded, r.Status)
	}
	require.Equal(t, 2, f.try(t, tg).TryNumber, "cleared once")
}

// TestExecuteAfterCrash: the process died after Airflow accepted the clear
// and before the result was recorded. After the restart the run is settled
// from Airflow's state and nothing is cleared twice.
func TestExecuteAfterCrash(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	tg := f.failLoad(t, "manual__1", airflowsim.Failure("boom again"))
	d := decision(t, remediate.ClearFailedTasks, tg)
	_, begun, err := f.ledger.Begin(ctx, &remediate.Run{Key: d.IdempotencyKey, Action: d.Action, Target: tg, Status: remediate.RunStarted})
	require.NoError(t, err)
	require.True(t, begun)
	_, err = f.client.ClearTaskInstances(ctx, tg.DagID, airflow.ClearRequest{RunID: tg.RunID, TaskIDs: []string{"load"}, OnlyFailed: true})
	require.NoError(t, err) // Airflow accepted it; then the process died

	r, err := f.x.Execute(ctx, d, tg)
	require.NoError(t, err)
	require.Equal(t, remediate.RunSucceeded, r.Status)
	require.Contains(t, r.Summary, "already cleared")
	require.Equal(t, 2, f.try(t, tg).TryNumber, "not cleared a second time")

	// A crash before Airflow saw anything: the action runs.
	tg2 := f.failLoad(t, "manual__2", airflowsim.Success("ok"))
	d2 := decision(t, remediate.ClearFailedTasks, tg2)
	_, _, err = f.ledger.Begin(ctx, &remediate.Run{Key: d2.IdempotencyKey, Action: d2.Action, Target: tg2, Status: remediate.RunStarted})
	require.NoError(t, err)
	r, err = f.x.Execute(ctx, d2, tg2)
	require.NoError(t, err)
	require.Equal(t, remediate.RunSucceeded, r.Status)
	require.Equal(t, 2, f.try(t, tg2).TryNumber)
}

func TestExecutePauseAndTrigger(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	tg := remediate.Target{IncidentID: "inc_1", DagID: "orders_etl"}

	d := decision(t, remediate.PauseDag, tg)
	r, err := f.x.Execute(ctx, d, tg)
	require.NoError(t, err)
	require.Equal(t, remediate.RunSucceeded, r.Status)
	res, err := f.x.Verify(ctx, d, tg, r, 10*time.Millisecond)
	require.NoError(t, err)
	require.Equal(t, remediate.Verified, res.Outcome, res.Detail)
	_, err = f.client.SetDagPaused(ctx, "orders_etl", false)
	require.NoError(t, err)

	d = decision(t, remediate.TriggerDagRun, tg)
	r, err = f.x.Execute(ctx, d, tg)
	require.NoError(t, err)
	require.NotEmpty(t, r.NewRunID)
	again, err := f.x.Execute(ctx, d, tg)
	require.NoError(t, err)
	require.Equal(t, r.NewRunID, again.NewRunID, "one run, not two")
}

func TestExecuteRefusesWhatIsNotAnAirflowAction(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	tg := remediate.Target{IncidentID: "inc_1", DagID: "orders_etl"}
	_, err := f.x.Execute(context.Background(), decision(t, remediate.Escalate, tg), tg)
	require.ErrorIs(t, err, remediate.ErrNotExecutable)
	d := decision(t, remediate.ClearFailedTasks, tg)
	d.IdempotencyKey = ""
	_, err = f.x.Execute(context.Background(), d, tg)
	require.ErrorContains(t, err, "idempotency key")
}

// TestExecuteWithTheStoreLedger runs the never-twice paths against the
// SQLite store's action runs, as medic does.
func TestExecuteWithTheStoreLedger(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, sqlite.Options{Path: filepath.Join(t.TempDir(), "medic.db")})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, st.Close()) })
	f := newFixture(t)
	ledger := remediate.StoreLedger{Store: st}
	f.x.Ledger = ledger

	// A clear, asked for three times, happens once.
	tg := f.failLoad(t, "manual__1", airflowsim.Failure("boom again"))
	d := decision(t, remediate.ClearFailedTasks, tg)
	for range 3 {
		r, err := f.x.Execute(ctx, d, tg)
		require.NoError(t, err)
		require.Equal(t, remediate.RunSucceeded, r.Status)
	}
	require.Equal(t, 2, f.try(t, tg).TryNumber)
	stored, err := st.ActionGet(ctx, d.IdempotencyKey)
	require.NoError(t, err)
	require.Equal(t, "succeeded", string(stored.Status))
	require.Equal(t, "manual__1", stored.RunID)

	// A crash after Airflow accepted the clear: settled, not repeated.
	tg2 := f.failLoad(t, "manual__2", airflowsim.Failure("boom again"))
	d2 := decision(t, remediate.ClearFailedTasks, tg2)
	_, begun, err := ledger.Begin(ctx, &remediate.Run{Key: d2.IdempotencyKey, Action: d2.Action, Target: tg2, Status: remediate.RunStarted})
	require.NoError(t, err)
	require.True(t, begun)
	_, err = f.client.ClearTaskInstances(ctx, tg2.DagID, airflow.ClearRequest{RunID: tg2.RunID, TaskIDs: []string{"load"}, OnlyFailed: true})
	require.NoError(t, err)
	r, err := f.x.Execute(ctx, d2, tg2)
	require.NoError(t, err)
	require.Contains(t, r.Summary, "already cleared")
	require.Equal(t, 2, f.try(t, tg2).TryNumber)

	// A trigger's new run id survives the round trip through the store.
	tt := remediate.Target{IncidentID: "inc_2", DagID: "orders_etl", RunID: "manual__1"} // the run the incident is about
	dt := decision(t, remediate.TriggerDagRun, tt)
	first, err := f.x.Execute(ctx, dt, tt)
	require.NoError(t, err)
	again, err := f.x.Execute(ctx, dt, tt)
	require.NoError(t, err)
	require.NotEmpty(t, first.NewRunID)
	require.Equal(t, first.NewRunID, again.NewRunID)
}
