package slack_test

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	slackapi "github.com/slack-go/slack"
	"github.com/stretchr/testify/require"

	"github.com/medic-sh/medic/internal/incident"
	"github.com/medic-sh/medic/internal/notify"
	"github.com/medic-sh/medic/internal/notify/slack"
	"github.com/medic-sh/medic/internal/notify/slack/slacktest"
	"github.com/medic-sh/medic/internal/report"
	"github.com/medic-sh/medic/internal/store"
	"github.com/medic-sh/medic/internal/store/sqlite"
	"github.com/medic-sh/medic/internal/store/storetest"
)

const channel = "C0DEFAULT"

type rig struct {
	t     *testing.T
	slack *slacktest.Server
	store *sqlite.Store
	inc   *incident.Incident
}

func newRig(t *testing.T) *rig {
	t.Helper()
	st, err := sqlite.Open(context.Background(), sqlite.Options{Path: filepath.Join(t.TempDir(), "medic.db")})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, st.Close()) })
	res, err := st.EventRecord(context.Background(), &store.EventRecordParams{Event: storetest.Event("orders_etl", "scheduled__1", "load", 1), Window: time.Hour})
	require.NoError(t, err)
	return &rig{t: t, slack: slacktest.New(t), store: st, inc: res.Incident}
}

func (r *rig) notifier(mut func(*slack.Config)) *slack.Notifier {
	cfg := slack.Config{Token: r.slack.Token(), APIURL: r.slack.URL(), Channel: channel, MaxRateWait: 5 * time.Second}
	if mut != nil {
		mut(&cfg)
	}
	return slack.New(cfg, r.store, slog.New(slog.DiscardHandler))
}

// update is the incident's report as it stands, with what happened.
func (r *rig) update(state incident.State, reason string) notify.Update {
	inc := *r.inc
	inc.State = state
	return notify.Update{Report: report.New(&inc, nil, nil, "https://medic.example.com"), Reason: reason, Detail: "because"}
}

func (r *rig) parents() []slacktest.Message {
	var out []slacktest.Message
	for _, m := range r.slack.Messages(channel) {
		if m.ThreadTS == "" {
			out = append(out, m)
		}
	}
	return out
}

func TestOneLivingMessagePerIncident(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	ctx := context.Background()
	n := r.notifier(nil)
	require.NoError(t, n.Notify(ctx, r.update(incident.StateInvestigating, notify.ReasonTriaged)))
	require.NoError(t, n.Notify(ctx, r.update(incident.StateAwaitingApproval, "state:awaiting_approval")))
	// A restarted medic (a new notifier on the same store) edits the same message.
	require.NoError(t, r.notifier(nil).Notify(ctx, r.update(incident.StateResolved, "state:resolved")))

	parents := r.parents()
	require.Len(t, parents, 1, "one message per incident")
	p := parents[0]
	require.Equal(t, 2, p.Updates, "edited in place on each move")
	require.Len(t, p.Replies, 2, "each move is a reply in the thread")
	require.Contains(t, p.Replies[1].Text, "resolved")
	require.NotNil(t, p.Metadata)
	require.Equal(t, r.inc.ID, p.Metadata.EventPayload["incident_id"])
	m, err := r.store.NotifyMessageGet(ctx, r.inc.ID, slack.Name)
	require.NoError(t, err)
	require.Equal(t, p.TS, m.TS)
	require.Equal(t, 2, m.Updates)
	require.Len(t, r.slack.RequestsFor("chat.postMessage"), 3, "one parent, two replies")
}

func TestAMessagePostedBeforeACrashIsFoundAgain(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	ctx := context.Background()
	// A process posted the message and died before storing its ts.
	r.slack.Seed(channel, slacktest.Message{TS: fmt.Sprintf("%d.000100", time.Now().Unix()), Text: "orders_etl.load failed", Metadata: &slackapi.SlackMetadata{
		EventType: "medic_incident", EventPayload: map[string]any{"incident_id": r.inc.ID},
	}})
	require.NoError(t, r.notifier(nil).Notify(ctx, r.update(incident.StateInvestigating, notify.ReasonTriaged)))
	require.Empty(t, r.slack.RequestsFor("chat.postMessage"), "found in the history, not posted again")
	m, err := r.store.NotifyMessageGet(ctx, r.inc.ID, slack.Name)
	require.NoError(t, err)
	require.Equal(t, r.parents()[0].TS, m.TS)
}

func TestRateLimitIsWaitedOut(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	ctx := context.Background()
	r.slack.RateLimit("chat.postMessage", time.Second, 1)
	require.NoError(t, r.notifier(nil).Notify(ctx, r.update(incident.StateInvestigating, notify.ReasonTriaged)))
	require.Len(t, r.parents(), 1)

	// A limit longer than the notifier waits fails the job, which retries
	// it later: delayed, not lost, not posted twice.
	r2 := newRig(t)
	r2.slack.RateLimit("chat.postMessage", 2*time.Second, 1)
	n := r2.notifier(func(c *slack.Config) { c.MaxRateWait = time.Second })
	var rl *slackapi.RateLimitedError
	require.ErrorAs(t, n.Notify(ctx, r2.update(incident.StateInvestigating, notify.ReasonTriaged)), &rl)
	require.Empty(t, r2.parents())
	require.NoError(t, n.Notify(ctx, r2.update(incident.StateInvestigating, notify.ReasonTriaged)))
	require.Len(t, r2.parents(), 1)
}

func TestSlackErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, method, slackErr string
	}{
		{"revoked token", "chat.postMessage", "token_revoked"},
		{"invalid auth", "conversations.history", "invalid_auth"},
		{"channel gone", "chat.postMessage", "channel_not_found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := newRig(t)
			ctx := context.Background()
			r.slack.Fail(tt.method, tt.slackErr, 1)
			err := r.notifier(nil).Notify(ctx, r.update(incident.StateInvestigating, notify.ReasonTriaged))
			require.ErrorContains(t, err, tt.slackErr)
			_, err = r.store.NotifyMessageGet(ctx, r.inc.ID, slack.Name)
			require.ErrorIs(t, err, store.ErrNotFound, "nothing recorded, so the retry posts")
			require.NoError(t, r.notifier(nil).Notify(ctx, r.update(incident.StateInvestigating, notify.ReasonTriaged)))
			require.Len(t, r.parents(), 1, "posted once, on the retry")
		})
	}
}
