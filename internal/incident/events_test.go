package incident_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/medic-sh/medic/internal/incident"
)

func TestSessionEventValidate(t *testing.T) {
	t.Parallel()
	ok := func() *incident.SessionEvent {
		return &incident.SessionEvent{SessionID: "ses_1", Kind: incident.SessionEventProgress, Message: "reading the log tail"}
	}
	tests := []struct {
		name  string
		edit  func(e *incident.SessionEvent)
		valid bool
	}{
		{"plain", func(*incident.SessionEvent) {}, true},
		{"with data", func(e *incident.SessionEvent) { e.Data = json.RawMessage(`{"lines": 200}`) }, true},
		{"empty message", func(e *incident.SessionEvent) { e.Message = "" }, true},
		{"longest message", func(e *incident.SessionEvent) { e.Message = strings.Repeat("é", incident.MaxSessionEventMessage/2) }, true},
		{"no session", func(e *incident.SessionEvent) { e.SessionID = "" }, false},
		{"no kind", func(e *incident.SessionEvent) { e.Kind = "" }, false},
		{"unknown kind", func(e *incident.SessionEvent) { e.Kind = "gossip" }, false},
		{"message too long", func(e *incident.SessionEvent) { e.Message = strings.Repeat("x", incident.MaxSessionEventMessage+1) }, false},
		{"message not UTF-8", func(e *incident.SessionEvent) { e.Message = "\xff" }, false},
		{"data not JSON", func(e *incident.SessionEvent) { e.Data = json.RawMessage(`{"a":`) }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := ok()
			tt.edit(e)
			err := e.Validate()
			if tt.valid {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, incident.ErrInvalid)
		})
	}
}

func TestSessionEventKinds(t *testing.T) {
	t.Parallel()
	want := []string{"started", "progress", "finding", "spawned", "finished"}
	require.Len(t, incident.SessionEventKinds, len(want))
	for i, k := range incident.SessionEventKinds {
		require.Equal(t, want[i], string(k))
		require.True(t, k.Valid(), k)
	}
	require.False(t, incident.SessionEventKind("Started").Valid(), "kinds are case-sensitive")
}

func TestSessionEventOfSession(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 5, 1, 2, 0, 0, 0, time.UTC)
	root := incident.NewRootSession("ses_root", "inc_1", "incident-commander", at)
	child, err := root.NewChild("ses_child", "log-analyzer", at)
	require.NoError(t, err)
	e := child.Event(incident.SessionEventFinding, "schema change", json.RawMessage(`{"label":"SCHEMA_CHANGE"}`))
	e.ID, e.At = 7, at
	b, err := json.Marshal(e)
	require.NoError(t, err)
	require.JSONEq(t, `{"id":7,"session_id":"ses_child","incident_id":"inc_1","agent":"log-analyzer","kind":"finding",
		"message":"schema change","data":{"label":"SCHEMA_CHANGE"},"at":"2026-05-01T02:00:00Z"}`, string(b))
}

func TestSessionJSONOmitsEmptyTreeFields(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 5, 1, 2, 0, 0, 0, time.UTC)
	s := incident.NewRootSession("ses_root", "inc_1", "triage", at)
	tests := []struct {
		name   string
		edit   func(s *incident.Session)
		has    []string
		hasNot []string
	}{
		{"fresh", func(*incident.Session) {}, nil, []string{"input", "result", "deadline"}},
		{"spawned and finished", func(s *incident.Session) {
			s.Input, s.Result, s.Deadline = json.RawMessage(`{"a":1}`), json.RawMessage(`{"b":2}`), &at
		}, []string{"input", "result", "deadline"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := *s
			tt.edit(&c)
			b, err := json.Marshal(&c)
			require.NoError(t, err)
			var m map[string]json.RawMessage
			require.NoError(t, json.Unmarshal(b, &m))
			for _, k := range tt.has {
				require.Contains(t, m, k)
			}
			for _, k := range tt.hasNot {
				require.NotContains(t, m, k)
			}
		})
	}
}
