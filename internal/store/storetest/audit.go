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

	"github.com/medic-sh/medic/internal/audit"
	"github.com/medic-sh/medic/internal/incident"
	"github.com/medic-sh/medic/internal/store"
)

// auditChain reads the whole audit chain a page at a time.
func auditChain(t *testing.T, st store.Store) []*incident.AuditEntry {
	t.Helper()
	var all []*incident.AuditEntry
	var after int64
	for {
		page, err := st.AuditList(context.Background(), &store.AuditListParams{AfterID: after, Limit: 7})
		require.NoError(t, err)
		all = append(all, page...)
		if len(page) < 7 {
			return all
		}
		after = page[len(page)-1].ID
	}
}

func appendAudit(t *testing.T, st store.Store, actor, action, incidentID, detail string) *incident.AuditEntry {
	t.Helper()
	e := &incident.AuditEntry{Actor: actor, Action: action, IncidentID: incidentID}
	if detail != "" {
		e.Detail = json.RawMessage(detail)
	}
	got, err := st.AuditAppend(context.Background(), e)
	require.NoError(t, err)
	return got
}

func testAuditAppendChains(t *testing.T, h *Harness) {
	ctx := context.Background()
	first := appendAudit(t, h.Store, "alice", "memory.feedback", "", `{"reason":"it worked"}`)
	require.Equal(t, audit.GenesisHash, first.PrevHash)
	require.Equal(t, audit.Hash(first.PrevHash, first), first.Hash)
	require.Equal(t, h.Clock.Now(), first.At)
	// An entry written inside another method's transaction joins the chain.
	r, err := h.Store.EventRecord(ctx, &store.EventRecordParams{Event: Event("etl", "r1", "load", 1), Window: time.Hour})
	require.NoError(t, err)
	h.Clock.Advance(time.Second)
	last := appendAudit(t, h.Store, "bob", "remediation.executed", r.Incident.ID, "")

	chain := auditChain(t, h.Store)
	require.Len(t, chain, 3)
	require.Equal(t, first, chain[0])
	require.Equal(t, last, chain[2])
	for i := 1; i < len(chain); i++ {
		require.Equal(t, chain[i-1].Hash, chain[i].PrevHash, "entry %d", chain[i].ID)
	}
	rep, err := audit.Verify(chain)
	require.NoError(t, err)
	require.Equal(t, &audit.Report{Intact: true, Entries: 3, FirstID: first.ID, LastID: last.ID, LastHash: last.Hash}, rep)
}

func testAuditAppendInvalid(t *testing.T, h *Harness) {
	tests := []struct {
		name  string
		entry incident.AuditEntry
		want  string
	}{
		{"no actor", incident.AuditEntry{Action: "x"}, "actor is required"},
		{"no action", incident.AuditEntry{Actor: "a", Action: "  "}, "action is required"},
		{"long actor", incident.AuditEntry{Actor: strings.Repeat("a", incident.MaxAuditActorLen+1), Action: "x"}, "actor is longer"},
		{"detail too large", incident.AuditEntry{Actor: "a", Action: "x", Detail: json.RawMessage(`"` + strings.Repeat("a", incident.MaxAuditDetailBytes) + `"`)}, "summarise it"},
		{"detail not JSON", incident.AuditEntry{Actor: "a", Action: "x", Detail: json.RawMessage(`{oops`)}, "not JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := h.Store.AuditAppend(context.Background(), &tt.entry)
			require.ErrorIs(t, err, incident.ErrInvalid)
			require.ErrorContains(t, err, tt.want)
		})
	}
	require.Empty(t, auditChain(t, h.Store))
}

func testAuditAppendConcurrent(t *testing.T, h *Harness) {
	const workers, each = 8, 10
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				_, err := h.Store.AuditAppend(context.Background(), &incident.AuditEntry{
					Actor: fmt.Sprintf("worker%d", w), Action: "test.append", Detail: json.RawMessage(fmt.Sprintf(`{"i":%d}`, i)),
				})
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	chain := auditChain(t, h.Store)
	require.Len(t, chain, workers*each)
	rep, err := audit.Verify(chain)
	require.NoError(t, err)
	require.True(t, rep.Intact, "%+v", rep)
}

func testAuditListFilters(t *testing.T, h *Harness) {
	start := h.Clock.Now()
	a1 := appendAudit(t, h.Store, "alice", "incident.transition", "inc_1", "")
	h.Clock.Advance(time.Minute)
	b1 := appendAudit(t, h.Store, "bob", "memory.feedback", "inc_1", "")
	h.Clock.Advance(time.Minute)
	a2 := appendAudit(t, h.Store, "alice", "memory.feedback", "inc_2", "")
	h.Clock.Advance(time.Minute)
	odd := appendAudit(t, h.Store, "alice", "memory_x", "", "")

	tests := []struct {
		name string
		p    store.AuditListParams
		want []*incident.AuditEntry
	}{
		{"all", store.AuditListParams{}, []*incident.AuditEntry{a1, b1, a2, odd}},
		{"incident", store.AuditListParams{IncidentID: "inc_1"}, []*incident.AuditEntry{a1, b1}},
		{"actor", store.AuditListParams{Actor: "alice"}, []*incident.AuditEntry{a1, a2, odd}},
		{"action prefix", store.AuditListParams{ActionPrefix: "memory."}, []*incident.AuditEntry{b1, a2}},
		{"prefix is literal", store.AuditListParams{ActionPrefix: "memory_"}, []*incident.AuditEntry{odd}},
		{"since inclusive", store.AuditListParams{Since: start.Add(time.Minute)}, []*incident.AuditEntry{b1, a2, odd}},
		{"until exclusive", store.AuditListParams{Until: start.Add(2 * time.Minute)}, []*incident.AuditEntry{a1, b1}},
		{"after id and limit", store.AuditListParams{AfterID: a1.ID, Limit: 2}, []*incident.AuditEntry{b1, a2}},
		{"combined", store.AuditListParams{Actor: "alice", ActionPrefix: "memory.", IncidentID: "inc_2"}, []*incident.AuditEntry{a2}},
		{"none", store.AuditListParams{Actor: "carol"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := h.Store.AuditList(context.Background(), &tt.p)
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

func testAuditTamperDetected(t *testing.T, h *Harness) {
	if h.TamperAudit == nil {
		t.Skip("the store offers no tamper hook")
	}
	ctx := context.Background()
	var entries []*incident.AuditEntry
	for i := range 5 {
		entries = append(entries, appendAudit(t, h.Store, "alice", "test.append", "", fmt.Sprintf(`{"i":%d}`, i)))
	}
	rep, err := audit.Verify(auditChain(t, h.Store))
	require.NoError(t, err)
	require.True(t, rep.Intact)

	require.NoError(t, h.TamperAudit(ctx, entries[2].ID, `{"i":99}`))
	rep, err = audit.Verify(auditChain(t, h.Store))
	require.NoError(t, err)
	require.False(t, rep.Intact)
	require.Equal(t, entries[2].ID, rep.BrokenID)
	require.Equal(t, audit.ProblemHash, rep.Problem)
	require.Equal(t, 3, rep.Entries)
	require.Equal(t, entries[1].Hash, rep.LastHash, "the head of the intact part")
}
