package httpapi_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/medic-sh/medic/internal/incident"
	"github.com/medic-sh/medic/internal/store"
)

func TestGetSession(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	inc := b.record(t, "etl", "run1", "load").Incident
	root, err := b.store.SessionGetByID(ctx, inc.TriageSessionID)
	require.NoError(t, err)

	resp := b.do(t, http.MethodGet, "/api/v1/sessions/"+root.ID, viewerToken, nil)
	require.Equal(t, http.StatusOK, resp.status, "body: %s", resp.raw)
	require.Equal(t, root.ID, resp.body["id"])
	require.Equal(t, inc.ID, resp.body["incident_id"])
	require.Equal(t, float64(1), resp.body["depth"])
	require.Equal(t, []any{}, resp.body["child_session_ids"], "always an array")
	require.Equal(t, []any{}, resp.body["findings"], "always an array")

	deadline := time.Date(2026, 5, 1, 2, 5, 0, 0, time.UTC)
	kids, err := b.store.SessionSpawn(ctx, &store.SessionSpawnParams{
		ParentID: root.ID, Deadline: deadline,
		Children: []store.SessionChild{{Agent: "log-analyzer", Input: json.RawMessage(`{"task_id":"load"}`)}, {Agent: "owner-notifier"}},
	})
	require.NoError(t, err)
	_, err = b.store.SessionFinish(ctx, &store.SessionFinishParams{
		ID: kids[0].ID, Status: incident.SessionCompleted, Result: json.RawMessage(`{"label":"SCHEMA_CHANGE"}`),
	})
	require.NoError(t, err)
	_, err = b.store.FindingInsert(ctx, &incident.Finding{
		SessionID: root.ID, IncidentID: inc.ID,
		Kind: incident.FindingFrequency, Step: "frequency", Summary: "first failure in 30 days",
	})
	require.NoError(t, err)

	resp = b.do(t, http.MethodGet, "/api/v1/sessions/"+root.ID, viewerToken, nil)
	require.Equal(t, http.StatusOK, resp.status)
	require.Equal(t, []any{kids[0].ID, kids[1].ID}, resp.body["child_session_ids"])
	require.Len(t, resp.body["findings"], 1)
	require.Equal(t, "2026-05-01T02:05:00Z", resp.body["deadline"], "the parent composes at its deadline")

	tests := []struct {
		name   string
		id     string
		status string
		input  any
		result any
	}{
		{"finished specialist", kids[0].ID, "completed", map[string]any{"task_id": "load"}, map[string]any{"label": "SCHEMA_CHANGE"}},
		{"working specialist", kids[1].ID, "pending", nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := b.do(t, http.MethodGet, "/api/v1/sessions/"+tt.id, viewerToken, nil)
			require.Equal(t, http.StatusOK, resp.status)
			require.Equal(t, root.ID, resp.body["parent_id"])
			require.Equal(t, float64(2), resp.body["depth"])
			require.Equal(t, tt.status, resp.body["status"])
			require.Equal(t, []any{}, resp.body["child_session_ids"])
			require.Equal(t, "2026-05-01T02:05:00Z", resp.body["deadline"])
			require.Equal(t, tt.input, resp.body["input"])
			require.Equal(t, tt.result, resp.body["result"])
		})
	}

	resp = b.do(t, http.MethodGet, "/api/v1/incidents/"+inc.ID, viewerToken, nil)
	require.Equal(t, []any{kids[0].ID, kids[1].ID}, resp.body["session"].(map[string]any)["child_session_ids"])
}

func TestGetSessionNotFound(t *testing.T) {
	t.Parallel()
	b := setup(t)
	resp := b.do(t, http.MethodGet, "/api/v1/sessions/ses_missing", viewerToken, nil)
	require.Equal(t, http.StatusNotFound, resp.status)
	require.Equal(t, "not_found", resp.errorCode())
	require.Equal(t, "session ses_missing not found", resp.errorMessage())
}
