package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/medic-sh/medic/internal/incident"
	"github.com/medic-sh/medic/internal/store"
)

// silenceTests are the conformance cases of silences.
var silenceTests = []struct {
	name string
	fn   func(t *testing.T, h *Harness)
}{
	{"SilenceCreateAudited", testSilenceCreate},
	{"SilenceCreateRejectsInvalid", testSilenceCreateInvalid},
	{"SilenceListActive", testSilenceList},
	{"SilenceExpire", testSilenceExpire},
	{"SilenceMatch", testSilenceMatch},
}

// Silence returns a valid silence of the DAGs matching glob, from now for
// d.
func Silence(glob string, now time.Time, d time.Duration) *incident.Silence {
	return &incident.Silence{
		Matcher: incident.SilenceMatcher{DagGlob: glob}, Reason: "warehouse migration", CreatedBy: "oncall",
		StartsAt: now, EndsAt: now.Add(d),
	}
}

func createSilence(t *testing.T, h *Harness, s *incident.Silence) *incident.Silence {
	t.Helper()
	got, err := h.Store.SilenceCreate(context.Background(), s)
	require.NoError(t, err)
	return got
}

func testSilenceCreate(t *testing.T, h *Harness) {
	ctx := context.Background()
	now := h.Clock.Now()
	in := Silence("finance_*", time.Time{}, 0)
	in.EndsAt = now.Add(2 * time.Hour)
	in.Matcher.Instance, in.Matcher.Severity = "main", incident.SeverityMedium
	in.ID, in.ExpiredBy = "sil_mine", "someone" // the store's to set
	got, err := h.Store.SilenceCreate(ctx, in)
	require.NoError(t, err)
	require.NotEqual(t, "sil_mine", got.ID)
	require.NotEmpty(t, got.ID)
	require.Equal(t, now, got.CreatedAt)
	require.Equal(t, now, got.StartsAt, "a silence without a start starts now")
	require.Nil(t, got.ExpiredAt)
	require.Empty(t, got.ExpiredBy)
	require.Equal(t, incident.SilenceMatcher{DagGlob: "finance_*", Instance: "main", Severity: incident.SeverityMedium}, got.Matcher)

	e := lastAudit(ctx, t, h.Store)
	require.Equal(t, "silence.created", e.Action)
	require.Equal(t, "oncall", e.Actor)
	d := auditDetailOf(t, e)
	require.Equal(t, "warehouse migration", d.Reason)
	require.Equal(t, got.ID, d.Update["silence_id"])
	require.Equal(t, "finance_*", d.Update["dag"])
	require.Equal(t, "medium", d.Update["severity"])

	list, err := h.Store.SilenceList(ctx, &store.SilenceListParams{})
	require.NoError(t, err)
	require.Equal(t, []*incident.Silence{got}, list, "a listed silence is the silence as stored")
}

func testSilenceCreateInvalid(t *testing.T, h *Harness) {
	ctx := context.Background()
	now := h.Clock.Now()
	tests := []struct {
		name string
		edit func(s *incident.Silence)
	}{
		{"no glob", func(s *incident.Silence) { s.Matcher.DagGlob = "" }},
		{"bad glob", func(s *incident.Silence) { s.Matcher.DagGlob = "[" }},
		{"no reason", func(s *incident.Silence) { s.Reason = "" }},
		{"no creator", func(s *incident.Silence) { s.CreatedBy = "" }},
		{"ends before start", func(s *incident.Silence) { s.EndsAt = s.StartsAt.Add(-time.Minute) }},
		{"longer than 30 days", func(s *incident.Silence) { s.EndsAt = s.StartsAt.Add(31 * 24 * time.Hour) }},
		{"already ended", func(s *incident.Silence) { s.StartsAt, s.EndsAt = now.Add(-2*time.Hour), now.Add(-time.Hour) }},
		{"unknown severity", func(s *incident.Silence) { s.Matcher.Severity = "urgent" }},
	}
	for _, tt := range tests {
		s := Silence("*", now, time.Hour)
		tt.edit(s)
		_, err := h.Store.SilenceCreate(ctx, s)
		require.ErrorIs(t, err, incident.ErrInvalid, tt.name)
	}
	list, err := h.Store.SilenceList(ctx, &store.SilenceListParams{})
	require.NoError(t, err)
	require.Empty(t, list, "nothing invalid is stored")
	entries, err := h.Store.AuditList(ctx, &store.AuditListParams{ActionPrefix: "silence."})
	require.NoError(t, err)
	require.Empty(t, entries, "nor audited")
}

func testSilenceList(t *testing.T, h *Harness) {
	ctx := context.Background()
	now := h.Clock.Now()
	current := createSilence(t, h, Silence("a", now, time.Hour))
	h.Clock.Advance(time.Second)
	later := createSilence(t, h, Silence("b", now.Add(3*time.Hour), time.Hour))
	h.Clock.Advance(time.Second)
	expired := createSilence(t, h, Silence("c", now, time.Hour))
	_, err := h.Store.SilenceExpire(ctx, expired.ID, "oncall", time.Time{})
	require.NoError(t, err)
	h.Clock.Advance(time.Second)
	short := createSilence(t, h, Silence("d", now, 10*time.Second))

	ids := func(p *store.SilenceListParams) []string {
		t.Helper()
		list, err := h.Store.SilenceList(ctx, p)
		require.NoError(t, err)
		out := make([]string, len(list))
		for i, s := range list {
			out[i] = s.ID
		}
		return out
	}
	require.Equal(t, []string{short.ID, expired.ID, later.ID, current.ID}, ids(&store.SilenceListParams{}), "all, newest first")
	require.Equal(t, []string{short.ID, expired.ID}, ids(&store.SilenceListParams{Limit: 2}))
	require.Equal(t, []string{short.ID, current.ID}, ids(&store.SilenceListParams{Active: true}), "active now")
	require.Equal(t, []string{later.ID}, ids(&store.SilenceListParams{Active: true, At: now.Add(3 * time.Hour)}), "active then")
	require.Equal(t, []string{short.ID, expired.ID, current.ID}, ids(&store.SilenceListParams{Active: true, At: now}),
		"active at a time before the expiry")
	h.Clock.Advance(time.Minute)
	require.Equal(t, []string{current.ID}, ids(&store.SilenceListParams{Active: true}), "an ended silence is not active")
}

func testSilenceExpire(t *testing.T, h *Harness) {
	ctx := context.Background()
	now := h.Clock.Now()
	s := createSilence(t, h, Silence("*", now, time.Hour))
	h.Clock.Advance(time.Minute)

	_, err := h.Store.SilenceExpire(ctx, "sil_nope", "alice", time.Time{})
	require.ErrorIs(t, err, store.ErrNotFound)
	_, err = h.Store.SilenceExpire(ctx, s.ID, "", time.Time{})
	require.ErrorIs(t, err, incident.ErrInvalid)

	got, err := h.Store.SilenceExpire(ctx, s.ID, "alice", time.Time{})
	require.NoError(t, err)
	require.NotNil(t, got.ExpiredAt)
	require.Equal(t, h.Clock.Now(), *got.ExpiredAt, "expired now when no time is given")
	require.Equal(t, "alice", got.ExpiredBy)
	require.False(t, got.Active(h.Clock.Now()))
	e := lastAudit(ctx, t, h.Store)
	require.Equal(t, "silence.expired", e.Action)
	require.Equal(t, "alice", e.Actor)
	require.Equal(t, s.ID, auditDetailOf(t, e).Update["silence_id"])

	list, err := h.Store.SilenceList(ctx, &store.SilenceListParams{})
	require.NoError(t, err)
	require.Equal(t, []*incident.Silence{got}, list)

	_, err = h.Store.SilenceExpire(ctx, s.ID, "bob", time.Time{})
	require.ErrorIs(t, err, store.ErrConflict)
	require.ErrorContains(t, err, "already expired by alice")

	ended := createSilence(t, h, Silence("*", h.Clock.Now(), time.Minute))
	_, err = h.Store.SilenceExpire(ctx, ended.ID, "bob", h.Clock.Now().Add(time.Hour))
	require.ErrorIs(t, err, store.ErrConflict)
	require.ErrorContains(t, err, "already ended")

	entries, err := h.Store.AuditList(ctx, &store.AuditListParams{ActionPrefix: "silence.expired"})
	require.NoError(t, err)
	require.Len(t, entries, 1, "a refused expiry is not audited")
}

func testSilenceMatch(t *testing.T, h *Harness) {
	ctx := context.Background()
	now := h.Clock.Now()
	inc := &incident.Incident{ID: "inc_1", Instance: "main", DagID: "finance_reporting", Severity: incident.SeverityHigh}

	none, err := h.Store.SilenceMatch(ctx, inc, now)
	require.NoError(t, err)
	require.Nil(t, none, "no silences, no match")

	createSilence(t, h, Silence("finance_*", now, time.Hour)) // matches, but ends first
	long := createSilence(t, h, Silence("*", now, 3*time.Hour))
	other := Silence("*", now, 5*time.Hour)
	other.Matcher.Instance = "prod"
	createSilence(t, h, other)
	low := Silence("*", now, 6*time.Hour)
	low.Matcher.Severity = incident.SeverityMedium
	createSilence(t, h, low)
	mismatch := createSilence(t, h, Silence("orders_*", now, 7*time.Hour))
	expired := createSilence(t, h, Silence("finance_reporting", now, 4*time.Hour))
	_, err = h.Store.SilenceExpire(ctx, expired.ID, "oncall", time.Time{})
	require.NoError(t, err)
	future := createSilence(t, h, Silence("finance_*", now.Add(2*time.Hour), 8*time.Hour))

	tests := []struct {
		name string
		inc  *incident.Incident
		at   time.Time
		want *incident.Silence
	}{
		{"the one ending last", inc, now, long},
		{"after the longest ended", inc, now.Add(3*time.Hour + time.Second), future},
		{"before the future one", inc, now.Add(90 * time.Minute), long},
		{"other dag", &incident.Incident{ID: "inc_2", Instance: "main", DagID: "orders_etl", Severity: incident.SeverityHigh}, now, mismatch},
		{"nothing at all", &incident.Incident{ID: "inc_3", Instance: "main", DagID: "x", Severity: incident.SeverityHigh}, now.Add(20 * time.Hour), nil},
	}
	for _, tt := range tests {
		got, err := h.Store.SilenceMatch(ctx, tt.inc, tt.at)
		require.NoError(t, err, tt.name)
		if tt.want == nil {
			require.Nil(t, got, tt.name)
			continue
		}
		require.NotNil(t, got, tt.name)
		require.Equal(t, tt.want.ID, got.ID, tt.name)
	}
}
