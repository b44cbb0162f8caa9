package app_test

import (
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	slackapi "github.com/slack-go/slack"
	"github.com/stretchr/testify/require"

	"github.com/medic-sh/medic/internal/airflow/airflowsim"
	"github.com/medic-sh/medic/internal/config"
	"github.com/medic-sh/medic/internal/incident"
	"github.com/medic-sh/medic/internal/notify/slack/slacktest"
)

const alertChannel = "C0ALERTS"

// TestSlackAlertChannelEndToEnd: an on_failure_callback alert posted in
// a Slack alert channel for a failed task of the Airflow stand-in is the
// only report medic gets; it becomes a triaged incident, and the alert's
// thread gets medic's acknowledgement and then the diagnosis.
func TestSlackAlertChannelEndToEnd(t *testing.T) {
	t.Parallel()
	srv := slacktest.New(t, slacktest.WithClock(time.Now))
	r := newRig(t)
	cfg := testConfig(r.db, r.url, 3)
	cfg.Ingest.SlackAlerts = config.DefaultSlackAlerts()
	cfg.Ingest.SlackAlerts.Enabled = true
	cfg.Ingest.SlackAlerts.Token = config.NewSecret(srv.Token())
	cfg.Ingest.SlackAlerts.APIURL = srv.URL()
	cfg.Ingest.SlackAlerts.Channels = []string{alertChannel}
	cfg.Ingest.SlackAlerts.Interval = 50 * time.Millisecond
	require.NoError(t, cfg.Validate())
	r.start(cfg)

	run := "scheduled__2026-05-01T02:00:00+00:00"
	_, err := r.sim.StartRun("orders_etl", run, time.Date(2026, 5, 1, 2, 0, 0, 0, time.UTC),
		map[string][]airflowsim.Outcome{"load": {undefinedColumn}})
	require.NoError(t, err)
	r.mu.Lock()
	f := r.failures[len(r.failures)-1]
	r.mu.Unlock()
	logURL := fmt.Sprintf("%s/dags/%s/runs/%s/tasks/%s?try_number=%d", r.url, f.DagID, url.PathEscape(f.RunID), f.TaskID, f.TryNumber)
	srv.Seed(alertChannel, slacktest.Message{
		BotID: "B0AIRFLOW", SubType: "bot_message",
		Attachments: []slackapi.Attachment{{
			Pretext: ":red_circle: Task Failed.",
			Fields: []slackapi.AttachmentField{
				{Title: "Dag", Value: f.DagID},
				{Title: "Task", Value: f.TaskID},
				{Title: "Execution Time", Value: "2026-05-01T02:00:00+00:00"},
				{Title: "Log Url", Value: "<" + logURL + "|logs>"},
			},
		}},
	})

	incs := waitTriaged(t, r.a.Store(), 1)
	inc := incs[0]
	require.Equal(t, run, inc.RunID)
	evs, err := r.a.Store().EventListByIncident(t.Context(), inc.ID)
	require.NoError(t, err)
	require.Len(t, evs, 1)
	require.Equal(t, incident.SourceSlack, evs[0].Source)
	require.Equal(t, "load", evs[0].TaskID)

	var replies []slacktest.Message
	require.Eventually(t, func() bool {
		replies = srv.Messages(alertChannel)[0].Replies
		return len(replies) >= 2
	}, 30*time.Second, 20*time.Millisecond, "the ack and the diagnosis")
	require.Equal(t, "medic recorded this as incident "+inc.ID+" (new) — "+cfg.Server.PublicURL+"/api/v1/incidents/"+inc.ID, replies[0].Text)
	require.True(t, strings.HasPrefix(replies[1].Text, "medic diagnosis of incident "+inc.ID+": "), replies[1].Text)
	require.Contains(t, replies[1].Text, "SCHEMA_CHANGE")
	for _, reply := range replies[2:] {
		require.True(t, strings.HasPrefix(reply.Text, "medic: incident "+inc.ID+" is "), "later replies are one line on a move: %s", reply.Text)
	}
	require.NotNil(t, r.a.SlackAlerts())
	require.Empty(t, r.a.SlackAlerts().State().TokenError)
}
