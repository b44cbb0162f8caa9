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
	"github.com/medic-sh/medic/internal/store/storetest"
)

// decisionRecord is a policy decision as act records it.
const decisionRecord = `{"decision":{"outcome":"propose","action":"clear_failed_tasks","params":{"dag_id":"etl"},` +
	`"idempotency_key":"k1","verify":{},"reasons":[{"rule":"autonomy","result":"cap","detail":"autonomy is propose"}],` +
	`"gate":{"evaluated":true,"trust":0.8,"stage1":true}},"target":{"dag_id":"etl"},"class":"UPSTREAM_UNAVAILABLE",` +
	`"confidence":0.9,"retry_safe":true,"proposed":"","facts":{},"counters":{}}`

func TestGetIncidentRemediation(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	inc := b.record(t, "etl", "run1", "load").Incident
	other := b.record(t, "report", "run1", "render").Incident

	remediation := func(t *testing.T, id string) map[string]json.RawMessage {
		t.Helper()
		resp := b.do(t, http.MethodGet, "/api/v1/incidents/"+id, viewerToken, nil)
		require.Equal(t, http.StatusOK, resp.status, "body: %s", resp.raw)
		var body struct {
			Remediation map[string]json.RawMessage `json:"remediation"`
		}
		require.NoError(t, json.Unmarshal(resp.raw, &body))
		return body.Remediation
	}
	require.Equal(t, map[string]json.RawMessage{
		"decision": json.RawMessage(`null`), "approvals": json.RawMessage(`[]`), "actions": json.RawMessage(`[]`),
	}, remediation(t, inc.ID), "nothing decided yet")

	_, err := b.store.FindingInsert(ctx, &incident.Finding{
		SessionID: inc.TriageSessionID, IncidentID: inc.ID, Kind: incident.FindingRemediation, Step: "remediate.decision",
		Summary: "propose clear_failed_tasks", Data: json.RawMessage(decisionRecord), Evidence: []incident.Evidence{},
	})
	require.NoError(t, err)
	now := time.Now()
	first, _, err := b.store.ApprovalCreate(ctx, storetest.Approval(inc.ID, "k1", "medic (policy)", now))
	require.NoError(t, err)
	_, err = b.store.ApprovalDecide(ctx, &store.ApprovalDecideParams{ID: first.ID, Approve: false, By: "oncall", Role: "operator", Reason: "no", Now: now})
	require.NoError(t, err)
	second, _, err := b.store.ApprovalCreate(ctx, storetest.Approval(inc.ID, "k2", "medic (policy)", now))
	require.NoError(t, err)
	_, _, err = b.store.ApprovalCreate(ctx, storetest.Approval(other.ID, "k3", "medic (policy)", now))
	require.NoError(t, err)
	for _, key := range []string{"run-1", "run-2"} {
		_, _, err = b.store.ActionBegin(ctx, storetest.ActionRun(inc.ID, key))
		require.NoError(t, err)
	}
	_, err = b.store.ActionFinish(ctx, &store.ActionFinishParams{IdempotencyKey: "run-1", Status: incident.RunSucceeded, Response: `{"summary":"cleared 1"}`})
	require.NoError(t, err)
	_, _, err = b.store.ActionBegin(ctx, storetest.ActionRun(other.ID, "run-other"))
	require.NoError(t, err)

	got := remediation(t, inc.ID)
	require.JSONEq(t, decisionRecord, string(got["decision"]), "the decision record as recorded")
	var approvals []*incident.Approval
	require.NoError(t, json.Unmarshal(got["approvals"], &approvals))
	require.Len(t, approvals, 2, "only the incident's approvals")
	require.Equal(t, second.ID, approvals[0].ID, "newest first")
	require.Equal(t, first.ID, approvals[1].ID)
	require.Equal(t, incident.ApprovalRejected, approvals[1].Status)
	require.Equal(t, "oncall", approvals[1].DecidedBy)
	var actions []*incident.ActionRun
	require.NoError(t, json.Unmarshal(got["actions"], &actions))
	require.Len(t, actions, 2, "only the incident's runs")
	require.Equal(t, "run-1", actions[0].IdempotencyKey, "oldest first")
	require.Equal(t, incident.RunSucceeded, actions[0].Status)
	require.Equal(t, `{"summary":"cleared 1"}`, actions[0].Response)
	require.Equal(t, "run-2", actions[1].IdempotencyKey)

	resp := b.do(t, http.MethodGet, "/api/v1/incidents/"+inc.ID, viewerToken, nil)
	require.Len(t, resp.body["findings"], 1, "the decision stays among the findings too")
	require.Equal(t, "null", string(remediation(t, other.ID)["decision"]), "another incident's decision is not this one's")
}
