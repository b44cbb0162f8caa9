package slacktest_test

import (
	"bytes"
	"context"
	"net/http"
	"testing"
	"time"

	slackapi "github.com/slack-go/slack"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/medic-sh/medic/internal/notify/slack/slacktest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type testBundle struct {
	srv    *slacktest.Server
	client *slackapi.Client
}

func setup(t *testing.T, opts ...slacktest.Option) *testBundle {
	t.Helper()
	srv := slacktest.New(t, opts...)
	return &testBundle{srv: srv, client: slackapi.New(srv.Token(), slackapi.OptionAPIURL(srv.URL()+"/"))}
}

var blocks = []slackapi.Block{
	slackapi.NewHeaderBlock(slackapi.NewTextBlockObject(slackapi.PlainTextType, "orders_etl.transform failed", false, false)),
	slackapi.NewSectionBlock(slackapi.NewTextBlockObject(slackapi.MarkdownType, "*Root cause* SCHEMA_CHANGE", false, false), nil, nil),
}

func meta(id string) slackapi.SlackMetadata {
	return slackapi.SlackMetadata{EventType: "medic_incident", EventPayload: map[string]any{"incident_id": id}}
}

func TestPostUpdateAndReply(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()

	ch, ts, err := b.client.PostMessageContext(ctx, "C1",
		slackapi.MsgOptionText("orders_etl.transform failed", false),
		slackapi.MsgOptionBlocks(blocks...), slackapi.MsgOptionMetadata(meta("inc_1")))
	require.NoError(t, err)
	require.Equal(t, "C1", ch)
	require.Equal(t, "1700000000.000100", ts)

	_, rts, err := b.client.PostMessageContext(ctx, "C1", slackapi.MsgOptionText("finding", false), slackapi.MsgOptionTS(ts))
	require.NoError(t, err)
	require.Equal(t, "1700000000.000200", rts)

	_, uts, text, err := b.client.UpdateMessageContext(ctx, "C1", ts,
		slackapi.MsgOptionText("resolved", false), slackapi.MsgOptionBlocks(blocks[0]),
		slackapi.MsgOptionMetadata(slackapi.SlackMetadata{EventType: "medic_incident", EventPayload: map[string]any{"incident_id": "inc_1", "state": "resolved"}}))
	require.NoError(t, err)
	require.Equal(t, ts, uts)
	require.Equal(t, "resolved", text)

	msgs := b.srv.Messages("C1")
	require.Len(t, msgs, 1)
	m := msgs[0]
	require.Equal(t, ts, m.TS)
	require.Equal(t, "resolved", m.Text)
	require.Equal(t, 1, m.Updates)
	require.JSONEq(t, `[{"type":"header","text":{"type":"plain_text","text":"orders_etl.transform failed","emoji":false}}]`, string(m.Blocks))
	require.Equal(t, "resolved", m.Metadata.EventPayload["state"])
	require.Len(t, m.Replies, 1)
	require.Equal(t, "finding", m.Replies[0].Text)
	require.Equal(t, ts, m.Replies[0].ThreadTS)

	reqs := b.srv.Requests()
	require.Len(t, reqs, 3)
	require.Equal(t, []string{"chat.postMessage", "chat.postMessage", "chat.update"}, []string{reqs[0].Method, reqs[1].Method, reqs[2].Method})
	require.Equal(t, slacktest.DefaultToken, reqs[0].Token)
	require.Len(t, reqs[0].Blocks, 2)
	require.Equal(t, ts, reqs[1].Form.Get("thread_ts"))
	require.Equal(t, ts, reqs[2].Form.Get("ts"))
	require.JSONEq(t, `{"event_type":"medic_incident","event_payload":{"incident_id":"inc_1"}}`, reqs[0].Form.Get("metadata"))
	require.False(t, reqs[0].Time.IsZero())
}

func TestPostErrors(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	tests := []struct {
		name string
		opts []slackapi.MsgOption
		want string
	}{
		{"no text", nil, "no_text"},
		{"unknown thread", []slackapi.MsgOption{slackapi.MsgOptionText("x", false), slackapi.MsgOptionTS("1.000001")}, "thread_not_found"},
		{"too many blocks", []slackapi.MsgOption{slackapi.MsgOptionBlocks(make51()...)}, "invalid_blocks"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := b.client.PostMessageContext(ctx, "C1", tt.opts...)
			var se slackapi.SlackErrorResponse
			require.ErrorAs(t, err, &se)
			require.Equal(t, tt.want, se.Err)
		})
	}
	_, _, _, err := b.client.UpdateMessageContext(ctx, "C1", "1.000001", slackapi.MsgOptionText("x", false))
	require.ErrorContains(t, err, "message_not_found")
}

func make51() []slackapi.Block {
	out := make([]slackapi.Block, 51)
	for i := range out {
		out[i] = slackapi.NewDividerBlock()
	}
	return out
}

func TestHistory(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	b.srv.Seed("CALERT",
		slacktest.Message{TS: "1690000000.000001", Text: "old alert", BotID: "BAIRFLOW"},
		slacktest.Message{Text: "Task failed: orders_etl.transform", BotID: "BAIRFLOW", Metadata: &slackapi.SlackMetadata{EventType: "airflow_failure"}},
	)
	for _, text := range []string{"a", "b", "c"} {
		_, _, err := b.client.PostMessageContext(ctx, "CALERT", slackapi.MsgOptionText(text, false), slackapi.MsgOptionMetadata(meta(text)))
		require.NoError(t, err)
	}
	_, _, err := b.client.PostMessageContext(ctx, "CALERT", slackapi.MsgOptionText("reply", false), slackapi.MsgOptionTS("1700000000.000100"))
	require.NoError(t, err)

	var got []slackapi.Message
	cursor, pages := "", 0
	for {
		resp, err := b.client.GetConversationHistoryContext(ctx, &slackapi.GetConversationHistoryParameters{
			ChannelID: "CALERT", Limit: 2, Cursor: cursor, IncludeAllMetadata: true,
		})
		require.NoError(t, err)
		got = append(got, resp.Messages...)
		pages++
		cursor = resp.ResponseMetaData.NextCursor
		require.Equal(t, cursor != "", resp.HasMore)
		if cursor == "" {
			break
		}
	}
	require.Equal(t, 3, pages)
	texts := make([]string, len(got))
	for i, m := range got {
		texts[i] = m.Text
	}
	// Newest first, parents only; the seeded message without a TS got the
	// first timestamp, the reply went to its thread.
	require.Equal(t, []string{"c", "b", "a", "Task failed: orders_etl.transform", "old alert"}, texts)
	require.Equal(t, "1700000000.000100", got[3].Timestamp)
	require.Equal(t, "airflow_failure", got[3].Metadata.EventType)
	require.Equal(t, 1, got[3].ReplyCount)
	require.Equal(t, "c", got[0].Metadata.EventPayload["incident_id"])

	// oldest and latest are exclusive; metadata only when asked for.
	resp, err := b.client.GetConversationHistoryContext(ctx, &slackapi.GetConversationHistoryParameters{
		ChannelID: "CALERT", Oldest: "1700000000.000200", Latest: "1700000000.000400",
	})
	require.NoError(t, err)
	require.Len(t, resp.Messages, 1)
	require.Equal(t, "b", resp.Messages[0].Text)
	require.Empty(t, resp.Messages[0].Metadata.EventType)
}

func TestFailures(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("slack error then success", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.srv.Fail("chat.postMessage", "channel_not_found", 1)
		_, _, err := b.client.PostMessageContext(ctx, "C1", slackapi.MsgOptionText("x", false))
		var se slackapi.SlackErrorResponse
		require.ErrorAs(t, err, &se)
		require.Equal(t, "channel_not_found", se.Err)
		_, _, err = b.client.PostMessageContext(ctx, "C1", slackapi.MsgOptionText("x", false))
		require.NoError(t, err)
		require.Len(t, b.srv.Requests(), 2, "failed calls are recorded too")
	})
	t.Run("rate limited", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.srv.RateLimit("chat.update", 1500*time.Millisecond, 2)
		_, ts, err := b.client.PostMessageContext(ctx, "C1", slackapi.MsgOptionText("x", false))
		require.NoError(t, err)
		for range 2 {
			_, _, _, err = b.client.UpdateMessageContext(ctx, "C1", ts, slackapi.MsgOptionText("y", false))
			var rl *slackapi.RateLimitedError
			require.ErrorAs(t, err, &rl)
			require.Equal(t, 2*time.Second, rl.RetryAfter)
		}
		_, _, _, err = b.client.UpdateMessageContext(ctx, "C1", ts, slackapi.MsgOptionText("y", false))
		require.NoError(t, err)
	})
	t.Run("down", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.srv.Down(true)
		_, err := b.client.AuthTestContext(ctx)
		var sc slackapi.StatusCodeError
		require.ErrorAs(t, err, &sc)
		require.Equal(t, http.StatusServiceUnavailable, sc.Code)
		b.srv.Down(false)
		_, err = b.client.AuthTestContext(ctx)
		require.NoError(t, err)
	})
	t.Run("every call until reset", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.srv.Fail("*", "token_revoked", 0)
		for range 3 {
			_, err := b.client.AuthTestContext(ctx)
			require.ErrorContains(t, err, "token_revoked")
		}
		b.srv.Reset()
		_, err := b.client.AuthTestContext(ctx)
		require.NoError(t, err)
	})
	t.Run("wrong token", func(t *testing.T) {
		t.Parallel()
		b := setup(t, slacktest.WithToken("xoxb-right"))
		_, err := slackapi.New("xoxb-wrong", slackapi.OptionAPIURL(b.srv.URL()+"/")).AuthTestContext(ctx)
		require.ErrorContains(t, err, "invalid_auth")
		at, err := b.srv.Client().AuthTestContext(ctx)
		require.NoError(t, err)
		require.Equal(t, slacktest.BotID, at.BotID)
	})
}

// TestJSONBody covers a JSON-bodied call with a bearer token, as Slack's
// newer clients send.
func TestJSONBody(t *testing.T) {
	t.Parallel()
	b := setup(t)
	body := `{"channel":"C9","text":"hi","blocks":[{"type":"divider"}],"metadata":{"event_type":"e","event_payload":{"k":1}}}`
	req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, b.srv.URL()+"/chat.postMessage", bytes.NewBufferString(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	req.Header.Set("Authorization", "Bearer "+b.srv.Token())
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	msgs := b.srv.Messages("C9")
	require.Len(t, msgs, 1)
	require.JSONEq(t, `[{"type":"divider"}]`, string(msgs[0].Blocks))
	require.InDelta(t, 1.0, msgs[0].Metadata.EventPayload["k"], 0)
	require.Len(t, b.srv.Requests()[0].Blocks, 1)
}

func TestSeedAttachmentsAndSubtype(t *testing.T) {
	t.Parallel()
	b := setup(t)
	att := slackapi.Attachment{Pretext: ":red_circle: Task Failed.", Fields: []slackapi.AttachmentField{{Title: "Dag", Value: "etl"}}}
	b.srv.Seed("C1",
		slacktest.Message{Text: "", BotID: "B0AIRFLOW", SubType: "bot_message", Attachments: []slackapi.Attachment{att}},
		slacktest.Message{Text: "joined", User: "U1", SubType: "channel_join"},
	)
	resp, err := b.client.GetConversationHistoryContext(context.Background(), &slackapi.GetConversationHistoryParameters{ChannelID: "C1"})
	require.NoError(t, err)
	require.Len(t, resp.Messages, 2)
	require.Equal(t, "channel_join", resp.Messages[0].SubType, "newest first")
	alert := resp.Messages[1]
	require.Equal(t, "bot_message", alert.SubType)
	require.Equal(t, "B0AIRFLOW", alert.BotID)
	require.Len(t, alert.Attachments, 1)
	require.Equal(t, att.Pretext, alert.Attachments[0].Pretext)
	require.Equal(t, att.Fields, alert.Attachments[0].Fields)
}

func TestFailTokenRevoked(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.srv.Fail("*", "token_revoked", 1)
	_, err := b.client.AuthTestContext(context.Background())
	var se slackapi.SlackErrorResponse
	require.ErrorAs(t, err, &se)
	require.Equal(t, "token_revoked", se.Err)
	id, err := b.client.AuthTestContext(context.Background())
	require.NoError(t, err, "the fault was for one call")
	require.Equal(t, slacktest.BotID, id.BotID)
}
