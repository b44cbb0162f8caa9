package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medic-sh/medic/internal/airflow/airflowsim"
	"github.com/medic-sh/medic/internal/app"
	"github.com/medic-sh/medic/internal/audit"
	"github.com/medic-sh/medic/internal/config"
	"github.com/medic-sh/medic/internal/incident"
	"github.com/medic-sh/medic/internal/store"
	"github.com/medic-sh/medic/internal/store/sqlite"
)

// sigterm is a worker killed from outside: INFRA, retry-safe, fixed by a
// clear.
var sigterm = airflowsim.Failure("{taskinstance.py:1157} INFO - Starting attempt 1 of 1\n" +
	"{local_task_job_runner.py:123} ERROR - Received SIGTERM. Terminating subprocesses.\n" +
	"{taskinstance.py:2905} ERROR - Task failed with exception\n" +
	"Traceback (most recent call last):\n" +
	"  File \"/usr/local/lib/python3.11/site-packages/airflow/models/taskinstance.py\", line 465, in _execute_task\n" +
	"    result = _execute_callable(context=context, **execute_callable_kwargs)\n" +
	"airflow.exceptions.AirflowTaskTerminated: Task received SIGTERM signal\n")

var succeeded = airflowsim.Success("{taskinstance.py:1157} INFO - loaded 1200 rows\n")

// rig is one DAG on the stand-in and a medic that remediates it, restarted
// on the same database when a test changes its configuration.
type rig struct {
	t   *testing.T
	sim *airflowsim.Server
	url string
	db  string
	a   *app.App
	out *syncBuffer
	day int

	mu       sync.Mutex
	failures []airflowsim.TaskFailure
}

func newRig(t *testing.T) *rig {
	t.Helper()
	sim, srv := newSim(t, 3)
	r := &rig{t: t, sim: sim, url: srv.URL, db: filepath.Join(t.TempDir(), "medic.db"), out: &syncBuffer{}}
	sim.OnTaskFailed(func(f airflowsim.TaskFailure) { r.mu.Lock(); r.failures = append(r.failures, f); r.mu.Unlock() })
	return r
}

// config is remediation for orders_etl: INFRA is auto (a precedent fixed
// once suffices: similarity × trust 1 × 2/3 ≥ 0.6), everything else needs
// an approval.
func (r *rig) config(edit func(*config.Remediate)) *config.Config {
	cfg := testConfig(r.db, r.url, 3)
	remediation(&cfg.Remediate)
	if edit != nil {
		edit(&cfg.Remediate)
	}
	return cfg
}

func remediation(rm *config.Remediate) {
	rm.Allow = []string{"orders_etl"}
	rm.Autonomy = []config.AutonomyRule{
		{DAG: "orders_etl", Class: "INFRA", Level: config.AutonomyAuto},
		{DAG: "*", Class: "*", Level: config.AutonomyApprove},
	}
	rm.Gate.Similarity = map[string]float64{config.GateDefault: 0.6}
	rm.Gate.Confidence = map[string]float64{config.GateDefault: 0.5}
	rm.Verify.PollInterval = 20 * time.Millisecond
}

// start (re)starts medic with cfg on the rig's database.
func (r *rig) start(cfg *config.Config) {
	r.t.Helper()
	if r.a != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		require.NoError(r.t, r.a.Stop(ctx))
	}
	r.a = startApp(r.t, cfg, r.out)
}

// fail plays a new run of orders_etl whose load task has the outcomes,
// reports load's failure, and returns the incident once the policy decided.
func (r *rig) fail(outcomes ...airflowsim.Outcome) *incident.Incident {
	r.t.Helper()
	r.day++
	run := fmt.Sprintf("scheduled__2026-05-%02dT02:00:00+00:00", r.day)
	_, err := r.sim.StartRun("orders_etl", run, time.Date(2026, 5, r.day, 2, 0, 0, 0, time.UTC),
		map[string][]airflowsim.Outcome{"load": outcomes})
	require.NoError(r.t, err)
	r.mu.Lock()
	f := r.failures[len(r.failures)-1]
	r.mu.Unlock()
	require.Equal(r.t, run, f.RunID)
	require.Equal(r.t, http.StatusAccepted, postCallback(r.t, r.a.Addr(), failurePayload(f)))
	var inc *incident.Incident
	require.Eventually(r.t, func() bool {
		list, err := r.a.Store().IncidentList(context.Background(), &store.IncidentListParams{})
		require.NoError(r.t, err)
		for _, in := range list.Incidents {
			if in.RunID == run && in.Decided() {
				inc = in
				return true
			}
		}
		return false
	}, time.Minute, 20*time.Millisecond, "incident of %s decided", run)
	return inc
}

// settle waits until the incident is in one of the states medic stops in.
func (r *rig) settle(id string, states ...incident.State) *incident.Incident {
	r.t.Helper()
	var got *incident.Incident
	require.Eventually(r.t, func() bool {
		var err error
		got, err = r.a.Store().IncidentGetByID(context.Background(), id)
		require.NoError(r.t, err)
		return slices.Contains(states, got.State)
	}, time.Minute, 20*time.Millisecond, "incident %s reaches %v", id, states)
	return got
}

// tryOf is load's try number in the run, to tell whether anything cleared it.
func (r *rig) tryOf(run string) (int, string) {
	dr, ok := r.sim.DagRun("orders_etl", run)
	require.True(r.t, ok)
	ti := dr.TaskInstance("load")
	return ti.TryNumber, ti.State
}

// post sends an API request as the local (loopback) operator.
func (r *rig) post(path string, body any) (int, map[string]any) {
	r.t.Helper()
	raw, err := json.Marshal(body)
	require.NoError(r.t, err)
	resp, err := http.Post("http://"+r.a.Addr()+path, "application/json", bytes.NewReader(raw))
	require.NoError(r.t, err)
	defer resp.Body.Close()
	var out map[string]any
	require.NoError(r.t, json.NewDecoder(resp.Body).Decode(&out))
	return resp.StatusCode, out
}

// pending returns the incident's one approval, once stored: the incident
// awaits approval just before its approval is stored.
func (r *rig) pending(incidentID string) *incident.Approval {
	r.t.Helper()
	var list []*incident.Approval
	require.Eventually(r.t, func() bool {
		var err error
		list, err = r.a.Store().ApprovalList(context.Background(), &store.ApprovalListParams{IncidentID: incidentID})
		require.NoError(r.t, err)
		return len(list) > 0
	}, time.Minute, 10*time.Millisecond, "an approval for the incident")
	require.Len(r.t, list, 1, "one approval for the incident")
	return list[0]
}

// auditActions lists the incident's audit actions in order, and checks the
// chain on the way.
func (r *rig) auditActions(incidentID string) []string {
	r.t.Helper()
	all, err := r.a.Store().AuditList(context.Background(), &store.AuditListParams{Limit: store.MaxListLimit})
	require.NoError(r.t, err)
	slices.SortFunc(all, func(a, b *incident.AuditEntry) int { return int(a.ID - b.ID) })
	res, err := audit.Verify(all)
	require.NoError(r.t, err)
	require.True(r.t, res.Intact, "audit chain intact: %+v", res)
	var out []string
	for _, e := range all {
		if e.IncidentID == incidentID {
			out = append(out, e.Action)
		}
	}
	return out
}

func (r *rig) decision(inc *incident.Incident) map[string]any {
	r.t.Helper()
	fs, err := r.a.Store().FindingListBySession(context.Background(), inc.TriageSessionID)
	require.NoError(r.t, err)
	for _, f := range fs {
		if f.Step == "remediate.decision" {
			var rec map[string]any
			require.NoError(r.t, json.Unmarshal(f.Data, &rec))
			return rec["decision"].(map[string]any)
		}
	}
	r.t.Fatalf("incident %s has no decision", inc.ID)
	return nil
}

// reasons renders a decision's reasons as "rule result" lines.
func reasons(d map[string]any) string {
	var b strings.Builder
	for _, x := range d["reasons"].([]any) {
		m := x.(map[string]any)
		fmt.Fprintf(&b, "%s %s: %s\n", m["rule"], m["result"], m["detail"])
	}
	return b.String()
}

// learn fixes a first SIGTERM failure through an approval, so that memory
// holds a precedent that clear_failed_tasks verifiably fixed.
func (r *rig) learn() {
	r.t.Helper()
	inc := r.fail(sigterm, succeeded)
	require.Equal(r.t, incident.StateAwaitingApproval, inc.State, "no precedent yet: the gate's first stage fails\n%s", reasons(r.decision(inc)))
	a := r.pending(inc.ID)
	code, body := r.post("/api/v1/approvals/"+a.ID+"/approve", map[string]any{"reason": "looks transient"})
	require.Equal(r.t, http.StatusOK, code, "%v", body)
	r.settle(inc.ID, incident.StateResolved)
}

func TestRemediationProposedApprovedExecutedVerified(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	r.start(r.config(nil))
	inc := r.fail(sigterm, succeeded)
	require.Equal(t, incident.StateAwaitingApproval, inc.State)
	d := r.decision(inc)
	require.Equal(t, "propose", d["outcome"])
	require.Contains(t, reasons(d), "gate.stage1 fail: no precedent in memory")
	a := r.pending(inc.ID)
	require.Equal(t, "clear_failed_tasks", a.Action)
	require.Contains(t, string(a.Preview), `"would_clear"`, "the approval carries its dry run")
	try, state := r.tryOf(inc.RunID)
	require.Equal(t, 1, try, "a proposal changes nothing in Airflow")
	require.Equal(t, "failed", state)

	code, body := r.post("/api/v1/approvals/"+a.ID+"/approve", map[string]any{"reason": "looks transient"})
	require.Equal(t, http.StatusOK, code, "%v", body)
	got := r.settle(inc.ID, incident.StateResolved, incident.StateEscalated)
	require.Equal(t, incident.StateResolved, got.State)
	try, state = r.tryOf(inc.RunID)
	require.Equal(t, 2, try, "cleared once")
	require.Equal(t, "success", state)

	a, err := r.a.Store().ApprovalGet(context.Background(), a.ID)
	require.NoError(t, err)
	require.Equal(t, incident.ApprovalExecuted, a.Status)
	require.Equal(t, "local", a.DecidedBy)
	run, err := r.a.Store().ActionGet(context.Background(), a.IdempotencyKey)
	require.NoError(t, err)
	require.Equal(t, incident.VerificationVerified, run.Verification)
	require.Equal(t, 1, run.Attempts)
	rec, ok := r.a.Memory().Get(inc.ID)
	require.True(t, ok)
	require.Equal(t, 1, rec.Fixed, "the verified fix feeds the memory's trust")
	require.Equal(t, "retry", rec.Action, "recorded in the diagnosis vocabulary")

	// Replaying the approval is refused and runs nothing again.
	code, body = r.post("/api/v1/approvals/"+a.ID+"/approve", map[string]any{})
	require.Equal(t, http.StatusConflict, code, "%v", body)
	try, _ = r.tryOf(inc.RunID)
	require.Equal(t, 2, try)

	acts := r.auditActions(inc.ID)
	for _, want := range []string{
		"remediation.decided", "approval.requested", "approval.approved", "approval.executed",
		"action.started", "action.finished", "action.verified",
	} {
		require.Contains(t, acts, want)
	}
	require.Equal(t, "incident.transition", acts[len(acts)-1], "the incident's last entry is its resolution")
}

func TestRemediationAutoFixedAndVerified(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	r.start(r.config(nil))
	r.learn()

	inc := r.fail(sigterm, succeeded)
	d := r.decision(inc)
	require.Equal(t, "execute", d["outcome"], reasons(d))
	gate := d["gate"].(map[string]any)
	require.Equal(t, true, gate["stage1"])
	require.Equal(t, true, gate["stage2"])
	got := r.settle(inc.ID, incident.StateResolved, incident.StateEscalated)
	require.Equal(t, incident.StateResolved, got.State)
	try, state := r.tryOf(inc.RunID)
	require.Equal(t, 2, try)
	require.Equal(t, "success", state)
	list, err := r.a.Store().ApprovalList(context.Background(), &store.ApprovalListParams{IncidentID: inc.ID})
	require.NoError(t, err)
	require.Empty(t, list, "auto needs no approval")
}

func TestRemediationRejected(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	r.start(r.config(nil))
	inc := r.fail(sigterm, succeeded)
	a := r.pending(inc.ID)
	code, body := r.post("/api/v1/approvals/"+a.ID+"/reject", map[string]any{})
	require.Equal(t, http.StatusBadRequest, code, "a rejection needs a reason: %v", body)
	code, body = r.post("/api/v1/approvals/"+a.ID+"/reject", map[string]any{"reason": "the warehouse is being migrated"})
	require.Equal(t, http.StatusOK, code, "%v", body)
	got := r.settle(inc.ID, incident.StateEscalated)
	require.Equal(t, incident.StateEscalated, got.State)
	try, _ := r.tryOf(inc.RunID)
	require.Equal(t, 1, try, "nothing cleared")
	_, err := r.a.Store().ActionGet(context.Background(), a.IdempotencyKey)
	require.ErrorIs(t, err, store.ErrNotFound)
	code, _ = r.post("/api/v1/approvals/"+a.ID+"/approve", map[string]any{})
	require.Equal(t, http.StatusConflict, code, "a rejected proposal cannot be approved later")
	require.Contains(t, r.auditActions(inc.ID), "approval.rejected")
}

func TestRemediationAutoFailsVerificationAndEscalates(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	r.start(r.config(nil))
	r.learn()

	inc := r.fail(sigterm, sigterm)
	require.Equal(t, "execute", r.decision(inc)["outcome"])
	got := r.settle(inc.ID, incident.StateResolved, incident.StateEscalated)
	require.Equal(t, incident.StateEscalated, got.State)
	try, state := r.tryOf(inc.RunID)
	require.Equal(t, 2, try, "cleared once, never again without a person")
	require.Equal(t, "failed", state)
	rec, ok := r.a.Memory().Get(inc.ID)
	require.True(t, ok)
	require.Equal(t, 1, rec.Failed, "the failed fix lowers the memory's trust")

	// The same failure in the same run again (a redelivery after the
	// escalation) changes nothing.
	r.mu.Lock()
	f := r.failures[len(r.failures)-1]
	r.mu.Unlock()
	require.Equal(t, http.StatusAccepted, postCallback(t, r.a.Addr(), failurePayload(f)))
	time.Sleep(300 * time.Millisecond)
	try, _ = r.tryOf(inc.RunID)
	require.Equal(t, 2, try)
	acts := r.auditActions(inc.ID)
	require.Contains(t, acts, "action.verified")
	require.Equal(t, 1, count(acts, "action.started"))
}

func TestRemediationKillSwitch(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	r.start(r.config(nil))
	r.learn()
	code, body := r.post("/api/v1/actions/pause", map[string]any{"reason": "warehouse migration tonight"})
	require.Equal(t, http.StatusOK, code, "%v", body)

	inc := r.fail(sigterm, succeeded)
	require.Equal(t, incident.StateEscalated, inc.State)
	d := r.decision(inc)
	require.Equal(t, "refuse", d["outcome"])
	require.Contains(t, reasons(d), "kill_switch fail")
	try, _ := r.tryOf(inc.RunID)
	require.Equal(t, 1, try)
}

func TestRemediationShadowMode(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	r.start(r.config(nil))
	r.learn()
	r.start(r.config(func(rm *config.Remediate) { rm.Shadow = true }))

	inc := r.fail(sigterm, succeeded)
	require.Equal(t, incident.StateEscalated, inc.State)
	d := r.decision(inc)
	require.Equal(t, "shadow", d["outcome"], reasons(d))
	require.Contains(t, reasons(d), "shadow cap")
	try, _ := r.tryOf(inc.RunID)
	require.Equal(t, 1, try, "shadow mode acts not")
	require.Contains(t, r.auditActions(inc.ID), "action.shadow")
}

func TestRemediationBudgetExhausted(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	r.start(r.config(func(rm *config.Remediate) { rm.Budgets.PerDagPerDay = 1 }))
	r.learn() // one action on orders_etl today

	inc := r.fail(sigterm, succeeded)
	require.Equal(t, incident.StateEscalated, inc.State)
	d := r.decision(inc)
	require.Equal(t, "refuse", d["outcome"])
	require.Contains(t, reasons(d), "budget.per_dag_per_day fail: 1 of 1")
	try, _ := r.tryOf(inc.RunID)
	require.Equal(t, 1, try)
}

func count(list []string, s string) int {
	n := 0
	for _, x := range list {
		if x == s {
			n++
		}
	}
	return n
}

// TestCrashAfterAirflowAcceptedAClear kills medic after Airflow applied an
// approved clear and before medic learned so: after the restart the run is
// settled by asking Airflow, nothing is cleared twice, and the incident is
// verified and resolved.
func TestCrashAfterAirflowAcceptedAClear(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	dir := t.TempDir()
	addrFile := filepath.Join(dir, "addr")
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "MEDIC_TEST_DAEMON=1", "MEDIC_TEST_REMEDIATE=1", "MEDIC_TEST_DB="+r.db,
		"MEDIC_TEST_AIRFLOW="+r.url, "MEDIC_TEST_ADDR_FILE="+addrFile)
	var stderr syncBuffer
	cmd.Stderr = &stderr
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	var addr string
	require.Eventually(t, func() bool {
		b, err := os.ReadFile(addrFile)
		addr = strings.TrimSpace(string(b))
		return err == nil && addr != ""
	}, time.Minute, 20*time.Millisecond, "daemon did not start: %s", stderr.String())

	r.day++
	run := fmt.Sprintf("scheduled__2026-05-%02dT02:00:00+00:00", r.day)
	_, err := r.sim.StartRun("orders_etl", run, time.Date(2026, 5, r.day, 2, 0, 0, 0, time.UTC),
		map[string][]airflowsim.Outcome{"load": {sigterm, succeeded}})
	require.NoError(t, err)
	r.mu.Lock()
	f := r.failures[len(r.failures)-1]
	r.mu.Unlock()
	require.Equal(t, http.StatusAccepted, postCallback(t, addr, failurePayload(f)))

	ro, err := sqlite.Open(context.Background(), sqlite.Options{Path: r.db, ReadOnly: true})
	require.NoError(t, err)
	var approval *incident.Approval
	require.Eventually(t, func() bool {
		list, err := ro.ApprovalList(context.Background(), &store.ApprovalListParams{Status: incident.ApprovalPending})
		if err != nil || len(list) != 1 {
			return false
		}
		approval = list[0]
		return true
	}, time.Minute, 20*time.Millisecond, "no proposal: %s", stderr.String())

	// The clear is applied, and its answer never comes back.
	r.sim.SetFault(airflowsim.Fault{PathPrefix: "/api/v2/dags/orders_etl/clearTaskInstances", Method: http.MethodPost, HangAfter: true, Count: 1})
	resp, err := http.Post("http://"+addr+"/api/v1/approvals/"+approval.ID+"/approve", "application/json", strings.NewReader(`{}`))
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Eventually(t, func() bool {
		try, _ := r.tryOf(run)
		return try == 2
	}, time.Minute, 20*time.Millisecond, "Airflow never saw the clear: %s", stderr.String())
	run1, err := ro.ActionGet(context.Background(), approval.IdempotencyKey)
	require.NoError(t, err)
	require.Equal(t, incident.RunStarted, run1.Status, "killed between acting and recording")
	require.NoError(t, ro.Close())
	require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
	_ = cmd.Wait()

	cfg := r.config(nil)
	cfg.Jobs.RescueAfter, cfg.Jobs.JobTimeout = time.Second, time.Second // take over the dead process's job soon
	r.start(cfg)
	got := r.settle(approval.IncidentID, incident.StateResolved, incident.StateEscalated)
	require.Equal(t, incident.StateResolved, got.State)
	try, state := r.tryOf(run)
	require.Equal(t, 2, try, "cleared once, not again after the restart")
	require.Equal(t, "success", state)
	done, err := r.a.Store().ActionGet(context.Background(), approval.IdempotencyKey)
	require.NoError(t, err)
	require.Equal(t, incident.RunSucceeded, done.Status)
	require.Contains(t, done.Response, "already cleared by an earlier attempt")
	require.Equal(t, incident.VerificationVerified, done.Verification)
	require.Equal(t, 1, count(r.auditActions(got.ID), "action.started"))
	clears := 0
	for _, req := range r.sim.Requests() {
		if req.Method == http.MethodPost && strings.HasSuffix(req.Path, "/clearTaskInstances") {
			clears++
		}
	}
	require.Equal(t, 2, clears, "one dry run for the proposal, one clear")
}

// TestRemediationStormStaysWithinLimits sends 200 failures of one class,
// on 20 DAGs, within a minute, after medic learned that a clear fixes
// them: every one is decided, and the actions taken never exceed the rate
// limit or the budgets, however the decisions interleave.
func TestRemediationStormStaysWithinLimits(t *testing.T) {
	// Not parallel: it runs alone, so that 200 investigations do not starve
	// the other tests (or they it).
	const dags, runsPerDag, rate, perDag = 100, 2, 30, 1
	r := newRig(t)
	for i := range dags {
		require.NoError(t, r.sim.AddDAG(airflowsim.DAG{
			ID: fmt.Sprintf("storm_%02d", i), Owners: []string{"data-eng"},
			Tasks: []airflowsim.Task{{ID: "extract", Downstream: []string{"load"}}, {ID: "load", Downstream: []string{"report"}}, {ID: "report"}},
		}))
	}
	edit := func(rm *config.Remediate) {
		rm.Allow = []string{"orders_etl", "storm_*"}
		rm.Autonomy = append([]config.AutonomyRule{{DAG: "storm_*", Class: "INFRA", Level: config.AutonomyAuto}}, rm.Autonomy...)
		rm.RateLimit.Actions, rm.RateLimit.Per = rate+1, 10*time.Minute // the learning fix is one of them
		rm.Budgets.PerDagPerDay, rm.Budgets.PerTaskInstance = perDag, 1
	}
	cfg := r.config(edit)
	// The stand-in is in-process: no need to protect it like a real Airflow.
	inst := &cfg.Airflow.Instances[0]
	inst.RateLimit, inst.Burst, inst.MaxConcurrency = 1000, 200, 16
	r.start(cfg)
	r.learn()

	start := time.Now()
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for i := range dags {
		for j := range runsPerDag {
			dag := fmt.Sprintf("storm_%02d", i)
			run := fmt.Sprintf("scheduled__2026-06-%02dT02:00:00+00:00", j+1)
			dr, err := r.sim.StartRun(dag, run, time.Date(2026, 6, j+1, 2, 0, 0, 0, time.UTC),
				map[string][]airflowsim.Outcome{"load": {sigterm, succeeded}})
			require.NoError(t, err)
			require.Equal(t, "failed", dr.State)
			ti := dr.TaskInstance("load")
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				require.Equal(t, http.StatusAccepted, postCallback(t, r.a.Addr(), map[string]any{
					"dag_id": dag, "run_id": run, "task_id": "load", "try_number": ti.TryNumber,
					"exception": "AirflowTaskTerminated: Task received SIGTERM signal",
				}))
			}()
		}
	}
	wg.Wait()
	sent := time.Since(start)
	require.Less(t, sent, time.Minute, "the storm arrives within a minute")

	var list *store.IncidentListResult
	states := func() map[incident.State]int {
		out := map[incident.State]int{}
		if list != nil {
			for _, in := range list.Incidents {
				out[in.State]++
			}
		}
		return out
	}
	ok := assert.Eventually(t, func() bool {
		var err error
		list, err = r.a.Store().IncidentList(context.Background(), &store.IncidentListParams{Limit: store.MaxListLimit})
		require.NoError(t, err)
		settled := 0
		for _, in := range list.Incidents {
			if in.Decided() && in.State != incident.StateRemediating && in.State != incident.StateVerifying {
				settled++
			}
		}
		return settled == dags*runsPerDag+1
	}, 5*time.Minute, 100*time.Millisecond)
	require.True(t, ok, "every incident of the storm is decided and settled: %d incidents by state %v", len(list.Incidents), states())
	settled := time.Since(start)
	started, err := r.a.Store().AuditList(context.Background(), &store.AuditListParams{ActionPrefix: "action.started", Limit: store.MaxListLimit})
	require.NoError(t, err)
	byDag := map[string]int{}
	byTask := map[string]int{}
	dagOf := map[string]string{}
	for _, in := range list.Incidents {
		dagOf[in.ID] = in.DagID
	}
	for _, e := range started {
		byDag[dagOf[e.IncidentID]]++
		byTask[e.IncidentID]++
	}
	stormActions := len(started) - byDag["orders_etl"]
	t.Logf("storm: %d failures sent in %s, all triaged, decided and settled %s after the first; %d actions taken (rate limit %d per %s, budget %d per DAG per day); %d DAGs acted on",
		dags*runsPerDag, sent.Round(time.Millisecond), settled.Round(time.Millisecond), stormActions, rate, 10*time.Minute, perDag, len(byDag)-1)
	// On an idle machine exactly the rate limit's actions run; on a loaded
	// one some decisions give up on a slow Airflow and escalate. Either way
	// the limits are never exceeded.
	require.Positive(t, stormActions, "the storm is acted on")
	require.LessOrEqual(t, stormActions, rate, "the rate limit is never exceeded")
	for dag, n := range byDag {
		require.LessOrEqual(t, n, perDag, "DAG %s", dag)
	}
	for id, n := range byTask {
		require.Equal(t, 1, n, "incident %s acted on once", id)
	}
	resolved := 0
	for _, in := range list.Incidents {
		if in.State == incident.StateResolved {
			resolved++
		}
	}
	require.Equal(t, stormActions+1, resolved, "every action taken was verified")
}

// TestRemediationAirflowErrorsMidClear approves a clear that Airflow
// answers with a 500: the run is recorded failed, the incident escalated
// with Airflow's answer, and nothing is tried again on its own.
func TestRemediationAirflowErrorsMidClear(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	r.start(r.config(nil))
	inc := r.fail(sigterm, succeeded)
	a := r.pending(inc.ID)
	r.sim.SetFault(airflowsim.Fault{PathPrefix: "/api/v2/dags/orders_etl/clearTaskInstances", Method: http.MethodPost, Status: http.StatusInternalServerError})
	code, body := r.post("/api/v1/approvals/"+a.ID+"/approve", map[string]any{})
	require.Equal(t, http.StatusOK, code, "%v", body)
	got := r.settle(inc.ID, incident.StateEscalated, incident.StateResolved)
	require.Equal(t, incident.StateEscalated, got.State)
	run, err := r.a.Store().ActionGet(context.Background(), a.IdempotencyKey)
	require.NoError(t, err)
	require.Equal(t, incident.RunFailed, run.Status)
	require.Contains(t, run.Response, "500")
	r.sim.ClearFaults()
	time.Sleep(300 * time.Millisecond)
	try, _ := r.tryOf(inc.RunID)
	require.Equal(t, 1, try, "a failed clear is not retried without a person")
	acts := r.auditActions(inc.ID)
	require.Equal(t, 1, count(acts, "action.started"))
	require.Contains(t, acts, "action.finished")
}

// TestRemediationProposalExpires: a proposal nobody decides lapses at its
// expiry, its incident goes to a person, and approving it later runs
// nothing.
func TestRemediationProposalExpires(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	r.start(r.config(func(rm *config.Remediate) { rm.Approvals.Expiry = time.Second }))
	inc := r.fail(sigterm, succeeded)
	a := r.pending(inc.ID)
	got := r.settle(inc.ID, incident.StateEscalated)
	require.Equal(t, incident.StateEscalated, got.State)
	a, err := r.a.Store().ApprovalGet(context.Background(), a.ID)
	require.NoError(t, err)
	require.Equal(t, incident.ApprovalExpired, a.Status)
	code, _ := r.post("/api/v1/approvals/"+a.ID+"/approve", map[string]any{})
	require.Equal(t, http.StatusConflict, code)
	try, _ := r.tryOf(inc.RunID)
	require.Equal(t, 1, try, "nothing ran")
	require.Contains(t, r.auditActions(inc.ID), "approval.expired")
}
