package triage_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/medic-sh/medic/internal/incident"
	"github.com/medic-sh/medic/internal/store"
	"github.com/medic-sh/medic/internal/triage"
)

// child opens a child session of the incident's root, as the commander
// would for its log-analyzer.
func (b *testBundle) child(t *testing.T, inc *incident.Incident) string {
	t.Helper()
	kids, err := b.store.SessionSpawn(context.Background(), &store.SessionSpawnParams{
		ParentID: inc.TriageSessionID, Deadline: b.clock.Now().Add(time.Minute),
		Children: []store.SessionChild{{Agent: "log-analyzer", Input: json.RawMessage(`{}`)}},
	})
	require.NoError(t, err)
	return kids[0].ID
}

func steps(fs []*incident.Finding) []string {
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = f.Step
	}
	return out
}

// TestPhasesSplitAcrossSessions runs the orientation on the root session and
// the diagnosis on a child, as the investigation does: each session holds
// its own steps, and the diagnosis reads the orientation's findings.
func TestPhasesSplitAcrossSessions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		maxSteps int
		task     string
		// calls is how many RunPhase calls the diagnosis takes.
		calls int
	}{
		{name: "focus derived from the orientation", calls: 1},
		{name: "focus given", task: "load", calls: 1},
		{name: "one step per call resumes", maxSteps: 1, calls: 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, 3)
			ctx := context.Background()
			inc := b.failRun(t, "orders_etl", testRun, undefinedColumn)
			orient, err := b.runner.RunPhase(ctx, triage.PhaseOrient, triage.Scope{Incident: inc, SessionID: inc.TriageSessionID}, false)
			require.NoError(t, err)
			require.Equal(t, []string{triage.StepResolve, triage.StepRunSummary, triage.StepFailedTasks}, steps(orient.Findings))
			require.Empty(t, orient.Left)
			task, try, err := b.runner.Focus(ctx, inc, orient.Findings)
			require.NoError(t, err)
			require.Equal(t, "load", task)
			require.Equal(t, 1, try)

			sid := b.child(t, inc)
			var seen []string
			sc := triage.Scope{
				Incident: inc, SessionID: sid, Known: orient.Findings, Task: tt.task, MaxSteps: tt.maxSteps,
				OnStep: func(_ context.Context, f *incident.Finding) { seen = append(seen, f.Step) },
			}
			var res *triage.PhaseResult
			for i := range tt.calls {
				res, err = b.runner.RunPhase(ctx, triage.PhaseDiagnose, sc, false)
				require.NoError(t, err)
				if i < tt.calls-1 {
					require.NotEmpty(t, res.Left, "call %d leaves steps for the next", i)
				}
			}
			require.Empty(t, res.Left)
			want := []string{triage.StepFrequency, triage.StepLogExcerpt, triage.StepHistory}
			require.Equal(t, want, steps(res.Findings))
			require.Equal(t, want, seen, "each step is reported once, as it is recorded")
			for _, f := range res.Findings {
				require.Equal(t, sid, f.SessionID)
				require.Empty(t, f.Error, f.Step)
			}
			root, err := b.store.FindingListBySession(ctx, inc.TriageSessionID)
			require.NoError(t, err)
			require.Len(t, root, 3, "the diagnosis records nothing on the root")

			sum := triage.Decode(append(root, res.Findings...))
			require.Contains(t, sum.Log.Headline, "customer_idd")
			d := sum.Diagnosis()
			require.NotNil(t, d)
			require.Equal(t, "SCHEMA_CHANGE", string(d.Label))
			require.Nil(t, b.incident(t, inc.ID).TriagedAt, "phases never complete the incident")
		})
	}
}

func TestRunPhaseWithoutInstance(t *testing.T) {
	t.Parallel()
	b := setup(t, 2)
	inc := &incident.Incident{ID: "inc_x", Instance: "staging", DagID: "orders_etl", RunID: testRun}
	_, err := b.runner.RunPhase(context.Background(), triage.PhaseOrient, triage.Scope{Incident: inc, SessionID: "ses_x"}, false)
	require.ErrorIs(t, err, triage.ErrNoInstance)
	require.EqualError(t, err, `airflow instance "staging" is not configured`)
	require.Empty(t, b.sim.Requests())
}
