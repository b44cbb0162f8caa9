package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/medic-sh/medic/internal/incident"
	"github.com/medic-sh/medic/internal/store"
)

func testActionListByIncident(t *testing.T, h *Harness) {
	ctx := context.Background()
	empty, err := h.Store.ActionListByIncident(ctx, "inc_none")
	require.NoError(t, err)
	require.Empty(t, empty, "an incident with no runs has none")

	begin := func(incidentID, key string) *incident.ActionRun {
		r, begun, err := h.Store.ActionBegin(ctx, ActionRun(incidentID, key))
		require.NoError(t, err)
		require.True(t, begun)
		h.Clock.Advance(time.Second)
		return r
	}
	// Keys sort against the order the runs began in, so that the list
	// cannot pass by sorting on the key.
	begin("inc_a", "z-first")
	begin("inc_b", "other")
	begin("inc_a", "m-second")
	begin("inc_a", "a-third")
	finished, err := h.Store.ActionFinish(ctx, &store.ActionFinishParams{IdempotencyKey: "z-first", Status: incident.RunSucceeded, Response: `{"summary":"cleared 1"}`})
	require.NoError(t, err)
	verified, err := h.Store.ActionSetVerification(ctx, &store.ActionSetVerificationParams{
		IdempotencyKey: "z-first", Verification: incident.VerificationVerified, Detail: "task succeeded",
	})
	require.NoError(t, err)
	require.Equal(t, finished.FinishedAt, verified.FinishedAt)

	list, err := h.Store.ActionListByIncident(ctx, "inc_a")
	require.NoError(t, err)
	keys := make([]string, len(list))
	for i, r := range list {
		keys[i] = r.IdempotencyKey
		require.Equal(t, "inc_a", r.IncidentID)
	}
	require.Equal(t, []string{"z-first", "m-second", "a-third"}, keys, "oldest first, only the incident's runs")
	require.Equal(t, verified, list[0], "a listed run is the run as stored")
	got, err := h.Store.ActionGet(ctx, "a-third")
	require.NoError(t, err)
	require.Equal(t, got, list[2])
}
