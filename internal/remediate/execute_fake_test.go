package remediate_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/medic-sh/medic/internal/airflow"
	"github.com/medic-sh/medic/internal/incident"
	"github.com/medic-sh/medic/internal/remediate"
)

// fakeAirflow records the calls the executor makes and answers from its
// fields; an error field makes that call fail.
type fakeAirflow struct {
	mu    sync.Mutex
	calls []string

	setVariableErr error
	variables      map[string]string
	descriptions   map[string]string

	ti     *airflow.TaskInstance
	tiErr  error
	tis    []airflow.TaskInstance
	tisErr error
	dag    *airflow.Dag
	dagErr error
	runs   []airflow.DagRun
	runsQ  []airflow.RunQuery
	runErr error
	tiByID map[string]*airflow.TaskInstance // "dag/run/task" for condition checks
}

var _ remediate.Airflow = (*fakeAirflow)(nil)

func (f *fakeAirflow) record(format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, fmt.Sprintf(format, args...))
}

func (f *fakeAirflow) recorded() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

func (f *fakeAirflow) ClearTaskInstances(_ context.Context, dagID string, req airflow.ClearRequest) ([]airflow.TaskInstanceRef, error) {
	f.record("clear %s %s %v dry=%t", dagID, req.RunID, req.TaskIDs, req.DryRun)
	return []airflow.TaskInstanceRef{{DagID: dagID, RunID: req.RunID, TaskID: req.TaskIDs[0]}}, nil
}

func (f *fakeAirflow) TriggerDagRun(_ context.Context, dagID string, _ airflow.TriggerRequest) (*airflow.DagRun, error) {
	f.record("trigger %s", dagID)
	return &airflow.DagRun{DagID: dagID, RunID: "manual__new"}, nil
}

func (f *fakeAirflow) SetDagPaused(_ context.Context, dagID string, paused bool) (*airflow.Dag, error) {
	f.record("pause %s %t", dagID, paused)
	return &airflow.Dag{ID: dagID, Paused: paused}, nil
}

func (f *fakeAirflow) GetTaskInstance(_ context.Context, dagID, runID, taskID string) (*airflow.TaskInstance, error) {
	f.record("get ti %s/%s/%s", dagID, runID, taskID)
	if f.tiErr != nil {
		return nil, f.tiErr
	}
	if ti, ok := f.tiByID[dagID+"/"+runID+"/"+taskID]; ok {
		return ti, nil
	}
	return f.ti, nil
}

func (f *fakeAirflow) GetDagRun(_ context.Context, dagID, runID string) (*airflow.DagRun, error) {
	f.record("get run %s/%s", dagID, runID)
	return &airflow.DagRun{DagID: dagID, RunID: runID, State: "success"}, nil
}

func (f *fakeAirflow) GetDag(_ context.Context, dagID string) (*airflow.Dag, error) {
	f.record("get dag %s", dagID)
	if f.dagErr != nil {
		return nil, f.dagErr
	}
	return f.dag, nil
}

func (f *fakeAirflow) SetVariable(_ context.Context, key, value, description string) error {
	f.record("set variable %s", key)
	if f.setVariableErr != nil {
		return f.setVariableErr
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.variables == nil {
		f.variables, f.descriptions = map[string]string{}, map[string]string{}
	}
	f.variables[key], f.descriptions[key] = value, description
	return nil
}

func (f *fakeAirflow) ListTaskInstances(_ context.Context, dagID, runID string) ([]airflow.TaskInstance, error) {
	f.record("list tis %s/%s", dagID, runID)
	return f.tis, f.tisErr
}

func (f *fakeAirflow) ListDagRuns(_ context.Context, dagID string, q airflow.RunQuery) ([]airflow.DagRun, error) {
	f.record("list runs %s", dagID)
	f.mu.Lock()
	f.runsQ = append(f.runsQ, q)
	f.mu.Unlock()
	return f.runs, f.runErr
}

// recLedger is a memLedger that keeps every run Begin was given.
type recLedger struct {
	memLedger
	begun []remediate.Run
}

func (l *recLedger) Begin(ctx context.Context, r *remediate.Run) (*remediate.Run, bool, error) {
	l.mu.Lock()
	l.begun = append(l.begun, *r)
	l.mu.Unlock()
	return l.memLedger.Begin(ctx, r)
}

var heavyTarget = remediate.Target{IncidentID: "inc_7", DagID: "etl_heavy", RunID: "scheduled__1", TaskID: "join", TryNumber: 1}

func resourcesDecision(res *remediate.Resources) remediate.Decision {
	a, _ := remediate.Lookup(remediate.RetryWithMoreResources)
	p := remediate.Params{OnlyFailed: true, Resources: res}
	return remediate.Decision{
		Outcome: remediate.OutcomeExecute, Action: remediate.RetryWithMoreResources, Params: p, Verify: a.Verify,
		IdempotencyKey: remediate.IdempotencyKey(heavyTarget, remediate.RetryWithMoreResources, p),
	}
}

func TestExecuteMoreResourcesWritesTheOverrideFirst(t *testing.T) {
	t.Parallel()
	override := &remediate.Resources{Pool: "big", Queue: "highmem", ExecutorConfig: map[string]any{"KubernetesExecutor": map[string]any{"request_memory": "8Gi"}}}
	wantVar := "medic_resources.etl_heavy.join"
	tests := []struct {
		name      string
		res       *remediate.Resources
		setErr    error
		wantCalls []string
		wantErr   string
		wantRun   remediate.RunStatus
	}{
		{
			name: "variable then clear", res: override,
			wantCalls: []string{"set variable " + wantVar, "clear etl_heavy scheduled__1 [join] dry=false"},
			wantRun:   remediate.RunSucceeded,
		},
		{
			name: "a failed write clears nothing", res: override, setErr: &airflow.APIError{Status: 403, Retryable: false},
			wantCalls: []string{"set variable " + wantVar}, wantErr: "write the resources override", wantRun: remediate.RunFailed,
		},
		{
			name: "no resources: nothing is touched", res: nil,
			wantErr: "no resources configured", wantRun: remediate.RunFailed,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fa := &fakeAirflow{setVariableErr: tt.setErr}
			l := &recLedger{memLedger: memLedger{runs: map[string]*remediate.Run{}}}
			x := &remediate.Executor{Airflow: fa, Ledger: l}
			d := resourcesDecision(tt.res)
			r, err := x.Execute(context.Background(), d, heavyTarget)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
			} else {
				require.NoError(t, err)
			}
			require.NotNil(t, r)
			require.Equal(t, tt.wantRun, r.Status)
			require.Equal(t, tt.wantCalls, fa.recorded())
			require.Equal(t, tt.wantRun, l.runs[d.IdempotencyKey].Status, "the ledger holds the outcome")
			if tt.setErr != nil {
				var ae *airflow.APIError
				require.ErrorAs(t, err, &ae, "the Airflow error is wrapped, not flattened")
			}
			if tt.wantErr == "" {
				raw := fa.variables[wantVar]
				var got remediate.Resources
				require.NoError(t, json.Unmarshal([]byte(raw), &got))
				require.Equal(t, *override, got)
				require.JSONEq(t, `{"pool":"big","queue":"highmem","executor_config":{"KubernetesExecutor":{"request_memory":"8Gi"}}}`, raw)
				require.Contains(t, fa.descriptions[wantVar], "inc_7")
			}
		})
	}
}

func TestExecuteRecordsParamsAndLimits(t *testing.T) {
	t.Parallel()
	limits := &incident.ActionLimits{PerTaskInstance: 3, PerDagPerDay: 9, RateActions: 4, RateWindow: time.Hour}
	tests := []struct {
		name   string
		limits *incident.ActionLimits
		d      remediate.Decision
	}{
		{name: "resources", limits: limits, d: resourcesDecision(&remediate.Resources{Pool: "big"})},
		{name: "no limits", d: resourcesDecision(&remediate.Resources{Queue: "q"})},
		{name: "trigger conf", limits: limits, d: func() remediate.Decision {
			a, _ := remediate.Lookup(remediate.TriggerDagRun)
			p := remediate.Params{Conf: map[string]any{"date": "2026-11-30"}}
			return remediate.Decision{
				Outcome: remediate.OutcomeExecute, Action: remediate.TriggerDagRun, Params: p, Verify: a.Verify,
				IdempotencyKey: remediate.IdempotencyKey(heavyTarget, remediate.TriggerDagRun, p),
			}
		}()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			l := &recLedger{memLedger: memLedger{runs: map[string]*remediate.Run{}}}
			x := &remediate.Executor{Airflow: &fakeAirflow{}, Ledger: l, Limits: tt.limits}
			_, err := x.Execute(context.Background(), tt.d, heavyTarget)
			require.NoError(t, err)
			require.Len(t, l.begun, 1)
			got := l.begun[0]
			require.Same(t, tt.limits, got.Limits, "the executor's limits go to the ledger")
			want, err := json.Marshal(tt.d.Params)
			require.NoError(t, err)
			require.JSONEq(t, string(want), string(got.Params))
			require.Equal(t, tt.d.IdempotencyKey, got.Key)
			require.Equal(t, heavyTarget, got.Target)
			require.Equal(t, remediate.RunStarted, got.Status)
		})
	}
}

func TestCheckMoreResources(t *testing.T) {
	t.Parallel()
	override := &remediate.Resources{Pool: "big", Queue: "highmem"}
	tests := []struct {
		name     string
		res      *remediate.Resources
		ti       airflow.TaskInstance
		want     remediate.VerifyOutcome
		done     bool
		contains []string
	}{
		{name: "override applied and succeeded", res: override, ti: airflow.TaskInstance{TryNumber: 2, State: "success", Pool: "big", Queue: "highmem"}, want: remediate.Verified, done: true},
		{name: "pool ignored", res: override, ti: airflow.TaskInstance{TryNumber: 2, State: "success", Pool: "default_pool", Queue: "highmem"}, want: remediate.NotVerified, done: true, contains: []string{"cluster policy", `"default_pool"`, `"big"`}},
		{name: "queue ignored", res: override, ti: airflow.TaskInstance{TryNumber: 2, State: "running", Pool: "big", Queue: "default"}, want: remediate.NotVerified, done: true, contains: []string{"cluster policy", `"default"`, `"highmem"`}},
		{name: "pool only override", res: &remediate.Resources{Pool: "big"}, ti: airflow.TaskInstance{TryNumber: 2, State: "success", Pool: "big", Queue: "default"}, want: remediate.Verified, done: true},
		{name: "override applied, still running", res: override, ti: airflow.TaskInstance{TryNumber: 2, State: "running", Pool: "big", Queue: "highmem"}, done: false, contains: []string{"running"}},
		{name: "override applied, failed again", res: override, ti: airflow.TaskInstance{TryNumber: 2, State: "failed", Pool: "big", Queue: "highmem"}, want: remediate.NotVerified, done: true, contains: []string{"failed again"}},
		{name: "not re-run yet", res: override, ti: airflow.TaskInstance{TryNumber: 1, State: "failed", Pool: "default_pool"}, done: false, contains: []string{"not re-run"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ti := tt.ti
			x := &remediate.Executor{Airflow: &fakeAirflow{ti: &ti}}
			res, done, err := x.Check(context.Background(), resourcesDecision(tt.res), heavyTarget, nil)
			require.NoError(t, err)
			require.Equal(t, tt.done, done, res.Detail)
			require.Equal(t, tt.want, res.Outcome, res.Detail)
			for _, s := range tt.contains {
				require.Contains(t, res.Detail, s)
			}
		})
	}
}

func TestConditionMet(t *testing.T) {
	t.Parallel()
	tg := remediate.Target{IncidentID: "inc_1", DagID: "orders_etl", RunID: "scheduled__1", TaskID: "load", TryNumber: 1}
	dag := &airflow.Dag{ID: "orders_etl", Tasks: []airflow.Task{
		{ID: "extract", Downstream: []string{"load"}},
		{ID: "check", Downstream: []string{"load", "report"}},
		{ID: "load", Downstream: []string{"report"}},
		{ID: "report"},
	}}
	boom := errors.New("boom")
	upstream := remediate.Condition{Kind: "upstream_tasks"}
	dagRun := remediate.Condition{Kind: "dag_run_success", DagID: "customers_etl"}
	sensor := remediate.Condition{Kind: "task_success", DagID: "customers_etl", TaskID: "publish"}
	tests := []struct {
		name      string
		c         remediate.Condition
		tg        remediate.Target
		fa        *fakeAirflow
		want      bool
		detail    []string
		err       error // errors.Is
		errText   string
		wantCalls []string
	}{
		{
			name: "upstream all succeeded", c: upstream, tg: tg,
			fa: &fakeAirflow{dag: dag, tis: []airflow.TaskInstance{
				{TaskID: "extract", State: "success"}, {TaskID: "check", State: "success"}, {TaskID: "load", State: "failed"}, {TaskID: "report", State: "upstream_failed"},
			}},
			want: true, detail: []string{"extract", "check", "succeeded"},
			wantCalls: []string{"get dag orders_etl", "list tis orders_etl/scheduled__1"},
		},
		{
			name: "an upstream still running", c: upstream, tg: tg,
			fa: &fakeAirflow{dag: dag, tis: []airflow.TaskInstance{
				{TaskID: "extract", State: "success"}, {TaskID: "check", State: "running"},
			}},
			want: false, detail: []string{"check", `"running"`},
		},
		{
			name: "an upstream without a task instance", c: upstream, tg: tg,
			fa:   &fakeAirflow{dag: dag, tis: []airflow.TaskInstance{{TaskID: "extract", State: "success"}}},
			want: false, detail: []string{"check", `"none"`},
		},
		{
			name: "downstream tasks do not count", c: upstream, tg: remediate.Target{DagID: "orders_etl", RunID: "scheduled__1", TaskID: "extract"},
			fa:   &fakeAirflow{dag: dag},
			want: true, detail: []string{"no upstream"},
			wantCalls: []string{"get dag orders_etl"},
		},
		{name: "dag lookup fails", c: upstream, tg: tg, fa: &fakeAirflow{dagErr: boom}, err: boom},
		{name: "task instance list fails", c: upstream, tg: tg, fa: &fakeAirflow{dag: dag, tisErr: boom}, err: boom},
		{
			name: "latest run succeeded", c: dagRun, tg: tg,
			fa:   &fakeAirflow{runs: []airflow.DagRun{{DagID: "customers_etl", RunID: "scheduled__9", State: "success"}}},
			want: true, detail: []string{"scheduled__9", "customers_etl", `"success"`},
			wantCalls: []string{"list runs customers_etl"},
		},
		{
			name: "latest run failed", c: dagRun, tg: tg,
			fa:   &fakeAirflow{runs: []airflow.DagRun{{DagID: "customers_etl", RunID: "scheduled__9", State: "failed"}}},
			want: false, detail: []string{`"failed"`},
		},
		{name: "no run yet", c: dagRun, tg: tg, fa: &fakeAirflow{}, want: false, detail: []string{"no run yet"}},
		{name: "run list fails", c: dagRun, tg: tg, fa: &fakeAirflow{runErr: boom}, err: boom},
		{
			name: "sensor task succeeded", c: sensor, tg: tg,
			fa: &fakeAirflow{
				runs:   []airflow.DagRun{{DagID: "customers_etl", RunID: "scheduled__9", State: "running"}},
				tiByID: map[string]*airflow.TaskInstance{"customers_etl/scheduled__9/publish": {TaskID: "publish", State: "success"}},
			},
			want: true, detail: []string{"publish", "scheduled__9", `"success"`},
			wantCalls: []string{"list runs customers_etl", "get ti customers_etl/scheduled__9/publish"},
		},
		{
			name: "sensor task has no state", c: sensor, tg: tg,
			fa: &fakeAirflow{
				runs:   []airflow.DagRun{{DagID: "customers_etl", RunID: "scheduled__9", State: "running"}},
				tiByID: map[string]*airflow.TaskInstance{"customers_etl/scheduled__9/publish": {TaskID: "publish"}},
			},
			want: false, detail: []string{`"none"`},
		},
		{name: "sensor with no run", c: sensor, tg: tg, fa: &fakeAirflow{}, want: false, detail: []string{"no run yet"}, wantCalls: []string{"list runs customers_etl"}},
		{
			name: "sensor task lookup fails", c: sensor, tg: tg,
			fa:  &fakeAirflow{runs: []airflow.DagRun{{DagID: "customers_etl", RunID: "scheduled__9"}}, tiErr: boom},
			err: boom,
		},
		{name: "unknown kind", c: remediate.Condition{Kind: "vibes"}, tg: tg, fa: &fakeAirflow{}, errText: `"vibes"`, wantCalls: []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			x := &remediate.Executor{Airflow: tt.fa}
			met, detail, err := x.ConditionMet(context.Background(), tt.c, tt.tg)
			switch {
			case tt.err != nil:
				require.ErrorIs(t, err, tt.err)
				return
			case tt.errText != "":
				require.Error(t, err)
				require.Contains(t, err.Error(), tt.errText)
				require.False(t, met)
			default:
				require.NoError(t, err)
				require.Equal(t, tt.want, met, detail)
				for _, s := range tt.detail {
					require.Contains(t, detail, s)
				}
			}
			if tt.wantCalls != nil {
				require.Equal(t, tt.wantCalls, append([]string{}, tt.fa.recorded()...))
			}
			for _, q := range tt.fa.runsQ {
				require.Equal(t, airflow.RunQuery{Limit: 1}, q, "only the latest run is asked for")
			}
			require.False(t, strings.Contains(detail, "%!"), "detail is well formed: %s", detail)
		})
	}
}
