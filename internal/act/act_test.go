package act_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/medic-sh/medic/internal/act"
	"github.com/medic-sh/medic/internal/airflow"
	"github.com/medic-sh/medic/internal/airflow/airflowsim"
	"github.com/medic-sh/medic/internal/classify"
	"github.com/medic-sh/medic/internal/incident"
	"github.com/medic-sh/medic/internal/remediate"
	"github.com/medic-sh/medic/internal/store"
)

// proposed decides a failure whose diagnosis needs a person (a code error
// at the approve level) and approves the proposal with the edited params.
func (b *testBundle) proposed(t *testing.T, remediation classify.Remediation, params []byte) (*incident.Incident, *incident.Approval) {
	t.Helper()
	ctx := context.Background()
	rc := rootCause()
	rc.Label, rc.Remediation, rc.Precedent = classify.CodeError, remediation, nil
	inc := b.sigtermFailure(t, rc)
	require.NoError(t, b.rem.Decide(ctx, inc.ID, inc.TriageSessionID, false))
	rec := b.decision(t, inc)
	require.Equal(t, remediate.OutcomePropose, rec.Decision.Outcome, reasons(rec.Decision))
	a := b.approval(t, inc.ID)
	a, err := b.st.ApprovalDecide(ctx, &store.ApprovalDecideParams{ID: a.ID, Approve: true, By: "alice", Role: "operator", Reason: "go", Params: params})
	require.NoError(t, err)
	require.Equal(t, incident.StateRemediating, b.state(t, inc.ID))
	return inc, a
}

func TestActApprovalWithInvalidParams(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		remediation classify.Remediation
		params      string
		wantReason  string
	}{
		{
			name: "conf fails the DAG's schema", remediation: "trigger_dag_run",
			params: `{"conf": {"date": 20260501}}`, wantReason: "conf.date",
		},
		{
			name: "conf with a key the schema does not allow", remediation: "trigger_dag_run",
			params: `{"conf": {"date": "2026-05-01", "drop_tables": true}}`, wantReason: "trigger conf for DAG orders_etl",
		},
		{
			name: "conf that is not an object", remediation: "trigger_dag_run",
			params: `{"conf": "everything"}`, wantReason: "the edited parameters are not valid",
		},
		{
			name: "a delay that is not a duration", remediation: classify.Retry,
			params: `{"delay": "soon"}`, wantReason: "the edited parameters are not valid",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			b := setup(t, nil)
			inc, a := b.proposed(t, tt.remediation, []byte(tt.params))
			clears, triggers, _ := b.writes()

			step, err := b.rem.Act(ctx, store.ActionJobArgs{IncidentID: inc.ID, ApprovalID: a.ID}, act.Job{Created: time.Now()})
			require.NoError(t, err)
			require.Zero(t, step.Snooze)
			refused := b.audits(t, inc.ID, "action.refused")
			require.Len(t, refused, 1)
			require.Equal(t, string(remediate.OutcomeRefuse), refused[0].Decision)
			var found bool
			for _, r := range refused[0].Reasons {
				found = found || strings.Contains(r, tt.wantReason)
			}
			require.True(t, found, "a reason names %q: %q", tt.wantReason, refused[0].Reasons)
			require.Equal(t, incident.StateEscalated, b.state(t, inc.ID))

			c2, t2, _ := b.writes()
			require.Equal(t, clears, c2, "nothing cleared")
			require.Equal(t, triggers, t2, "nothing triggered")
			require.Len(t, b.sim.DagRuns(), 1, "no new run")
			_, err = b.st.ActionGet(ctx, a.IdempotencyKey)
			require.ErrorIs(t, err, store.ErrNotFound, "no action run")
			require.Empty(t, b.jobs.All(), "no verification")
		})
	}
}

func TestActKillSwitchAfterDecision(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		approved bool
	}{
		{name: "autonomous decision"},
		{name: "approved proposal", approved: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			b := setup(t, nil)
			var (
				inc  *incident.Incident
				args store.ActionJobArgs
			)
			if tt.approved {
				var a *incident.Approval
				inc, a = b.proposed(t, classify.Retry, nil)
				args = store.ActionJobArgs{IncidentID: inc.ID, ApprovalID: a.ID}
			} else {
				inc = b.sigtermFailure(t, rootCause())
				require.NoError(t, b.rem.Decide(ctx, inc.ID, inc.TriageSessionID, false))
				require.Equal(t, remediate.OutcomeExecute, b.decision(t, inc).Decision.Outcome)
				args = b.actionJob(t)
			}
			_, err := b.st.KillSwitchSet(ctx, &store.KillSwitchSetParams{On: true, By: "alice", Reason: "warehouse migration"})
			require.NoError(t, err)
			clears, _, _ := b.writes()

			step, err := b.rem.Act(ctx, args, act.Job{Created: time.Now()})
			require.NoError(t, err)
			require.Zero(t, step.Snooze)
			refused := b.audits(t, inc.ID, "action.refused")
			require.Len(t, refused, 1)
			require.Contains(t, refused[0].Reasons, "kill_switch fail: the kill switch is on: medic takes no action")
			require.Equal(t, incident.StateEscalated, b.state(t, inc.ID))
			c2, _, _ := b.writes()
			require.Equal(t, clears, c2, "nothing cleared")
			try, state := b.try(t, inc, "load")
			require.Equal(t, 1, try)
			require.Equal(t, "failed", state)
			require.Empty(t, b.audits(t, inc.ID, "action.started"))
		})
	}
}

func TestActWaitForUpstream(t *testing.T) {
	t.Parallel()
	extractDown := airflowsim.Failure("{taskinstance.py:2905} ERROR - connection to the source database refused\n")
	tests := []struct {
		name string
		// fixUpstream re-runs extract successfully, as a person would,
		// after a first attempt of the action.
		fixUpstream bool
		// age is how long ago the action job was first enqueued.
		age         time.Duration
		wantSnooze  time.Duration
		wantState   incident.State
		wantCleared bool
		wantTimeout bool
	}{
		{name: "condition not met", wantSnooze: pollInterval, wantState: incident.StateRemediating},
		{name: "condition met after a wait", fixUpstream: true, wantState: incident.StateVerifying, wantCleared: true},
		{name: "timed out", age: 3 * time.Hour, wantState: incident.StateEscalated, wantTimeout: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			b := setup(t, nil)
			rc := rootCause()
			rc.Label, rc.Remediation = classify.UpstreamUnavailable, classify.WaitForUpstreamThenRetry
			rc.Precedent.Label, rc.Precedent.Action = string(classify.UpstreamUnavailable), string(classify.WaitForUpstreamThenRetry)
			inc := b.failure(t, map[string][]airflowsim.Outcome{"extract": {extractDown, succeeded}, "load": {succeeded}}, "load", rc)
			_, state := b.try(t, inc, "load")
			require.Equal(t, "upstream_failed", state)
			require.NoError(t, b.rem.Decide(ctx, inc.ID, inc.TriageSessionID, false))
			rec := b.decision(t, inc)
			require.Equal(t, remediate.OutcomeExecute, rec.Decision.Outcome, reasons(rec.Decision))
			require.Equal(t, remediate.WaitForUpstreamThenRetry, rec.Decision.Action)
			require.NotNil(t, rec.Decision.Params.Condition)
			require.Equal(t, pollInterval, rec.Decision.Params.Condition.PollInterval)
			args := b.actionJob(t)
			job := act.Job{Created: time.Now().Add(-tt.age)}
			clears, _, _ := b.writes()

			step, err := b.rem.Act(ctx, args, job)
			require.NoError(t, err)
			if tt.fixUpstream {
				require.Equal(t, pollInterval, step.Snooze, "waits first")
				_, err := b.af.ClearTaskInstances(ctx, dagID, airflow.ClearRequest{RunID: inc.RunID, TaskIDs: []string{"extract"}, OnlyFailed: true})
				require.NoError(t, err)
				_, state := b.try(t, inc, "extract")
				require.Equal(t, "success", state)
				clears++
				step, err = b.rem.Act(ctx, args, job)
				require.NoError(t, err)
			}
			require.Equal(t, tt.wantSnooze, step.Snooze)
			require.Equal(t, tt.wantState, b.state(t, inc.ID))
			c2, _, _ := b.writes()
			try, state := b.try(t, inc, "load")
			if tt.wantCleared {
				require.Equal(t, clears+1, c2, "load cleared once")
				require.Equal(t, "success", state)
				require.Equal(t, 1, try)
				require.Len(t, b.audits(t, inc.ID, "action.started"), 1)
				v := b.verifyJob(t)
				require.Equal(t, rec.Decision.IdempotencyKey, v.IdempotencyKey)
			} else {
				require.Equal(t, clears, c2, "nothing cleared")
				require.Equal(t, "upstream_failed", state)
				require.Empty(t, b.audits(t, inc.ID, "action.started"))
			}
			timeouts := b.audits(t, inc.ID, "action.wait_timeout")
			if tt.wantTimeout {
				require.Len(t, timeouts, 1)
				require.Contains(t, timeouts[0].Reason, "upstream task extract is \"failed\"")
			} else {
				require.Empty(t, timeouts)
			}
		})
	}
}
