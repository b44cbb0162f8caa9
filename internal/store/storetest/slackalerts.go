package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/medic-sh/medic/internal/incident"
	"github.com/medic-sh/medic/internal/store"
)

// slackAlertTests are the conformance cases of Slack alert channels.
var slackAlertTests = []struct {
	name string
	fn   func(t *testing.T, h *Harness)
}{
	{"SlackAlertInsertOnce", testSlackAlertInsertOnce},
	{"SlackAlertRejectsInvalid", testSlackAlertInvalid},
	{"SlackAlertReplyAndList", testSlackAlertReplyAndList},
	{"SlackAlertCursorMovesForward", testSlackAlertCursor},
	{"SlackAlertThreadReplies", testSlackAlertThreadReplies},
}

func testSlackAlertInsertOnce(t *testing.T, h *Harness) {
	ctx := context.Background()
	_, err := h.Store.SlackAlertGet(ctx, "C1", "1700000000.000100")
	require.ErrorIs(t, err, store.ErrNotFound)

	in := &store.SlackAlert{
		Channel: "C1", TS: "1700000000.000100", Status: store.SlackAlertMatched, Format: "airflow_slack",
		EventID: "evt_1", IncidentID: "inc_1",
	}
	got, inserted, err := h.Store.SlackAlertInsert(ctx, in)
	require.NoError(t, err)
	require.True(t, inserted)
	require.Equal(t, h.Clock.Now(), got.CreatedAt)
	want := *in
	want.CreatedAt = got.CreatedAt
	require.Equal(t, &want, got)

	h.Clock.Advance(time.Minute)
	again, inserted, err := h.Store.SlackAlertInsert(ctx, &store.SlackAlert{
		Channel: "C1", TS: "1700000000.000100",
		Status: store.SlackAlertUnmatched, Reason: "other",
	})
	require.NoError(t, err)
	require.False(t, inserted, "a message is handled once")
	require.Equal(t, got, again, "the first row stands")

	stored, err := h.Store.SlackAlertGet(ctx, "C1", "1700000000.000100")
	require.NoError(t, err)
	require.Equal(t, got, stored)
}

func testSlackAlertInvalid(t *testing.T, h *Harness) {
	ctx := context.Background()
	tests := []struct {
		name string
		in   store.SlackAlert
	}{
		{"no channel", store.SlackAlert{TS: "1.000001", Status: store.SlackAlertMatched}},
		{"no ts", store.SlackAlert{Channel: "C1", Status: store.SlackAlertMatched}},
		{"unknown status", store.SlackAlert{Channel: "C1", TS: "1.000001", Status: "lost"}},
	}
	for _, tt := range tests {
		_, _, err := h.Store.SlackAlertInsert(ctx, &tt.in)
		require.ErrorIs(t, err, incident.ErrInvalid, tt.name)
	}
	require.ErrorIs(t, h.Store.SlackAlertCursorSet(ctx, "", "1.000001"), incident.ErrInvalid)
}

func testSlackAlertReplyAndList(t *testing.T, h *Harness) {
	ctx := context.Background()
	require.ErrorIs(t, h.Store.SlackAlertSetReply(ctx, "C1", "9.000001", "10.000001"), store.ErrNotFound)
	for i, ts := range []string{"1700000000.000300", "1700000000.000100", "1700000000.000200"} {
		inc := "inc_a"
		if i == 2 {
			inc = "inc_b"
		}
		_, _, err := h.Store.SlackAlertInsert(ctx, &store.SlackAlert{Channel: "C1", TS: ts, Status: store.SlackAlertMatched, IncidentID: inc})
		require.NoError(t, err)
		h.Clock.Advance(time.Second)
	}
	_, _, err := h.Store.SlackAlertInsert(ctx, &store.SlackAlert{Channel: "C1", TS: "1700000000.000400", Status: store.SlackAlertUnmatched, Reason: "no task id"})
	require.NoError(t, err)

	require.NoError(t, h.Store.SlackAlertSetReply(ctx, "C1", "1700000000.000100", "1700000001.000100"))
	list, err := h.Store.SlackAlertListByIncident(ctx, "inc_a")
	require.NoError(t, err)
	require.Len(t, list, 2)
	require.Equal(t, "1700000000.000300", list[0].TS, "oldest handled first")
	require.Equal(t, "1700000000.000100", list[1].TS)
	require.Equal(t, "1700000001.000100", list[1].ReplyTS)
	none, err := h.Store.SlackAlertListByIncident(ctx, "inc_missing")
	require.NoError(t, err)
	require.Empty(t, none)
}

func testSlackAlertCursor(t *testing.T, h *Harness) {
	ctx := context.Background()
	_, ok, err := h.Store.SlackAlertCursorGet(ctx, "C1")
	require.NoError(t, err)
	require.False(t, ok)
	steps := []struct {
		set, want string
	}{
		{"999999999.000900", "999999999.000900"},
		{"1700000000.000100", "1700000000.000100"}, // more digits: later
		{"1700000000.000099", "1700000000.000100"}, // earlier: ignored
		{"1700000000.000200", "1700000000.000200"},
	}
	for _, s := range steps {
		require.NoError(t, h.Store.SlackAlertCursorSet(ctx, "C1", s.set))
		got, ok, err := h.Store.SlackAlertCursorGet(ctx, "C1")
		require.NoError(t, err)
		require.True(t, ok)
		require.Equal(t, s.want, got, "after setting %s", s.set)
	}
	_, ok, err = h.Store.SlackAlertCursorGet(ctx, "C2")
	require.NoError(t, err)
	require.False(t, ok, "cursors are per channel")
}

func testSlackAlertThreadReplies(t *testing.T, h *Harness) {
	ctx := context.Background()
	done, err := h.Store.SlackAlertReplied(ctx, "C1", "1.000001", "triaged")
	require.NoError(t, err)
	require.False(t, done)
	require.NoError(t, h.Store.SlackAlertRecordReply(ctx, "C1", "1.000001", "triaged", "2.000001"))
	require.NoError(t, h.Store.SlackAlertRecordReply(ctx, "C1", "1.000001", "triaged", "3.000001"), "recording again is no error")
	for _, tt := range []struct {
		ts, reason string
		want       bool
	}{
		{"1.000001", "triaged", true},
		{"1.000001", "state:resolved", false},
		{"1.000002", "triaged", false},
	} {
		done, err := h.Store.SlackAlertReplied(ctx, "C1", tt.ts, tt.reason)
		require.NoError(t, err)
		require.Equal(t, tt.want, done, "%s %s", tt.ts, tt.reason)
	}
}
