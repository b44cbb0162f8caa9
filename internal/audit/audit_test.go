package audit_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/medic-sh/medic/internal/audit"
	"github.com/medic-sh/medic/internal/incident"
)

// chain builds a sealed chain of n entries.
func chain(n int) []*incident.AuditEntry {
	at := time.Date(2026, 5, 1, 2, 0, 0, 123456789, time.UTC)
	prev := audit.GenesisHash
	out := make([]*incident.AuditEntry, n)
	for i := range out {
		e := &incident.AuditEntry{
			ID: int64(i + 1), At: at.Add(time.Duration(i) * time.Second), Actor: "alice", Action: "test.append",
			IncidentID: "inc_1", Detail: json.RawMessage(`{"n":1}`),
		}
		audit.Seal(prev, e)
		prev = e.Hash
		out[i] = e
	}
	return out
}

func TestCanonicalIsUnambiguous(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		a, b incident.AuditEntry
	}{
		{"field boundary", incident.AuditEntry{ID: 1, At: at, Actor: "ab", Action: "c"}, incident.AuditEntry{ID: 1, At: at, Actor: "a", Action: "bc"}},
		{"id", incident.AuditEntry{ID: 1, At: at, Actor: "a", Action: "b"}, incident.AuditEntry{ID: 2, At: at, Actor: "a", Action: "b"}},
		{"time", incident.AuditEntry{ID: 1, At: at, Actor: "a", Action: "b"}, incident.AuditEntry{ID: 1, At: at.Add(time.Nanosecond), Actor: "a", Action: "b"}},
		{"detail", incident.AuditEntry{ID: 1, At: at, Actor: "a", Action: "b", Detail: json.RawMessage(`{}`)}, incident.AuditEntry{ID: 1, At: at, Actor: "a", Action: "b"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.NotEqual(t, audit.Canonical(&tt.a), audit.Canonical(&tt.b))
			require.NotEqual(t, audit.Hash(audit.GenesisHash, &tt.a), audit.Hash(audit.GenesisHash, &tt.b))
		})
	}
	// The zone an entry's time is read in does not change its hash.
	e := incident.AuditEntry{ID: 1, At: at, Actor: "a", Action: "b"}
	local := e
	local.At = at.In(time.FixedZone("CEST", 2*3600))
	require.Equal(t, audit.Hash(audit.GenesisHash, &e), audit.Hash(audit.GenesisHash, &local))
	require.Len(t, audit.Hash(audit.GenesisHash, &e), 64)
}

func TestVerify(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		mutate  func(c []*incident.AuditEntry) []*incident.AuditEntry
		broken  int64
		problem audit.Problem
		entries int
	}{
		{name: "intact", mutate: func(c []*incident.AuditEntry) []*incident.AuditEntry { return c }, entries: 5},
		{name: "empty", mutate: func([]*incident.AuditEntry) []*incident.AuditEntry { return nil }},
		{name: "detail changed", mutate: func(c []*incident.AuditEntry) []*incident.AuditEntry {
			c[2].Detail = json.RawMessage(`{"n":2}`)
			return c
		}, broken: 3, problem: audit.ProblemHash, entries: 3},
		{name: "actor changed", mutate: func(c []*incident.AuditEntry) []*incident.AuditEntry {
			c[0].Actor = "mallory"
			return c
		}, broken: 1, problem: audit.ProblemHash, entries: 1},
		{name: "rewritten with its hash", mutate: func(c []*incident.AuditEntry) []*incident.AuditEntry {
			c[1].Detail = json.RawMessage(`{"n":9}`)
			audit.Seal(c[1].PrevHash, c[1])
			return c
		}, broken: 3, problem: audit.ProblemLink, entries: 3},
		{name: "entry removed", mutate: func(c []*incident.AuditEntry) []*incident.AuditEntry {
			return append(c[:1], c[2:]...)
		}, broken: 3, problem: audit.ProblemLink, entries: 2},
		{
			name: "first entry removed", mutate: func(c []*incident.AuditEntry) []*incident.AuditEntry { return c[1:] },
			broken: 2, problem: audit.ProblemLink, entries: 1,
		},
		{name: "ids out of order", mutate: func(c []*incident.AuditEntry) []*incident.AuditEntry {
			c[3].ID = 2
			return c
		}, broken: 2, problem: audit.ProblemOrder, entries: 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rep, err := audit.Verify(tt.mutate(chain(5)))
			require.NoError(t, err)
			require.Equal(t, tt.broken == 0, rep.Intact, "%+v", rep)
			require.Equal(t, tt.broken, rep.BrokenID)
			require.Equal(t, tt.problem, rep.Problem)
			require.Equal(t, tt.entries, rep.Entries)
			if tt.broken != 0 {
				require.Contains(t, rep.Reason, "entry ")
			}
		})
	}
}

func TestVerifierPagesAndNil(t *testing.T) {
	t.Parallel()
	c := chain(6)
	var v audit.Verifier
	for _, page := range [][]*incident.AuditEntry{c[:2], c[2:5], c[5:]} {
		for _, e := range page {
			ok, err := v.Add(e)
			require.NoError(t, err)
			require.True(t, ok)
		}
	}
	require.Equal(t, &audit.Report{Intact: true, Entries: 6, FirstID: 1, LastID: 6, LastHash: c[5].Hash}, v.Report())
	_, err := audit.Verify([]*incident.AuditEntry{c[0], nil})
	require.ErrorIs(t, err, audit.ErrNilEntry)
}

func TestDetailJSON(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		d       audit.Detail
		want    string
		invalid bool
	}{
		{"empty", audit.Detail{}, `{}`, false},
		{"remediation", audit.Detail{
			RequestedBy: "rule:retry-transient", Decision: "needs_approval", Reasons: []string{"trust 0.6 below 0.8"},
			Gate: map[string]float64{"trust": 0.6, "precedents": 2}, Approver: "alice",
			Executed:     &audit.Execution{Request: "POST /dags/etl/clearTaskInstances", Response: "200 OK", Status: 200},
			Verification: &audit.Verification{Outcome: "fixed"},
		}, `{"requested_by":"rule:retry-transient","decision":"needs_approval","reasons":["trust 0.6 below 0.8"],` +
			`"gate":{"precedents":2,"trust":0.6},"approver":"alice","executed":{"request":"POST /dags/etl/clearTaskInstances",` +
			`"response":"200 OK","status":200},"verification":{"outcome":"fixed"}}`, false},
		{"too large", audit.Detail{Reason: string(make([]byte, incident.MaxAuditDetailBytes))}, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := tt.d.JSON()
			if tt.invalid {
				require.ErrorIs(t, err, incident.ErrInvalid)
				return
			}
			require.NoError(t, err)
			require.JSONEq(t, tt.want, string(got))
		})
	}
}
