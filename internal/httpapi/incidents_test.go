package httpapi_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/medic-sh/medic/internal/incident"
	"github.com/medic-sh/medic/internal/store"
)

// ids extracts incident ids from a list response.
func ids(t *testing.T, resp *response) []string {
	t.Helper()
	list, ok := resp.body["incidents"].([]any)
	require.True(t, ok, "incidents is an array: %s", resp.raw)
	out := make([]string, 0, len(list))
	for _, in := range list {
		out = append(out, in.(map[string]any)["id"].(string))
	}
	return out
}

func TestListIncidents(t *testing.T) {
	t.Parallel()
	b := setup(t)
	etl1 := b.record(t, "etl", "run1", "load").Incident
	etl2 := b.record(t, "etl", "run2", "load").Incident
	rep := b.record(t, "report", "run1", "render").Incident
	_, err := b.store.IncidentTransition(context.Background(), &store.IncidentTransitionParams{
		ID: etl2.ID, To: incident.StateInvestigating, Actor: "test",
	})
	require.NoError(t, err)
	require.NoError(t, b.store.IncidentSetSignature(context.Background(), &store.IncidentSetSignatureParams{ID: etl1.ID, Signature: "sig_0123456789abcdef"}))

	tests := []struct {
		query string
		want  []string // newest first
	}{
		{"?signature=sig_0123456789abcdef", []string{etl1.ID}},
		{"?signature=sig_ffffffffffffffff", []string{}},
		{"", []string{rep.ID, etl2.ID, etl1.ID}},
		{"?dag_id=etl", []string{etl2.ID, etl1.ID}},
		{"?state=open", []string{rep.ID, etl1.ID}},
		{"?state=investigating", []string{etl2.ID}},
		{"?state=open,investigating", []string{rep.ID, etl2.ID, etl1.ID}},
		{"?state=resolved&state=investigating", []string{etl2.ID}},
		{"?state=resolved", []string{}},
		{"?instance=main&dag_id=report", []string{rep.ID}},
		{"?instance=prod", []string{}},
		{"?since=2000-01-01T00:00:00Z", []string{rep.ID, etl2.ID, etl1.ID}},
		{"?since=2999-01-01T00:00:00%2B02:00", []string{}},
		{"?since=2000-01-01T00:00:00+00:00", []string{rep.ID, etl2.ID, etl1.ID}}, // an unencoded "+" is forgiven
		{"?limit=0", []string{rep.ID, etl2.ID, etl1.ID}},
		{"?limit=100000", []string{rep.ID, etl2.ID, etl1.ID}},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			t.Parallel()
			resp := b.do(t, http.MethodGet, "/api/v1/incidents"+tt.query, viewerToken, nil)
			require.Equal(t, http.StatusOK, resp.status, "body: %s", resp.raw)
			require.Equal(t, tt.want, ids(t, resp))
			require.Equal(t, float64(len(tt.want)), resp.body["total"])
			require.Equal(t, "", resp.body["next_cursor"])
		})
	}
}

func TestListIncidentsPages(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var want []string
	for i := range 7 {
		want = append([]string{b.record(t, "etl", fmt.Sprintf("run%d", i), "load").Incident.ID}, want...)
	}
	var got []string
	cursor := ""
	for page := 0; ; page++ {
		require.Less(t, page, 5, "paging terminates")
		q := url.Values{"limit": {"3"}, "dag_id": {"etl"}}
		if cursor != "" {
			q.Set("cursor", cursor)
		}
		resp := b.do(t, http.MethodGet, "/api/v1/incidents?"+q.Encode(), viewerToken, nil)
		require.Equal(t, http.StatusOK, resp.status, "body: %s", resp.raw)
		require.Equal(t, float64(7), resp.body["total"], "total counts every page")
		pageIDs := ids(t, resp)
		require.LessOrEqual(t, len(pageIDs), 3)
		got = append(got, pageIDs...)
		cursor, _ = resp.body["next_cursor"].(string)
		if cursor == "" {
			break
		}
	}
	require.Equal(t, want, got, "every incident once, newest first")
}

func TestListIncidentsBadParameters(t *testing.T) {
	t.Parallel()
	b := setup(t)
	tests := []struct {
		query, param, contains string
	}{
		{"?state=exploded", "state", `state "exploded" is not an incident state`},
		{"?state=open,nope", "state", "want one of open, investigating"},
		{"?since=yesterday", "since", "RFC 3339"},
		{"?since=2026-05-01", "since", "RFC 3339"},
		{"?limit=ten", "limit", "whole number"},
		{"?limit=-1", "limit", "whole number"},
		{"?cursor=not-a-cursor", "cursor", "not one this server issued"},
		{"?cursor=" + url.QueryEscape("bm90IGEgY3Vyc29y"), "cursor", "not one this server issued"},
		{"?instance=staging", "instance", "known instances are main, prod"},
		{"?dag_id=a&dag_id=b", "dag_id", "only once"},
		{"?stat=open", "stat", `unknown query parameter "stat"`},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			t.Parallel()
			resp := b.do(t, http.MethodGet, "/api/v1/incidents"+tt.query, viewerToken, nil)
			require.Equal(t, http.StatusBadRequest, resp.status, "body: %s", resp.raw)
			require.Equal(t, "invalid_parameter", resp.errorCode())
			require.Contains(t, resp.errorMessage(), tt.contains)
			require.Equal(t, tt.param, resp.body["error"].(map[string]any)["details"].(map[string]any)["parameter"])
		})
	}
}

func TestGetIncident(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	first := b.record(t, "etl", "run1", "extract")
	b.record(t, "etl", "run1", "load") // same run: joins the incident
	inc := first.Incident
	_, err := b.store.FindingInsert(ctx, &incident.Finding{
		SessionID: inc.TriageSessionID, IncidentID: inc.ID,
		Kind: incident.FindingRunSummary, Step: "run_summary", Summary: "2 of 5 tasks failed",
		Evidence: []incident.Evidence{{Source: "airflow_api", Ref: "/dags/etl/dagRuns/run1", Text: "state=failed"}},
	})
	require.NoError(t, err)

	resp := b.do(t, http.MethodGet, "/api/v1/incidents/"+inc.ID, viewerToken, nil)
	require.Equal(t, http.StatusOK, resp.status, "body: %s", resp.raw)
	got := resp.body["incident"].(map[string]any)
	require.Equal(t, inc.ID, got["id"])
	require.Equal(t, float64(2), got["event_count"])
	require.Len(t, resp.body["events"], 2)
	sess := resp.body["session"].(map[string]any)
	require.Equal(t, inc.TriageSessionID, sess["id"])
	require.Equal(t, "pending", sess["status"])
	require.Equal(t, []any{}, sess["child_session_ids"])
	findings := resp.body["findings"].([]any)
	require.Len(t, findings, 1)
	require.Equal(t, "2 of 5 tasks failed", findings[0].(map[string]any)["summary"])
}

func TestGetIncidentNotFound(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for _, id := range []string{"inc_x", "inc_%F0%9F%92%A5", url.PathEscape(string(make([]byte, 300)))} {
		resp := b.do(t, http.MethodGet, "/api/v1/incidents/"+id, viewerToken, nil)
		require.Equal(t, http.StatusNotFound, resp.status)
		require.Equal(t, "not_found", resp.errorCode())
	}
	resp := b.do(t, http.MethodGet, "/api/v1/incidents/inc_x", viewerToken, nil)
	require.Equal(t, "incident inc_x not found", resp.errorMessage())
}
