package slackalert_test

import (
	"bytes"
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	slackapi "github.com/slack-go/slack"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/medic-sh/medic/internal/airflow"
	"github.com/medic-sh/medic/internal/config"
	"github.com/medic-sh/medic/internal/incident"
	"github.com/medic-sh/medic/internal/ingest"
	"github.com/medic-sh/medic/internal/ingest/slackalert"
	"github.com/medic-sh/medic/internal/notify/slack/slacktest"
	"github.com/medic-sh/medic/internal/store"
	"github.com/medic-sh/medic/internal/store/sqlite"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const channel = "C0ALERTS"

var base = time.Date(2026, 5, 1, 2, 0, 0, 0, time.UTC)

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

type testBundle struct {
	srv   *slacktest.Server
	st    *sqlite.Store
	svc   *ingest.Service
	logs  *syncBuffer
	reg   *prometheus.Registry
	runs  *fakeRuns
	opts  slackalert.Options
	store slackalert.Store
}

func setup(t *testing.T) *testBundle {
	t.Helper()
	st, err := sqlite.Open(context.Background(), sqlite.Options{Path: filepath.Join(t.TempDir(), "medic.db"), Now: func() time.Time { return base }})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, st.Close()) })
	logs := &syncBuffer{}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	b := &testBundle{
		srv: slacktest.New(t, slacktest.WithClock(func() time.Time { return base })),
		st:  st, svc: ingest.NewService(st, 24*time.Hour, logger, nil, ingest.WithCoalesce(config.Coalesce{})),
		logs: logs, reg: prometheus.NewRegistry(), runs: &fakeRuns{}, store: st,
	}
	b.opts = slackalert.Options{
		Token: b.srv.Token(), APIURL: b.srv.URL(), Channels: []string{channel}, Interval: 20 * time.Millisecond,
		Lookback: time.Hour, Instance: "main", BaseURL: "http://medic.test", Logger: logger,
		Runs:        func(string) slackalert.Runs { return b.runs },
		MaxRateWait: 5 * time.Second, Now: func() time.Time { return base.Add(time.Minute) },
	}
	return b
}

// watcher builds a watcher; each call is a restart.
func (b *testBundle) watcher(t *testing.T) *slackalert.Watcher {
	t.Helper()
	p, err := slackalert.NewParser(nil, nil)
	require.NoError(t, err)
	opts := b.opts
	opts.Registerer = prometheus.NewRegistry()
	return slackalert.New(p, b.svc, b.store, opts)
}

func (b *testBundle) events(t *testing.T) []*incident.FailureEvent {
	t.Helper()
	ctx := context.Background()
	list, err := b.st.IncidentList(ctx, &store.IncidentListParams{Limit: 100})
	require.NoError(t, err)
	var out []*incident.FailureEvent
	for _, inc := range list.Incidents {
		evs, err := b.st.EventListByIncident(ctx, inc.ID)
		require.NoError(t, err)
		out = append(out, evs...)
	}
	return out
}

func (b *testBundle) replies(t *testing.T) []slacktest.Message {
	t.Helper()
	var out []slacktest.Message
	for _, m := range b.srv.Messages(channel) {
		out = append(out, m.Replies...)
	}
	return out
}

// callbackAlert is an on_failure_callback message as SlackWebhookHook
// posts it, in attachments.
func callbackAlert(task string) slacktest.Message {
	return slacktest.Message{
		BotID: "B0AIRFLOW", SubType: "bot_message",
		Attachments: []slackapi.Attachment{{
			Pretext: ":red_circle: Task Failed.",
			Fields: []slackapi.AttachmentField{
				{Title: "Dag", Value: "orders_etl"},
				{Title: "Task", Value: task},
				{Title: "Log Url", Value: "<https://af.example.com/dags/orders_etl/runs/manual__1/tasks/" + task + "?try_number=1|logs>"},
			},
		}},
	}
}

type fakeRuns struct {
	mu    sync.Mutex
	runs  []airflow.DagRun
	tis   []airflow.TaskInstance
	calls []string
}

func (f *fakeRuns) ListDagRuns(_ context.Context, dagID string, _ airflow.RunQuery) ([]airflow.DagRun, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, "runs:"+dagID)
	return f.runs, nil
}

func (f *fakeRuns) ListTaskInstances(_ context.Context, dagID, runID string) ([]airflow.TaskInstance, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, "tasks:"+dagID+"/"+runID)
	return f.tis, nil
}

func TestMatchedAlertRecordedAndAcked(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	b.srv.Seed(channel, callbackAlert("load_orders"))
	w := b.watcher(t)
	require.NoError(t, w.PollOnce(ctx))

	evs := b.events(t)
	require.Len(t, evs, 1)
	ev := evs[0]
	require.Equal(t, incident.Key{Instance: "main", DagID: "orders_etl", RunID: "manual__1", TaskID: "load_orders", TryNumber: 1}, ev.Key)
	require.Equal(t, incident.SourceSlack, ev.Source)

	replies := b.replies(t)
	require.Len(t, replies, 1)
	require.Equal(t, "medic recorded this as incident "+ev.IncidentID+" (new) — http://medic.test/api/v1/incidents/"+ev.IncidentID, replies[0].Text)
	require.Equal(t, slackalert.AckMetadataType, replies[0].Metadata.EventType)

	row, err := b.st.SlackAlertGet(ctx, channel, b.srv.Messages(channel)[0].TS)
	require.NoError(t, err)
	require.Equal(t, store.SlackAlertMatched, row.Status)
	require.Equal(t, "airflow_slack", row.Format)
	require.Equal(t, ev.IncidentID, row.IncidentID)
	require.Equal(t, replies[0].TS, row.ReplyTS)

	state := w.State()
	require.Empty(t, state.TokenError)
	require.Len(t, state.Channels, 1)
	require.Empty(t, state.Channels[0].LastError)
	require.Equal(t, base.Add(time.Minute), state.Channels[0].LastSuccess)
}

func TestAlertJoinsKnownFailure(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	_, err := b.svc.RecordEvent(ctx, &incident.FailureEvent{
		Key:      incident.Key{Instance: "main", DagID: "orders_etl", RunID: "manual__1", TaskID: "load_orders", TryNumber: 1},
		MapIndex: -1, Source: incident.SourceCallback,
	})
	require.NoError(t, err)
	b.srv.Seed(channel, callbackAlert("load_orders"))
	require.NoError(t, b.watcher(t).PollOnce(ctx))
	evs := b.events(t)
	require.Len(t, evs, 1, "the callback's report and the alert are one failure")
	require.Equal(t, 2, evs[0].Deliveries)
	row, err := b.st.SlackAlertGet(ctx, channel, b.srv.Messages(channel)[0].TS)
	require.NoError(t, err)
	require.Equal(t, store.SlackAlertDuplicate, row.Status)
	require.Contains(t, b.replies(t)[0].Text, "(joined)")
}

// forgetfulStore never moves a cursor: every poll re-reads the whole
// history, as after a crash between handling a message and saving the
// cursor.
type forgetfulStore struct{ *sqlite.Store }

func (forgetfulStore) SlackAlertCursorSet(context.Context, string, string) error { return nil }

func TestReReadRecordsAndRepliesOnce(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	b.store = forgetfulStore{b.st}
	b.srv.Seed(channel, callbackAlert("load_orders"), callbackAlert("transform"), slacktest.Message{Text: "lunch?", User: "U0PERSON"})
	w := b.watcher(t)
	for range 3 {
		require.NoError(t, w.PollOnce(ctx))
	}
	require.NoError(t, b.watcher(t).PollOnce(ctx), "a restarted watcher")
	require.Len(t, b.events(t), 2)
	require.Len(t, b.replies(t), 2, "one reply per alert, none for the chatter")
	for _, ev := range b.events(t) {
		require.Equal(t, 1, ev.Deliveries, "a re-read is not a second delivery")
	}
	require.Equal(t, 1, strings.Count(b.logs.String(), `msg="slack alert not recorded"`), "the chatter is logged once")
}

func TestRestartResumesAtCursor(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	b.srv.Seed(channel, callbackAlert("load_orders"))
	require.NoError(t, b.watcher(t).PollOnce(ctx))
	b.srv.Seed(channel, callbackAlert("transform"))
	w := b.watcher(t)
	require.NoError(t, w.PollOnce(ctx))
	require.Len(t, b.events(t), 2)
	require.Len(t, b.replies(t), 2)
	hist := b.srv.RequestsFor("conversations.history")
	require.Equal(t, b.srv.Messages(channel)[0].TS, hist[len(hist)-1].Form.Get("oldest"), "the restart reads after the cursor")
}

func TestUnmatchedAlert(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		reply   bool
		replies int
	}{
		{"no reply by default", false, 0},
		{"reply_unmatched", true, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			ctx := context.Background()
			b.opts.ReplyUnmatched = tt.reply
			b.srv.Seed(channel, slacktest.Message{BotID: "B0AIRFLOW", SubType: "bot_message", Text: ":red_circle: Task Failed.\n*Dag*: orders_etl\n*Task*: load"})
			w := b.watcher(t)
			require.NoError(t, w.PollOnce(ctx))
			require.Empty(t, b.events(t))
			row, err := b.st.SlackAlertGet(ctx, channel, b.srv.Messages(channel)[0].TS)
			require.NoError(t, err)
			require.Equal(t, store.SlackAlertUnmatched, row.Status)
			require.Equal(t, "airflow_slack: no run_id", row.Reason)
			require.Contains(t, b.logs.String(), `level=WARN msg="slack alert not recorded"`)
			require.Contains(t, b.logs.String(), `reason="airflow_slack: no run_id"`)
			replies := b.replies(t)
			require.Len(t, replies, tt.replies)
			if tt.reply {
				require.Equal(t, "medic could not read this alert: airflow_slack: no run_id", replies[0].Text)
			}
		})
	}
}

func TestRevokedTokenThenFixedLosesNothing(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	b.srv.Seed(channel, callbackAlert("load_orders"))
	b.srv.Fail("*", "token_revoked", 0)
	reg := prometheus.NewRegistry()
	p, err := slackalert.NewParser(nil, nil)
	require.NoError(t, err)
	opts := b.opts
	opts.Registerer = reg
	w := slackalert.New(p, b.svc, b.store, opts)
	for range 2 {
		err := w.PollOnce(ctx)
		var te *slackalert.TokenError
		require.ErrorAs(t, err, &te)
		require.Equal(t, "token_revoked", te.Code)
		require.ErrorContains(t, err, "nothing is read from the alert channels until it is replaced")
	}
	require.Contains(t, w.State().TokenError, "token_revoked")
	require.InDelta(t, 0, channelUp(t, reg), 0, "the channel shows down while the token is refused")
	_, ok, err := b.st.SlackAlertCursorGet(ctx, channel)
	require.NoError(t, err)
	require.False(t, ok, "the cursor is untouched")
	require.Empty(t, b.events(t))

	b.srv.Reset()
	require.NoError(t, w.PollOnce(ctx))
	require.Len(t, b.events(t), 1, "the alert posted while the token was revoked is read once it works")
	require.Len(t, b.replies(t), 1)
	require.Empty(t, w.State().TokenError)
	require.InDelta(t, 1, channelUp(t, reg), 0, "and up again once it works")
}

// channelUp is the medic_slack_alert_channel_up gauge of the test channel.
func channelUp(t *testing.T, reg *prometheus.Registry) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() != "medic_slack_alert_channel_up" {
			continue
		}
		for _, m := range mf.GetMetric() {
			if m.GetLabel()[0].GetValue() == channel {
				return m.GetGauge().GetValue()
			}
		}
	}
	t.Fatal("no medic_slack_alert_channel_up for the channel")
	return 0
}

func TestRevokedTokenMidPoll(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	w := b.watcher(t)
	require.NoError(t, w.PollOnce(ctx))
	b.srv.Seed(channel, callbackAlert("load_orders"))
	b.srv.Fail("conversations.history", "invalid_auth", 1)
	var te *slackalert.TokenError
	require.ErrorAs(t, w.PollOnce(ctx), &te)
	require.NoError(t, w.PollOnce(ctx))
	require.Len(t, b.events(t), 1)
}

func TestMissingChannel(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.srv.Fail("conversations.history", "channel_not_found", 0)
	w := b.watcher(t)
	err := w.PollOnce(context.Background())
	var ce *slackalert.ChannelError
	require.ErrorAs(t, err, &ce)
	require.Equal(t, channel, ce.Channel)
	require.ErrorContains(t, err, "slack alert channel C0ALERTS: channel_not_found")
	require.ErrorContains(t, err, "invite the bot")
	require.Contains(t, w.State().Channels[0].LastError, "channel_not_found")
}

func TestRateLimitHonoursRetryAfter(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.srv.Seed(channel, callbackAlert("load_orders"))
	b.srv.RateLimit("conversations.history", time.Second, 1)
	start := time.Now()
	require.NoError(t, b.watcher(t).PollOnce(context.Background()))
	require.GreaterOrEqual(t, time.Since(start), time.Second, "waits Retry-After")
	require.Len(t, b.srv.RequestsFor("conversations.history"), 2)
	require.Len(t, b.events(t), 1)

	b.srv.Seed(channel, callbackAlert("transform"))
	b.srv.RateLimit("conversations.history", time.Minute, 1)
	var rl *slackalert.RateLimitError
	require.ErrorAs(t, b.watcher(t).PollOnce(context.Background()), &rl, "a wait longer than MaxRateWait fails the poll")
	require.Equal(t, time.Minute, rl.RetryAfter)
	require.Len(t, b.events(t), 1, "the next poll reads it")
}

func TestSkipsOwnAndNonAlertMessages(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	parent := callbackAlert("load_orders")
	parent.TS = "1777600000.000100"
	b.srv.Seed(channel,
		parent,
		slacktest.Message{Text: "Task Failed\n*Dag*: d\n*Task*: own", User: slacktest.UserID, BotID: slacktest.BotID},
		slacktest.Message{Text: "*Dag*: d\n*Task*: meta", BotID: "B0OTHER", Metadata: &slackapi.SlackMetadata{EventType: "medic_incident"}},
		slacktest.Message{Text: "*Dag*: d\n*Task*: reply", User: "U0PERSON", ThreadTS: parent.TS},
		slacktest.Message{Text: "<@U0PERSON> has joined the channel", User: "U0PERSON", SubType: "channel_join"},
	)
	require.NoError(t, b.watcher(t).PollOnce(ctx))
	evs := b.events(t)
	require.Len(t, evs, 1)
	require.Equal(t, "load_orders", evs[0].TaskID)
	require.NotContains(t, b.logs.String(), "slack alert not recorded", "skipped messages are not unmatched alerts")
	for _, m := range b.srv.Messages(channel)[1:] {
		_, err := b.st.SlackAlertGet(ctx, channel, m.TS)
		require.ErrorIs(t, err, store.ErrNotFound, m.Text)
	}
}

func TestAstronomerAlertAsksAirflow(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	ended := time.Date(2026, 5, 1, 1, 40, 12, 0, time.UTC)
	b.runs.runs = []airflow.DagRun{{DagID: "fail_dag", RunID: "scheduled__2026-05-01T01:00:00+00:00", State: "failed", EndDate: &ended}}
	b.runs.tis = []airflow.TaskInstance{
		{DagID: "fail_dag", TaskID: "extract", State: "success", TryNumber: 1, MapIndex: -1},
		{DagID: "fail_dag", TaskID: "load", State: "failed", TryNumber: 2, MapIndex: -1},
	}
	b.srv.Seed(channel, slacktest.Message{
		BotID: "B0ASTRO", SubType: "bot_message",
		Text: "[Astro Alerts] Pipeline failure detected on DAG fail_dag. \nStart time: 2026-05-01 01:32:54 UTC. \nFailed at: 2026-05-01 01:40:10 UTC.",
	})
	require.NoError(t, b.watcher(t).PollOnce(ctx))
	evs := b.events(t)
	require.Len(t, evs, 1)
	require.Equal(t, incident.Key{Instance: "main", DagID: "fail_dag", RunID: "scheduled__2026-05-01T01:00:00+00:00", TaskID: "load", TryNumber: 2}, evs[0].Key)
	require.Equal(t, []string{"runs:fail_dag", "tasks:fail_dag/scheduled__2026-05-01T01:00:00+00:00"}, b.runs.calls)
}

func TestMetrics(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.srv.Seed(channel, callbackAlert("load_orders"), slacktest.Message{Text: "hello", User: "U0PERSON"})
	p, err := slackalert.NewParser(nil, nil)
	require.NoError(t, err)
	opts := b.opts
	opts.Registerer = b.reg
	require.NoError(t, slackalert.New(p, b.svc, b.st, opts).PollOnce(context.Background()))
	mfs, err := b.reg.Gather()
	require.NoError(t, err)
	got := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != "medic_slack_alerts_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			got[m.GetLabel()[0].GetValue()] = m.GetCounter().GetValue()
		}
	}
	require.Equal(t, map[string]float64{"matched": 1, "unmatched": 1}, got)
}

func TestStartStop(t *testing.T) {
	t.Parallel()
	b := setup(t)
	w := b.watcher(t)
	require.NoError(t, w.Start(context.Background()))
	require.Error(t, w.Start(context.Background()), "started twice")
	b.srv.Seed(channel, callbackAlert("load_orders"))
	require.Eventually(t, func() bool { return len(b.replies(t)) == 1 }, 10*time.Second, 10*time.Millisecond)
	w.Stop()
	w.Stop()
}
