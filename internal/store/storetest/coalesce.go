package storetest

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/medic-sh/medic/internal/incident"
	"github.com/medic-sh/medic/internal/store"
)

// coalesceTests check storm coalescing: joining an open incident on a
// shared key, locking once triage began or after max age, a full batch,
// and the debounced triage job.
var coalesceTests = []struct {
	name string
	fn   func(t *testing.T, h *Harness)
}{
	{"CoalesceJoinsOnKey", testCoalesceJoins},
	{"CoalesceLocksWhenTriageStarts", testCoalesceLocksOnTriage},
	{"CoalesceLocksAfterMaxAge", testCoalesceLocksOnAge},
	{"CoalesceMaxBatch", testCoalesceMaxBatch},
	{"CoalesceDebouncesTriage", testCoalesceDebounce},
}

func coalesceParams(ev *incident.FailureEvent, keys ...string) *store.EventRecordParams {
	return &store.EventRecordParams{
		Event: ev, Window: 24 * time.Hour, Coalesce: true, Cause: "db refused",
		Keys:     append([]string{"run:" + ev.RunKey()}, keys...),
		Debounce: 30 * time.Second, MaxWait: 2 * time.Minute, MaxAge: time.Hour, MaxBatch: 1000,
	}
}

func recordC(t *testing.T, h *Harness, p *store.EventRecordParams) *store.EventRecordResult {
	t.Helper()
	res, err := h.Store.EventRecord(context.Background(), p)
	require.NoError(t, err)
	return res
}

func testCoalesceJoins(t *testing.T, h *Harness) {
	first := recordC(t, h, coalesceParams(Event("a", "r1", "t1", 1), "host:db.internal"))
	require.True(t, first.IncidentCreated)
	require.Equal(t, []any{1, 1, "db refused"}, []any{first.Tasks, first.DAGs, first.Cause})
	other := recordC(t, h, coalesceParams(Event("b", "r9", "t1", 1), "signature:sig_x", "host:db.internal"))
	require.False(t, other.IncidentCreated)
	require.Equal(t, first.Incident.ID, other.Incident.ID)
	require.Equal(t, "host", other.JoinedOn)
	require.Equal(t, 2, other.Incident.EventCount)
	require.Equal(t, []any{2, 2}, []any{other.Tasks, other.DAGs})
	sameRun := recordC(t, h, coalesceParams(Event("b", "r9", "t2", 1)))
	require.Equal(t, first.Incident.ID, sameRun.Incident.ID)
	require.Equal(t, "run", sameRun.JoinedOn)
	require.Equal(t, []any{3, 2}, []any{sameRun.Tasks, sameRun.DAGs})
	dup := recordC(t, h, coalesceParams(Event("b", "r9", "t2", 1)))
	require.True(t, dup.Duplicate)
	require.Equal(t, []any{3, 2}, []any{dup.Tasks, dup.DAGs})
	apart := recordC(t, h, coalesceParams(Event("c", "r1", "t1", 1), "host:other.internal"))
	require.True(t, apart.IncidentCreated, "a new cause opens its own incident at once")
}

func testCoalesceLocksOnTriage(t *testing.T, h *Harness) {
	first := recordC(t, h, coalesceParams(Event("a", "r1", "t1", 1), "host:db.internal"))
	_, err := h.Store.SessionSetStatus(context.Background(), &store.SessionSetStatusParams{
		ID: first.Incident.TriageSessionID, Status: incident.SessionRunning,
	})
	require.NoError(t, err)
	late := recordC(t, h, coalesceParams(Event("b", "r1", "t1", 1), "host:db.internal"))
	require.True(t, late.IncidentCreated)
	retry := recordC(t, h, coalesceParams(Event("a", "r1", "t1", 2), "host:db.internal"))
	require.Equal(t, first.Incident.ID, retry.Incident.ID, "the same run still joins")
}

func testCoalesceLocksOnAge(t *testing.T, h *Harness) {
	first := recordC(t, h, coalesceParams(Event("a", "r1", "t1", 1), "host:db.internal"))
	h.Clock.Advance(59 * time.Minute)
	require.Equal(t, first.Incident.ID, recordC(t, h, coalesceParams(Event("b", "r1", "t1", 1), "host:db.internal")).Incident.ID)
	h.Clock.Advance(2 * time.Minute)
	require.True(t, recordC(t, h, coalesceParams(Event("c", "r1", "t1", 1), "host:db.internal")).IncidentCreated)
}

func testCoalesceMaxBatch(t *testing.T, h *Harness) {
	var ids []string
	for i := range 5 {
		p := coalesceParams(Event("d"+string(rune('a'+i)), "r1", "t1", 1), "signature:sig_1")
		p.MaxBatch = 3
		res := recordC(t, h, p)
		if res.IncidentCreated {
			ids = append(ids, res.Incident.ID)
		}
	}
	require.Len(t, ids, 2, "a full incident takes no more failures")
}

func testCoalesceDebounce(t *testing.T, h *Harness) {
	if h.Jobs == nil {
		t.Skip("store exposes no jobs")
	}
	ctx := context.Background()
	opened := h.Clock.Now()
	first := recordC(t, h, coalesceParams(Event("a", "r1", "t1", 1), "host:db.internal"))
	require.WithinDuration(t, opened.Add(30*time.Second), first.TriageAt, time.Millisecond)
	due := func() time.Time {
		jobs, err := h.Jobs(ctx, store.TriageJobArgs{}.Kind())
		require.NoError(t, err)
		for _, j := range jobs {
			var a store.TriageJobArgs
			require.NoError(t, json.Unmarshal(j.Args, &a))
			if a.IncidentID == first.Incident.ID {
				return j.ScheduledAt
			}
		}
		t.Fatal("no triage job")
		return time.Time{}
	}
	require.WithinDuration(t, opened.Add(30*time.Second), due(), time.Second)
	for i, step := range []time.Duration{20 * time.Second, 20 * time.Second, 20 * time.Second, 20 * time.Second, 20 * time.Second, 20 * time.Second, 20 * time.Second} {
		h.Clock.Advance(step)
		res := recordC(t, h, coalesceParams(Event("b", "r"+string(rune('a'+i)), "t1", 1), "host:db.internal"))
		require.Equal(t, first.Incident.ID, res.Incident.ID)
		want := h.Clock.Now().Add(30 * time.Second)
		if limit := opened.Add(2 * time.Minute); want.After(limit) {
			want = limit
		}
		require.WithinDuration(t, want, res.TriageAt, time.Millisecond)
	}
	require.WithinDuration(t, opened.Add(2*time.Minute), due(), time.Second, "never past max wait")
}
