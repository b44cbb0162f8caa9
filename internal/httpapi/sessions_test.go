package httpapi_test

import (
	"context"
	"database/sql"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/medic-sh/medic/internal/incident"
)

// seedChild writes a child session straight into the database: the store has
// no way to start one yet (the investigator will), and the API must show
// children as they appear.
func (b *testBundle) seedChild(t *testing.T, parent *incident.Session, id, agent string) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+b.dbPath+"?_pragma=busy_timeout(10000)")
	require.NoError(t, err)
	defer func() { require.NoError(t, db.Close()) }()
	child, err := parent.NewChild(id, agent, time.Now())
	require.NoError(t, err)
	at := child.CreatedAt.UTC().Format("2006-01-02T15:04:05.000000000Z")
	_, err = db.ExecContext(context.Background(), `INSERT INTO sessions (id, incident_id, parent_id, agent, depth, status, error,
		created_at, updated_at, finished_at) VALUES (?, ?, ?, ?, ?, ?, '', ?, ?, NULL)`,
		child.ID, child.IncidentID, child.ParentID, child.Agent, child.Depth, child.Status, at, at)
	require.NoError(t, err)
}

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

	b.seedChild(t, root, "ses_child1", "log-analyzer")
	b.seedChild(t, root, "ses_child2", "owner-notifier")
	_, err = b.store.FindingInsert(ctx, &incident.Finding{
		SessionID: root.ID, IncidentID: inc.ID,
		Kind: incident.FindingFrequency, Step: "frequency", Summary: "first failure in 30 days",
	})
	require.NoError(t, err)

	resp = b.do(t, http.MethodGet, "/api/v1/sessions/"+root.ID, viewerToken, nil)
	require.Equal(t, http.StatusOK, resp.status)
	require.Equal(t, []any{"ses_child1", "ses_child2"}, resp.body["child_session_ids"])
	require.Len(t, resp.body["findings"], 1)

	resp = b.do(t, http.MethodGet, "/api/v1/sessions/ses_child1", viewerToken, nil)
	require.Equal(t, http.StatusOK, resp.status)
	require.Equal(t, root.ID, resp.body["parent_id"])
	require.Equal(t, float64(2), resp.body["depth"])
	require.Equal(t, []any{}, resp.body["child_session_ids"])

	resp = b.do(t, http.MethodGet, "/api/v1/incidents/"+inc.ID, viewerToken, nil)
	require.Equal(t, []any{"ses_child1", "ses_child2"}, resp.body["session"].(map[string]any)["child_session_ids"])
}

func TestGetSessionNotFound(t *testing.T) {
	t.Parallel()
	b := setup(t)
	resp := b.do(t, http.MethodGet, "/api/v1/sessions/ses_missing", viewerToken, nil)
	require.Equal(t, http.StatusNotFound, resp.status)
	require.Equal(t, "not_found", resp.errorCode())
	require.Equal(t, "session ses_missing not found", resp.errorMessage())
}
