package investigate_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/medic-sh/medic/internal/incident"
	"github.com/medic-sh/medic/internal/investigate"
	"github.com/medic-sh/medic/internal/investigate/agents"
	"github.com/medic-sh/medic/internal/store"
	"github.com/medic-sh/medic/internal/triage"
)

// TestSpecialistOutcomes runs one specialist session by hand for each way
// it can end.
func TestSpecialistOutcomes(t *testing.T) {
	t.Parallel()
	spec := investigate.NewLogAnalyzer(nil).Spec()
	retryable := engineFunc{spec: spec, run: func(context.Context, *investigate.Task) (*investigate.Result, error) {
		return nil, fmt.Errorf("fetch log: %w", triage.ErrRetryLater)
	}}
	partial := engineFunc{spec: spec, run: func(ctx context.Context, task *investigate.Task) (*investigate.Result, error) {
		if err := task.Report.Finding(ctx, &incident.Finding{Step: "probe", Kind: "probe", Summary: "half the answer"}); err != nil {
			return nil, err
		}
		return &investigate.Result{Summary: "half", Incomplete: []string{"memory: embedder down"}}, nil
	}}
	tests := []struct {
		name    string
		engine  investigate.Engine
		agent   string
		input   string
		attempt int
		// retryIn is when the job system would retry.
		retryIn  time.Duration
		deadline time.Duration
		// wantErr, when set, is the error the job returns; the session
		// then stays running.
		wantErr error
		status  incident.SessionStatus
		reason  string
	}{
		{name: "retryable, a retry fits before the deadline", engine: retryable, attempt: 1, retryIn: time.Second, wantErr: triage.ErrRetryLater},
		{name: "retryable, on the last attempt", engine: retryable, attempt: 5, retryIn: time.Second, status: incident.SessionFailed, reason: "retry later"},
		{name: "retryable, a retry would miss the deadline", engine: retryable, attempt: 1, retryIn: time.Minute, status: incident.SessionFailed, reason: "retry later"},
		{name: "partial", engine: partial, attempt: 1, status: incident.SessionPartial},
		{name: "an agent no longer defined", agent: "ghost", attempt: 1, status: incident.SessionFailed, reason: `no specialist named "ghost" is defined any more`},
		{name: "a brief that is not an object", input: `[1, 2]`, attempt: 1, status: incident.SessionFailed, reason: "brief of session"},
		{name: "no brief", input: `null`, attempt: 1, status: incident.SessionFailed, reason: "has no brief"},
		{name: "a brief without a task", input: `{"instance":"main","dag_id":"orders_etl"}`, attempt: 1, status: incident.SessionFailed, reason: "the brief names no failed task"},
		{name: "started after its deadline", deadline: -time.Second, attempt: 1, status: incident.SessionTimedOut, reason: "did not finish by the investigation's deadline"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b, _ := manual(t, func(o *bundleOpts) {
				if tt.engine != nil {
					o.engines = map[string]investigate.Engine{agents.LogAnalyzer: tt.engine}
				}
			})
			ctx := context.Background()
			inc := b.fail(t, testRun, undefinedColumn)
			agent, input := agents.LogAnalyzer, json.RawMessage(`{"instance":"main","dag_id":"orders_etl","run_id":"`+testRun+`","task_id":"load","try_number":1}`)
			if tt.agent != "" {
				agent = tt.agent
			}
			if tt.input != "" {
				input = json.RawMessage(tt.input)
			}
			deadline := time.Minute
			if tt.deadline != 0 {
				deadline = tt.deadline
			}
			if string(input) == "null" {
				input = nil
			}
			kids, err := b.store.SessionSpawn(ctx, &store.SessionSpawnParams{
				ParentID: inc.TriageSessionID, Deadline: time.Now().Add(deadline),
				Children: []store.SessionChild{{Agent: agent, Input: input}},
			})
			require.NoError(t, err)
			k := kids[0]
			err = b.inv.Specialist(ctx, store.SpecialistJobArgs{IncidentID: inc.ID, SessionID: k.ID, Agent: agent}, tt.attempt, 5, time.Now().Add(tt.retryIn))
			got, gerr := b.store.SessionGetByID(ctx, k.ID)
			require.NoError(t, gerr)
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
				require.Equal(t, incident.SessionRunning, got.Status, "left for the retry")
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.status, got.Status, got.Error)
			res := result(t, got)
			require.Equal(t, tt.status, res.Status)
			require.Equal(t, agent, res.Agent)
			require.False(t, res.FinishedAt.Before(res.StartedAt))
			if tt.reason != "" {
				require.Contains(t, got.Error, tt.reason)
				require.Contains(t, res.Error, tt.reason)
			}
			if tt.status == incident.SessionPartial {
				require.Contains(t, b.findings(t, k.ID), "probe", "the finding is in the specialist's own session")
				require.Equal(t, []string{"memory: embedder down"}, res.Incomplete)
			}
		})
	}
}

// TestOnlyTheCommanderSpawns: depth and delegation are enforced in code,
// before the store.
func TestOnlyTheCommanderSpawns(t *testing.T) {
	t.Parallel()
	b, _ := manual(t)
	ctx := context.Background()
	inc := b.fail(t, testRun, undefinedColumn)
	root, err := b.store.SessionGetByID(ctx, inc.TriageSessionID)
	require.NoError(t, err)
	la, _ := b.agents.Get(agents.LogAnalyzer)
	cmd := b.agents.Commander()
	child := &incident.Session{ID: "ses_child", IncidentID: inc.ID, ParentID: root.ID, Agent: agents.LogAnalyzer, Depth: 2}
	tests := []struct {
		name      string
		by        *agents.Definition
		parent    *incident.Session
		delegates []*agents.Definition
		want      error
	}{
		{name: "a specialist", by: la, parent: root, delegates: []*agents.Definition{la}, want: investigate.ErrNotCommander},
		{name: "below the root", by: cmd, parent: child, delegates: []*agents.Definition{la}, want: incident.ErrDepth},
		{name: "the commander as a delegate", by: cmd, parent: root, delegates: []*agents.Definition{cmd}, want: investigate.ErrNotCommander},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := b.inv.Spawn(ctx, tt.by, tt.parent, investigate.Brief{}, tt.delegates)
			require.ErrorIs(t, err, tt.want)
		})
	}
	kids, err := b.store.SessionListChildren(ctx, root.ID)
	require.NoError(t, err)
	require.Empty(t, kids, "nothing was started")

	// The store refuses a third level too.
	spawned, err := b.inv.Spawn(ctx, cmd, root, investigate.Brief{TaskID: "load"}, []*agents.Definition{la})
	require.NoError(t, err)
	_, err = b.store.SessionSpawn(ctx, &store.SessionSpawnParams{
		ParentID: spawned[0].ID, Deadline: time.Now().Add(time.Minute), Children: []store.SessionChild{{Agent: "grandchild"}},
	})
	require.ErrorIs(t, err, incident.ErrDepth)
}

func TestNewRequiresAnEngineForEveryDelegate(t *testing.T) {
	t.Parallel()
	b, _ := manual(t)
	engines := investigate.BuiltinEngines(b.runner, instances{}, nil, nil)
	delete(engines, agents.QueryProfiler)
	_, err := investigate.New(investigate.Deps{Store: b.store, Triage: b.runner, Agents: b.agents, Engines: engines})
	require.ErrorContains(t, err, `agent query-profiler: engine "query-profiler" is not available`)
	_, err = investigate.New(investigate.Deps{Store: b.store, Agents: b.agents, Engines: engines})
	require.Error(t, err)
	require.False(t, errors.Is(err, store.ErrNotFound))
}

// TestBuiltinAgentsLoadWithBuiltinEngines: the embedded definitions allow
// every tool their engines call.
func TestBuiltinAgentsLoadWithBuiltinEngines(t *testing.T) {
	t.Parallel()
	engines := investigate.BuiltinEngines(nil, instances{}, nil, nil)
	set, err := agents.Load(agents.Options{Engines: investigate.Specs(engines)})
	require.NoError(t, err)
	reg := agents.DefaultRegistry()
	for _, d := range set.All() {
		spec := investigate.Specs(engines)[d.Engine]
		for _, tool := range spec.Tools {
			_, ok := reg.Lookup(tool)
			require.True(t, ok, "%s calls unknown tool %s", d.Engine, tool)
			require.True(t, d.Allows(tool), "%s does not allow %s", d.Name, tool)
		}
	}
}
