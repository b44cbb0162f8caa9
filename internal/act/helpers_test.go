package act_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/medic-sh/medic/internal/act"
	"github.com/medic-sh/medic/internal/airflow"
	"github.com/medic-sh/medic/internal/airflow/airflowsim"
	"github.com/medic-sh/medic/internal/audit"
	"github.com/medic-sh/medic/internal/classify"
	"github.com/medic-sh/medic/internal/config"
	"github.com/medic-sh/medic/internal/incident"
	"github.com/medic-sh/medic/internal/investigate"
	"github.com/medic-sh/medic/internal/memory"
	"github.com/medic-sh/medic/internal/remediate"
	"github.com/medic-sh/medic/internal/store"
	"github.com/medic-sh/medic/internal/store/sqlite"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const (
	dagID    = "orders_etl"
	instance = "main"
	// pollInterval is remediate.wait.poll_interval in every test's
	// configuration: distinct from the defaults so a snooze shows where it
	// came from.
	pollInterval = 7 * time.Minute
)

// confSchema lets trigger_dag_run of orders_etl take an optional ISO date
// and nothing else.
const confSchema = `{"type": "object", "additionalProperties": false,
	"properties": {"date": {"type": "string", "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}$"}}}`

var (
	sigterm = airflowsim.Failure("{local_task_job_runner.py:123} ERROR - Received SIGTERM. Terminating subprocesses.\n" +
		"airflow.exceptions.AirflowTaskTerminated: Task received SIGTERM signal\n")
	succeeded = airflowsim.Success("{taskinstance.py:1157} INFO - loaded 1200 rows\n")
)

// instances is a fixed set of Airflow clients by name.
type instances map[string]remediate.Airflow

var _ act.Instances = instances(nil)

func (in instances) Airflow(name string) (remediate.Airflow, bool) {
	af, ok := in[name]
	return af, ok
}

// feedbackMemory records the feedback medic gives the failure memory.
type feedbackMemory struct {
	mu    sync.Mutex
	calls []feedbackCall
}

type feedbackCall struct {
	ID     string
	Update memory.Update
}

var _ act.Memory = (*feedbackMemory)(nil)

func (m *feedbackMemory) Feedback(_ context.Context, id string, u memory.Update) (*memory.Record, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.calls = append(m.calls, feedbackCall{ID: id, Update: u})
	return &memory.Record{ID: id}, nil
}

func (m *feedbackMemory) Calls() []feedbackCall {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]feedbackCall(nil), m.calls...)
}

// enqueued is one job the Remediator asked for.
type enqueued struct {
	Args river.JobArgs
	Opts *river.InsertOpts
}

// jobRecorder stands in for the River client's Insert.
type jobRecorder struct {
	mu   sync.Mutex
	jobs []enqueued
}

func (j *jobRecorder) Enqueue(_ context.Context, args river.JobArgs, opts *river.InsertOpts) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.jobs = append(j.jobs, enqueued{Args: args, Opts: opts})
	return nil
}

func (j *jobRecorder) All() []enqueued {
	j.mu.Lock()
	defer j.mu.Unlock()
	return append([]enqueued(nil), j.jobs...)
}

// clock is the Remediator's clock: the real time, moved ahead on demand.
type clock struct {
	mu    sync.Mutex
	ahead time.Duration
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.ahead)
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ahead += d
}

// testBundle is a Remediator over a real SQLite store and the Airflow
// stand-in, with recording fakes for the job queue and the memory.
type testBundle struct {
	st    *sqlite.Store
	sim   *airflowsim.Server
	srv   *httptest.Server
	af    *airflow.Client
	rem   *act.Remediator
	clock *clock
	mem   *feedbackMemory
	jobs  *jobRecorder
	runs  int
}

// baseConfig allows orders_etl: INFRA and UPSTREAM_UNAVAILABLE failures are
// auto (a precedent fixed with similarity × trust ≥ 0.6 and confidence ≥
// 0.5 pass the gate), everything else needs an approval.
func baseConfig() config.Remediate {
	rm := config.Default().Remediate
	rm.Allow = []string{dagID}
	rm.Autonomy = []config.AutonomyRule{
		{DAG: dagID, Class: string(classify.Infra), Level: config.AutonomyAuto},
		{DAG: dagID, Class: string(classify.UpstreamUnavailable), Level: config.AutonomyAuto},
		{DAG: "*", Class: "*", Level: config.AutonomyApprove},
	}
	rm.Gate.Similarity = map[string]float64{config.GateDefault: 0.6}
	rm.Gate.Confidence = map[string]float64{config.GateDefault: 0.5}
	rm.Wait.PollInterval = pollInterval
	rm.ConfSchemas = map[string]string{dagID: confSchema}
	return rm
}

func setup(t *testing.T, edit func(*config.Remediate)) *testBundle {
	t.Helper()
	ctx := context.Background()
	sim := airflowsim.New(airflowsim.Options{Version: 3, Username: "medic", Password: "pw"})
	require.NoError(t, sim.AddDAG(airflowsim.DAG{
		ID: dagID, Owners: []string{"data-eng"},
		Tasks: []airflowsim.Task{
			{ID: "extract", Downstream: []string{"load"}},
			{ID: "load", Downstream: []string{"report"}},
			{ID: "report"},
		},
	}))
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	transport := &http.Transport{}
	t.Cleanup(transport.CloseIdleConnections)
	af, err := airflow.New(airflow.Options{
		Name: instance, BaseURL: srv.URL, Version: "3", Username: "medic", Password: "pw", Timeout: 5 * time.Second,
		MaxRetries: -1, RateLimit: -1, HTTPClient: &http.Client{Transport: transport},
	})
	require.NoError(t, err)

	st, err := sqlite.Open(ctx, sqlite.Options{Path: filepath.Join(t.TempDir(), "m.db")})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, st.Close()) })

	cfg := baseConfig()
	if edit != nil {
		edit(&cfg)
	}
	policy, err := remediate.New(cfg, "staging")
	require.NoError(t, err)
	b := &testBundle{st: st, sim: sim, srv: srv, af: af, clock: &clock{}, mem: &feedbackMemory{}, jobs: &jobRecorder{}}
	b.rem = act.New(st, policy, instances{instance: af}, b.mem, b.jobs.Enqueue,
		act.Options{VerifyEvery: 20 * time.Millisecond}, nil, b.clock.Now)
	return b
}

// rootCause is a diagnosis medic may act on alone: a SIGTERM (INFRA),
// retry-safe, with a precedent in memory that a retry fixed.
func rootCause() *investigate.RootCause {
	return &investigate.RootCause{
		Label: classify.Infra, Confidence: 0.9, RetrySafe: true, Remediation: classify.Retry,
		Summary:  "AirflowTaskTerminated: Task received SIGTERM signal",
		Evidence: []incident.Evidence{{Source: "log", Ref: "load try 1", Line: 2, Text: "Received SIGTERM. Terminating subprocesses."}},
		Source:   "log_analyzer",
		Precedent: &memory.Precedent{
			RecordID: "mem_sigterm", Label: string(classify.Infra), Action: string(classify.Retry), Outcome: memory.OutcomeFixed,
			Trust: 1, Similarity: 1, Exact: true,
		},
	}
}

// failure plays a new run of orders_etl with the outcomes and opens its
// incident the way triage does: investigating, with a finished root
// session whose result is the report, and triage completed for
// remediation to decide. failedTask is the task the incident is about.
func (b *testBundle) failure(t *testing.T, outcomes map[string][]airflowsim.Outcome, failedTask string, rc *investigate.RootCause) *incident.Incident {
	t.Helper()
	ctx := context.Background()
	b.runs++
	day := time.Date(2026, 5, b.runs, 2, 0, 0, 0, time.UTC)
	runID := "scheduled__" + day.Format("2006-01-02T15:04:05") + "+00:00"
	dr, err := b.sim.StartRun(dagID, runID, day, outcomes)
	require.NoError(t, err)
	require.Equal(t, "failed", dr.State)

	req, err := b.st.TriageRequest(ctx, &store.TriageRequestParams{Instance: instance, DagID: dagID, RunID: runID, TaskID: failedTask, Actor: "medic"})
	require.NoError(t, err)
	inc := req.Incident
	_, err = b.st.IncidentTransition(ctx, &store.IncidentTransitionParams{ID: inc.ID, To: incident.StateInvestigating, Actor: "medic", Reason: "triage started"})
	require.NoError(t, err)
	_, err = b.st.SessionSetStatus(ctx, &store.SessionSetStatusParams{ID: inc.TriageSessionID, Status: incident.SessionRunning})
	require.NoError(t, err)
	rep := investigate.Report{
		Status: incident.SessionCompleted, Summary: fmt.Sprintf("%s.%s failed", dagID, failedTask),
		Severity: incident.SeverityMedium, RootCause: rc, Commander: "commander", ComposedAt: time.Now().UTC(),
	}
	raw, err := json.Marshal(rep)
	require.NoError(t, err)
	_, err = b.st.SessionFinish(ctx, &store.SessionFinishParams{ID: inc.TriageSessionID, Status: incident.SessionCompleted, Result: raw})
	require.NoError(t, err)
	done, err := b.st.TriageComplete(ctx, &store.TriageCompleteParams{
		IncidentID: inc.ID, SessionID: inc.TriageSessionID, Status: incident.SessionCompleted, Summary: rep.Summary,
		Severity: rep.Severity, Remediate: true,
	})
	require.NoError(t, err)
	require.True(t, done.Done)
	require.Equal(t, incident.StateInvestigating, done.Incident.State)
	return done.Incident
}

// sigtermFailure is load killed once, then succeeding when cleared.
func (b *testBundle) sigtermFailure(t *testing.T, rc *investigate.RootCause) *incident.Incident {
	t.Helper()
	return b.failure(t, map[string][]airflowsim.Outcome{"load": {sigterm, succeeded}}, "load", rc)
}

func (b *testBundle) state(t *testing.T, id string) incident.State {
	t.Helper()
	inc, err := b.st.IncidentGetByID(context.Background(), id)
	require.NoError(t, err)
	return inc.State
}

// decisions returns the root session's decision findings.
func (b *testBundle) decisions(t *testing.T, inc *incident.Incident) []act.Record {
	t.Helper()
	fs, err := b.st.FindingListBySession(context.Background(), inc.TriageSessionID)
	require.NoError(t, err)
	var out []act.Record
	for _, f := range fs {
		if f.Step == "remediate.decision" {
			var rec act.Record
			require.NoError(t, json.Unmarshal(f.Data, &rec))
			out = append(out, rec)
		}
	}
	return out
}

// decision returns the one recorded decision.
func (b *testBundle) decision(t *testing.T, inc *incident.Incident) act.Record {
	t.Helper()
	recs := b.decisions(t, inc)
	require.Len(t, recs, 1, "one decision recorded")
	return recs[0]
}

// audits returns the incident's audit entries with the action, oldest
// first, their details decoded.
func (b *testBundle) audits(t *testing.T, incidentID, action string) []audit.Detail {
	t.Helper()
	es, err := b.st.AuditList(context.Background(), &store.AuditListParams{IncidentID: incidentID, ActionPrefix: action, Limit: store.MaxListLimit})
	require.NoError(t, err)
	var out []audit.Detail
	for _, e := range es {
		if e.Action != action {
			continue
		}
		var d audit.Detail
		require.NoError(t, json.Unmarshal(e.Detail, &d))
		out = append(out, d)
	}
	return out
}

// actionJob is the one action job the Remediator enqueued.
func (b *testBundle) actionJob(t *testing.T) store.ActionJobArgs {
	t.Helper()
	var out []store.ActionJobArgs
	for _, j := range b.jobs.All() {
		if a, ok := j.Args.(store.ActionJobArgs); ok {
			out = append(out, a)
		}
	}
	require.Len(t, out, 1, "one action job enqueued")
	return out[0]
}

// verifyJob is the one verification job the Remediator enqueued.
func (b *testBundle) verifyJob(t *testing.T) store.VerifyJobArgs {
	t.Helper()
	var out []store.VerifyJobArgs
	for _, j := range b.jobs.All() {
		if a, ok := j.Args.(store.VerifyJobArgs); ok {
			out = append(out, a)
		}
	}
	require.Len(t, out, 1, "one verification job enqueued")
	return out[0]
}

// approval is the incident's one approval.
func (b *testBundle) approval(t *testing.T, incidentID string) *incident.Approval {
	t.Helper()
	list, err := b.st.ApprovalList(context.Background(), &store.ApprovalListParams{IncidentID: incidentID})
	require.NoError(t, err)
	require.Len(t, list, 1, "one approval for the incident")
	return list[0]
}

// writes counts the requests that change Airflow: real or dry-run clears
// (the stand-in records no bodies), triggers and DAG patches.
func (b *testBundle) writes() (clears, triggers, patches int) {
	for _, r := range b.sim.Requests() {
		switch {
		case r.Method == http.MethodPost && strings.HasSuffix(r.Path, "/clearTaskInstances"):
			clears++
		case r.Method == http.MethodPost && strings.HasSuffix(r.Path, "/dagRuns"):
			triggers++
		case r.Method == http.MethodPatch && strings.Contains(r.Path, "/dags/"):
			patches++
		}
	}
	return clears, triggers, patches
}

// try is a task's try number and state in the incident's run.
func (b *testBundle) try(t *testing.T, inc *incident.Incident, taskID string) (int, string) {
	t.Helper()
	dr, ok := b.sim.DagRun(dagID, inc.RunID)
	require.True(t, ok)
	ti := dr.TaskInstance(taskID)
	require.NotNil(t, ti)
	return ti.TryNumber, ti.State
}

// reasons renders a decision's reasons as "rule result: detail" lines.
func reasons(d remediate.Decision) string {
	var sb strings.Builder
	for _, r := range d.Reasons {
		fmt.Fprintf(&sb, "%s %s: %s\n", r.Rule, r.Result, r.Detail)
	}
	return sb.String()
}
