package remediate_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/medic-sh/medic/internal/airflow"
	"github.com/medic-sh/medic/internal/airflow/airflowsim"
	"github.com/medic-sh/medic/internal/config"
	"github.com/medic-sh/medic/internal/remediate"
)

// heavyScenario is a DAG whose join task ran out of memory on its default
// pool and queue.
var heavyScenario = airflowsim.Scenario{DAGs: []airflowsim.DAG{{
	ID: "etl_heavy", Owners: []string{"data-eng"},
	Tasks: []airflowsim.Task{
		{ID: "extract", Downstream: []string{"join"}},
		{ID: "join", Downstream: []string{"publish"}},
		{ID: "publish"},
	},
}}}

// simClient serves sim over HTTP and returns a client of the given major
// version for it.
func simClient(t *testing.T, sim *airflowsim.Server, version int) *airflow.Client {
	t.Helper()
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	transport := &http.Transport{}
	t.Cleanup(transport.CloseIdleConnections)
	c, err := airflow.New(airflow.Options{
		Name: "main", BaseURL: srv.URL, Version: strconv.Itoa(version), Username: "medic", Password: "pw", Timeout: 5 * time.Second,
		MaxRetries: -1, RateLimit: -1, HTTPClient: &http.Client{Transport: transport},
	})
	require.NoError(t, err)
	return c
}

func heavyPolicy(t *testing.T) *remediate.Policy {
	t.Helper()
	cfg := config.Default().Remediate
	cfg.Allow = []string{"etl_*"}
	cfg.Resources = map[string]config.RemediateResources{
		"etl_heavy*": {Pool: "big_pool", Queue: "highmem", ExecutorConfig: `{"KubernetesExecutor":{"request_memory":"8Gi"}}`},
	}
	p, err := remediate.New(cfg, "staging")
	require.NoError(t, err)
	return p
}

// TestRetryWithMoreResourcesAgainstTheSim runs retry_with_more_resources
// end to end against the Airflow stand-in, as an approved proposal: the
// policy decides the override, the executor writes the Variable and
// clears, and verification checks the new try ran with the override, which
// only happens where the cluster policy is installed.
func TestRetryWithMoreResourcesAgainstTheSim(t *testing.T) {
	t.Parallel()
	tests := []struct {
		hook       bool
		want       remediate.VerifyOutcome
		wantPool   string
		wantQueue  string
		wantDetail string
	}{
		{hook: true, want: remediate.Verified, wantPool: "big_pool", wantQueue: "highmem", wantDetail: "succeeded"},
		{hook: false, want: remediate.NotVerified, wantPool: "default_pool", wantQueue: "default", wantDetail: "cluster policy"},
	}
	for _, version := range []int{2, 3} {
		for _, tt := range tests {
			t.Run(fmt.Sprintf("v%d hook=%t", version, tt.hook), func(t *testing.T) {
				t.Parallel()
				ctx := context.Background()
				sim := airflowsim.New(airflowsim.Options{Version: version, Username: "medic", Password: "pw", ResourceHook: tt.hook})
				require.NoError(t, sim.Load(heavyScenario))
				const runID = "manual__oom"
				_, err := sim.StartRun("etl_heavy", runID, time.Now().Add(-time.Hour), map[string][]airflowsim.Outcome{
					"join": {airflowsim.Failure("MemoryError"), airflowsim.Success("ok")},
				})
				require.NoError(t, err)
				c := simClient(t, sim, version)
				l := &recLedger{memLedger: memLedger{runs: map[string]*remediate.Run{}}}
				p := heavyPolicy(t)
				x := &remediate.Executor{Airflow: c, Ledger: l, Limits: p.Limits()}

				before, err := c.GetTaskInstance(ctx, "etl_heavy", runID, "join")
				require.NoError(t, err)
				require.Equal(t, "failed", before.State)
				require.Equal(t, 1, before.TryNumber)
				tg := remediate.Target{IncidentID: "inc_oom", DagID: "etl_heavy", RunID: runID, TaskID: "join", TryNumber: before.TryNumber}

				d := p.Evaluate(remediate.Input{
					Target: tg, Class: "RESOURCE", Proposed: "retry_with_more_resources", ApprovedBy: "alice@example.com",
					Facts: remediate.Facts{RunState: "failed", TaskState: before.State, TryNumber: before.TryNumber, MaxTries: before.MaxTries},
					Now:   time.Now(),
				})
				require.Equal(t, remediate.OutcomeExecute, d.Outcome, "reasons: %+v", d.Reasons)
				require.Equal(t, remediate.RetryWithMoreResources, d.Action)
				require.NotNil(t, d.Params.Resources)

				r, err := x.Execute(ctx, d, tg)
				require.NoError(t, err)
				require.Equal(t, remediate.RunSucceeded, r.Status, r.Summary)
				require.Len(t, l.begun, 1)
				require.Equal(t, p.Limits(), l.begun[0].Limits)

				val, ok := sim.Variable(remediate.ResourcesVariable("etl_heavy", "join"))
				require.True(t, ok, "the override Variable is set")
				require.JSONEq(t, `{"pool":"big_pool","queue":"highmem","executor_config":{"KubernetesExecutor":{"request_memory":"8Gi"}}}`, val)
				require.Equal(t, airflowsim.ResourceVariablePrefix+"etl_heavy.join", remediate.ResourcesVariable("etl_heavy", "join"))

				after, err := c.GetTaskInstance(ctx, "etl_heavy", runID, "join")
				require.NoError(t, err)
				require.Equal(t, 2, after.TryNumber, "cleared and re-run")
				pool, queue, ok := sim.TryResources("etl_heavy", runID, "join", 2)
				require.True(t, ok)
				require.Equal(t, []string{tt.wantPool, tt.wantQueue}, []string{pool, queue})
				require.Equal(t, []string{tt.wantPool, tt.wantQueue}, []string{after.Pool, after.Queue}, "the API shows the try's pool and queue")

				res, done, err := x.Check(ctx, d, tg, r)
				require.NoError(t, err)
				require.True(t, done, res.Detail)
				require.Equal(t, tt.want, res.Outcome, res.Detail)
				require.Contains(t, res.Detail, tt.wantDetail)

				// Executing the same decision again does nothing more.
				again, err := x.Execute(ctx, d, tg)
				require.NoError(t, err)
				require.Equal(t, remediate.RunSucceeded, again.Status)
				ti, err := c.GetTaskInstance(ctx, "etl_heavy", runID, "join")
				require.NoError(t, err)
				require.Equal(t, 2, ti.TryNumber, "cleared once")
			})
		}
	}
}

// TestConditionMetAgainstTheSim checks the wait conditions against the
// Airflow stand-in on both versions.
func TestConditionMetAgainstTheSim(t *testing.T) {
	t.Parallel()
	for _, version := range []int{2, 3} {
		t.Run(fmt.Sprintf("v%d", version), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			sim := airflowsim.New(airflowsim.Options{Version: version, Username: "medic", Password: "pw"})
			require.NoError(t, sim.Load(heavyScenario))
			c := simClient(t, sim, version)
			x := &remediate.Executor{Airflow: c}
			upstream := remediate.Condition{Kind: "upstream_tasks"}
			dagRun := remediate.Condition{Kind: "dag_run_success", DagID: "etl_heavy"}
			sensor := remediate.Condition{Kind: "task_success", DagID: "etl_heavy", TaskID: "join"}

			met, detail, err := x.ConditionMet(ctx, dagRun, remediate.Target{})
			require.NoError(t, err)
			require.False(t, met, detail)
			require.Contains(t, detail, "no run yet")

			_, err = sim.StartRun("etl_heavy", "manual__1", time.Now().Add(-2*time.Hour), map[string][]airflowsim.Outcome{
				"join": {airflowsim.Failure("MemoryError")},
			})
			require.NoError(t, err)
			join := remediate.Target{DagID: "etl_heavy", RunID: "manual__1", TaskID: "join"}
			tests := []struct {
				c    remediate.Condition
				tg   remediate.Target
				want bool
				in   string
			}{
				{upstream, join, true, "extract"},
				{upstream, remediate.Target{DagID: "etl_heavy", RunID: "manual__1", TaskID: "publish"}, false, `join is "failed"`},
				{upstream, remediate.Target{DagID: "etl_heavy", RunID: "manual__1", TaskID: "extract"}, true, "no upstream"},
				{dagRun, join, false, `"failed"`},
				{sensor, join, false, `"failed"`},
			}
			for _, tt := range tests {
				met, detail, err := x.ConditionMet(ctx, tt.c, tt.tg)
				require.NoError(t, err)
				require.Equal(t, tt.want, met, "%s on %s: %s", tt.c.Kind, tt.tg.TaskID, detail)
				require.Contains(t, detail, tt.in)
			}

			// A later run that succeeds is the latest.
			_, err = sim.StartRun("etl_heavy", "manual__2", time.Now().Add(-time.Hour), nil)
			require.NoError(t, err)
			met, detail, err = x.ConditionMet(ctx, dagRun, join)
			require.NoError(t, err)
			require.True(t, met, detail)
			require.Contains(t, detail, "manual__2")
			met, detail, err = x.ConditionMet(ctx, sensor, join)
			require.NoError(t, err)
			require.True(t, met, detail)
			require.Contains(t, detail, "manual__2")
		})
	}
}
