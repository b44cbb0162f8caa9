package mcpserver_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/riverqueue/river"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/medic-sh/medic/internal/act"
	"github.com/medic-sh/medic/internal/airflow"
	"github.com/medic-sh/medic/internal/airflow/airflowsim"
	"github.com/medic-sh/medic/internal/config"
	"github.com/medic-sh/medic/internal/incident"
	"github.com/medic-sh/medic/internal/ingest"
	"github.com/medic-sh/medic/internal/mcpserver"
	"github.com/medic-sh/medic/internal/remediate"
	"github.com/medic-sh/medic/internal/store/sqlite"
	"github.com/medic-sh/medic/internal/triage"
)

func TestMain(m *testing.M) {
	code := m.Run()
	if code == 0 {
		if err := goleak.Find(goleak.IgnoreCurrent()); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

const (
	instance = "main"
	dagID    = "orders_etl"
	runID    = "scheduled__2026-06-01T00:00:00+00:00"
)

// failingLog is the load task's log: a Postgres error with a secret in it.
const failingLog = `{taskinstance.py:1234} INFO - Executing <Task(PostgresOperator): load>
{sql.py:88} INFO - connecting with postgresql://etl:hunter2secret@db.internal:5432/orders
{taskinstance.py:1936} ERROR - Task failed with exception
Traceback (most recent call last):
  File "/opt/airflow/dags/orders/load.py", line 42, in load_orders
    cur.execute(sql)
psycopg2.errors.UndefinedColumn: column "customer_ref" does not exist
LINE 1: SELECT customer_ref FROM staging.orders
`

type testBundle struct {
	sim    *airflowsim.Server
	store  *sqlite.Store
	server *mcpserver.Server
	inc    *incident.Incident
	jobs   *jobRecorder
}

// jobRecorder stands in for the River client: it records, never runs.
type jobRecorder struct {
	mu   sync.Mutex
	jobs []river.JobArgs
}

func (j *jobRecorder) Enqueue(_ context.Context, args river.JobArgs, _ *river.InsertOpts) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.jobs = append(j.jobs, args)
	return nil
}

func (j *jobRecorder) count() int {
	j.mu.Lock()
	defer j.mu.Unlock()
	return len(j.jobs)
}

// setup starts the Airflow stand-in with one failed run of orders_etl,
// records its failures, triages the incident they opened and builds the
// MCP server over it all.
func setup(t testing.TB) *testBundle {
	t.Helper()
	ctx := context.Background()
	b := &testBundle{jobs: &jobRecorder{}}
	b.sim = airflowsim.New(airflowsim.Options{Version: 3, Username: "medic", Password: "pw"})
	var failures []airflowsim.TaskFailure
	b.sim.OnTaskFailed(func(f airflowsim.TaskFailure) { failures = append(failures, f) })
	require.NoError(t, b.sim.AddDAG(airflowsim.DAG{
		ID: dagID, Owners: []string{"data-eng"}, Tags: []string{"orders"},
		Tasks: []airflowsim.Task{
			{ID: "extract", Downstream: []string{"load"}},
			{ID: "load", Operator: "PostgresOperator", Downstream: []string{"report"}},
			{ID: "report"},
		},
	}))
	srv := httptest.NewServer(b.sim)
	t.Cleanup(srv.Close)
	transport := &http.Transport{}
	t.Cleanup(transport.CloseIdleConnections)
	af, err := airflow.New(airflow.Options{
		Name: instance, BaseURL: srv.URL, Version: "3", Username: "medic", Password: "pw", Timeout: 10 * time.Second,
		MaxRetries: -1, RateLimit: -1, HTTPClient: &http.Client{Transport: transport},
	})
	require.NoError(t, err)
	_, err = b.sim.StartRun(dagID, runID, time.Now().Add(-time.Hour), map[string][]airflowsim.Outcome{
		"load": {{State: "failed", Log: failingLog}},
	})
	require.NoError(t, err)
	require.NotEmpty(t, failures)

	b.store, err = sqlite.Open(ctx, sqlite.Options{Path: filepath.Join(t.TempDir(), "medic.db")})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, b.store.Close()) })
	logger := slog.New(slog.DiscardHandler)
	ing := ingest.NewService(b.store, 24*time.Hour, logger, nil)
	for _, f := range failures {
		res, err := ing.RecordEvent(ctx, &incident.FailureEvent{
			Key:      incident.Key{Instance: instance, DagID: f.DagID, RunID: f.RunID, TaskID: f.TaskID, TryNumber: f.TryNumber},
			MapIndex: -1, Source: incident.SourceCallback, Exception: f.Exception, OccurredAt: f.EndDate,
		})
		require.NoError(t, err)
		if b.inc == nil {
			b.inc = res.Incident
		}
	}
	clients := mcpserver.NewClientSet(af)
	runner := triage.NewRunner(b.store, triageInstances{af}, ing, triage.Options{
		FrequencyLookback: 7 * 24 * time.Hour, RecurringThreshold: 2, LogTailLines: 200, LogMaxBytes: 64 << 10, StepTimeout: 30 * time.Second,
	}, logger, nil)
	require.NoError(t, runner.Run(ctx, b.inc.ID, b.inc.TriageSessionID, true))
	b.inc, err = b.store.IncidentGetByID(ctx, b.inc.ID)
	require.NoError(t, err)

	rm := config.Default().Remediate
	rm.Allow = []string{dagID}
	rm.Autonomy = []config.AutonomyRule{{DAG: "*", Class: "*", Level: config.AutonomySuggest}}
	rm.ConfSchemas = map[string]string{dagID: `{"type": "object", "additionalProperties": false}`}
	policy, err := remediate.New(rm, "staging")
	require.NoError(t, err)
	rem := act.New(b.store, policy, remediationInstances{af}, nil, b.jobs.Enqueue, act.Options{}, logger, nil)

	b.server, err = mcpserver.New(mcpserver.Deps{
		Store: b.store, Instances: clients, Approvals: rem, Logger: logger, Version: "test",
	})
	require.NoError(t, err)
	return b
}

type triageInstances struct{ c *airflow.Client }

func (in triageInstances) Instance(name string) (triage.Airflow, bool) { return in.c, name == instance }

type remediationInstances struct{ c *airflow.Client }

func (in remediationInstances) Airflow(name string) (remediate.Airflow, bool) {
	return in.c, name == instance
}

// connect opens an in-memory client session to the server as id.
func (b *testBundle) connect(t testing.TB, id mcpserver.Identity) *mcp.ClientSession {
	t.Helper()
	ctx := context.Background()
	st, ct := mcp.NewInMemoryTransports()
	ss, err := b.server.Connect(ctx, st, id)
	require.NoError(t, err)
	client := mcp.NewClient(&mcp.Implementation{Name: "test-client", Version: "1"}, nil)
	cs, err := client.Connect(ctx, ct, nil)
	require.NoError(t, err)
	t.Cleanup(func() {
		_ = cs.Close()
		_ = ss.Wait()
	})
	return cs
}

var (
	viewer   = mcpserver.Identity{Name: "dashboard", Role: config.RoleViewer}
	operator = mcpserver.Identity{Name: "oncall", Role: config.RoleOperator}
	writer   = mcpserver.Identity{Name: "bot", Role: config.RoleOperator, Writes: true}
)
