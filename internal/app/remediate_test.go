package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/medic-sh/medic/internal/airflow/airflowsim"
	"github.com/medic-sh/medic/internal/app"
	"github.com/medic-sh/medic/internal/audit"
	"github.com/medic-sh/medic/internal/config"
	"github.com/medic-sh/medic/internal/incident"
	"github.com/medic-sh/medic/internal/store"
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
	rm := &cfg.Remediate
	rm.Allow = []string{"orders_etl"}
	rm.Autonomy = []config.AutonomyRule{
		{DAG: "orders_etl", Class: "INFRA", Level: config.AutonomyAuto},
		{DAG: "*", Class: "*", Level: config.AutonomyApprove},
	}
	rm.Gate.Similarity = map[string]float64{config.GateDefault: 0.6}
	rm.Gate.Confidence = map[string]float64{config.GateDefault: 0.5}
	rm.Verify.PollInterval = 20 * time.Millisecond
	if edit != nil {
		edit(rm)
	}
	return cfg
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
	}, 30*time.Second, 20*time.Millisecond, "incident of %s decided", run)
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
	}, 30*time.Second, 20*time.Millisecond, "incident %s reaches %v", id, states)
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

func (r *rig) pending(incidentID string) *incident.Approval {
	r.t.Helper()
	list, err := r.a.Store().ApprovalList(context.Background(), &store.ApprovalListParams{IncidentID: incidentID})
	require.NoError(r.t, err)
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
