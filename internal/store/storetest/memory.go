package storetest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/medic-sh/medic/internal/memory"
	"github.com/medic-sh/medic/internal/store"
)

// MemoryRecord builds a valid memory record with an embedding.
func MemoryRecord(id, signature string, at time.Time) *memory.Record {
	return &memory.Record{
		ID: id, Signature: signature, Template: "column <*> does not exist",
		ExceptionType: "psycopg2.errors.UndefinedColumn", Excerpt: `column "customer_ref" does not exist`,
		Embedding: []float32{0.6, -0.8, 0, 1e-7}, EmbeddedBy: "test/4", Label: "SCHEMA_CHANGE",
		CreatedAt: at, UpdatedAt: at,
	}
}

func upsertMemory(t *testing.T, h *Harness, r *memory.Record) *memory.Record {
	t.Helper()
	require.NoError(t, h.Store.MemoryRecordUpsert(context.Background(), r))
	return r
}

// requireSameRecord compares records, times by instant.
func requireSameRecord(t *testing.T, want, got *memory.Record, msg string) {
	t.Helper()
	require.True(t, want.CreatedAt.Equal(got.CreatedAt), "%s: created_at %s, want %s", msg, got.CreatedAt, want.CreatedAt)
	require.True(t, want.UpdatedAt.Equal(got.UpdatedAt), "%s: updated_at %s, want %s", msg, got.UpdatedAt, want.UpdatedAt)
	w, g := *want, *got
	w.CreatedAt, w.UpdatedAt, g.CreatedAt, g.UpdatedAt = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	require.Equal(t, w, g, msg)
}

func testMemoryRoundTrip(t *testing.T, h *Harness) {
	ctx := context.Background()
	r := MemoryRecord("rec1", "sig_a", h.Clock.Now())
	r.Action, r.Outcome, r.Verdict = "retry", memory.OutcomeFixed, memory.VerdictUp
	r.Fixed, r.Failed, r.Ups, r.Downs = 3, 1, 2, 0
	r.Trust = 0.01 // derived from the counts, whatever the caller says
	want := *r
	want.Trust = memory.ComputeTrust(&want)
	upsertMemory(t, h, r)
	requireSameRecord(t, &want, r, "the upserted record holds what is stored")
	got, err := h.Store.MemoryRecordGet(ctx, "rec1")
	require.NoError(t, err)
	requireSameRecord(t, &want, got, "get")

	bare := &memory.Record{ID: "rec2"}
	upsertMemory(t, h, bare)
	require.Equal(t, memory.OutcomeUnknown, bare.Outcome)
	require.Equal(t, memory.VerdictNone, bare.Verdict)
	require.Nil(t, bare.Embedding)
	require.InDelta(t, 0.5, bare.Trust, 1e-9)
	require.True(t, h.Clock.Now().Equal(bare.CreatedAt), "no time given: the store's clock")
	require.True(t, bare.CreatedAt.Equal(bare.UpdatedAt))

	_, err = h.Store.MemoryRecordGet(ctx, "rec_missing")
	require.ErrorIs(t, err, store.ErrNotFound)
	require.ErrorIs(t, err, memory.ErrNotFound)
}

func testMemoryUpsertKeepsEvidence(t *testing.T, h *Harness) {
	ctx := context.Background()
	t0 := h.Clock.Now()
	first := MemoryRecord("rec1", "sig_a", t0)
	first.Fixed = 1
	upsertMemory(t, h, first)
	_, err := h.Store.MemoryRecordApply(ctx, "rec1", memory.Update{Feedback: memory.Feedback{Outcome: memory.OutcomeFixed}, Action: "retry"}, t0.Add(time.Minute))
	require.NoError(t, err)

	again := MemoryRecord("rec1", "sig_b", t0.Add(time.Hour))
	again.Template, again.ExceptionType, again.Excerpt, again.Label = "relation <*> does not exist", "UndefinedTable", "relation x", "CODE_ERROR"
	again.Embedding, again.EmbeddedBy = []float32{1, 0}, "other/2"
	again.Action, again.Outcome = "fix_code", memory.OutcomeFailed // evidence: ignored on conflict
	upsertMemory(t, h, again)

	got, err := h.Store.MemoryRecordGet(ctx, "rec1")
	require.NoError(t, err)
	requireSameRecord(t, got, again, "the upserted record holds what is stored")
	require.Equal(t, 2, got.Fixed, "counts survive an upsert")
	require.Zero(t, got.Failed)
	require.Equal(t, "retry", got.Action)
	require.Equal(t, memory.OutcomeFixed, got.Outcome)
	require.InDelta(t, memory.ComputeTrust(got), got.Trust, 1e-12)
	require.True(t, t0.Equal(got.CreatedAt), "created_at is kept")
	require.True(t, t0.Add(time.Hour).Equal(got.UpdatedAt), "updated_at is replaced")
	require.Equal(t, "sig_b", got.Signature)
	require.Equal(t, "relation <*> does not exist", got.Template)
	require.Equal(t, "UndefinedTable", got.ExceptionType)
	require.Equal(t, "relation x", got.Excerpt)
	require.Equal(t, "CODE_ERROR", got.Label)
	require.Equal(t, []float32{1, 0}, got.Embedding)
	require.Equal(t, "other/2", got.EmbeddedBy)

	none := MemoryRecord("rec1", "sig_b", t0.Add(2*time.Hour))
	none.Embedding, none.EmbeddedBy = nil, ""
	upsertMemory(t, h, none)
	require.Nil(t, none.Embedding, "an upsert without an embedding removes the stale one")
}

func testMemoryUpsertKeepsCorrectedLabel(t *testing.T, h *Harness) {
	ctx := context.Background()
	t0 := h.Clock.Now()
	upsertMemory(t, h, MemoryRecord("rec-corrected", "sig_c", t0))
	_, err := h.Store.MemoryRecordApply(ctx, "rec-corrected", memory.Update{Label: "PERMISSION"}, t0.Add(time.Minute))
	require.NoError(t, err)

	again := MemoryRecord("rec-corrected", "sig_c", t0.Add(time.Hour))
	again.Label = "CODE_ERROR" // a resumed triage remembering its own guess again
	upsertMemory(t, h, again)
	got, err := h.Store.MemoryRecordGet(ctx, "rec-corrected")
	require.NoError(t, err)
	require.Equal(t, "PERMISSION", got.Label, "a person's label survives a later upsert")
	require.Equal(t, "PERMISSION", again.Label, "the caller sees what is stored")
}

func testMemoryUpsertInvalid(t *testing.T, h *Harness) {
	ctx := context.Background()
	tests := []struct {
		name string
		edit func(r *memory.Record)
	}{
		{"no id", func(r *memory.Record) { r.ID = "" }},
		{"unknown outcome", func(r *memory.Record) { r.Outcome = "mostly" }},
		{"unknown verdict", func(r *memory.Record) { r.Verdict = "meh" }},
		{"negative count", func(r *memory.Record) { r.Downs = -1 }},
	}
	for _, tt := range tests {
		r := MemoryRecord("rec_bad", "sig", h.Clock.Now())
		tt.edit(r)
		require.ErrorIs(t, h.Store.MemoryRecordUpsert(ctx, r), memory.ErrInvalid, tt.name)
	}
	page, err := h.Store.MemoryRecordList(ctx, &store.MemoryRecordListParams{})
	require.NoError(t, err)
	require.Empty(t, page, "nothing stored")
}

func testMemoryApply(t *testing.T, h *Harness) {
	ctx := context.Background()
	fixed := memory.Feedback{Outcome: memory.OutcomeFixed}
	type counts struct{ fixed, failed, ups, downs int }
	tests := []struct {
		name    string
		u       memory.Update
		want    counts
		outcome memory.Outcome
		verdict memory.Verdict
		action  string
		label   string
		silent  bool
		invalid bool
	}{
		{name: "fixed", u: memory.Update{Feedback: fixed}, want: counts{fixed: 1}, outcome: memory.OutcomeFixed},
		{
			name: "failed with its action", u: memory.Update{Feedback: memory.Feedback{Outcome: memory.OutcomeFailed}, Action: "retry"},
			want: counts{failed: 1}, outcome: memory.OutcomeFailed, action: "retry",
		},
		{name: "thumbs up", u: memory.Update{Feedback: memory.Feedback{Verdict: memory.VerdictUp}}, want: counts{ups: 1}, verdict: memory.VerdictUp},
		{name: "thumbs down", u: memory.Update{Feedback: memory.Feedback{Verdict: memory.VerdictDown}}, want: counts{downs: 1}, verdict: memory.VerdictDown},
		{name: "both", u: memory.Update{Feedback: memory.Feedback{Outcome: memory.OutcomeFixed, Verdict: memory.VerdictDown}}, want: counts{fixed: 1, downs: 1}, outcome: memory.OutcomeFixed, verdict: memory.VerdictDown},
		{name: "label correction is a thumbs up", u: memory.Update{Label: "PERMISSION"}, want: counts{ups: 1}, verdict: memory.VerdictUp, label: "PERMISSION"},
		{name: "label with thumbs up counts once", u: memory.Update{Label: "PERMISSION", Feedback: memory.Feedback{Verdict: memory.VerdictUp}}, want: counts{ups: 1}, verdict: memory.VerdictUp, label: "PERMISSION"},
		{name: "action without outcome resets the outcome", u: memory.Update{Action: "fix_permissions"}, outcome: memory.OutcomeUnknown, action: "fix_permissions"},
		{name: "silence", u: memory.Update{}, silent: true},
		{name: "explicit silence", u: memory.Update{Feedback: memory.Feedback{Outcome: memory.OutcomeUnknown, Verdict: memory.VerdictNone}}, silent: true},
		{name: "unknown outcome", u: memory.Update{Feedback: memory.Feedback{Outcome: "sort of"}}, invalid: true},
		{name: "unknown verdict", u: memory.Update{Feedback: memory.Feedback{Verdict: "sideways"}}, invalid: true},
		{name: "label not a class", u: memory.Update{Label: "BAD_VIBES"}, invalid: true},
		{name: "label with thumbs down", u: memory.Update{Label: "PERMISSION", Feedback: memory.Feedback{Verdict: memory.VerdictDown}}, invalid: true},
	}
	t0 := h.Clock.Now()
	for i, tt := range tests {
		id := fmt.Sprintf("rec%d", i)
		base := MemoryRecord(id, "sig", t0)
		base.Fixed, base.Action, base.Outcome = 1, "retry", memory.OutcomeFixed
		upsertMemory(t, h, base)
		at := t0.Add(time.Minute)
		got, err := h.Store.MemoryRecordApply(ctx, id, tt.u, at)
		if tt.invalid {
			require.ErrorIs(t, err, memory.ErrInvalid, tt.name)
			stored, err := h.Store.MemoryRecordGet(ctx, id)
			require.NoError(t, err)
			requireSameRecord(t, base, stored, tt.name+": nothing changed")
			continue
		}
		require.NoError(t, err, tt.name)
		stored, err := h.Store.MemoryRecordGet(ctx, id)
		require.NoError(t, err)
		requireSameRecord(t, stored, got, tt.name+": Apply returns what is stored")
		if tt.silent {
			requireSameRecord(t, base, got, tt.name+": silence changes nothing, not even updated_at")
			continue
		}
		require.Equal(t, counts{base.Fixed + tt.want.fixed, tt.want.failed, tt.want.ups, tt.want.downs},
			counts{got.Fixed, got.Failed, got.Ups, got.Downs}, tt.name)
		require.InDelta(t, memory.ComputeTrust(got), got.Trust, 1e-12, tt.name)
		require.True(t, at.Equal(got.UpdatedAt), "%s: updated_at is now", tt.name)
		require.True(t, t0.Equal(got.CreatedAt), tt.name)
		want := func(v, keep string) string {
			if v == "" {
				return keep
			}
			return v
		}
		require.Equal(t, want(string(tt.outcome), string(base.Outcome)), string(got.Outcome), tt.name)
		require.Equal(t, want(string(tt.verdict), string(base.Verdict)), string(got.Verdict), tt.name)
		require.Equal(t, want(tt.action, base.Action), got.Action, tt.name)
		require.Equal(t, want(tt.label, base.Label), got.Label, tt.name)
		require.Equal(t, base.Embedding, got.Embedding, tt.name)
	}

	for _, u := range []memory.Update{{Feedback: fixed}, {}} {
		_, err := h.Store.MemoryRecordApply(ctx, "rec_missing", u, t0)
		require.ErrorIs(t, err, store.ErrNotFound)
		require.ErrorIs(t, err, memory.ErrNotFound)
	}
}

func testMemoryApplyConcurrent(t *testing.T, h *Harness) {
	ctx := context.Background()
	upsertMemory(t, h, MemoryRecord("rec1", "sig", h.Clock.Now()))
	const n = 40
	updates := []memory.Update{
		{Feedback: memory.Feedback{Outcome: memory.OutcomeFixed}},
		{Feedback: memory.Feedback{Outcome: memory.OutcomeFailed}},
		{Feedback: memory.Feedback{Verdict: memory.VerdictUp}},
		{Feedback: memory.Feedback{Verdict: memory.VerdictDown}},
	}
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			_, err := h.Store.MemoryRecordApply(ctx, "rec1", updates[i%len(updates)], h.Clock.Now().Add(time.Duration(i)*time.Millisecond))
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	got, err := h.Store.MemoryRecordGet(ctx, "rec1")
	require.NoError(t, err)
	require.Equal(t, []int{n / 4, n / 4, n / 4, n / 4}, []int{got.Fixed, got.Failed, got.Ups, got.Downs}, "no increment lost")
	require.InDelta(t, memory.ComputeTrust(got), got.Trust, 1e-12, "trust matches the final counts")
}

func testMemoryCorruptEmbedding(t *testing.T, h *Harness) {
	if h.SetMemoryEmbedding == nil {
		t.Skip("the harness cannot write raw embeddings")
	}
	ctx := context.Background()
	upsertMemory(t, h, MemoryRecord("rec1", "sig", h.Clock.Now()))
	upsertMemory(t, h, MemoryRecord("rec2", "sig", h.Clock.Now()))
	require.NoError(t, h.SetMemoryEmbedding(ctx, "rec1", []byte{1, 2, 3, 4, 5, 6, 7}))
	got, err := h.Store.MemoryRecordGet(ctx, "rec1")
	require.NoError(t, err, "a corrupt embedding is not an error")
	require.Nil(t, got.Embedding)
	require.Empty(t, got.EmbeddedBy)
	require.Equal(t, "sig", got.Signature, "the rest of the record is intact")
	page, err := h.Store.MemoryRecordList(ctx, &store.MemoryRecordListParams{})
	require.NoError(t, err)
	require.Len(t, page, 2)
	require.Nil(t, page[0].Embedding)
	require.Len(t, page[1].Embedding, 4, "the other record keeps its embedding")
}

func testMemoryList(t *testing.T, h *Harness) {
	ctx := context.Background()
	t0 := h.Clock.Now()
	// Two records share each instant, and ids run against time, so paging
	// must order on time and break ties on id.
	for i := range 7 {
		upsertMemory(t, h, MemoryRecord(fmt.Sprintf("rec%d", 6-i), "sig", t0.Add(time.Duration(i/2)*time.Second)))
	}
	want := []string{"rec5", "rec6", "rec3", "rec4", "rec1", "rec2", "rec0"}
	collect := func(p store.MemoryRecordListParams) []string {
		var ids []string
		for {
			page, err := h.Store.MemoryRecordList(ctx, &p)
			require.NoError(t, err)
			require.LessOrEqual(t, len(page), p.Limit)
			if len(page) == 0 {
				return ids
			}
			for _, r := range page {
				ids = append(ids, r.ID)
			}
			last := page[len(page)-1]
			p.UpdatedAfter, p.AfterID = last.UpdatedAt, last.ID
		}
	}
	require.Equal(t, want, collect(store.MemoryRecordListParams{Limit: 3}), "(updated_at, id) order, every record once")
	require.Equal(t, want[3:], collect(store.MemoryRecordListParams{UpdatedAfter: t0.Add(time.Second), AfterID: want[2], Limit: 2}),
		"strictly after the position")
	require.Empty(t, collect(store.MemoryRecordListParams{UpdatedAfter: t0.Add(time.Hour), Limit: 2}))

	_, err := h.Store.MemoryRecordApply(ctx, want[0], memory.Update{Feedback: memory.Feedback{Verdict: memory.VerdictUp}}, t0.Add(time.Minute))
	require.NoError(t, err)
	after := collect(store.MemoryRecordListParams{UpdatedAfter: t0.Add(3 * time.Second), AfterID: "rec0", Limit: 2})
	require.Equal(t, []string{want[0]}, after, "an updated record is found again after the last position")
}
