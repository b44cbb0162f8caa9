package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/medic-sh/medic/internal/incident"
	"github.com/medic-sh/medic/internal/store"
)

// Agents the suite spawns.
const (
	logAnalyzer   = "log-analyzer"
	queryProfiler = "query-profiler"
	ownerNotifier = "owner-notifier"
)

// runningRoot opens an incident and starts its root session.
func runningRoot(t *testing.T, h *Harness, run string) *incident.Session {
	t.Helper()
	r := record(t, h, Event("etl", run, "load", 1))
	root, err := h.Store.SessionSetStatus(context.Background(), &store.SessionSetStatusParams{
		ID: r.Incident.TriageSessionID, Status: incident.SessionRunning,
	})
	require.NoError(t, err)
	return root
}

func spawn(t *testing.T, h *Harness, parentID string, deadline time.Time, agents ...string) []*incident.Session {
	t.Helper()
	p := &store.SessionSpawnParams{ParentID: parentID, Deadline: deadline, Actor: "commander"}
	for _, a := range agents {
		p.Children = append(p.Children, store.SessionChild{Agent: a, Input: json.RawMessage(`{"focus":"` + a + `"}`)})
	}
	kids, err := h.Store.SessionSpawn(context.Background(), p)
	require.NoError(t, err)
	require.Len(t, kids, len(agents))
	return kids
}

// jobs lists the jobs of a kind with their arguments decoded; nil when the
// harness cannot list jobs.
func jobs(t *testing.T, h *Harness, kind string) ([]Job, []map[string]string) {
	t.Helper()
	if h.Jobs == nil {
		return nil, nil
	}
	js, err := h.Jobs(context.Background(), kind)
	require.NoError(t, err)
	args := make([]map[string]string, len(js))
	for i, j := range js {
		require.NoError(t, json.Unmarshal(j.Args, &args[i]))
	}
	return js, args
}

func events(t *testing.T, h *Harness, p *store.SessionEventListParams) []*incident.SessionEvent {
	t.Helper()
	evs, err := h.Store.SessionEventList(context.Background(), p)
	require.NoError(t, err)
	return evs
}

func kinds(evs []*incident.SessionEvent) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.SessionID + " " + string(e.Kind)
	}
	return out
}

func testSpawn(t *testing.T, h *Harness) {
	ctx := context.Background()
	root := runningRoot(t, h, "run1")
	deadline := h.Clock.Now().Add(2 * time.Minute)
	kids := spawn(t, h, root.ID, deadline, logAnalyzer, queryProfiler, ownerNotifier)

	listed, err := h.Store.SessionListChildren(ctx, root.ID)
	require.NoError(t, err)
	require.Len(t, listed, 3)
	for i, agent := range []string{logAnalyzer, queryProfiler, ownerNotifier} {
		k := kids[i]
		require.Equal(t, agent, k.Agent, "children come back in the order asked")
		require.True(t, strings.HasPrefix(k.ID, "ses_"), k.ID)
		require.Equal(t, root.ID, k.ParentID)
		require.Equal(t, root.IncidentID, k.IncidentID)
		require.Equal(t, 2, k.Depth)
		require.Equal(t, incident.SessionPending, k.Status)
		stored, err := h.Store.SessionGetByID(ctx, k.ID)
		require.NoError(t, err)
		require.JSONEq(t, `{"focus":"`+agent+`"}`, string(stored.Input))
		require.NotNil(t, stored.Deadline)
		require.True(t, deadline.Equal(*stored.Deadline), "deadline %s, want %s", stored.Deadline, deadline)
		require.Nil(t, stored.Result)
	}
	parent, err := h.Store.SessionGetByID(ctx, root.ID)
	require.NoError(t, err)
	require.NotNil(t, parent.Deadline)
	require.True(t, deadline.Equal(*parent.Deadline))

	evs := events(t, h, &store.SessionEventListParams{SessionID: root.ID})
	require.Equal(t, []string{root.ID + " started", root.ID + " spawned", root.ID + " spawned", root.ID + " spawned"}, kinds(evs))
	var spawned struct {
		ChildSessionID string `json:"child_session_id"`
		Agent          string `json:"agent"`
	}
	require.NoError(t, json.Unmarshal(evs[1].Data, &spawned))
	require.Equal(t, kids[0].ID, spawned.ChildSessionID)
	require.Equal(t, logAnalyzer, spawned.Agent)
	require.Equal(t, "started log-analyzer", evs[1].Message)
	require.Equal(t, root.Agent, evs[1].Agent, "a spawned event is the parent's")

	audit, err := h.Store.AuditList(ctx, &store.AuditListParams{IncidentID: root.IncidentID})
	require.NoError(t, err)
	require.Equal(t, "session.spawned", audit[len(audit)-1].Action)
	require.Equal(t, "commander", audit[len(audit)-1].Actor)

	if js, args := jobs(t, h, store.SpecialistJobArgs{}.Kind()); js != nil {
		require.Len(t, js, 3)
		for i, a := range args {
			require.Equal(t, map[string]string{"incident_id": root.IncidentID, "session_id": kids[i].ID, "agent": kids[i].Agent}, a)
		}
	}
	if js, args := jobs(t, h, store.ComposeJobArgs{}.Kind()); js != nil {
		require.Len(t, js, 1, "one compose job per parent")
		require.Equal(t, map[string]string{"incident_id": root.IncidentID, "session_id": root.ID}, args[0])
		require.Equal(t, "scheduled", js[0].State)
		require.WithinDuration(t, deadline, js[0].ScheduledAt, time.Millisecond, "compose is due at the deadline")
	}
}

func testSpawnIdempotent(t *testing.T, h *Harness) {
	ctx := context.Background()
	root := runningRoot(t, h, "run1")
	deadline := h.Clock.Now().Add(time.Minute)
	first := spawn(t, h, root.ID, deadline, logAnalyzer, queryProfiler)

	// The commander's job runs again after a crash, asking a little later
	// and for one more specialist.
	h.Clock.Advance(10 * time.Second)
	again, err := h.Store.SessionSpawn(ctx, &store.SessionSpawnParams{
		ParentID: root.ID, Deadline: deadline.Add(time.Hour),
		Children: []store.SessionChild{
			{Agent: queryProfiler, Input: json.RawMessage(`{"focus":"changed"}`)},
			{Agent: logAnalyzer},
			{Agent: ownerNotifier},
		},
	})
	require.NoError(t, err)
	require.Len(t, again, 3)
	require.Equal(t, first[1].ID, again[0].ID)
	require.JSONEq(t, `{"focus":"query-profiler"}`, string(again[0].Input), "an existing child is returned as stored")
	require.Equal(t, first[0].ID, again[1].ID)
	require.Equal(t, ownerNotifier, again[2].Agent)
	require.True(t, deadline.Add(time.Hour).Equal(*again[2].Deadline), "a new child gets the deadline asked")

	// Many at once make no more.
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			_, err := h.Store.SessionSpawn(ctx, &store.SessionSpawnParams{
				ParentID: root.ID, Deadline: deadline, Children: []store.SessionChild{{Agent: logAnalyzer}, {Agent: ownerNotifier}},
			})
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}

	kids, err := h.Store.SessionListChildren(ctx, root.ID)
	require.NoError(t, err)
	require.Len(t, kids, 3)
	parent, err := h.Store.SessionGetByID(ctx, root.ID)
	require.NoError(t, err)
	require.True(t, deadline.Equal(*parent.Deadline), "the parent keeps its first deadline")
	spawned := 0
	for _, e := range events(t, h, &store.SessionEventListParams{SessionID: root.ID}) {
		if e.Kind == incident.SessionEventSpawned {
			spawned++
		}
	}
	require.Equal(t, 3, spawned, "one spawned event per child")
	if js, _ := jobs(t, h, store.SpecialistJobArgs{}.Kind()); js != nil {
		require.Len(t, js, 3, "one job per child")
	}
	if js, _ := jobs(t, h, store.ComposeJobArgs{}.Kind()); js != nil {
		require.Len(t, js, 1, "a re-spawn adds no compose job")
		require.WithinDuration(t, deadline, js[0].ScheduledAt, time.Millisecond)
	}
}

func testSpawnRefused(t *testing.T, h *Harness) {
	ctx := context.Background()
	root := runningRoot(t, h, "run1")
	deadline := h.Clock.Now().Add(time.Minute)
	child := spawn(t, h, root.ID, deadline, logAnalyzer)[0]
	done := runningRoot(t, h, "run2")
	_, err := h.Store.SessionFinish(ctx, &store.SessionFinishParams{ID: done.ID, Status: incident.SessionCompleted})
	require.NoError(t, err)
	one := []store.SessionChild{{Agent: "grandchild"}}

	tests := []struct {
		name string
		p    store.SessionSpawnParams
		want error
	}{
		{"depth 3", store.SessionSpawnParams{ParentID: child.ID, Children: one, Deadline: deadline}, incident.ErrDepth},
		{"unknown parent", store.SessionSpawnParams{ParentID: "ses_missing", Children: one, Deadline: deadline}, store.ErrNotFound},
		{"final parent", store.SessionSpawnParams{ParentID: done.ID, Children: one, Deadline: deadline}, store.ErrConflict},
		{"no parent", store.SessionSpawnParams{Children: one, Deadline: deadline}, incident.ErrInvalid},
		{"no children", store.SessionSpawnParams{ParentID: root.ID, Deadline: deadline}, incident.ErrInvalid},
		{"no deadline", store.SessionSpawnParams{ParentID: root.ID, Children: one}, incident.ErrInvalid},
		{"no agent", store.SessionSpawnParams{ParentID: root.ID, Children: []store.SessionChild{{}}, Deadline: deadline}, incident.ErrInvalid},
		{
			"agent twice",
			store.SessionSpawnParams{ParentID: root.ID, Children: []store.SessionChild{{Agent: "a"}, {Agent: "a"}}, Deadline: deadline},
			incident.ErrInvalid,
		},
		{
			"input not JSON",
			store.SessionSpawnParams{ParentID: root.ID, Children: []store.SessionChild{{Agent: "a", Input: json.RawMessage(`{`)}}, Deadline: deadline},
			incident.ErrInvalid,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := h.Store.SessionSpawn(ctx, &tt.p)
			require.ErrorIs(t, err, tt.want)
		})
	}

	// Nothing of any refusal was stored.
	for _, id := range []string{child.ID, done.ID} {
		kids, err := h.Store.SessionListChildren(ctx, id)
		require.NoError(t, err)
		require.Empty(t, kids)
	}
	kids, err := h.Store.SessionListChildren(ctx, root.ID)
	require.NoError(t, err)
	require.Len(t, kids, 1)
	require.Empty(t, events(t, h, &store.SessionEventListParams{SessionID: child.ID}))
	if js, _ := jobs(t, h, store.SpecialistJobArgs{}.Kind()); js != nil {
		require.Len(t, js, 1)
	}
	if js, _ := jobs(t, h, store.ComposeJobArgs{}.Kind()); js != nil {
		require.Len(t, js, 1, "only the root's")
	}
}

func testFinishOnce(t *testing.T, h *Harness) {
	ctx := context.Background()
	root := runningRoot(t, h, "run1")
	kids := spawn(t, h, root.ID, h.Clock.Now().Add(time.Minute), logAnalyzer, queryProfiler)
	h.Clock.Advance(5 * time.Second)

	res, err := h.Store.SessionFinish(ctx, &store.SessionFinishParams{
		ID: kids[0].ID, Status: incident.SessionCompleted, Result: json.RawMessage(`{"label":"SCHEMA_CHANGE"}`),
		Message: "schema change: column customer_ref is gone",
	})
	require.NoError(t, err)
	require.True(t, res.Done)
	require.False(t, res.ParentReady, "the query profiler is still working")
	require.Equal(t, incident.SessionCompleted, res.Session.Status)
	require.NotNil(t, res.Session.FinishedAt)
	require.True(t, h.Clock.Now().Equal(*res.Session.FinishedAt))

	late, err := h.Store.SessionFinish(ctx, &store.SessionFinishParams{
		ID: kids[0].ID, Status: incident.SessionFailed, Error: "late", Result: json.RawMessage(`{}`),
	})
	require.NoError(t, err)
	require.False(t, late.Done, "a session finishes once")
	require.False(t, late.ParentReady)
	stored, err := h.Store.SessionGetByID(ctx, kids[0].ID)
	require.NoError(t, err)
	require.Equal(t, incident.SessionCompleted, stored.Status)
	require.Empty(t, stored.Error)
	require.JSONEq(t, `{"label":"SCHEMA_CHANGE"}`, string(stored.Result))

	evs := events(t, h, &store.SessionEventListParams{SessionID: kids[0].ID})
	require.Equal(t, []string{kids[0].ID + " finished"}, kinds(evs))
	require.Equal(t, "schema change: column customer_ref is gone", evs[0].Message)
	require.JSONEq(t, `{"status":"completed"}`, string(evs[0].Data))
	require.Equal(t, logAnalyzer, evs[0].Agent)

	failed, err := h.Store.SessionFinish(ctx, &store.SessionFinishParams{ID: kids[1].ID, Status: incident.SessionFailed, Error: "warehouse refused"})
	require.NoError(t, err)
	require.True(t, failed.Done)
	evs = events(t, h, &store.SessionEventListParams{SessionID: kids[1].ID})
	require.Equal(t, "failed: warehouse refused", evs[0].Message, "the status and error when no message is given")

	for name, p := range map[string]store.SessionFinishParams{
		"not final":    {ID: kids[1].ID, Status: incident.SessionRunning},
		"no status":    {ID: kids[1].ID},
		"bad result":   {ID: root.ID, Status: incident.SessionCompleted, Result: json.RawMessage(`{"a":`)},
		"unknown kind": {ID: root.ID, Status: "exploded"},
	} {
		_, err := h.Store.SessionFinish(ctx, &p)
		require.ErrorIs(t, err, incident.ErrInvalid, name)
	}
	_, err = h.Store.SessionFinish(ctx, &store.SessionFinishParams{ID: "ses_missing", Status: incident.SessionCompleted})
	require.ErrorIs(t, err, store.ErrNotFound)
}

func testFinishLastSibling(t *testing.T, h *Harness) {
	ctx := context.Background()
	root := runningRoot(t, h, "run1")
	kids := spawn(t, h, root.ID, h.Clock.Now().Add(time.Hour), logAnalyzer, queryProfiler)
	composeState := func() string {
		js, _ := jobs(t, h, store.ComposeJobArgs{}.Kind())
		if js == nil {
			return ""
		}
		require.Len(t, js, 1, "one compose job per parent, always")
		return js[0].State
	}
	if st := composeState(); st != "" {
		require.Equal(t, "scheduled", st)
	}

	tests := []struct {
		id          string
		status      incident.SessionStatus
		parentReady bool
		compose     string
	}{
		{kids[0].ID, incident.SessionCompleted, false, "scheduled"},
		{kids[1].ID, incident.SessionTimedOut, true, "available"},
		{root.ID, incident.SessionPartial, false, "available"},
	}
	for _, tt := range tests {
		res, err := h.Store.SessionFinish(ctx, &store.SessionFinishParams{ID: tt.id, Status: tt.status})
		require.NoError(t, err)
		require.True(t, res.Done, tt.id)
		require.Equal(t, tt.parentReady, res.ParentReady, tt.id)
		if st := composeState(); st != "" {
			require.Equal(t, tt.compose, st, "compose job after %s finished %s", tt.id, tt.status)
		}
	}

	// A specialist that ends after its parent composed changes nothing for
	// the parent.
	other := runningRoot(t, h, "run2")
	late := spawn(t, h, other.ID, h.Clock.Now().Add(time.Hour), logAnalyzer)[0]
	_, err := h.Store.SessionFinish(ctx, &store.SessionFinishParams{ID: other.ID, Status: incident.SessionPartial})
	require.NoError(t, err)
	res, err := h.Store.SessionFinish(ctx, &store.SessionFinishParams{ID: late.ID, Status: incident.SessionCompleted})
	require.NoError(t, err)
	require.True(t, res.Done)
	require.False(t, res.ParentReady, "the parent is final already")
}

func testFinishConcurrent(t *testing.T, h *Harness) {
	ctx := context.Background()
	root := runningRoot(t, h, "run1")
	agents := []string{"a1", "a2", "a3", "a4", "a5", "a6"}
	kids := spawn(t, h, root.ID, h.Clock.Now().Add(time.Hour), agents...)

	type outcome struct {
		res *store.SessionFinishResult
		err error
	}
	results := make(chan outcome, 2*len(kids))
	var wg sync.WaitGroup
	for _, k := range kids {
		for range 2 { // each specialist's job delivered twice
			wg.Go(func() {
				res, err := h.Store.SessionFinish(ctx, &store.SessionFinishParams{ID: k.ID, Status: incident.SessionCompleted})
				results <- outcome{res, err}
			})
		}
	}
	wg.Wait()
	close(results)
	done, ready := map[string]int{}, 0
	for o := range results {
		require.NoError(t, o.err)
		if o.res.Done {
			done[o.res.Session.ID]++
		}
		if o.res.ParentReady {
			ready++
		}
	}
	require.Len(t, done, len(kids))
	for id, n := range done {
		require.Equal(t, 1, n, "session %s finished once", id)
	}
	require.GreaterOrEqual(t, ready, 1, "the last finish makes the parent ready")
	if js, _ := jobs(t, h, store.ComposeJobArgs{}.Kind()); js != nil {
		require.Len(t, js, 1)
		require.Equal(t, "available", js[0].State, "compose is due now")
	}
	finished := 0
	for _, e := range events(t, h, &store.SessionEventListParams{SessionID: root.ID, Tree: true, Limit: store.MaxListLimit}) {
		if e.Kind == incident.SessionEventFinished {
			finished++
		}
	}
	require.Equal(t, len(kids), finished)
}

func testLifecycleEvents(t *testing.T, h *Harness) {
	ctx := context.Background()
	a := record(t, h, Event("etl", "run1", "load", 1)).Incident
	b := record(t, h, Event("etl", "run2", "load", 1)).Incident
	steps := []struct {
		name string
		do   func() error
	}{
		{"a runs", func() error {
			_, err := h.Store.SessionSetStatus(ctx, &store.SessionSetStatusParams{ID: a.TriageSessionID, Status: incident.SessionRunning})
			return err
		}},
		{"a runs again", func() error {
			_, err := h.Store.SessionSetStatus(ctx, &store.SessionSetStatusParams{ID: a.TriageSessionID, Status: incident.SessionRunning})
			return err
		}},
		{"a fails", func() error {
			_, err := h.Store.SessionSetStatus(ctx, &store.SessionSetStatusParams{ID: a.TriageSessionID, Status: incident.SessionFailed, Error: "boom"})
			return err
		}},
		{"a's triage completes", func() error {
			_, err := h.Store.TriageComplete(ctx, &store.TriageCompleteParams{IncidentID: a.ID, SessionID: a.TriageSessionID, Status: incident.SessionFailed})
			return err
		}},
		{"b's triage completes", func() error {
			_, err := h.Store.TriageComplete(ctx, &store.TriageCompleteParams{IncidentID: b.ID, SessionID: b.TriageSessionID, Status: incident.SessionCompleted})
			return err
		}},
	}
	for _, s := range steps {
		require.NoError(t, s.do(), s.name)
	}
	evs := events(t, h, &store.SessionEventListParams{SessionID: a.TriageSessionID})
	require.Equal(t, []string{a.TriageSessionID + " started", a.TriageSessionID + " finished"}, kinds(evs),
		"started once, finished once")
	require.Equal(t, "failed: boom", evs[1].Message)
	evs = events(t, h, &store.SessionEventListParams{SessionID: b.TriageSessionID})
	require.Equal(t, []string{b.TriageSessionID + " finished"}, kinds(evs), "TriageComplete finishes the root")
	require.JSONEq(t, `{"status":"completed"}`, string(evs[0].Data))
}

func testEventsPaged(t *testing.T, h *Harness) {
	ctx := context.Background()
	root := runningRoot(t, h, "run1") // appends "started"
	var want []*incident.SessionEvent
	for i := range 7 {
		h.Clock.Advance(time.Second)
		kind := incident.SessionEventProgress
		var data json.RawMessage
		if i%3 == 2 {
			kind, data = incident.SessionEventFinding, json.RawMessage(fmt.Sprintf(`{"n": %d}`, i))
		}
		e, err := h.Store.SessionEventAppend(ctx, &incident.SessionEvent{SessionID: root.ID, Kind: kind, Message: fmt.Sprintf("step %d", i), Data: data})
		require.NoError(t, err)
		require.Positive(t, e.ID)
		require.Equal(t, root.IncidentID, e.IncidentID, "filled from the session")
		require.Equal(t, root.Agent, e.Agent, "filled from the session")
		require.True(t, h.Clock.Now().Equal(e.At), "at %s", e.At)
		want = append(want, e)
	}
	at := time.Date(2026, 4, 30, 23, 0, 0, 0, time.UTC)
	given, err := h.Store.SessionEventAppend(ctx, &incident.SessionEvent{
		SessionID: root.ID, IncidentID: root.IncidentID, Agent: "incident-commander", Kind: incident.SessionEventProgress, At: at,
	})
	require.NoError(t, err)
	require.Equal(t, "incident-commander", given.Agent, "a given agent is kept")
	require.True(t, at.Equal(given.At), "a given time is kept")
	want = append(want, given)

	all := events(t, h, &store.SessionEventListParams{SessionID: root.ID})
	require.Len(t, all, 9)
	require.Equal(t, incident.SessionEventStarted, all[0].Kind)
	var got []*incident.SessionEvent
	after := all[0].ID
	for {
		page := events(t, h, &store.SessionEventListParams{SessionID: root.ID, AfterID: after, Limit: 3})
		require.LessOrEqual(t, len(page), 3)
		if len(page) == 0 {
			break
		}
		got = append(got, page...)
		after = page[len(page)-1].ID
	}
	require.Len(t, got, len(want))
	for i := range want {
		if i > 0 {
			require.Greater(t, got[i].ID, got[i-1].ID, "ordered by id")
		}
		require.Equal(t, want[i].ID, got[i].ID)
		require.Equal(t, want[i].Kind, got[i].Kind)
		require.Equal(t, want[i].Message, got[i].Message)
		require.Equal(t, want[i].Agent, got[i].Agent)
		require.Equal(t, want[i].IncidentID, got[i].IncidentID)
		require.True(t, want[i].At.Equal(got[i].At))
		if want[i].Data == nil {
			require.Nil(t, got[i].Data)
		} else {
			require.JSONEq(t, string(want[i].Data), string(got[i].Data))
		}
	}
	require.Empty(t, events(t, h, &store.SessionEventListParams{SessionID: "ses_missing"}), "an unknown session has no events")
}

func testEventInvalidSession(t *testing.T, h *Harness) {
	ctx := context.Background()
	root := runningRoot(t, h, "run1")
	other := runningRoot(t, h, "run2")
	tests := []struct {
		name string
		e    *incident.SessionEvent
		want error
	}{
		{"nil", nil, incident.ErrInvalid},
		{"no session", &incident.SessionEvent{Kind: incident.SessionEventProgress}, incident.ErrInvalid},
		{"unknown kind", &incident.SessionEvent{SessionID: root.ID, Kind: "gossip"}, incident.ErrInvalid},
		{"data not JSON", &incident.SessionEvent{SessionID: root.ID, Kind: incident.SessionEventFinding, Data: json.RawMessage(`{x}`)}, incident.ErrInvalid},
		{"message too long", &incident.SessionEvent{
			SessionID: root.ID, Kind: incident.SessionEventProgress, Message: strings.Repeat("x", incident.MaxSessionEventMessage+1),
		}, incident.ErrInvalid},
		{"other incident", &incident.SessionEvent{SessionID: root.ID, IncidentID: other.IncidentID, Kind: incident.SessionEventProgress}, incident.ErrInvalid},
		{"unknown session", &incident.SessionEvent{SessionID: "ses_missing", Kind: incident.SessionEventProgress}, store.ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := h.Store.SessionEventAppend(ctx, tt.e)
			require.ErrorIs(t, err, tt.want)
		})
	}
	require.Len(t, events(t, h, &store.SessionEventListParams{SessionID: root.ID}), 1, "only the started event")
}

func testEventsTree(t *testing.T, h *Harness) {
	ctx := context.Background()
	root := runningRoot(t, h, "run1")
	unrelated := runningRoot(t, h, "run2")
	kids := spawn(t, h, root.ID, h.Clock.Now().Add(time.Minute), logAnalyzer, queryProfiler)
	post := func(s *incident.Session, msg string) {
		_, err := h.Store.SessionEventAppend(ctx, s.Event(incident.SessionEventProgress, msg, nil))
		require.NoError(t, err)
	}
	post(kids[1], "profiling")
	post(unrelated, "elsewhere")
	post(kids[0], "reading the log")
	post(root, "waiting")
	post(kids[1], "found a lock")

	all := events(t, h, &store.SessionEventListParams{SessionID: root.ID, Tree: true})
	var msgs []string
	for i, e := range all {
		if i > 0 {
			require.Greater(t, e.ID, all[i-1].ID)
		}
		require.Equal(t, root.IncidentID, e.IncidentID)
		msgs = append(msgs, e.Agent+": "+e.Message)
	}
	c := root.Agent // the store names the root session's agent
	require.Equal(t, []string{
		c + ": started", c + ": started log-analyzer", c + ": started query-profiler",
		"query-profiler: profiling", "log-analyzer: reading the log", c + ": waiting", "query-profiler: found a lock",
	}, msgs)

	tests := []struct {
		name string
		p    store.SessionEventListParams
		want int
	}{
		{"root alone", store.SessionEventListParams{SessionID: root.ID}, 4},
		{"child tree", store.SessionEventListParams{SessionID: kids[1].ID, Tree: true}, 2},
		{"tree after", store.SessionEventListParams{SessionID: root.ID, Tree: true, AfterID: all[3].ID}, 3},
		{"tree paged", store.SessionEventListParams{SessionID: root.ID, Tree: true, AfterID: all[1].ID, Limit: 2}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Len(t, events(t, h, &tt.p), tt.want)
		})
	}
}

func testListUnfinished(t *testing.T, h *Harness) {
	ctx := context.Background()
	a := runningRoot(t, h, "run1")
	h.Clock.Advance(time.Second)
	b := record(t, h, Event("etl", "run2", "load", 1)).Incident
	h.Clock.Advance(time.Second)
	kids := spawn(t, h, a.ID, h.Clock.Now().Add(time.Minute), logAnalyzer, queryProfiler)
	_, err := h.Store.SessionFinish(ctx, &store.SessionFinishParams{ID: kids[0].ID, Status: incident.SessionCompleted})
	require.NoError(t, err)
	_, err = h.Store.TriageComplete(ctx, &store.TriageCompleteParams{IncidentID: b.ID, SessionID: b.TriageSessionID, Status: incident.SessionCompleted})
	require.NoError(t, err)

	tests := []struct {
		limit int
		want  []string
	}{
		{0, []string{a.ID, kids[1].ID}},
		{1, []string{a.ID}},
	}
	for _, tt := range tests {
		list, err := h.Store.SessionListUnfinished(ctx, tt.limit)
		require.NoError(t, err)
		ids := make([]string, len(list))
		for i, s := range list {
			ids[i] = s.ID
			require.False(t, s.Status.Final())
		}
		require.Equal(t, tt.want, ids, "limit %d: oldest first", tt.limit)
	}
}
