package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/medic-sh/medic/internal/airflow/airflowsim"
	"github.com/medic-sh/medic/internal/config"
	"github.com/medic-sh/medic/internal/httpapi"
	"github.com/medic-sh/medic/internal/incident"
	"github.com/medic-sh/medic/internal/notify/slack/slacktest"
	"github.com/medic-sh/medic/internal/store"
)

const (
	slackChannel  = "C0INCIDENTS"
	slackSecret   = "slack-signing-secret-0123456789"
	slackApprover = "U0APPROVER"
)

func withSlack(cfg *config.Config, srv *slacktest.Server) *config.Config {
	cfg.Notify.Slack = config.Slack{
		Enabled: true, Token: config.NewSecret(srv.Token()), Channel: slackChannel, APIURL: srv.URL(),
		SigningSecret: config.NewSecret(slackSecret), Approvers: []string{slackApprover},
	}
	return cfg
}

// slackClick posts a click on one of the message's buttons, signed with
// secret, as Slack would.
func slackClick(t *testing.T, addr, secret, user, actionID, value string) int {
	t.Helper()
	payload, err := json.Marshal(map[string]any{
		"type": "block_actions", "user": map[string]any{"id": user, "name": "alice"},
		"actions": []map[string]any{{"action_id": actionID, "block_id": "medic_approval", "value": value, "type": "button"}},
	})
	require.NoError(t, err)
	body := []byte(url.Values{"payload": {string(payload)}}.Encode())
	ts := time.Now().Unix()
	req, err := http.NewRequest(http.MethodPost, "http://"+addr+"/api/v1/slack/interactions", bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Slack-Request-Timestamp", strconv.FormatInt(ts, 10))
	req.Header.Set("X-Slack-Signature", httpapi.SignSlack([]byte(secret), ts, body))
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	return resp.StatusCode
}

// buttons returns the approval ids behind the message's Approve buttons.
func buttons(t *testing.T, m slacktest.Message) []string {
	t.Helper()
	var blocks []map[string]any
	require.NoError(t, json.Unmarshal(m.Blocks, &blocks))
	var ids []string
	for _, b := range blocks {
		if b["type"] != "actions" {
			continue
		}
		for _, el := range b["elements"].([]any) {
			e := el.(map[string]any)
			if e["action_id"] == "medic_approve" {
				ids = append(ids, e["value"].(string))
			}
		}
	}
	return ids
}

func (r *rig) slackParents(srv *slacktest.Server) []slacktest.Message {
	var out []slacktest.Message
	for _, m := range srv.Messages(slackChannel) {
		if m.ThreadTS == "" {
			out = append(out, m)
		}
	}
	return out
}

// TestSlackApprovalEndToEnd: a proposal's message carries Approve and
// Reject buttons; a forged click changes nothing; a restarted medic and a
// signed click from an approver run the action, and the same message shows
// the incident resolved and who approved it.
func TestSlackApprovalEndToEnd(t *testing.T) {
	t.Parallel()
	srv := slacktest.New(t)
	r := newRig(t)
	r.start(withSlack(r.config(nil), srv))
	inc := r.fail(sigterm, succeeded)
	require.Equal(t, incident.StateAwaitingApproval, inc.State)

	var parent slacktest.Message
	require.Eventually(t, func() bool {
		ps := r.slackParents(srv)
		if len(ps) != 1 || len(buttons(t, ps[0])) == 0 {
			return false
		}
		parent = ps[0]
		return true
	}, time.Minute, 20*time.Millisecond, "the proposal's message shows its buttons")
	approval := buttons(t, parent)[0]
	require.Equal(t, r.pending(inc.ID).ID, approval)

	require.Equal(t, http.StatusUnauthorized, slackClick(t, r.a.Addr(), "forged-secret", slackApprover, "medic_approve", approval))
	require.Equal(t, http.StatusOK, slackClick(t, r.a.Addr(), slackSecret, "U0INTRUDER", "medic_approve", approval))
	require.Equal(t, incident.ApprovalPending, r.pending(inc.ID).Status, "neither a forged click nor a non-approver decides")
	require.Contains(t, r.auditActions(inc.ID), "approval.refused")

	r.start(withSlack(r.config(nil), srv)) // a restart mid-incident
	require.Equal(t, http.StatusOK, slackClick(t, r.a.Addr(), slackSecret, slackApprover, "medic_approve", approval))
	r.settle(inc.ID, incident.StateResolved)
	try, _ := r.tryOf(inc.RunID)
	require.Equal(t, 2, try)

	require.Eventually(t, func() bool {
		ps := r.slackParents(srv)
		return len(ps) == 1 && bytes.Contains(ps[0].Blocks, []byte("resolved")) && len(ps[0].Replies) >= 3
	}, time.Minute, 20*time.Millisecond, "the same message is edited to resolved, with the moves in its thread")
	ps := r.slackParents(srv)
	require.Len(t, ps, 1, "one message for the incident, across the restart")
	require.Equal(t, parent.TS, ps[0].TS)
	require.Contains(t, string(ps[0].Blocks), "alice", "the message says who approved")
	require.Empty(t, buttons(t, ps[0]), "no buttons once decided")
}

// TestStormIsOneIncidentAndOneMessage sends 500 task failures from one
// cause (a warehouse refusing connections, worded as three drivers word
// it) on 25 DAGs within ten seconds, and 40 failures of another cause in
// the same window: two incidents, two Slack messages, each edited a
// bounded number of times, the storm's saying plainly how many tasks and
// DAGs failed.
func TestStormIsOneIncidentAndOneMessage(t *testing.T) {
	// Not parallel: it runs alone, so that the storm's timing is its own.
	srv := slacktest.New(t)
	r := newRig(t)
	const dags, runs, other = 25, 20, 40
	for i := range dags {
		require.NoError(t, r.sim.AddDAG(airflowsim.DAG{
			ID: fmt.Sprintf("wh_%02d", i), Owners: []string{"data-eng"},
			Tasks: []airflowsim.Task{{ID: "load", Downstream: []string{"report"}}, {ID: "report"}},
		}))
	}
	require.NoError(t, r.sim.AddDAG(airflowsim.DAG{ID: "ledger", Tasks: []airflowsim.Task{{ID: "export"}}}))
	cfg := withSlack(r.config(nil), srv)
	cfg.Ingest.Coalesce = config.DefaultCoalesce()
	// The investigation waits until no failure joined for 20 s, and at most
	// 2 min: a loaded machine may pause between two failures for seconds.
	cfg.Ingest.Coalesce.Debounce, cfg.Ingest.Coalesce.MaxWait = 20*time.Second, 2*time.Minute
	inst := &cfg.Airflow.Instances[0]
	inst.RateLimit, inst.Burst, inst.MaxConcurrency = 1000, 200, 16
	r.start(cfg)

	refused := []string{
		`psycopg2.OperationalError: connection to server at "warehouse.internal" (10.20.3.14), port 5432 failed: Connection refused`,
		`sqlalchemy.exc.OperationalError: (psycopg2.OperationalError) could not connect to server: Connection refused. Is the server running on host "warehouse.internal" (10.20.3.14) and accepting TCP/IP connections on port 5432?`,
		`org.postgresql.util.PSQLException: Connection to warehouse.internal:5432 refused. Check that the hostname and port are correct and that the postmaster is accepting TCP/IP connections.`,
	}
	type failure struct{ dag, run, task, exc string }
	var storm []failure
	for i := range dags {
		for j := range runs {
			storm = append(storm, failure{fmt.Sprintf("wh_%02d", i), fmt.Sprintf("scheduled__2026-07-%02dT02:00:00+00:00", j+1), "load", refused[(i+j)%len(refused)]})
		}
	}
	for j := range other {
		storm = append(storm, failure{"ledger", fmt.Sprintf("scheduled__2026-07-%02dT03:%02d:00+00:00", j%28+1, j), "export", "KeyError: 'currency_code'"})
	}
	for _, f := range storm {
		day, _ := strconv.Atoi(f.run[18:20])
		_, err := r.sim.StartRun(f.dag, f.run, time.Date(2026, 7, day, 2, 0, 0, 0, time.UTC).Add(time.Duration(len(f.run))*time.Second),
			map[string][]airflowsim.Outcome{f.task: {airflowsim.Failure(f.exc + "\n")}})
		require.NoError(t, err)
	}
	start := time.Now()
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for _, f := range storm {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			require.Equal(t, http.StatusAccepted, postCallback(t, r.a.Addr(), map[string]any{
				"dag_id": f.dag, "run_id": f.run, "task_id": f.task, "try_number": 1, "exception": f.exc,
			}))
		}()
	}
	wg.Wait()
	sent := time.Since(start)

	var list *store.IncidentListResult
	require.Eventually(t, func() bool {
		var err error
		list, err = r.a.Store().IncidentList(context.Background(), &store.IncidentListParams{Limit: store.MaxListLimit})
		require.NoError(t, err)
		for _, in := range list.Incidents {
			if !in.Decided() || in.NotifiedAt == nil {
				return false
			}
		}
		return len(list.Incidents) > 0
	}, 3*time.Minute, 50*time.Millisecond)
	require.Len(t, list.Incidents, 2, "one incident per cause")
	counts := map[string]int{}
	for _, in := range list.Incidents {
		counts[in.DagID[:2]] = in.EventCount
	}
	require.Equal(t, map[string]int{"wh": dags * runs, "le": other}, counts)

	require.Eventually(t, func() bool {
		ps := r.slackParents(srv)
		return len(ps) == 2 && ps[0].Updates >= 1 && ps[1].Updates >= 1
	}, time.Minute, 20*time.Millisecond, "two messages, each edited when its incident was decided")
	ps := r.slackParents(srv)
	require.Len(t, ps, 2, "one message per incident")
	var stormMsg *slacktest.Message
	for i, p := range ps {
		require.LessOrEqual(t, p.Updates, 3, "a bounded number of edits")
		if strings.Contains(p.Text, "warehouse.internal") {
			stormMsg = &ps[i]
		}
	}
	require.NotNil(t, stormMsg)
	// 25 distinct tasks (load of each DAG), 500 failures of them.
	require.Contains(t, stormMsg.Text, fmt.Sprintf("%d tasks in %d DAGs failed", dags, dags))
	require.Contains(t, string(stormMsg.Blocks), fmt.Sprintf("%d reported", dags*runs))
	// The list is in the thread, with what the specialists found.
	var threadText strings.Builder
	for _, reply := range stormMsg.Replies {
		threadText.Write(reply.Blocks)
	}
	require.Contains(t, threadText.String(), fmt.Sprintf("%d failed tasks", dags))
	require.Contains(t, threadText.String(), fmt.Sprintf("(%d runs)", runs))
	require.Contains(t, threadText.String(), "*Findings*")
	t.Logf("storm: %d failures sent in %s, settled %s after the first → %d incidents, %d Slack messages, %d chat.postMessage calls and %d chat.update calls in all",
		len(storm), sent.Round(time.Millisecond), time.Since(start).Round(time.Millisecond), len(list.Incidents), len(ps),
		len(srv.RequestsFor("chat.postMessage")), len(srv.RequestsFor("chat.update")))
}
