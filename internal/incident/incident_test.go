package incident_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/medic-sh/medic/internal/incident"
)

func TestStateMachine(t *testing.T) {
	t.Parallel()
	tests := []struct {
		from, to incident.State
		ok       bool
	}{
		{incident.StateOpen, incident.StateInvestigating, true},
		{incident.StateOpen, incident.StateEscalated, true},
		{incident.StateOpen, incident.StateVerifying, false},
		{incident.StateInvestigating, incident.StateAwaitingApproval, true},
		{incident.StateInvestigating, incident.StateRemediating, true},
		{incident.StateAwaitingApproval, incident.StateRemediating, true},
		{incident.StateAwaitingApproval, incident.StateVerifying, false},
		{incident.StateRemediating, incident.StateVerifying, true},
		{incident.StateRemediating, incident.StateResolved, false},
		{incident.StateVerifying, incident.StateResolved, true},
		{incident.StateVerifying, incident.StateRemediating, true},
		{incident.StateEscalated, incident.StateResolved, true},
		{incident.StateEscalated, incident.StateRemediating, false},
		{incident.StateEscalated, incident.StateAwaitingApproval, true},
		{incident.StateResolved, incident.StateOpen, false},
		{incident.StateOpen, "exploded", false},
	}
	for _, tt := range tests {
		t.Run(string(tt.from)+"→"+string(tt.to), func(t *testing.T) {
			t.Parallel()
			in := &incident.Incident{ID: "inc_1", State: tt.from}
			at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
			err := in.Transition(tt.to, at)
			if tt.ok {
				require.NoError(t, err)
				require.Equal(t, tt.to, in.State)
				require.Equal(t, at, in.UpdatedAt)
				return
			}
			require.ErrorIs(t, err, incident.ErrTransition)
			require.Equal(t, tt.from, in.State, "a refused move changes nothing")
		})
	}
}

func TestEveryStateIsReachable(t *testing.T) {
	t.Parallel()
	seen := map[incident.State]bool{incident.StateOpen: true}
	queue := []incident.State{incident.StateOpen}
	for len(queue) > 0 {
		s := queue[0]
		queue = queue[1:]
		for _, next := range incident.States {
			if s.CanTransition(next) && !seen[next] {
				seen[next] = true
				queue = append(queue, next)
			}
		}
	}
	for _, s := range incident.States {
		require.True(t, seen[s], "state %s is unreachable from open", s)
		require.True(t, s.Valid())
	}
	require.True(t, incident.StateResolved.Terminal())
	require.False(t, incident.StateOpen.Terminal())
}

func TestKeyValidate(t *testing.T) {
	t.Parallel()
	good := incident.Key{Instance: "main", DagID: "etl", RunID: "scheduled__2026-05-01T00:00:00+00:00", TaskID: "load", TryNumber: 1}
	require.NoError(t, good.Validate())
	require.Equal(t, "main|etl|scheduled__2026-05-01T00:00:00+00:00|load|1", good.String())
	tests := map[string]func(k *incident.Key){
		"empty dag":     func(k *incident.Key) { k.DagID = "" },
		"blank task":    func(k *incident.Key) { k.TaskID = "  " },
		"try zero":      func(k *incident.Key) { k.TryNumber = 0 },
		"separator":     func(k *incident.Key) { k.RunID = "a|b" },
		"newline":       func(k *incident.Key) { k.TaskID = "a\nb" },
		"too long":      func(k *incident.Key) { k.DagID = strings.Repeat("d", 251) },
		"no instance":   func(k *incident.Key) { k.Instance = "" },
		"nul in run id": func(k *incident.Key) { k.RunID = "a\x00" },
	}
	for name, mutate := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			k := good
			mutate(&k)
			require.ErrorIs(t, k.Validate(), incident.ErrInvalid)
		})
	}
}

func TestEventValidate(t *testing.T) {
	t.Parallel()
	ev := &incident.FailureEvent{Key: incident.Key{Instance: "main", DagID: "d", RunID: "r", TaskID: "t", TryNumber: 1}, MapIndex: -1, Source: incident.SourcePoller}
	require.NoError(t, ev.Validate())
	ev.Source = "fax"
	require.ErrorIs(t, ev.Validate(), incident.ErrInvalid)
	ev.Source = incident.SourceCallback
	ev.Exception = strings.Repeat("x", incident.MaxExceptionLen+1)
	require.ErrorIs(t, ev.Validate(), incident.ErrInvalid)
}

func TestSessionDepth(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	root := incident.NewRootSession("s1", "inc_1", "incident-commander", at)
	child, err := root.NewChild("s2", "log-analyzer", at)
	require.NoError(t, err)
	require.Equal(t, 2, child.Depth)
	require.Equal(t, "s1", child.ParentID)
	require.Equal(t, "inc_1", child.IncidentID)
	_, err = child.NewChild("s3", "nested", at)
	require.ErrorIs(t, err, incident.ErrDepth)
}

func TestNewFromEvent(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	ev := &incident.FailureEvent{Key: incident.Key{Instance: "main", DagID: "etl", RunID: "r1", TaskID: "load", TryNumber: 2}, Tags: []string{"tier1"}}
	in := incident.NewFromEvent("inc_1", ev, at)
	require.Equal(t, incident.StateOpen, in.State)
	require.Equal(t, ev.RunKey(), in.GroupKey)
	require.Equal(t, "load", in.FirstTaskID)
	ev.Tags[0] = "changed"
	require.Equal(t, []string{"tier1"}, in.Tags, "tags are copied")
}
