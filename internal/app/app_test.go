package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/medic-sh/medic/internal/airflow"
	"github.com/medic-sh/medic/internal/airflow/airflowsim"
	"github.com/medic-sh/medic/internal/app"
	"github.com/medic-sh/medic/internal/config"
	"github.com/medic-sh/medic/internal/incident"
	"github.com/medic-sh/medic/internal/ingest"
	"github.com/medic-sh/medic/internal/investigate"
	"github.com/medic-sh/medic/internal/memory"
	"github.com/medic-sh/medic/internal/store"
	"github.com/medic-sh/medic/internal/store/sqlite"
	"github.com/medic-sh/medic/internal/triage"
)

const (
	testSecret = "test-webhook-secret-0123456789"
	testRun    = "scheduled__2026-05-01T02:00:00+00:00"
)

func TestMain(m *testing.M) {
	if os.Getenv("MEDIC_TEST_DAEMON") == "1" {
		os.Exit(runHelperDaemon())
	}
	goleak.VerifyTestMain(m)
}

// newSim returns an Airflow stand-in with one DAG whose load task fails.
func newSim(t *testing.T, version int) (*airflowsim.Server, *httptest.Server) {
	t.Helper()
	sim := airflowsim.New(airflowsim.Options{Version: version, Username: "medic", Password: "pw"})
	require.NoError(t, sim.AddDAG(airflowsim.DAG{
		ID: "orders_etl", Owners: []string{"data-eng"}, Tags: []string{"tier1"},
		Tasks: []airflowsim.Task{
			{ID: "extract", Downstream: []string{"load"}},
			{ID: "load", Operator: "PostgresOperator", Downstream: []string{"report"}},
			{ID: "report"},
		},
	}))
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	return sim, srv
}

var undefinedColumn = airflowsim.Failure("{taskinstance.py:2905} ERROR - Task failed with exception\n" +
	"Traceback (most recent call last):\n" +
	"  File \"/opt/airflow/dags/orders.py\", line 41, in load\n" +
	"    cur.execute(SQL)\n" +
	"psycopg2.errors.UndefinedColumn: column \"customer_ref\" does not exist\n" +
	"LINE 1: SELECT customer_ref FROM staging.orders\n")

func testConfig(dbPath, airflowURL string, version int) *config.Config {
	cfg := config.Default()
	cfg.Database.URL = dbPath
	cfg.Ingest.Webhook.Secret = config.NewSecret(testSecret)
	cfg.Notify.Console.Enabled = true
	inst := config.DefaultAirflowInstance()
	inst.Name, inst.URL, inst.Version = "main", airflowURL, fmt.Sprint(version)
	inst.Username, inst.Password = "medic", config.NewSecret("pw")
	inst.Poll.Enabled = false // tests poll on demand, with their own poller
	cfg.Airflow.Instances = []config.AirflowInstance{inst}
	// Each test plays its own failures; the storm tests turn coalescing on.
	cfg.Ingest.Coalesce.Enabled = false
	return cfg
}

// syncBuffer is a bytes.Buffer safe for the notifier and the test to share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func startApp(t *testing.T, cfg *config.Config, out *syncBuffer) *app.App {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	a, err := app.New(context.Background(), app.Options{Config: cfg, Listener: ln, Stdout: out})
	require.NoError(t, err)
	require.NoError(t, a.Start(context.Background()))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		require.NoError(t, a.Stop(ctx))
	})
	return a
}

func postCallback(t *testing.T, addr string, payload map[string]any) int {
	t.Helper()
	body, err := json.Marshal(payload)
	require.NoError(t, err)
	req, err := http.NewRequest(http.MethodPost, "http://"+addr+"/api/v1/events", bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(ingest.SignatureHeader, ingest.Sign([]byte(testSecret), body))
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	return resp.StatusCode
}

func failurePayload(f airflowsim.TaskFailure) map[string]any {
	return map[string]any{
		"dag_id": f.DagID, "run_id": f.RunID, "task_id": f.TaskID, "try_number": f.TryNumber,
		"exception": f.Exception, "owner": f.Owner,
	}
}

// waitTriaged polls until the store shows want incidents, all reported.
func waitTriaged(t *testing.T, st store.Store, want int) []*incident.Incident {
	t.Helper()
	var list *store.IncidentListResult
	require.Eventually(t, func() bool {
		var err error
		list, err = st.IncidentList(context.Background(), &store.IncidentListParams{})
		require.NoError(t, err)
		if list.Total != want {
			return false
		}
		for _, in := range list.Incidents {
			if !in.Decided() || in.NotifiedAt == nil {
				return false
			}
		}
		return true
	}, 30*time.Second, 50*time.Millisecond)
	return list.Incidents
}

// treeFindings returns the findings of every session of an incident's
// investigation: the commander's, then each specialist's.
func treeFindings(t *testing.T, st store.Store, rootID string) []*incident.Finding {
	t.Helper()
	ctx := context.Background()
	out, err := st.FindingListBySession(ctx, rootID)
	require.NoError(t, err)
	kids, err := st.SessionListChildren(ctx, rootID)
	require.NoError(t, err)
	for _, k := range kids {
		fs, err := st.FindingListBySession(ctx, k.ID)
		require.NoError(t, err)
		out = append(out, fs...)
	}
	return out
}

// stepsBySession counts each session's steps, by agent; the root session
// is "root" (the store names it).
func stepsBySession(t *testing.T, st store.Store, rootID string) map[string]map[string]int {
	t.Helper()
	ctx := context.Background()
	root, err := st.SessionGetByID(ctx, rootID)
	require.NoError(t, err)
	kids, err := st.SessionListChildren(ctx, rootID)
	require.NoError(t, err)
	out := map[string]map[string]int{}
	for _, s := range append([]*incident.Session{root}, kids...) {
		fs, err := st.FindingListBySession(ctx, s.ID)
		require.NoError(t, err)
		name := s.Agent
		if s.ParentID == "" {
			name = "root"
		}
		out[name] = map[string]int{}
		for _, f := range fs {
			out[name][f.Step]++
		}
	}
	return out
}

func TestSameFailureFromCallbacksAndPollerIsOneIncident(t *testing.T) {
	t.Parallel()
	for _, version := range []int{2, 3} {
		t.Run(fmt.Sprintf("airflow%d", version), func(t *testing.T) {
			t.Parallel()
			sim, srv := newSim(t, version)
			var failures []airflowsim.TaskFailure
			var mu sync.Mutex
			sim.OnTaskFailed(func(f airflowsim.TaskFailure) { mu.Lock(); failures = append(failures, f); mu.Unlock() })
			out := &syncBuffer{}
			a := startApp(t, testConfig(filepath.Join(t.TempDir(), "medic.db"), srv.URL, version), out)

			_, err := sim.StartRun("orders_etl", testRun, time.Date(2026, 5, 1, 2, 0, 0, 0, time.UTC),
				map[string][]airflowsim.Outcome{"load": {undefinedColumn}})
			require.NoError(t, err)
			mu.Lock()
			require.Len(t, failures, 1)
			f := failures[0]
			mu.Unlock()
			for range 3 {
				require.Equal(t, http.StatusAccepted, postCallback(t, a.Addr(), failurePayload(f)))
			}
			client, err := airflow.New(airflow.Options{Name: "main", BaseURL: srv.URL, Version: fmt.Sprint(version), Username: "medic", Password: "pw"})
			require.NoError(t, err)
			poller := ingest.NewPoller(client, a.Ingest(), a.Store(), ingest.PollerOptions{
				Instance: "main", Interval: time.Hour,
				Lookback: 24 * time.Hour, Logger: slog.New(slog.DiscardHandler),
			})
			n, err := poller.PollOnce(context.Background())
			require.NoError(t, err)
			require.Zero(t, n, "the poller finds the failure the callbacks already reported")

			incs := waitTriaged(t, a.Store(), 1)
			inc := incs[0]
			require.Equal(t, incident.StateEscalated, inc.State)
			events, err := a.Store().EventListByIncident(context.Background(), inc.ID)
			require.NoError(t, err)
			require.Len(t, events, 1)
			require.Equal(t, 4, events[0].Deliveries)
			require.Contains(t, events[0].Exception, "UndefinedColumn")

			sum := triage.Decode(treeFindings(t, a.Store(), inc.TriageSessionID))
			require.Empty(t, sum.Errors)
			require.NotNil(t, sum.Run)
			require.Equal(t, "failed", sum.Run.State)
			require.Equal(t, "load", sum.Run.FirstFailingTask)
			require.NotNil(t, sum.Failed)
			require.Equal(t, []string{"report"}, sum.Failed.UpstreamFailed)
			require.NotNil(t, sum.Frequency)
			require.Equal(t, "one-off", sum.Frequency.Pattern)
			require.NotNil(t, sum.Log)
			require.Contains(t, sum.Log.Headline, `column "customer_ref" does not exist`)
			require.Equal(t, 1, strings.Count(out.String(), "INCIDENT "+inc.ID), "reported exactly once")
			require.Contains(t, out.String(), "Investigation: incident-commander → log-analyzer completed")
			require.Contains(t, out.String(), "Next action: data-eng: ")
			root, err := a.Store().SessionGetByID(context.Background(), inc.TriageSessionID)
			require.NoError(t, err)
			require.Equal(t, incident.SessionCompleted, root.Status)
			rep, err := investigate.ParseReport(root.Result)
			require.NoError(t, err)
			require.NotNil(t, rep, "the commander composed its report")
			require.Len(t, rep.Specialists, 3)
			require.Equal(t, "SCHEMA_CHANGE", string(rep.RootCause.Label))

			resp, err := http.Get("http://" + a.Addr() + "/metrics")
			require.NoError(t, err)
			metrics, err := io.ReadAll(resp.Body)
			require.NoError(t, err)
			require.NoError(t, resp.Body.Close())
			require.Contains(t, string(metrics), `medic_triage_completed_total{status="completed"} 1`)
			require.Contains(t, string(metrics), "medic_triage_duration_seconds_count 1")
			require.Contains(t, string(metrics), `medic_failure_events_total{result="duplicate",source="callback"} 2`)
		})
	}
}

// TestCrashBeforeTriageFinishesCompletesOnceAfterRestart kills a real medic
// process with SIGKILL while a triage is half done, starts medic again on the
// same database, and checks the incident is triaged exactly once.
func TestCrashBeforeTriageFinishesCompletesOnceAfterRestart(t *testing.T) {
	t.Parallel()
	sim, srv := newSim(t, 3)
	var failures []airflowsim.TaskFailure
	var mu sync.Mutex
	sim.OnTaskFailed(func(f airflowsim.TaskFailure) { mu.Lock(); failures = append(failures, f); mu.Unlock() })
	_, err := sim.StartRun("orders_etl", testRun, time.Date(2026, 5, 1, 2, 0, 0, 0, time.UTC),
		map[string][]airflowsim.Outcome{"load": {undefinedColumn}})
	require.NoError(t, err)
	// The log fetch hangs, so the first process dies in the middle of triage.
	sim.SetFault(airflowsim.Fault{PathPrefix: "/api/v2/dags/orders_etl/dagRuns/" + testRun + "/taskInstances/load/logs", Hang: true})

	dir := t.TempDir()
	db := filepath.Join(dir, "medic.db")
	addrFile := filepath.Join(dir, "addr")
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "MEDIC_TEST_DAEMON=1", "MEDIC_TEST_DB="+db, "MEDIC_TEST_AIRFLOW="+srv.URL,
		"MEDIC_TEST_ADDR_FILE="+addrFile)
	var stderr syncBuffer
	cmd.Stderr = &stderr
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })

	var addr string
	require.Eventually(t, func() bool {
		b, err := os.ReadFile(addrFile)
		addr = strings.TrimSpace(string(b))
		return err == nil && addr != ""
	}, 20*time.Second, 20*time.Millisecond, "daemon did not start: %s", stderr.String())
	mu.Lock()
	f := failures[0]
	mu.Unlock()
	require.Equal(t, http.StatusAccepted, postCallback(t, addr, failurePayload(f)))

	// Wait until triage has recorded its first steps and is stuck on the log.
	ro, err := sqlite.Open(context.Background(), sqlite.Options{Path: db, ReadOnly: true})
	require.NoError(t, err)
	var inc *incident.Incident
	require.Eventually(t, func() bool {
		list, err := ro.IncidentList(context.Background(), &store.IncidentListParams{})
		if err != nil || list.Total != 1 {
			return false
		}
		inc = list.Incidents[0]
		steps := stepsBySession(t, ro, inc.TriageSessionID)
		return len(steps["root"]) == 3 && steps["log-analyzer"]["frequency"] == 1
	}, 20*time.Second, 20*time.Millisecond, "the log-analyzer did not reach the log step: %s", stderr.String())
	running, err := ro.SessionListChildren(context.Background(), inc.TriageSessionID)
	require.NoError(t, err)
	require.Len(t, running, 3, "the commander started its specialists")
	for _, k := range running {
		if k.Agent == "log-analyzer" {
			require.Equal(t, incident.SessionRunning, k.Status, "killed while the log-analyzer runs")
		}
	}
	require.NoError(t, ro.Close())

	require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
	_ = cmd.Wait()
	sim.ClearFaults()

	// The same failure arrives again (a redelivery) while medic restarts.
	out := &syncBuffer{}
	a := startApp(t, testConfig(db, srv.URL, 3), out)
	require.Equal(t, http.StatusAccepted, postCallback(t, a.Addr(), failurePayload(f)))
	incs := waitTriaged(t, a.Store(), 1)
	require.Equal(t, inc.ID, incs[0].ID)

	ctx := context.Background()
	require.Equal(t, map[string]map[string]int{
		"root":           {"resolve": 1, "run_summary": 1, "failed_tasks": 1, "remediate.decision": 1},
		"log-analyzer":   {"frequency": 1, "log_excerpt": 1, "history": 1, "memory": 1},
		"query-profiler": {"warehouse": 1},
		"owner-notifier": {"owners": 1},
	}, stepsBySession(t, a.Store(), inc.TriageSessionID), "each step recorded once, in its own session")
	require.Empty(t, triage.Decode(treeFindings(t, a.Store(), inc.TriageSessionID)).Errors)
	kids, err := a.Store().SessionListChildren(ctx, inc.TriageSessionID)
	require.NoError(t, err)
	for _, k := range kids {
		require.Equal(t, incident.SessionCompleted, k.Status, "%s resumed and finished: %s", k.Agent, k.Error)
	}
	got, err := a.Store().IncidentGetByID(ctx, inc.ID)
	require.NoError(t, err)
	res, err := a.Memory().Lookup(ctx, memory.Query{Signature: got.Signature}, 0)
	require.NoError(t, err)
	require.NotEmpty(t, res.Exact, "triage remembered the failure in the wired memory")
	audit, err := a.Store().AuditList(ctx, &store.AuditListParams{IncidentID: inc.ID})
	require.NoError(t, err)
	counts := map[string]int{}
	for _, e := range audit {
		counts[e.Action]++
	}
	require.Equal(t, 1, counts["incident.opened"])
	require.Equal(t, 1, counts["incident.triaged"])
	require.Equal(t, 1, counts["incident.notified"])
	require.Equal(t, 1, strings.Count(out.String(), "INCIDENT "+inc.ID))
	events, err := a.Store().EventListByIncident(ctx, inc.ID)
	require.NoError(t, err)
	require.Len(t, events, 1)
	require.Equal(t, 2, events[0].Deliveries)
}

// runHelperDaemon is the child process of the crash test: a real medic
// daemon that the test kills with SIGKILL.
func runHelperDaemon() int {
	cfg := testConfig(os.Getenv("MEDIC_TEST_DB"), os.Getenv("MEDIC_TEST_AIRFLOW"), 3)
	cfg.Triage.StepTimeout = time.Minute
	cfg.Airflow.Instances[0].Timeout = time.Minute
	if os.Getenv("MEDIC_TEST_REMEDIATE") == "1" {
		remediation(&cfg.Remediate)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	a, err := app.New(ctx, app.Options{Config: cfg, Listener: ln, Stdout: os.Stderr})
	if err == nil {
		err = a.Start(ctx)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if err := os.WriteFile(os.Getenv("MEDIC_TEST_ADDR_FILE"), []byte(a.Addr()), 0o600); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	<-ctx.Done()
	return 0
}

// TestTemplateIDsSurviveRestart checks that the templates mined from task
// logs, and their ids, are the same after medic restarts on its database.
func TestTemplateIDsSurviveRestart(t *testing.T) {
	t.Parallel()
	sim, srv := newSim(t, 2)
	var failures []airflowsim.TaskFailure
	var mu sync.Mutex
	sim.OnTaskFailed(func(f airflowsim.TaskFailure) { mu.Lock(); failures = append(failures, f); mu.Unlock() })
	_, err := sim.StartRun("orders_etl", testRun, time.Date(2026, 5, 1, 2, 0, 0, 0, time.UTC),
		map[string][]airflowsim.Outcome{"load": {undefinedColumn}})
	require.NoError(t, err)
	db := filepath.Join(t.TempDir(), "medic.db")

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	a, err := app.New(context.Background(), app.Options{Config: testConfig(db, srv.URL, 2), Listener: ln})
	require.NoError(t, err)
	require.NoError(t, a.Start(context.Background()))
	mu.Lock()
	f := failures[0]
	mu.Unlock()
	require.Equal(t, http.StatusAccepted, postCallback(t, a.Addr(), failurePayload(f)))
	incs := waitTriaged(t, a.Store(), 1)
	ex := triage.Decode(treeFindings(t, a.Store(), incs[0].TriageSessionID)).Log
	require.NotNil(t, ex)
	require.NotEmpty(t, ex.Templates, "the error lines were mined")
	require.NotNil(t, ex.Signature)
	before := a.Templates().Templates()
	require.NotEmpty(t, before)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, a.Stop(ctx))

	b := startApp(t, testConfig(db, srv.URL, 2), &syncBuffer{})
	after := b.Templates().Templates()
	require.Equal(t, before, after, "the same templates with the same ids after a restart")
	for _, lt := range ex.Templates {
		got, ok := b.Templates().Lookup(lt.ID)
		require.True(t, ok, "template %s of line %d is known after the restart", lt.ID, lt.Line)
		require.Equal(t, lt.ID, got.ID)
	}
}

// TestSameFailureAgainFindsItsHistory checks that a failure seen in an
// earlier run is recognised by its signature and listed as history.
func TestSameFailureAgainFindsItsHistory(t *testing.T) {
	t.Parallel()
	sim, srv := newSim(t, 3)
	var failures []airflowsim.TaskFailure
	var mu sync.Mutex
	sim.OnTaskFailed(func(f airflowsim.TaskFailure) { mu.Lock(); failures = append(failures, f); mu.Unlock() })
	a := startApp(t, testConfig(filepath.Join(t.TempDir(), "medic.db"), srv.URL, 3), &syncBuffer{})
	for day := 1; day <= 2; day++ {
		run := fmt.Sprintf("scheduled__2026-05-0%dT02:00:00+00:00", day)
		_, err := sim.StartRun("orders_etl", run, time.Date(2026, 5, day, 2, 0, 0, 0, time.UTC),
			map[string][]airflowsim.Outcome{"load": {undefinedColumn}})
		require.NoError(t, err)
		mu.Lock()
		f := failures[len(failures)-1]
		mu.Unlock()
		require.Equal(t, http.StatusAccepted, postCallback(t, a.Addr(), failurePayload(f)))
		waitTriaged(t, a.Store(), day)
	}
	list, err := a.Store().IncidentList(context.Background(), &store.IncidentListParams{})
	require.NoError(t, err)
	second, first := list.Incidents[0], list.Incidents[1]
	require.NotEmpty(t, first.Signature)
	require.Equal(t, first.Signature, second.Signature, "the same failure has the same signature in another run")
	h := triage.Decode(treeFindings(t, a.Store(), second.TriageSessionID)).History
	require.NotNil(t, h)
	require.Equal(t, 1, h.Total)
	require.Equal(t, first.ID, h.Previous[0].ID)
	require.Zero(t, triage.Decode(treeFindings(t, a.Store(), first.TriageSessionID)).History.Total, "the first occurrence has no history")
}

// TestInvestigationConfiguration: a definition that does not load, or a
// warehouse URL that does not parse, stops medic at start with its place.
func TestInvestigationConfiguration(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		edit  func(t *testing.T, cfg *config.Config)
		want  string
		agent bool
	}{
		{
			name: "an unknown tool in agents_dir",
			edit: func(t *testing.T, cfg *config.Config) {
				dir := t.TempDir()
				require.NoError(t, os.WriteFile(filepath.Join(dir, "dbt.yaml"), []byte("name: dbt-checker\nrole: specialist\nengine: log-analyzer\n"+
					"instructions: Read dbt logs.\ntools: [failure_frequency, airflow_task_log, extract_errors, classify_failure, failure_history, find_similar_failures, shell]\n"), 0o600))
				cfg.Investigate.AgentsDir = dir
			},
			want: `dbt.yaml:5: tools[6]: "shell" is not a tool`,
		},
		{
			name: "invoke_agent in a specialist",
			edit: func(t *testing.T, cfg *config.Config) {
				dir := t.TempDir()
				require.NoError(t, os.WriteFile(filepath.Join(dir, "owners.yaml"), []byte("name: owner-notifier\nrole: specialist\nengine: owner-notifier\n"+
					"instructions: Find owners.\ntools:\n  - owners_lookup\n  - lineage_impact\n  - invoke_agent\n"), 0o600))
				cfg.Investigate.AgentsDir = dir
			},
			want: "owners.yaml:8: tools[2]: invoke_agent: only the commander may start other agents",
		},
		{
			name: "a missing agents_dir",
			edit: func(t *testing.T, cfg *config.Config) {
				cfg.Investigate.AgentsDir = filepath.Join(t.TempDir(), "absent")
			},
			want: "read agent definitions",
		},
		{
			name: "a warehouse URL that does not parse",
			edit: func(_ *testing.T, cfg *config.Config) {
				w := config.DefaultWarehouseConnection()
				w.Name, w.URL = "analytics", config.NewSecret("postgres://profiler:pw@[::1")
				cfg.Warehouse.Connections = &[]config.WarehouseConnection{w}
			},
			want: "app: warehouse.connections analytics: postgres warehouse analytics: parse connection URL",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := testConfig(filepath.Join(t.TempDir(), "medic.db"), "http://127.0.0.1:1", 3)
			tt.edit(t, cfg)
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			require.NoError(t, err)
			defer ln.Close()
			_, err = app.New(context.Background(), app.Options{Config: cfg, Listener: ln})
			require.ErrorContains(t, err, tt.want)
			require.NotContains(t, err.Error(), "profiler:pw", "the warehouse URL is a secret")
		})
	}
}

// TestWarehouseConfigured wires a warehouse that is down: the
// investigation still completes, and the query-profiler says why it could
// not read it.
func TestWarehouseConfigured(t *testing.T) {
	t.Parallel()
	sim, srv := newSim(t, 3)
	var failures []airflowsim.TaskFailure
	var mu sync.Mutex
	sim.OnTaskFailed(func(f airflowsim.TaskFailure) { mu.Lock(); failures = append(failures, f); mu.Unlock() })
	cfg := testConfig(filepath.Join(t.TempDir(), "medic.db"), srv.URL, 3)
	w := config.DefaultWarehouseConnection()
	w.Name, w.URL, w.ConnectTimeout = "analytics", config.NewSecret("postgres://profiler:pw@127.0.0.1:1/analytics?sslmode=disable"), time.Second
	cfg.Warehouse.Connections = &[]config.WarehouseConnection{w}
	out := &syncBuffer{}
	a := startApp(t, cfg, out)
	_, err := sim.StartRun("orders_etl", testRun, time.Date(2026, 5, 1, 2, 0, 0, 0, time.UTC), map[string][]airflowsim.Outcome{"load": {undefinedColumn}})
	require.NoError(t, err)
	mu.Lock()
	f := failures[0]
	mu.Unlock()
	require.Equal(t, http.StatusAccepted, postCallback(t, a.Addr(), failurePayload(f)))
	inc := waitTriaged(t, a.Store(), 1)[0]
	kids, err := a.Store().SessionListChildren(context.Background(), inc.TriageSessionID)
	require.NoError(t, err)
	for _, k := range kids {
		if k.Agent != "query-profiler" {
			continue
		}
		require.Equal(t, incident.SessionPartial, k.Status)
		res, err := investigate.ParseResult(k.Result)
		require.NoError(t, err)
		require.True(t, res.Warehouse.Configured)
		require.Len(t, res.Warehouse.Profiles, 1)
		require.NotEmpty(t, res.Warehouse.Profiles[0].Errors)
	}
	require.Contains(t, out.String(), "Warehouse analytics (postgres)")
	require.NotContains(t, out.String(), "profiler:pw")
}
