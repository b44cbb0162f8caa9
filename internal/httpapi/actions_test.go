package httpapi_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/medic-sh/medic/internal/httpapi"
	"github.com/medic-sh/medic/internal/incident"
	"github.com/medic-sh/medic/internal/store"
	"github.com/medic-sh/medic/internal/store/storetest"
)

func production(d *httpapi.Deps) { d.Environment = "production" }

// approval stores a pending approval requested by requester, expiring in
// ttl.
func (b *testBundle) approval(t *testing.T, key, requester string, ttl time.Duration) *incident.Approval {
	t.Helper()
	a := storetest.Approval("inc_1", key, requester, time.Now())
	a.ExpiresAt = time.Now().Add(ttl)
	got, created, err := b.store.ApprovalCreate(context.Background(), a)
	require.NoError(t, err)
	require.True(t, created)
	return got
}

func TestKillSwitchEndpoints(t *testing.T) {
	t.Parallel()
	b := setup(t)
	tests := []struct {
		name   string
		method string
		path   string
		token  string
		body   string
		status int
		code   string
		on     bool
	}{
		{name: "off at first", method: http.MethodGet, path: "/api/v1/actions/status", token: viewerToken, status: http.StatusOK},
		{name: "viewer may not pause", method: http.MethodPost, path: "/api/v1/actions/pause", token: viewerToken, body: `{"reason":"x"}`, status: http.StatusForbidden, code: "forbidden"},
		{name: "pause needs a reason", method: http.MethodPost, path: "/api/v1/actions/pause", token: operatorToken, body: `{}`, status: http.StatusBadRequest, code: "invalid_payload"},
		{name: "unknown field", method: http.MethodPost, path: "/api/v1/actions/pause", token: operatorToken, body: `{"why":"x"}`, status: http.StatusBadRequest, code: "invalid_payload"},
		{name: "pause", method: http.MethodPost, path: "/api/v1/actions/pause", token: operatorToken, body: `{"reason":"warehouse migration"}`, status: http.StatusOK, on: true},
		{name: "paused", method: http.MethodGet, path: "/api/v1/actions/status", token: viewerToken, status: http.StatusOK, on: true},
		{name: "resume without a reason", method: http.MethodPost, path: "/api/v1/actions/resume", token: operatorToken, body: `{}`, status: http.StatusOK},
		{name: "resumed", method: http.MethodGet, path: "/api/v1/actions/status", token: viewerToken, status: http.StatusOK},
	}
	for _, tt := range tests { // in order: each step sees the one before
		var body []byte
		if tt.body != "" {
			body = []byte(tt.body)
		}
		res := b.do(t, tt.method, tt.path, tt.token, body)
		require.Equal(t, tt.status, res.status, "%s: %s", tt.name, res.raw)
		if tt.code != "" {
			require.Equal(t, tt.code, res.errorCode(), tt.name)
			continue
		}
		require.Equal(t, tt.on, res.body["on"], tt.name)
	}
	k, err := b.store.KillSwitchGet(context.Background())
	require.NoError(t, err)
	require.Equal(t, "ci-operator", k.By)
	entries, err := b.store.AuditList(context.Background(), &store.AuditListParams{ActionPrefix: "actions."})
	require.NoError(t, err)
	require.Len(t, entries, 2)
	require.Equal(t, "actions.paused", entries[0].Action)
	require.Equal(t, "actions.resumed", entries[1].Action)
}

func TestApprovalDecisions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		opts      []func(*httpapi.Deps)
		requester string
		ttl       time.Duration
		id        string // instead of the stored approval's
		verb      string
		token     string
		body      string
		status    int
		code      string
		message   string
		want      incident.ApprovalStatus
	}{
		{name: "approve", requester: "medic", verb: "approve", token: operatorToken, body: `{}`, status: http.StatusOK, want: incident.ApprovalApproved},
		{name: "reject", requester: "medic", verb: "reject", token: operatorToken, body: `{"reason":"wrong fix"}`, status: http.StatusOK, want: incident.ApprovalRejected},
		{name: "reject needs a reason", requester: "medic", verb: "reject", token: operatorToken, body: `{}`, status: http.StatusBadRequest, code: "invalid_payload", want: incident.ApprovalPending},
		{name: "viewer may not approve", requester: "medic", verb: "approve", token: viewerToken, body: `{}`, status: http.StatusForbidden, code: "forbidden", want: incident.ApprovalPending},
		{name: "unknown", requester: "medic", id: "apr_nope", verb: "approve", token: operatorToken, body: `{}`, status: http.StatusNotFound, code: "not_found"},
		{
			name: "expired", requester: "medic", ttl: -time.Minute, verb: "approve", token: operatorToken, body: `{}`,
			status: http.StatusConflict, code: "conflict", message: "expired at", want: incident.ApprovalExpired,
		},
		{
			name: "self approval in production", opts: []func(*httpapi.Deps){production}, requester: "ci-operator", verb: "approve",
			token: operatorToken, body: `{}`, status: http.StatusForbidden, code: "self_approval", message: "requested by ci-operator", want: incident.ApprovalPending,
		},
		{name: "self approval in dev", requester: "ci-operator", verb: "approve", token: operatorToken, body: `{}`, status: http.StatusOK, want: incident.ApprovalApproved},
		{
			name: "self rejection in production", opts: []func(*httpapi.Deps){production}, requester: "ci-operator", verb: "reject",
			token: operatorToken, body: `{"reason":"not needed"}`, status: http.StatusOK, want: incident.ApprovalRejected,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, tt.opts...)
			ttl := tt.ttl
			if ttl == 0 {
				ttl = time.Hour
			}
			a := b.approval(t, "k1", tt.requester, ttl)
			id := a.ID
			if tt.id != "" {
				id = tt.id
			}
			res := b.do(t, http.MethodPost, "/api/v1/approvals/"+id+"/"+tt.verb, tt.token, []byte(tt.body))
			require.Equal(t, tt.status, res.status, string(res.raw))
			if tt.code != "" {
				require.Equal(t, tt.code, res.errorCode())
				require.Contains(t, res.errorMessage(), tt.message)
			} else {
				require.Equal(t, string(tt.want), res.body["status"])
				require.Equal(t, "ci-operator", res.body["decided_by"])
				require.Equal(t, "operator", res.body["decided_role"])
			}
			if tt.want != "" {
				got, err := b.store.ApprovalGet(context.Background(), a.ID)
				require.NoError(t, err)
				require.Equal(t, tt.want, got.Status)
			}
		})
	}
}

func TestApprovalReplayIsConflict(t *testing.T) {
	t.Parallel()
	b := setup(t)
	a := b.approval(t, "k1", "medic", time.Hour)
	res := b.do(t, http.MethodPost, "/api/v1/approvals/"+a.ID+"/approve", operatorToken, []byte(`{"reason":"ok"}`))
	require.Equal(t, http.StatusOK, res.status, string(res.raw))
	res = b.do(t, http.MethodPost, "/api/v1/approvals/"+a.ID+"/reject", adminToken, []byte(`{"reason":"no"}`))
	require.Equal(t, http.StatusConflict, res.status, string(res.raw))
	require.Contains(t, res.errorMessage(), "already approved by ci-operator at")
}

func TestApprovalReads(t *testing.T) {
	t.Parallel()
	b := setup(t)
	first := b.approval(t, "k1", "medic", time.Hour)
	second := b.approval(t, "k2", "medic", time.Hour)
	_, err := b.store.ApprovalDecide(context.Background(), &store.ApprovalDecideParams{ID: first.ID, By: "alice", Role: "operator", Reason: "no"})
	require.NoError(t, err)
	tests := []struct {
		name   string
		path   string
		status int
		ids    []string
		code   string
	}{
		{name: "all", path: "/api/v1/approvals", status: http.StatusOK, ids: []string{second.ID, first.ID}},
		{name: "pending", path: "/api/v1/approvals?status=pending", status: http.StatusOK, ids: []string{second.ID}},
		{name: "by incident", path: "/api/v1/approvals?incident_id=inc_none", status: http.StatusOK, ids: []string{}},
		{name: "bad status", path: "/api/v1/approvals?status=done", status: http.StatusBadRequest, code: "invalid_parameter"},
		{name: "unknown parameter", path: "/api/v1/approvals?state=pending", status: http.StatusBadRequest, code: "invalid_parameter"},
		{name: "one", path: "/api/v1/approvals/" + second.ID, status: http.StatusOK, ids: []string{second.ID}},
		{name: "unknown", path: "/api/v1/approvals/apr_nope", status: http.StatusNotFound, code: "not_found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res := b.do(t, http.MethodGet, tt.path, viewerToken, nil)
			require.Equal(t, tt.status, res.status, string(res.raw))
			if tt.code != "" {
				require.Equal(t, tt.code, res.errorCode())
				return
			}
			var ids []string
			if list, ok := res.body["approvals"].([]any); ok {
				ids = []string{}
				for _, a := range list {
					ids = append(ids, a.(map[string]any)["id"].(string))
				}
			} else {
				ids = []string{res.body["id"].(string)}
				require.Equal(t, "pending", res.body["status"])
				require.Equal(t, map[string]any{"would_clear": []any{"load"}}, res.body["preview"])
			}
			require.Equal(t, tt.ids, ids)
		})
	}
}
