package slackalert_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/medic-sh/medic/internal/classify"
	"github.com/medic-sh/medic/internal/incident"
	"github.com/medic-sh/medic/internal/ingest/slackalert"
	"github.com/medic-sh/medic/internal/investigate"
	"github.com/medic-sh/medic/internal/notify"
	"github.com/medic-sh/medic/internal/notify/slack/slacktest"
	"github.com/medic-sh/medic/internal/report"
	"github.com/medic-sh/medic/internal/store"
	"github.com/medic-sh/medic/internal/triage"
)

func TestThreadNotifier(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	b.srv.Seed(channel, slacktest.Message{Text: "alert one"}, slacktest.Message{Text: "alert two"}, slacktest.Message{Text: "chatter"})
	msgs := b.srv.Messages(channel)
	for i, m := range msgs {
		a := &store.SlackAlert{Channel: channel, TS: m.TS, Status: store.SlackAlertMatched, IncidentID: "inc_1"}
		if i == 2 {
			a.Status, a.Reason = store.SlackAlertUnmatched, "matches no pattern"
		}
		_, _, err := b.st.SlackAlertInsert(ctx, a)
		require.NoError(t, err)
	}
	n := slackalert.NewThreadNotifier(slackalert.ThreadConfig{Token: b.srv.Token(), APIURL: b.srv.URL()}, b.st, nil)
	require.Equal(t, "slack_alert_thread", n.Name())
	r := &report.Report{
		Incident: &incident.Incident{ID: "inc_1"}, Triage: &triage.Summary{}, Link: "http://medic.test/api/v1/incidents/inc_1",
		Investigation: &investigate.Report{
			RootCause:  &investigate.RootCause{Label: classify.Label("SCHEMA_CHANGE"), Confidence: 0.87, Summary: "column amount was dropped upstream\nmore"},
			Owner:      &investigate.Owner{Name: "data-eng"},
			NextAction: "run the schema migration, then clear the task",
		},
	}
	want := "medic diagnosis of incident inc_1: SCHEMA_CHANGE (87% confidence) — column amount was dropped upstream\n" +
		"Owner: data-eng\nNext action: run the schema migration, then clear the task\nhttp://medic.test/api/v1/incidents/inc_1"

	// The first thread's reply fails, the second's goes out: the retry
	// replies only in the first.
	b.srv.Fail("chat.postMessage", "internal_error", 1)
	require.ErrorContains(t, n.Notify(ctx, notify.Update{Report: r, Reason: notify.ReasonTriaged}), "internal_error")
	require.Empty(t, b.srv.Messages(channel)[0].Replies)
	require.Len(t, b.srv.Messages(channel)[1].Replies, 1)
	require.NoError(t, n.Notify(ctx, notify.Update{Report: r, Reason: notify.ReasonTriaged}))
	require.NoError(t, n.Notify(ctx, notify.Update{Report: r, Reason: notify.ReasonTriaged}), "a redelivery")
	require.NoError(t, n.Notify(ctx, notify.Update{Report: r, Reason: "state:remediating"}), "not told")
	require.NoError(t, n.Notify(ctx, notify.Update{Report: r, Reason: "state:resolved", Detail: "the retry succeeded"}))

	msgs = b.srv.Messages(channel)
	for _, m := range msgs[:2] {
		require.Len(t, m.Replies, 2, m.Text)
		require.Equal(t, want, m.Replies[0].Text)
		require.Equal(t, "medic: incident inc_1 is resolved: the retry succeeded", m.Replies[1].Text)
	}
	require.Empty(t, msgs[2].Replies, "no reply to an unmatched message")
}

func TestThreadNotifierWithoutDiagnosis(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	b.srv.Seed(channel, slacktest.Message{Text: "alert"})
	ts := b.srv.Messages(channel)[0].TS
	_, _, err := b.st.SlackAlertInsert(ctx, &store.SlackAlert{Channel: channel, TS: ts, Status: store.SlackAlertDuplicate, IncidentID: "inc_2"})
	require.NoError(t, err)
	n := slackalert.NewThreadNotifier(slackalert.ThreadConfig{Token: b.srv.Token(), APIURL: b.srv.URL()}, b.st, nil)
	r := &report.Report{Incident: &incident.Incident{ID: "inc_2", Owner: "finance"}, Triage: &triage.Summary{}}
	require.NoError(t, n.Notify(ctx, notify.Update{Report: r, Reason: notify.ReasonTriaged}))
	require.NoError(t, n.Notify(ctx, notify.Update{Report: r, Reason: "state:escalated"}))
	replies := b.srv.Messages(channel)[0].Replies
	require.Len(t, replies, 2)
	require.Equal(t, "medic diagnosis of incident inc_2: root cause not known yet\nOwner: finance", replies[0].Text)
	require.Equal(t, "medic: incident inc_2 is escalated to a person", replies[1].Text)
}

func TestThreadNotifierWaitsForTheAlertRow(t *testing.T) {
	t.Parallel()
	b := setup(t)
	n := slackalert.NewThreadNotifier(slackalert.ThreadConfig{Token: b.srv.Token(), APIURL: b.srv.URL()}, b.st, nil)
	tests := []struct {
		name   string
		source incident.Source
		ok     bool
	}{
		{"opened by an alert whose row is not stored yet", incident.SourceSlack, false},
		{"opened by a callback", incident.SourceCallback, true},
	}
	for _, tt := range tests {
		r := &report.Report{
			Incident: &incident.Incident{ID: "inc_3"}, Triage: &triage.Summary{},
			Events: []*incident.FailureEvent{{Source: tt.source}},
		}
		err := n.Notify(context.Background(), notify.Update{Report: r, Reason: notify.ReasonTriaged})
		if tt.ok {
			require.NoError(t, err, tt.name)
			continue
		}
		require.ErrorIs(t, err, slackalert.ErrAlertPending, tt.name)
	}
}
