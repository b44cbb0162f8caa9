package investigate_test

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

	"github.com/riverqueue/river"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/medic-sh/medic/internal/airflow"
	"github.com/medic-sh/medic/internal/airflow/airflowsim"
	"github.com/medic-sh/medic/internal/incident"
	"github.com/medic-sh/medic/internal/ingest"
	"github.com/medic-sh/medic/internal/investigate"
	"github.com/medic-sh/medic/internal/investigate/agents"
	"github.com/medic-sh/medic/internal/store"
	"github.com/medic-sh/medic/internal/store/sqlite"
	"github.com/medic-sh/medic/internal/triage"
	"github.com/medic-sh/medic/internal/warehouse"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const testRun = "scheduled__2026-06-01T02:00:00+00:00"

var undefinedColumn = map[string][]airflowsim.Outcome{
	"load": {airflowsim.Failure(airflowsim.LogPostgresUndefinedColumn("staging.orders", "customer_idd", "orders.customer_id"))},
}

// instances is a fixed set of Airflow clients by name.
type instances map[string]triage.Airflow

func (in instances) Instance(name string) (triage.Airflow, bool) {
	c, ok := in[name]
	return c, ok
}

type bundleOpts struct {
	opts investigate.Options
	// engines replace built-in engines by name.
	engines map[string]investigate.Engine
	// wrap, when set, wraps every engine.
	wrap       func(name string, e investigate.Engine) investigate.Engine
	agentFiles map[string]string
	connectors []warehouse.Connector
	owners     investigate.Owners
	// ownersFor, when set, builds the owners over the bundle's Airflow.
	ownersFor func(in triage.Instances) investigate.Owners
	// models, when set, builds the model-driven engines once the bundle's
	// engines, store and Airflow exist; agents may then run on a model.
	models func(b *testBundle, in triage.Instances) investigate.ModelEngines
	// jobs, when false, opens the store without workers: the test drives
	// the investigation by calling the Investigator.
	noJobs bool
	now    func() time.Time
}

type testBundle struct {
	sim    *airflowsim.Server
	client *airflow.Client
	store  *sqlite.Store
	ingest *ingest.Service
	runner *triage.Runner
	inv    *investigate.Investigator
	agents *agents.Set
	engine map[string]investigate.Engine

	mu       sync.Mutex
	failures []airflowsim.TaskFailure
}

func setup(t *testing.T, opt ...func(*bundleOpts)) *testBundle {
	t.Helper()
	o := bundleOpts{opts: investigate.Options{Deadline: 20 * time.Second, SpecialistTimeout: 15 * time.Second}}
	for _, f := range opt {
		f(&o)
	}
	b := &testBundle{}
	b.sim, b.client = newAirflow(t)
	b.sim.OnTaskFailed(func(f airflowsim.TaskFailure) { b.mu.Lock(); b.failures = append(b.failures, f); b.mu.Unlock() })
	var err error

	logger := slog.New(slog.DiscardHandler)
	if os.Getenv("MEDIC_TEST_LOG") != "" {
		logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	workers := river.NewWorkers()
	sopts := sqlite.Options{
		Path: filepath.Join(t.TempDir(), "medic.db"), Logger: logger,
		Jobs: sqlite.JobOptions{MaxWorkers: 6, MaxAttempts: 5, PollInterval: 20 * time.Millisecond, JobTimeout: time.Minute, RescueAfter: time.Hour},
	}
	if !o.noJobs {
		sopts.Workers = workers
	}
	b.store, err = sqlite.Open(context.Background(), sopts)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, b.store.Close()) })
	b.ingest = ingest.NewService(b.store, 24*time.Hour, logger, nil)
	in := instances{"main": b.client}
	b.runner = triage.NewRunner(b.store, in, b.ingest, triage.Options{
		FrequencyLookback: 7 * 24 * time.Hour, RecurringThreshold: 2, LogTailLines: 200, LogMaxBytes: 256 << 10,
		StepTimeout: 10 * time.Second, ExcerptLines: 40,
	}, logger, nil)

	own := o.owners
	if o.ownersFor != nil {
		own = o.ownersFor(in)
	}
	b.engine = investigate.BuiltinEngines(b.runner, in, o.connectors, own)
	for name, e := range o.engines {
		b.engine[name] = e
	}
	if o.wrap != nil {
		for name, e := range b.engine {
			b.engine[name] = o.wrap(name, e)
		}
	}
	dir := ""
	if len(o.agentFiles) > 0 {
		dir = t.TempDir()
		for name, content := range o.agentFiles {
			require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600))
		}
	}
	var models investigate.ModelEngines
	if o.models != nil {
		models = o.models(b, in)
	}
	b.agents, err = agents.Load(agents.Options{Dir: dir, Engines: investigate.Specs(b.engine), Models: models != nil})
	require.NoError(t, err)
	b.inv, err = investigate.New(investigate.Deps{
		Store: b.store, Triage: b.runner, Agents: b.agents, Engines: b.engine, Models: models, Options: o.opts, Logger: logger, Now: o.now,
	})
	require.NoError(t, err)
	if !o.noJobs {
		investigate.AddWorkers(workers, b.inv)
		river.AddWorker(workers, river.WorkFunc(func(context.Context, *river.Job[store.NotifyJobArgs]) error { return nil }))
		require.NoError(t, b.store.StartJobs(context.Background()))
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			require.NoError(t, b.store.StopJobs(ctx))
		})
	}
	return b
}

// newAirflow starts an Airflow stand-in with the orders_etl DAG (extract →
// load → report) and returns it with a client named "main".
func newAirflow(t *testing.T) (*airflowsim.Server, *airflow.Client) {
	t.Helper()
	sim := airflowsim.New(airflowsim.Options{Version: 3, Username: "medic", Password: "pw"})
	require.NoError(t, sim.AddDAG(airflowsim.DAG{
		ID: "orders_etl", Owners: []string{"data-eng"}, Tags: []string{"orders", "tier1"},
		Tasks: []airflowsim.Task{
			{ID: "extract", Downstream: []string{"load"}},
			{ID: "load", Operator: "PostgresOperator", Downstream: []string{"report"}},
			{ID: "report"},
		},
	}))
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	transport := &http.Transport{}
	t.Cleanup(transport.CloseIdleConnections)
	client, err := airflow.New(airflow.Options{
		Name: "main", BaseURL: srv.URL, Version: "3", Username: "medic", Password: "pw", Timeout: 5 * time.Second,
		MaxRetries: -1, RateLimit: -1, HTTPClient: &http.Client{Transport: transport},
	})
	require.NoError(t, err)
	return sim, client
}

// fail starts a run whose load task fails as scripted and reports the
// failure as a callback, which opens the incident and enqueues its triage.
func (b *testBundle) fail(t *testing.T, runID string, outcomes map[string][]airflowsim.Outcome) *incident.Incident {
	t.Helper()
	b.mu.Lock()
	before := len(b.failures)
	b.mu.Unlock()
	_, err := b.sim.StartRun("orders_etl", runID, time.Now().Add(-time.Hour), outcomes)
	require.NoError(t, err)
	b.mu.Lock()
	fresh := append([]airflowsim.TaskFailure(nil), b.failures[before:]...)
	b.mu.Unlock()
	require.NotEmpty(t, fresh)
	var inc *incident.Incident
	for _, f := range fresh {
		res, err := b.ingest.RecordEvent(context.Background(), &incident.FailureEvent{
			Key:      incident.Key{Instance: "main", DagID: f.DagID, RunID: f.RunID, TaskID: f.TaskID, TryNumber: f.TryNumber},
			MapIndex: -1, Source: incident.SourceCallback, Exception: f.Exception, Owner: f.Owner, Tags: f.Tags, OccurredAt: f.EndDate,
		})
		require.NoError(t, err)
		if inc == nil {
			inc = res.Incident
		}
	}
	return inc
}

// waitTriaged waits until the incident is triaged, at most within.
func (b *testBundle) waitTriaged(t *testing.T, id string, within time.Duration) *incident.Incident {
	t.Helper()
	var inc *incident.Incident
	require.Eventually(t, func() bool {
		var err error
		inc, err = b.store.IncidentGetByID(context.Background(), id)
		require.NoError(t, err)
		return inc.TriagedAt != nil
	}, within, 10*time.Millisecond, "incident %s was not triaged within %s", id, within)
	return inc
}

// tree returns the root session, its composed report and its children by
// agent.
func (b *testBundle) tree(t *testing.T, inc *incident.Incident) (*incident.Session, *investigate.Report, map[string]*incident.Session) {
	t.Helper()
	ctx := context.Background()
	root, err := b.store.SessionGetByID(ctx, inc.TriageSessionID)
	require.NoError(t, err)
	rep, err := investigate.ParseReport(root.Result)
	require.NoError(t, err)
	kids, err := b.store.SessionListChildren(ctx, root.ID)
	require.NoError(t, err)
	out := map[string]*incident.Session{}
	for _, k := range kids {
		require.Equal(t, root.ID, k.ParentID)
		require.Equal(t, 2, k.Depth)
		out[k.Agent] = k
	}
	return root, rep, out
}

func result(t *testing.T, s *incident.Session) *investigate.Result {
	t.Helper()
	res, err := investigate.ParseResult(s.Result)
	require.NoError(t, err)
	require.NotNil(t, res, "session %s (%s) has no result", s.ID, s.Agent)
	return res
}

func (b *testBundle) findings(t *testing.T, sessionID string) map[string]*incident.Finding {
	t.Helper()
	fs, err := b.store.FindingListBySession(context.Background(), sessionID)
	require.NoError(t, err)
	out := map[string]*incident.Finding{}
	for _, f := range fs {
		require.NotContains(t, out, f.Step, "step %s recorded twice", f.Step)
		out[f.Step] = f
	}
	return out
}

func (b *testBundle) events(t *testing.T, rootID string) []*incident.SessionEvent {
	t.Helper()
	evs, err := b.store.SessionEventList(context.Background(), &store.SessionEventListParams{SessionID: rootID, Tree: true, Limit: store.MaxListLimit})
	require.NoError(t, err)
	return evs
}

// engineFunc is an Engine made of a function, with a built-in's spec.
type engineFunc struct {
	spec agents.EngineSpec
	run  func(ctx context.Context, t *investigate.Task) (*investigate.Result, error)
}

func (e engineFunc) Spec() agents.EngineSpec { return e.spec }
func (e engineFunc) Run(ctx context.Context, t *investigate.Task) (*investigate.Result, error) {
	return e.run(ctx, t)
}

// hanging is an engine that waits for its context to end.
func hanging(spec agents.EngineSpec) investigate.Engine {
	return engineFunc{spec: spec, run: func(ctx context.Context, t *investigate.Task) (*investigate.Result, error) {
		t.Report.Progress(ctx, "waiting for a warehouse that never answers")
		<-ctx.Done()
		return nil, fmt.Errorf("profile: %w", context.Cause(ctx))
	}}
}

// farFuture is a retry time no deadline reaches.
var farFuture = time.Now().Add(24 * time.Hour)

func storeArgs(inc *incident.Incident, k *incident.Session) store.SpecialistJobArgs {
	return store.SpecialistJobArgs{IncidentID: inc.ID, SessionID: k.ID, Agent: k.Agent}
}
