package investigate_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/medic-sh/medic/internal/airflow/airflowsim"
	"github.com/medic-sh/medic/internal/incident"
	"github.com/medic-sh/medic/internal/investigate"
	"github.com/medic-sh/medic/internal/investigate/agents"
	"github.com/medic-sh/medic/internal/warehouse"
	"github.com/medic-sh/medic/internal/warehouse/postgres"
	"github.com/medic-sh/medic/internal/warehouse/postgres/pgtest"
)

// fakeWarehouse is a Connector that records the targets it was asked about.
type fakeWarehouse struct {
	name string
	p    *warehouse.Profile
	err  error

	mu  sync.Mutex
	got []warehouse.Target
}

var _ warehouse.Connector = (*fakeWarehouse)(nil)

func (f *fakeWarehouse) Name() string         { return f.name }
func (f *fakeWarehouse) Kind() warehouse.Kind { return warehouse.KindPostgres }
func (f *fakeWarehouse) Profile(_ context.Context, t warehouse.Target) (*warehouse.Profile, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.got = append(f.got, t)
	return f.p, f.err
}

var lockTimeout = map[string][]airflowsim.Outcome{
	"load": {airflowsim.Failure("[2026-06-01, 02:10:00 UTC] {taskinstance.py:2905} ERROR - Task failed with exception\n" +
		"Traceback (most recent call last):\n" +
		"  File \"/opt/airflow/dags/orders.py\", line 41, in load\n" +
		"    cur.execute(SQL)\n" +
		"sqlalchemy.exc.OperationalError: (psycopg2.errors.LockNotAvailable) canceling statement due to lock timeout\n" +
		"[SQL: UPDATE staging.orders SET status = 'shipped' WHERE id = 42]\n" +
		"(Background on this error at: https://sqlalche.me/e/20/e3q8)\n")},
}

// TestQueryProfiler runs the query-profiler in a real investigation with
// fake warehouses: the targets come from the task's log, every warehouse is
// asked, and what bears on the failure is the evidence.
func TestQueryProfiler(t *testing.T) {
	t.Parallel()
	pair := warehouse.BlockingPair{TouchesTarget: true, Evidence: "pid 7 (etl) holds AccessExclusiveLock on staging.orders for 310s, blocking pid 9"}
	tests := []struct {
		name       string
		warehouses []*fakeWarehouse
		status     incident.SessionStatus
		summary    string
		evidence   int
	}{
		{
			name:       "one warehouse with a blocker",
			warehouses: []*fakeWarehouse{{name: "analytics", p: &warehouse.Profile{Warehouse: "analytics", Kind: warehouse.KindPostgres, Blocking: []warehouse.BlockingPair{pair}}}},
			status:     incident.SessionCompleted, summary: "analytics: 1 blocking pair(s), 0 lock wait(s), 0 long-running", evidence: 1,
		},
		{
			name: "one of two warehouses is down",
			warehouses: []*fakeWarehouse{
				{name: "analytics", p: &warehouse.Profile{Warehouse: "analytics", Kind: warehouse.KindPostgres}},
				{name: "legacy", err: warehouse.NewError("connect", warehouse.ErrorUnavailable, errors.New("connection refused"))},
			},
			status: incident.SessionPartial, summary: "analytics: 0 blocking pair(s), 0 lock wait(s), 0 long-running; legacy: 0 blocking pair(s)",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			conns := make([]warehouse.Connector, len(tt.warehouses))
			for i, w := range tt.warehouses {
				conns[i] = w
			}
			b := setup(t, func(o *bundleOpts) { o.connectors = conns })
			inc := b.fail(t, testRun, lockTimeout)
			b.waitTriaged(t, inc.ID, 20*time.Second)
			_, rep, kids := b.tree(t, inc)
			qp := kids[agents.QueryProfiler]
			require.Equal(t, tt.status, qp.Status, qp.Error)
			res := result(t, qp)
			require.Contains(t, res.Summary, tt.summary)
			require.True(t, res.Warehouse.Configured)
			require.Equal(t, []warehouse.TableName{{Schema: "staging", Name: "orders"}}, res.Warehouse.Targets)
			require.Len(t, res.Evidence, tt.evidence)
			for _, w := range tt.warehouses {
				require.Len(t, w.got, 1, "%s asked once", w.name)
				got := w.got[0]
				require.Equal(t, []warehouse.TableName{{Schema: "staging", Name: "orders"}}, got.Tables)
				require.Equal(t, "UPDATE staging.orders SET status = 'shipped' WHERE id = 42", got.SQL)
				require.Contains(t, got.ErrorText, "canceling statement due to lock timeout")
				require.False(t, got.FailedAt.IsZero())
				require.Contains(t, b.findings(t, qp.ID), "profile:"+w.name)
			}
			require.NotNil(t, rep.Warehouse)
			require.Len(t, rep.Warehouse.Profiles, len(tt.warehouses))
		})
	}
}

// TestQueryProfilerOnPostgres profiles a real PostgreSQL warehouse while a
// session holds a lock the failed task waited for: the report carries the
// blocking pair as evidence. It needs MEDIC_TEST_POSTGRES_URL.
func TestQueryProfilerOnPostgres(t *testing.T) {
	t.Parallel()
	env := pgtest.New(t)
	table := pgx.Identifier{env.Schema, "orders"}.Sanitize()
	env.Exec(t, "CREATE TABLE "+table+" (id int PRIMARY KEY, status text)")
	env.Exec(t, "INSERT INTO "+table+" VALUES (42, 'new')")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	holder := env.Conn(t, env.AdminURL)
	tx, err := holder.Begin(ctx)
	require.NoError(t, err)
	_, err = tx.Exec(ctx, "LOCK TABLE "+table+" IN ACCESS EXCLUSIVE MODE")
	require.NoError(t, err)
	waiter := env.Conn(t, env.AdminURL)
	waiterPID := waiter.PgConn().PID()
	done := make(chan error, 1)
	go func() {
		_, err := waiter.Exec(ctx, "UPDATE "+table+" SET status = 'shipped' WHERE id = 42")
		done <- err
	}()
	defer func() {
		require.NoError(t, tx.Rollback(context.Background()))
		require.NoError(t, <-done)
	}()
	require.Eventually(t, func() bool {
		var wait *string
		err := env.Admin.QueryRow(ctx, "SELECT wait_event_type FROM pg_stat_activity WHERE pid = $1", waiterPID).Scan(&wait)
		return err == nil && wait != nil && *wait == "Lock"
	}, 10*time.Second, 20*time.Millisecond)

	conn, err := postgres.New(postgres.Options{Name: "analytics", URL: env.RoleURL})
	require.NoError(t, err)
	t.Cleanup(conn.Close)
	failure := map[string][]airflowsim.Outcome{"load": {airflowsim.Failure(
		"[2026-06-01, 02:10:00 UTC] {taskinstance.py:2905} ERROR - Task failed with exception\n" +
			"sqlalchemy.exc.OperationalError: (psycopg2.errors.LockNotAvailable) canceling statement due to lock timeout\n" +
			"[SQL: UPDATE " + env.Schema + ".orders SET status = 'shipped' WHERE id = 42]\n")}}
	b := setup(t, func(o *bundleOpts) { o.connectors = []warehouse.Connector{conn} })
	inc := b.fail(t, testRun, failure)
	b.waitTriaged(t, inc.ID, 30*time.Second)
	_, rep, kids := b.tree(t, inc)
	qp := kids[agents.QueryProfiler]
	require.Equal(t, incident.SessionCompleted, qp.Status, qp.Error)
	res := result(t, qp)
	require.Equal(t, []warehouse.TableName{{Schema: env.Schema, Name: "orders"}}, res.Warehouse.Targets)
	require.Len(t, res.Warehouse.Profiles, 1)
	p := res.Warehouse.Profiles[0]
	require.GreaterOrEqual(t, p.Blocking, 1, "the waiting UPDATE is blocked by the lock holder")
	require.Contains(t, p.Timeouts, "lock_timeout")
	require.NotEmpty(t, p.Lines)
	require.Contains(t, p.Lines[0], "AccessExclusiveLock")
	require.NotNil(t, rep.Warehouse)
	require.Equal(t, p, rep.Warehouse.Profiles[0])
	f := b.findings(t, qp.ID)["profile:analytics"]
	require.NotNil(t, f)
	require.NotEmpty(t, f.Evidence)
}

func TestQueryProfilerWithoutWarehouse(t *testing.T) {
	t.Parallel()
	rep := &recordingReporter{}
	def := &agents.Definition{Name: agents.QueryProfiler, MaxSteps: 8}
	res, err := investigate.NewQueryProfiler(nil, instances{}).Run(context.Background(), &investigate.Task{Agent: def, Report: rep})
	require.NoError(t, err)
	require.Equal(t, "no warehouse configured", res.Summary)
	require.False(t, res.Warehouse.Configured)
	require.Len(t, rep.findings, 1)
	require.Equal(t, "warehouse", rep.findings[0].Step)
	require.Empty(t, res.Incomplete, "no warehouse is a complete answer")
}
