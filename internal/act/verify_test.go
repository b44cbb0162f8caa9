package act_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/medic-sh/medic/internal/act"
	"github.com/medic-sh/medic/internal/airflow/airflowsim"
	"github.com/medic-sh/medic/internal/incident"
	"github.com/medic-sh/medic/internal/memory"
	"github.com/medic-sh/medic/internal/remediate"
)

// executed decides and runs the autonomous clear of a failure of load with
// the outcomes, and returns the verification job it enqueued.
func (b *testBundle) executed(t *testing.T, outcomes []airflowsim.Outcome) (*incident.Incident, act.Record) {
	t.Helper()
	ctx := context.Background()
	inc := b.failure(t, map[string][]airflowsim.Outcome{"load": outcomes}, "load", rootCause())
	require.NoError(t, b.rem.Decide(ctx, inc.ID, inc.TriageSessionID, false))
	rec := b.decision(t, inc)
	require.Equal(t, remediate.OutcomeExecute, rec.Decision.Outcome, reasons(rec.Decision))
	step, err := b.rem.Act(ctx, b.actionJob(t), act.Job{Created: time.Now()})
	require.NoError(t, err)
	require.Zero(t, step.Snooze)
	require.Equal(t, incident.StateVerifying, b.state(t, inc.ID))
	try, _ := b.try(t, inc, "load")
	require.Equal(t, 2, try, "cleared once")
	return inc, rec
}

// stillRunning makes the stand-in answer that load's task instance in the
// incident's run is running: its own answer with the state changed.
func (b *testBundle) stillRunning(t *testing.T, inc *incident.Incident) {
	t.Helper()
	path := "/api/v2/dags/" + dagID + "/dagRuns/" + inc.RunID + "/taskInstances/load"
	req, err := http.NewRequest(http.MethodGet, b.srv.URL+"/api/v2/dags/"+dagID+"/dagRuns/"+url.PathEscape(inc.RunID)+"/taskInstances/load", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+b.sim.IssueToken("medic"))
	resp, err := b.srv.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var ti map[string]any
	require.NoError(t, json.Unmarshal(raw, &ti))
	ti["state"], ti["end_date"] = "running", nil
	body, err := json.Marshal(ti)
	require.NoError(t, err)
	b.sim.SetFault(airflowsim.Fault{PathPrefix: path, Method: http.MethodGet, Status: http.StatusOK, Body: string(body)})
}

func TestVerify(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		outcomes []airflowsim.Outcome
		// running keeps the cleared task running until the window passes.
		running          bool
		wantVerification incident.Verification
		wantState        incident.State
		// wantFeedback is the memory's one feedback, none when empty.
		wantFeedback memory.Outcome
	}{
		{
			name: "fixed", outcomes: []airflowsim.Outcome{sigterm, succeeded},
			wantVerification: incident.VerificationVerified, wantState: incident.StateResolved, wantFeedback: memory.OutcomeFixed,
		},
		{
			name: "failed again", outcomes: []airflowsim.Outcome{sigterm, sigterm},
			wantVerification: incident.VerificationFailed, wantState: incident.StateEscalated, wantFeedback: memory.OutcomeFailed,
		},
		{
			name: "still running when the window passes", outcomes: []airflowsim.Outcome{sigterm, succeeded}, running: true,
			wantVerification: incident.VerificationEscalated, wantState: incident.StateEscalated,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			b := setup(t, nil)
			inc, rec := b.executed(t, tt.outcomes)
			args := b.verifyJob(t)
			require.Equal(t, rec.Decision.IdempotencyKey, args.IdempotencyKey)

			if tt.running {
				b.stillRunning(t, inc)
				step, err := b.rem.Verify(ctx, args)
				require.NoError(t, err)
				require.Equal(t, 20*time.Millisecond, step.Snooze, "checks again while the window is open")
				run, err := b.st.ActionGet(ctx, args.IdempotencyKey)
				require.NoError(t, err)
				require.Equal(t, incident.VerificationPending, run.Verification)
				require.Equal(t, incident.StateVerifying, b.state(t, inc.ID))
				b.clock.Advance(rec.Decision.Verify.Window + time.Minute)
			}

			step, err := b.rem.Verify(ctx, args)
			require.NoError(t, err)
			require.Zero(t, step.Snooze)
			run, err := b.st.ActionGet(ctx, args.IdempotencyKey)
			require.NoError(t, err)
			require.Equal(t, tt.wantVerification, run.Verification)
			require.Equal(t, tt.wantState, b.state(t, inc.ID))
			verified := b.audits(t, inc.ID, "action.verified")
			require.Len(t, verified, 1)
			require.NotNil(t, verified[0].Verification)
			require.Equal(t, string(tt.wantVerification), verified[0].Verification.Outcome)
			if tt.running {
				require.Contains(t, verified[0].Verification.Detail, "window passed")
				require.Contains(t, verified[0].Verification.Detail, "is running")
			}
			wantCalls := func() {
				t.Helper()
				calls := b.mem.Calls()
				if tt.wantFeedback == "" {
					require.Empty(t, calls, "an undecided verification teaches the memory nothing")
					return
				}
				require.Len(t, calls, 1)
				require.Equal(t, inc.ID, calls[0].ID)
				require.Equal(t, tt.wantFeedback, calls[0].Update.Outcome)
				require.Equal(t, "retry", calls[0].Update.Action, "in the diagnosis vocabulary")
			}
			wantCalls()

			// A redelivered verification after it settled does nothing.
			for range 2 {
				step, err := b.rem.Verify(ctx, args)
				require.NoError(t, err)
				require.Zero(t, step.Snooze)
			}
			wantCalls()
			require.Len(t, b.audits(t, inc.ID, "action.verified"), 1)
			require.Equal(t, tt.wantState, b.state(t, inc.ID))
			try, _ := b.try(t, inc, "load")
			require.Equal(t, 2, try, "verifying never acts")
		})
	}
}
