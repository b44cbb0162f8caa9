package httpapi_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/medic-sh/medic/internal/audit"
	"github.com/medic-sh/medic/internal/httpapi"
	"github.com/medic-sh/medic/internal/incident"
)

// appendAudit stores n entries by actor with action.
func appendAudit(t *testing.T, b *testBundle, n int, actor, action, incidentID string) []*incident.AuditEntry {
	t.Helper()
	var out []*incident.AuditEntry
	for range n {
		e, err := b.store.AuditAppend(context.Background(), &incident.AuditEntry{Actor: actor, Action: action, IncidentID: incidentID})
		require.NoError(t, err)
		out = append(out, e)
	}
	return out
}

type auditPage struct {
	Entries     []*incident.AuditEntry `json:"entries"`
	NextAfterID int64                  `json:"next_after_id"`
}

func TestListAudit(t *testing.T) {
	t.Parallel()
	b := setup(t)
	alice := appendAudit(t, b, 3, "alice", "remediation.executed", "inc_1")
	bob := appendAudit(t, b, 2, "bob", "memory.feedback", "inc_2")
	tests := []struct {
		name   string
		query  string
		token  string
		status int
		code   string
		ids    []int64
		next   int64
	}{
		{name: "all", token: operatorToken, status: 200, ids: []int64{alice[0].ID, alice[1].ID, alice[2].ID, bob[0].ID, bob[1].ID}},
		{name: "admin too", token: adminToken, status: 200, query: "?actor=bob", ids: []int64{bob[0].ID, bob[1].ID}},
		{name: "action prefix", token: operatorToken, status: 200, query: "?action=remediation.", ids: []int64{alice[0].ID, alice[1].ID, alice[2].ID}},
		{name: "incident", token: operatorToken, status: 200, query: "?incident_id=inc_2", ids: []int64{bob[0].ID, bob[1].ID}},
		{name: "page", token: operatorToken, status: 200, query: "?limit=2", ids: []int64{alice[0].ID, alice[1].ID}, next: alice[1].ID},
		{name: "next page", token: operatorToken, status: 200, query: "?limit=2&after_id=" + itoa(alice[1].ID), ids: []int64{alice[2].ID, bob[0].ID}, next: bob[0].ID},
		{name: "until before all", token: operatorToken, status: 200, query: "?until=2000-01-01T00:00:00Z", ids: []int64{}},
		{name: "since", token: operatorToken, status: 200, query: "?since=2000-01-01T00:00:00Z&actor=alice", ids: []int64{alice[0].ID, alice[1].ID, alice[2].ID}},
		{name: "viewer refused", token: viewerToken, status: 403, code: "forbidden"},
		{name: "unknown parameter", token: operatorToken, status: 400, query: "?who=alice", code: "invalid_parameter"},
		{name: "bad since", token: operatorToken, status: 400, query: "?since=yesterday", code: "invalid_parameter"},
		{name: "bad after_id", token: operatorToken, status: 400, query: "?after_id=-1", code: "invalid_parameter"},
		{name: "twice", token: operatorToken, status: 400, query: "?actor=a&actor=b", code: "invalid_parameter"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			resp := b.do(t, http.MethodGet, "/api/v1/audit"+tt.query, tt.token, nil)
			require.Equal(t, tt.status, resp.status, "body: %s", resp.raw)
			if tt.code != "" {
				require.Equal(t, tt.code, resp.errorCode())
				return
			}
			var page auditPage
			require.NoError(t, json.Unmarshal(resp.raw, &page))
			ids := []int64{}
			for _, e := range page.Entries {
				ids = append(ids, e.ID)
				require.Len(t, e.Hash, 64)
			}
			require.Equal(t, tt.ids, ids)
			require.Equal(t, tt.next, page.NextAfterID)
		})
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func TestVerifyAudit(t *testing.T) {
	t.Parallel()
	b := setup(t)
	entries := appendAudit(t, b, 4, "alice", "test.append", "")
	verify := func(token string) (*response, *audit.Report) {
		resp := b.do(t, http.MethodGet, "/api/v1/audit/verify", token, nil)
		var rep audit.Report
		if resp.status == http.StatusOK {
			require.NoError(t, json.Unmarshal(resp.raw, &rep))
		}
		return resp, &rep
	}

	resp, _ := verify(operatorToken)
	require.Equal(t, http.StatusForbidden, resp.status, "verify takes an admin")
	resp, rep := verify(adminToken)
	require.Equal(t, http.StatusOK, resp.status, "body: %s", resp.raw)
	require.Equal(t, &audit.Report{Intact: true, Entries: 4, FirstID: entries[0].ID, LastID: entries[3].ID, LastHash: entries[3].Hash}, rep)

	tamper(t, b.dbPath, entries[1].ID, `{"approved_by":"mallory"}`)
	resp, rep = verify(adminToken)
	require.Equal(t, http.StatusOK, resp.status, "a broken chain is a finding, not a failed request")
	require.False(t, rep.Intact)
	require.Equal(t, entries[1].ID, rep.BrokenID)
	require.Equal(t, audit.ProblemHash, rep.Problem)
	require.Contains(t, rep.Reason, "the entry was changed")
}

// tamper rewrites an audit entry's detail behind the store's back, as
// someone with the database file could.
func tamper(t *testing.T, path string, id int64, detail string) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)")
	require.NoError(t, err)
	defer func() { require.NoError(t, db.Close()) }()
	res, err := db.ExecContext(context.Background(), `UPDATE audit_log SET detail = ? WHERE id = ?`, detail, id)
	require.NoError(t, err)
	n, err := res.RowsAffected()
	require.NoError(t, err)
	require.EqualValues(t, 1, n)
}

func TestPostFeedbackIsAudited(t *testing.T) {
	t.Parallel()
	mem := newMemory()
	b := setup(t, withMemory(mem), func(d *httpapi.Deps) {
		d.Now = func() time.Time { return time.Date(2026, 5, 1, 3, 0, 0, 0, time.UTC) }
	})
	inc := remembered(t, b, mem)
	resp := b.do(t, http.MethodPost, feedbackPath(inc.ID), operatorToken,
		[]byte(`{"outcome":"fixed","action":"retry","reason":"fixed after rotating password=hunter2"}`))
	require.Equal(t, http.StatusOK, resp.status, "body: %s", resp.raw)

	list := b.do(t, http.MethodGet, "/api/v1/audit?action=memory.feedback", operatorToken, nil)
	require.Equal(t, http.StatusOK, list.status, "body: %s", list.raw)
	var page auditPage
	require.NoError(t, json.Unmarshal(list.raw, &page))
	require.Len(t, page.Entries, 1)
	e := page.Entries[0]
	require.Equal(t, "ci-operator", e.Actor)
	require.Equal(t, inc.ID, e.IncidentID)
	require.Equal(t, time.Date(2026, 5, 1, 3, 0, 0, 0, time.UTC), e.At)
	var d audit.Detail
	require.NoError(t, json.Unmarshal(e.Detail, &d))
	require.Equal(t, map[string]string{"outcome": "fixed", "action": "retry"}, d.Update)
	require.Equal(t, "ci-operator", d.RequestedBy)
	require.Contains(t, d.Reason, "fixed after rotating password=[REDACTED:")
	require.NotContains(t, string(e.Detail), "hunter2")
}
