package cli_test

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/medic-sh/medic/internal/act"
	"github.com/medic-sh/medic/internal/cli"
	"github.com/medic-sh/medic/internal/config"
	"github.com/medic-sh/medic/internal/httpapi"
	"github.com/medic-sh/medic/internal/incident"
	"github.com/medic-sh/medic/internal/remediate"
	"github.com/medic-sh/medic/internal/store"
	"github.com/medic-sh/medic/internal/store/sqlite"
	"github.com/medic-sh/medic/internal/store/storetest"
)

// remediatedIncident stores an incident the policy decided about, with a
// rejected, an executed and a pending approval and two action runs, all
// through the store on a clock the test moves; it returns the incident id.
func remediatedIncident(t *testing.T, st *sqlite.Store, clock *storetest.Clock) string {
	t.Helper()
	ctx := context.Background()
	res, err := st.EventRecord(ctx, &store.EventRecordParams{Event: storetest.Event("orders_etl", "r1", "load", 1), Window: time.Hour})
	require.NoError(t, err)
	inc := res.Incident
	rec := act.Record{
		Decision: remediate.Decision{
			Outcome: remediate.OutcomePropose, Action: remediate.ClearFailedTasks, IdempotencyKey: "k-clear",
			Reasons: []remediate.Reason{
				{Rule: remediate.RuleKillSwitch, Result: "pass", Detail: "off"},
				{Rule: remediate.RuleEnvironment, Result: "cap", Detail: `production requires approval for class "UPSTREAM_UNAVAILABLE"`},
				{Rule: remediate.RuleAutonomy, Result: "info", Detail: "level auto from default"},
				{Rule: remediate.RuleGate1, Result: "fail", Detail: "similarity 0.900 × trust 0.500 = 0.450 is below 0.750"},
				{Rule: remediate.RuleGate2, Result: "pass", Detail: "confidence 0.920 ≥ 0.800 and retry-safe"},
			},
			Gate: remediate.Gate{
				Evaluated: true, Similarity: 0.9, Trust: 0.5, WeightedSimilarity: 0.45, SimilarityThreshold: 0.75,
				Confidence: 0.92, ConfidenceThreshold: 0.8, RetrySafe: true, Stage2: true,
			},
			ExpiresAt: clock.Now().Add(time.Hour),
		},
		Target: remediate.Target{IncidentID: inc.ID, DagID: "orders_etl", RunID: "r1", TaskID: "load", TryNumber: 1},
		Class:  "UPSTREAM_UNAVAILABLE", Confidence: 0.92, RetrySafe: true, Proposed: "retry",
	}
	data, err := json.Marshal(rec)
	require.NoError(t, err)
	_, err = st.FindingInsert(ctx, &incident.Finding{
		SessionID: inc.TriageSessionID, IncidentID: inc.ID, Kind: incident.FindingRemediation, Step: "remediate.decision",
		Summary: "propose clear_failed_tasks", Data: data, Evidence: []incident.Evidence{},
	})
	require.NoError(t, err)

	approval := func(key string) *incident.Approval {
		clock.Advance(time.Minute)
		a, created, err := st.ApprovalCreate(ctx, storetest.Approval(inc.ID, key, act.Actor, clock.Now()))
		require.NoError(t, err)
		require.True(t, created)
		return a
	}
	decide := func(a *incident.Approval, approve bool, reason string) {
		clock.Advance(time.Minute)
		_, err := st.ApprovalDecide(ctx, &store.ApprovalDecideParams{
			ID: a.ID, Approve: approve, By: "oncall", Role: "operator", Reason: reason, Now: clock.Now(),
		})
		require.NoError(t, err)
	}
	decide(approval("k-old"), false, "the warehouse was still down")
	executed := approval("k-clear")
	decide(executed, true, "")
	approval("k-next")

	run := storetest.ActionRun(inc.ID, "k-clear")
	run.ApprovalID = executed.ID
	_, _, err = st.ActionBegin(ctx, run)
	require.NoError(t, err)
	clock.Advance(time.Second)
	_, err = st.ActionFinish(ctx, &store.ActionFinishParams{
		IdempotencyKey: "k-clear", Status: incident.RunSucceeded, Response: `{"summary":"cleared 1 task instance(s): load"}`,
	})
	require.NoError(t, err)
	_, err = st.ActionSetVerification(ctx, &store.ActionSetVerificationParams{
		IdempotencyKey: "k-clear", Verification: incident.VerificationVerified, Detail: "load succeeded",
	})
	require.NoError(t, err)
	clock.Advance(time.Minute)
	_, _, err = st.ActionBegin(ctx, storetest.ActionRun(inc.ID, "k-again"))
	require.NoError(t, err)
	_, err = st.ActionFinish(ctx, &store.ActionFinishParams{IdempotencyKey: "k-again", Status: incident.RunUnknown, Response: "timeout after the request left"})
	require.NoError(t, err)
	return inc.ID
}

func TestIncidentsShowRemediation(t *testing.T) {
	t.Parallel()
	clock := storetest.NewClock(time.Date(2026, 5, 1, 2, 0, 0, 0, time.UTC))
	st, err := sqlite.Open(context.Background(), sqlite.Options{Path: filepath.Join(t.TempDir(), "medic.db"), Now: clock.Now})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, st.Close()) })
	h, err := httpapi.New(httpapi.Deps{
		Store: st, Events: noEvents{}, Triage: noTriage{}, Now: clock.Now,
		Tokens: []config.Token{{Name: "dashboard", Role: config.RoleViewer, Token: config.NewSecret(viewerToken)}},
	})
	require.NoError(t, err)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	env := map[string]string{"MEDIC_SERVER": srv.URL, "MEDIC_TOKEN": viewerToken}
	id := remediatedIncident(t, st, clock)

	show := medic(t, env, "incidents", "show", id)
	require.Equal(t, cli.ExitOK, show.code, show.stderr)
	require.Empty(t, show.stderr)
	at := strings.Index(show.stdout, "\n  Remediation:")
	require.GreaterOrEqual(t, at, 0, "stdout: %s", show.stdout)
	golden(t, "incidents_show_remediation.golden", show.stdout[at:])

	js := medic(t, env, "incidents", "show", id, "--json")
	require.Equal(t, cli.ExitOK, js.code, js.stderr)
	rem := jsonKeys(t, string(jsonKeys(t, js.stdout)["remediation"]))
	require.ElementsMatch(t, []string{"decision", "approvals", "actions"}, keysOf(rem))
	var got act.Record
	require.NoError(t, json.Unmarshal(rem["decision"], &got))
	require.Equal(t, remediate.OutcomePropose, got.Decision.Outcome)
}
