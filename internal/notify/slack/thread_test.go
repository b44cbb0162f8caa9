package slack_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	slackapi "github.com/slack-go/slack"
	"github.com/stretchr/testify/require"

	"github.com/medic-sh/medic/internal/classify"
	"github.com/medic-sh/medic/internal/incident"
	"github.com/medic-sh/medic/internal/investigate"
	"github.com/medic-sh/medic/internal/notify"
	"github.com/medic-sh/medic/internal/notify/slack"
	"github.com/medic-sh/medic/internal/notify/slack/slacktest"
	"github.com/medic-sh/medic/internal/report"
	"github.com/medic-sh/medic/internal/store"
	"github.com/medic-sh/medic/internal/store/storetest"
)

// stormReport is the rig's incident grouping tasks failures of its run,
// with a composed investigation.
func (r *rig) stormReport(tasks int, state incident.State) *report.Report {
	r.t.Helper()
	ctx := context.Background()
	for i := 1; i < tasks; i++ {
		_, err := r.store.EventRecord(ctx, &store.EventRecordParams{Event: storetest.Event("orders_etl", "scheduled__1", fmt.Sprintf("load_%03d", i), 1), Window: time.Hour})
		require.NoError(r.t, err)
	}
	events, err := r.store.EventListByIncident(ctx, r.inc.ID)
	require.NoError(r.t, err)
	require.Len(r.t, events, tasks)
	inc := *r.inc
	inc.State = state
	rep := report.New(&inc, events, nil, "https://medic.example.com")
	rep.Investigation = &investigate.Report{
		Status: incident.SessionCompleted, Severity: incident.SeverityHigh, Summary: "warehouse unreachable",
		RootCause: &investigate.RootCause{
			Label: classify.UpstreamUnavailable, Confidence: 0.9, Source: "log-analyzer",
			Evidence: []incident.Evidence{
				{Source: "log", Ref: "load try 1", Line: 42, Text: "psycopg2.OperationalError: connection to server at <warehouse> refused"},
				{Source: "log", Ref: "load try 1", Line: 43, Text: "Is the server running on that host and accepting TCP/IP connections?"},
				{Source: "airflow_api", Ref: "/dags/orders_etl", Text: "3 tasks failed"},
				{Source: "event", Text: "a fourth quote"},
			},
		},
		Specialists: []investigate.SpecialistRun{
			{Agent: "log-analyzer", Status: incident.SessionCompleted, Summary: "UPSTREAM_UNAVAILABLE (90%)", DurationMS: 1200},
			{Agent: "owner-notifier", Status: incident.SessionFailed, Error: "airflow unreachable\nstack"},
		},
	}
	return rep
}

func TestThreadHoldsFindingsAndTheTaskList(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	ctx := context.Background()
	rep := r.stormReport(5, incident.StateInvestigating)
	n := r.notifier(nil)
	require.NoError(t, n.Notify(ctx, notify.Update{Report: rep, Reason: notify.ReasonTriaged}))

	parents := r.parents()
	require.Len(t, parents, 1)
	replies := parents[0].Replies
	require.Len(t, replies, 2, "findings, then the task list")
	findings := sectionTexts(t, replies[0])
	require.Contains(t, findings, "*log-analyzer* (completed, 1.2s): UPSTREAM_UNAVAILABLE (90%)")
	require.Contains(t, findings, "*owner-notifier* (failed): airflow unreachable")
	require.NotContains(t, findings, "stack", "one line of an error")
	require.Contains(t, findings, "&lt;warehouse&gt;", "evidence is escaped")
	require.Contains(t, findings, "log load try 1:42")
	require.Contains(t, findings, "1 more in the")
	require.NotContains(t, findings, "a fourth quote")
	tasks := sectionTexts(t, replies[1])
	require.Contains(t, tasks, "5 failed tasks")
	require.Contains(t, tasks, "orders_etl.load_004 (run scheduled__1)")

	// A redelivered first update, or one retried after a later failure,
	// posts neither reply again.
	require.NoError(t, r.notifier(nil).Notify(ctx, notify.Update{Report: rep, Reason: notify.ReasonTriaged}))
	require.Len(t, r.parents()[0].Replies, 2)
	require.Len(t, r.slack.RequestsFor("chat.postMessage"), 3)
}

// failNth fails the nth chat.postMessage request with a 500.
type failNth struct {
	n     int64
	count atomic.Int64
}

func (f *failNth) RoundTrip(req *http.Request) (*http.Response, error) {
	if strings.HasSuffix(req.URL.Path, "/chat.postMessage") && f.count.Add(1) == f.n {
		return &http.Response{StatusCode: http.StatusInternalServerError, Body: http.NoBody, Header: http.Header{}, Request: req}, nil
	}
	return http.DefaultTransport.RoundTrip(req)
}

func TestThreadReplyFailureIsRetriedAlone(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	ctx := context.Background()
	rep := r.stormReport(3, incident.StateInvestigating)
	// The parent and the findings go out; the task list fails.
	n := r.notifier(func(c *slack.Config) { c.HTTPClient = &http.Client{Transport: &failNth{n: 3}} })
	require.Error(t, n.Notify(ctx, notify.Update{Report: rep, Reason: notify.ReasonTriaged}))
	require.Len(t, r.parents()[0].Replies, 1)

	require.NoError(t, r.notifier(nil).Notify(ctx, notify.Update{Report: rep, Reason: notify.ReasonTriaged}))
	parents := r.parents()
	require.Len(t, parents, 1, "the retry edits the message it posted")
	require.Len(t, parents[0].Replies, 2, "and posts only the missing reply")
	require.Contains(t, sectionTexts(t, parents[0].Replies[1]), "3 failed tasks")
}

func TestTaskListStaysWithinSlackLimits(t *testing.T) {
	t.Parallel()
	var events []*incident.FailureEvent
	at := time.Date(2026, 5, 2, 2, 0, 0, 0, time.UTC)
	for i := range 600 {
		ev := storetest.Event(fmt.Sprintf("dag_%03d", i%40), "scheduled__1", fmt.Sprintf("task_with_a_long_name_%03d", i), 1)
		ev.OccurredAt = at.Add(time.Duration(i) * time.Second)
		events = append(events, ev)
	}
	again := *events[0] // the first task failed in a second run
	again.RunID = "scheduled__2"
	events = append(events, &again)
	got, ok := slack.Tasks(events, "https://medic.example.com/api/v1/incidents/inc_1")
	require.True(t, ok)
	require.Len(t, got.Blocks, 1)
	text := blockText(t, got)
	require.LessOrEqual(t, len([]rune(text)), slack.MaxSectionText)
	require.True(t, strings.HasPrefix(text, ":clipboard: *600 failed tasks*\n• dag_000.task_with_a_long_name_000 (2 runs)\n"), "first failure first")
	require.Regexp(t, `… and \d+ more: <https://medic\.example\.com/api/v1/incidents/inc_1\|full list>$`, text)

	_, ok = slack.Tasks(events[:1], "")
	require.False(t, ok, "one task is not a list")
}

// sectionTexts joins the texts of a posted message's section blocks.
func sectionTexts(t *testing.T, m slacktest.Message) string {
	t.Helper()
	var blocks []struct {
		Text struct{ Text string } `json:"text"`
	}
	require.NoError(t, json.Unmarshal(m.Blocks, &blocks))
	var texts []string
	for _, b := range blocks {
		texts = append(texts, b.Text.Text)
	}
	return strings.Join(texts, "\n")
}

func blockText(t *testing.T, r slack.Rendered) string {
	t.Helper()
	sec, ok := r.Blocks[0].(*slackapi.SectionBlock)
	require.True(t, ok, "a section block, got %T", r.Blocks[0])
	return sec.Text.Text
}

func TestRouting(t *testing.T) {
	t.Parallel()
	routes := []slack.Route{
		{Tier: "tier1", MinSeverity: incident.SeverityCritical, Channel: "C0CRITICAL"},
		{Owner: "Finance", Channel: "C0FINANCE"},
		{DAG: "mkt_*", Channel: "C0MARKETING"},
	}
	tests := []struct {
		name     string
		dag      string
		owner    string
		tier     string
		severity incident.Severity
		ownerCh  string
		want     string
	}{
		{name: "tier and severity", dag: "orders_etl", tier: "tier1", severity: incident.SeverityCritical, want: "C0CRITICAL"},
		{name: "tier1 but not critical falls through", dag: "orders_etl", tier: "tier1", severity: incident.SeverityHigh, want: channel},
		{name: "owner, any case", dag: "orders_etl", owner: "finance", want: "C0FINANCE"},
		{name: "dag wildcard", dag: "mkt_daily", want: "C0MARKETING"},
		{name: "route before the owner's channel", dag: "mkt_daily", ownerCh: "C0OWNER", want: "C0MARKETING"},
		{name: "owner's channel", dag: "orders_etl", ownerCh: "C0OWNER", want: "C0OWNER"},
		{name: "default", dag: "orders_etl", want: channel},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := newRig(t)
			inc := *r.inc
			inc.DagID, inc.State, inc.Severity = tt.dag, incident.StateInvestigating, incident.SeverityLow
			rep := report.New(&inc, nil, nil, "")
			rep.Investigation = &investigate.Report{
				Severity: tt.severity,
				Owner:    &investigate.Owner{Name: tt.owner, Channel: tt.ownerCh},
				Impact:   &investigate.Impact{Tier: tt.tier},
			}
			n := r.notifier(func(c *slack.Config) { c.Routes = routes })
			require.NoError(t, n.Notify(context.Background(), notify.Update{Report: rep, Reason: notify.ReasonTriaged}))
			require.Len(t, r.slack.Messages(tt.want), 1)
			m, err := r.store.NotifyMessageGet(context.Background(), inc.ID, slack.Name)
			require.NoError(t, err)
			require.Equal(t, tt.want, m.Channel)
		})
	}
}

func TestMinSeverityHoldsMessagesButNotEscalations(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	ctx := context.Background()
	n := r.notifier(func(c *slack.Config) { c.MinSeverity = incident.SeverityHigh })
	low := func(state incident.State, reason string) notify.Update {
		u := r.update(state, reason)
		u.Report.Incident.Severity = incident.SeverityMedium
		return u
	}
	require.NoError(t, n.Notify(ctx, low(incident.StateInvestigating, notify.ReasonTriaged)))
	require.NoError(t, n.Notify(ctx, low(incident.StateRemediating, "state:remediating")))
	require.Empty(t, r.slack.Requests(), "below the threshold nothing is sent")

	require.NoError(t, n.Notify(ctx, low(incident.StateEscalated, "state:escalated")))
	parents := r.parents()
	require.Len(t, parents, 1, "an escalation needs a person, whatever the severity")
	require.Len(t, parents[0].Replies, 1)
	require.Contains(t, parents[0].Replies[0].Text, "escalated")

	r2 := newRig(t)
	high := r2.update(incident.StateInvestigating, notify.ReasonTriaged)
	high.Report.Incident.Severity = incident.SeverityCritical
	require.NoError(t, r2.notifier(func(c *slack.Config) { c.MinSeverity = incident.SeverityHigh }).Notify(ctx, high))
	require.Len(t, r2.parents(), 1, "severe enough")
}
