package act_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/medic-sh/medic/internal/act"
	"github.com/medic-sh/medic/internal/classify"
	"github.com/medic-sh/medic/internal/config"
	"github.com/medic-sh/medic/internal/incident"
	"github.com/medic-sh/medic/internal/store"
)

// A person (or an assistant through MCP) picks up an escalated incident
// and asks for a retry: it becomes a proposal that waits for a person,
// and once approved it runs like any other.
func TestRequestApprovalOnAnEscalatedIncident(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	// suggest only: the policy itself never proposes, it escalates.
	b := setup(t, func(rm *config.Remediate) {
		rm.Autonomy = []config.AutonomyRule{{DAG: "*", Class: "*", Level: config.AutonomySuggest}}
	})
	inc := b.sigtermFailure(t, rootCause())
	require.NoError(t, b.rem.Decide(ctx, inc.ID, inc.TriageSessionID, false))
	require.Equal(t, incident.StateEscalated, b.state(t, inc.ID))
	try, state := b.try(t, inc, "load")
	require.Equal(t, "failed", state)

	a, created, err := b.rem.RequestApproval(ctx, &act.ApprovalRequest{IncidentID: inc.ID, Action: string(classify.Retry), RequestedBy: "claude-desktop", Reason: "the warehouse is back"})
	require.NoError(t, err)
	require.True(t, created)
	require.Equal(t, incident.ApprovalPending, a.Status)
	require.Equal(t, incident.StateAwaitingApproval, b.state(t, inc.ID), "it waits for a person now")
	try2, state2 := b.try(t, inc, "load")
	require.Equal(t, []any{try, "failed"}, []any{try2, state2}, "asking runs nothing (the dry run previews the clear)")

	again, created, err := b.rem.RequestApproval(ctx, &act.ApprovalRequest{IncidentID: inc.ID, Action: string(classify.Retry), RequestedBy: "claude-desktop"})
	require.NoError(t, err)
	require.False(t, created, "asking twice returns the same proposal")
	require.Equal(t, a.ID, again.ID)

	_, err = b.st.ApprovalDecide(ctx, &store.ApprovalDecideParams{ID: a.ID, Approve: true, By: "alice", Role: "operator", Reason: "ok"})
	require.NoError(t, err)
	require.Equal(t, incident.StateRemediating, b.state(t, inc.ID))
	step, err := b.rem.Act(ctx, store.ActionJobArgs{IncidentID: inc.ID, ApprovalID: a.ID}, act.Job{Created: time.Now()})
	require.NoError(t, err)
	require.Zero(t, step.Snooze)
	try3, _ := b.try(t, inc, "load")
	require.Equal(t, try+1, try3, "approved, it cleared the task once")

	// While that action is verified, another request is refused.
	_, _, err = b.rem.RequestApproval(ctx, &act.ApprovalRequest{IncidentID: inc.ID, Action: string(classify.Retry), RequestedBy: "claude-desktop"})
	require.ErrorIs(t, err, store.ErrConflict)
	require.ErrorContains(t, err, "wait for its outcome")
}
