package memory

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// flakyEmbedder wraps an embedder and fails while down is set.
type flakyEmbedder struct {
	Embedder
	mu   sync.Mutex
	down error
}

func (f *flakyEmbedder) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	f.mu.Lock()
	err := f.down
	f.mu.Unlock()
	if err != nil {
		return nil, err
	}
	return f.Embedder.Embed(ctx, texts)
}

func (f *flakyEmbedder) setDown(err error) {
	f.mu.Lock()
	f.down = err
	f.mu.Unlock()
}

type testBundle struct {
	mem  *Memory
	emb  *flakyEmbedder
	logs *bytes.Buffer
	now  time.Time
}

func setup(t *testing.T) *testBundle {
	t.Helper()
	b := &testBundle{emb: &flakyEmbedder{Embedder: NewHashEmbedder(128)}, logs: &bytes.Buffer{}}
	b.now = time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	b.mem = New(Config{
		Embedder: b.emb,
		Logger:   slog.New(slog.NewTextHandler(&lockedWriter{mu: &mu, w: b.logs}, nil)),
		Now:      func() time.Time { mu.Lock(); defer mu.Unlock(); return b.now },
	})
	return b
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func (b *testBundle) add(t *testing.T, r Record) *Record {
	t.Helper()
	got, err := b.mem.Add(context.Background(), r)
	require.NoError(t, err)
	return got
}

const (
	connRefused = "could not connect to server: Connection refused Is the server running on host <*> and accepting TCP/IP connections on port <*>"
	keyError    = "KeyError 'execution_date' missing from template context"
)

func TestLookupExactFirstThenSimilar(t *testing.T) {
	t.Parallel()
	b := setup(t)
	lowTrust := b.add(t, Record{ID: "exact-low", Signature: "sig-pg", Template: connRefused, ExceptionType: "OperationalError", Failed: 2})
	highTrust := b.add(t, Record{ID: "exact-high", Signature: "sig-pg", Template: connRefused, ExceptionType: "OperationalError", Fixed: 3})
	b.add(t, Record{ID: "similar", Signature: "sig-pg-other-host", Template: connRefused + " timeout expired", ExceptionType: "OperationalError"})
	b.add(t, Record{ID: "unrelated", Signature: "sig-key", Template: keyError, ExceptionType: "KeyError"})
	require.Less(t, lowTrust.Trust, highTrust.Trust)

	res, err := b.mem.Lookup(context.Background(), Query{Signature: "sig-pg", Template: connRefused, ExceptionType: "OperationalError"}, 2)
	require.NoError(t, err)
	require.Empty(t, res.Degraded)
	require.Equal(t, []string{"exact-high", "exact-low"}, recordIDs(res.Exact))
	require.Len(t, res.Similar, 2, "exact matches are not repeated among similar ones")
	require.Equal(t, "similar", res.Similar[0].Record.ID)
	require.Equal(t, "unrelated", res.Similar[1].Record.ID)
	require.Greater(t, res.Similar[0].Score, float32(0.8))
	require.Greater(t, res.Similar[0].Score, res.Similar[1].Score)

	// A new signature finds nothing exact but still finds its neighbours.
	res, err = b.mem.Lookup(context.Background(), Query{Signature: "sig-new", Text: "OperationalError " + connRefused}, 1)
	require.NoError(t, err)
	require.Empty(t, res.Exact)
	require.Len(t, res.Similar, 1)
	require.Contains(t, []string{"exact-high", "exact-low"}, res.Similar[0].Record.ID)
}

func recordIDs(rs []*Record) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.ID
	}
	return out
}

func TestLookupDegradesWhenEmbedderFails(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.add(t, Record{ID: "a", Signature: "sig-pg", Template: connRefused, ExceptionType: "OperationalError"})
	b.add(t, Record{ID: "b", Signature: "sig-other", Template: connRefused, ExceptionType: "OperationalError"})

	b.emb.setDown(&EmbedError{URL: "http://ollama:11434/v1/embeddings", Retryable: true, Err: errors.New("connection refused")})
	res, err := b.mem.Lookup(context.Background(), Query{Signature: "sig-pg", Template: connRefused, ExceptionType: "OperationalError"}, 5)
	require.NoError(t, err, "an embedder outage never fails a lookup")
	require.Equal(t, []string{"a"}, recordIDs(res.Exact))
	require.Empty(t, res.Similar)
	require.Contains(t, res.Degraded, "connection refused")
	require.Contains(t, b.logs.String(), "memory lookup degraded to signature only")

	// Adding while the embedder is down keeps the record for signature lookup.
	c := b.add(t, Record{ID: "c", Signature: "sig-new", Template: connRefused})
	require.Nil(t, c.Embedding)
	b.emb.setDown(nil)
	res, err = b.mem.Lookup(context.Background(), Query{Signature: "sig-new", Template: connRefused, ExceptionType: "OperationalError"}, 5)
	require.NoError(t, err)
	require.Empty(t, res.Degraded)
	require.Equal(t, []string{"c"}, recordIDs(res.Exact))
	require.ElementsMatch(t, []string{"a", "b"}, []string{res.Similar[0].Record.ID, res.Similar[1].Record.ID})
}

func TestLookupCancelledIsAnError(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	b.emb.setDown(context.Canceled)
	_, err := b.mem.Lookup(ctx, Query{Template: connRefused}, 3)
	require.ErrorIs(t, err, context.Canceled)
}

func TestRestoreCorruptRecords(t *testing.T) {
	t.Parallel()
	b := setup(t)
	good := b.add(t, Record{ID: "good", Signature: "sig-pg", Template: connRefused, ExceptionType: "OperationalError", Fixed: 1})
	saved := b.mem.Records()
	require.Len(t, saved, 1)

	bad := []Record{
		saved[0],
		{ID: "", Signature: "sig-x"},
		{ID: "wrong-dim", Signature: "sig-pg", Embedding: []float32{1, 2, 3}, EmbeddedBy: b.emb.Name()},
		{ID: "zero-vector", Signature: "sig-zero", Embedding: make([]float32, 128), EmbeddedBy: b.emb.Name()},
		{ID: "nan", Signature: "sig-nan", Embedding: nanVector(128), EmbeddedBy: b.emb.Name()},
		{ID: "other-embedder", Signature: "sig-o", Embedding: good.Embedding, EmbeddedBy: "openai/other/128"},
		{ID: "bad-enum", Signature: "sig-e", Outcome: "exploded", Verdict: "meh", Fixed: -3},
	}
	m := New(Config{Embedder: b.emb, Logger: slog.New(slog.NewTextHandler(&bytes.Buffer{}, nil))})
	skipped, unindexed := m.Restore(context.Background(), bad)
	require.Equal(t, 1, skipped)
	require.Equal(t, 5, unindexed)
	require.Equal(t, 6, m.Len())
	got, ok := m.Get("bad-enum")
	require.True(t, ok)
	require.Equal(t, OutcomeUnknown, got.Outcome)
	require.Equal(t, VerdictNone, got.Verdict)
	require.Equal(t, 0.5, got.Trust)

	res, err := m.Lookup(context.Background(), Query{Signature: "sig-pg", Template: connRefused, ExceptionType: "OperationalError"}, 5)
	require.NoError(t, err)
	require.ElementsMatch(t, []string{"good", "wrong-dim"}, recordIDs(res.Exact), "corrupt records still match by signature")
	require.Empty(t, res.Similar, "only the good record is indexed, and it is an exact match")
}

func nanVector(dim int) []float32 {
	v := make([]float32, dim)
	v[0] = float32(math.NaN())
	return v
}

func TestAddRejectsInvalidEnums(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, err := b.mem.Add(context.Background(), Record{Signature: "s", Outcome: "maybe"})
	require.ErrorContains(t, err, `outcome "maybe"`)
}

func TestLearnTrust(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		feedback  []Feedback
		wantTrust float64
		outcome   Outcome
		verdict   Verdict
		updated   bool
	}{
		{"new record", nil, 0.5, OutcomeUnknown, VerdictNone, false},
		{"silence", []Feedback{{}, {Outcome: OutcomeUnknown, Verdict: VerdictNone}}, 0.5, OutcomeUnknown, VerdictNone, false},
		{"fixed", []Feedback{{Outcome: OutcomeFixed}}, 2.0 / 3, OutcomeFixed, VerdictNone, true},
		{"failed", []Feedback{{Outcome: OutcomeFailed}}, 1.0 / 3, OutcomeFailed, VerdictNone, true},
		{"fixed twice", []Feedback{{Outcome: OutcomeFixed}, {Outcome: OutcomeFixed}}, 3.0 / 4, OutcomeFixed, VerdictNone, true},
		{"thumbs up", []Feedback{{Verdict: VerdictUp}}, 2.0 / 3, OutcomeUnknown, VerdictUp, true},
		{"thumbs down", []Feedback{{Verdict: VerdictDown}}, 1.0 / 3, OutcomeUnknown, VerdictDown, true},
		{"fixed then failed", []Feedback{{Outcome: OutcomeFixed}, {Outcome: OutcomeFailed}}, 0.5, OutcomeFailed, VerdictNone, true},
		{"fixed and thumbs down together", []Feedback{{Outcome: OutcomeFixed, Verdict: VerdictDown}}, 0.5, OutcomeFixed, VerdictDown, true},
		{"three fixes one failure one up", []Feedback{
			{Outcome: OutcomeFixed}, {Outcome: OutcomeFixed}, {Outcome: OutcomeFailed}, {Outcome: OutcomeFixed}, {Verdict: VerdictUp},
		}, 5.0 / 7, OutcomeFixed, VerdictUp, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			created := b.now
			r := b.add(t, Record{ID: "r", Signature: "s", Template: keyError})
			require.Equal(t, 0.5, r.Trust)
			later := created.Add(time.Hour)
			b.now = later // no other goroutine reads the clock in this test
			for _, f := range tt.feedback {
				var err error
				r, err = b.mem.Learn("r", f)
				require.NoError(t, err)
			}
			require.InDelta(t, tt.wantTrust, r.Trust, 1e-12)
			require.Equal(t, tt.outcome, r.Outcome)
			require.Equal(t, tt.verdict, r.Verdict)
			require.Equal(t, created, r.CreatedAt)
			if tt.updated {
				require.Equal(t, later, r.UpdatedAt)
			} else {
				require.Equal(t, created, r.UpdatedAt, "silence does not touch the record")
			}
			got, _ := b.mem.Get("r")
			require.Equal(t, r, got)
		})
	}
}

func TestLearnErrors(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, err := b.mem.Learn("missing", Feedback{Outcome: OutcomeFixed})
	require.ErrorIs(t, err, ErrNotFound)
	b.add(t, Record{ID: "r", Signature: "s"})
	_, err = b.mem.Learn("r", Feedback{Verdict: "sideways"})
	require.ErrorContains(t, err, `unknown verdict "sideways"`)
	got, _ := b.mem.Get("r")
	require.Equal(t, 0.5, got.Trust, "a rejected feedback changes nothing")
}

func TestDelete(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.add(t, Record{ID: "a", Signature: "s", Template: keyError})
	b.add(t, Record{ID: "b", Signature: "s", Template: keyError})
	require.True(t, b.mem.Delete("a"))
	require.False(t, b.mem.Delete("a"))
	res, err := b.mem.Lookup(context.Background(), Query{Signature: "s", Template: keyError}, 5)
	require.NoError(t, err)
	require.Equal(t, []string{"b"}, recordIDs(res.Exact))
	require.Empty(t, res.Similar, "a's vector is gone too")
	require.True(t, b.mem.Delete("b"))
	require.Zero(t, b.mem.Len())
}

func TestReturnedRecordsAreCopies(t *testing.T) {
	t.Parallel()
	b := setup(t)
	r := b.add(t, Record{ID: "r", Signature: "s", Label: "pg-down"})
	r.Label = "changed"
	got, _ := b.mem.Get("r")
	require.Equal(t, "pg-down", got.Label)
}

func TestConcurrentUse(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 50 {
				id := fmt.Sprintf("w%d-%d", w, i)
				_, err := b.mem.Add(ctx, Record{ID: id, Signature: fmt.Sprintf("sig-%d", i%5), Template: fmt.Sprintf("%s %d", connRefused, i)})
				require.NoError(t, err)
				_, err = b.mem.Lookup(ctx, Query{Signature: "sig-1", Template: connRefused}, 3)
				require.NoError(t, err)
				_, err = b.mem.Learn(id, Feedback{Outcome: OutcomeFixed})
				require.NoError(t, err)
			}
		})
	}
	wg.Wait()
	require.Equal(t, 200, b.mem.Len())
	require.Len(t, b.mem.Records(), 200)
}
