package memory_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/medic-sh/medic/internal/memory"
	"github.com/medic-sh/medic/internal/store"
	"github.com/medic-sh/medic/internal/store/sqlite"
	"github.com/medic-sh/medic/internal/store/storetest"
)

// syncWriter is a bytes.Buffer behind the bundle's lock, for loggers.
type syncWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

// faultyPersister wraps the real store: it fails every call while down is
// set, and can slip extra records into the first page of each list.
type faultyPersister struct {
	memory.Persister
	mu      sync.Mutex
	down    error
	extra   []*memory.Record
	applies int
}

func (f *faultyPersister) fail() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.down
}

func (f *faultyPersister) setDown(err error) { f.mu.Lock(); f.down = err; f.mu.Unlock() }

func (f *faultyPersister) MemoryRecordUpsert(ctx context.Context, r *memory.Record) error {
	if err := f.fail(); err != nil {
		return err
	}
	return f.Persister.MemoryRecordUpsert(ctx, r)
}

func (f *faultyPersister) MemoryRecordApply(ctx context.Context, id string, u memory.Update, now time.Time) (*memory.Record, error) {
	f.mu.Lock()
	f.applies++
	f.mu.Unlock()
	if err := f.fail(); err != nil {
		return nil, err
	}
	return f.Persister.MemoryRecordApply(ctx, id, u, now)
}

func (f *faultyPersister) MemoryRecordList(ctx context.Context, p *memory.RecordListParams) ([]*memory.Record, error) {
	if err := f.fail(); err != nil {
		return nil, err
	}
	page, err := f.Persister.MemoryRecordList(ctx, p)
	f.mu.Lock()
	defer f.mu.Unlock()
	if err == nil && len(page) > 0 && len(f.extra) > 0 {
		page = append(append([]*memory.Record(nil), f.extra...), page...)
	}
	return page, err
}

var errStoreDown = errors.New("database is locked")

type keeperBundle struct {
	store  *sqlite.Store
	dbPath string
	clock  *storetest.Clock
	logs   *bytes.Buffer
	logMu  *sync.Mutex
}

func setupKeeper(t *testing.T) *keeperBundle {
	t.Helper()
	b := &keeperBundle{
		dbPath: filepath.Join(t.TempDir(), "medic.db"),
		clock:  storetest.NewClock(time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)),
		logs:   &bytes.Buffer{}, logMu: &sync.Mutex{},
	}
	var err error
	b.store, err = sqlite.Open(context.Background(), sqlite.Options{Path: b.dbPath, Now: b.clock.Now})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, b.store.Close()) })
	return b
}

func (b *keeperBundle) logged() string {
	b.logMu.Lock()
	defer b.logMu.Unlock()
	return b.logs.String()
}

// keeper returns a Keeper with an empty Memory over p (the store when nil),
// as a new replica would start.
func (b *keeperBundle) keeper(p memory.Persister) *memory.Keeper {
	if p == nil {
		p = b.store
	}
	logger := slog.New(slog.NewTextHandler(&syncWriter{mu: b.logMu, w: b.logs}, nil))
	mem := memory.New(memory.Config{Embedder: memory.NewHashEmbedder(64), Logger: logger, Now: b.clock.Now})
	return memory.NewKeeper(mem, p, logger, b.clock.Now)
}

func failure(id, sig, template string) memory.Record {
	return memory.Record{
		ID: id, Signature: sig, Template: template, ExceptionType: "psycopg2.errors.UndefinedColumn",
		Excerpt: template, Label: "SCHEMA_CHANGE",
	}
}

const (
	undefinedColumn = "column <*> of relation <*> does not exist"
	connRefusedTpl  = "could not connect to server: Connection refused"
)

var (
	fixed = memory.Update{Feedback: memory.Feedback{Outcome: memory.OutcomeFixed}, Action: "schema_migration"}
	up    = memory.Update{Feedback: memory.Feedback{Verdict: memory.VerdictUp}}
)

func TestKeeperRememberTwiceKeepsEvidence(t *testing.T) {
	t.Parallel()
	b := setupKeeper(t)
	ctx := context.Background()
	k := b.keeper(nil)
	first, err := k.Remember(ctx, failure("inc_1", "sig_a", undefinedColumn))
	require.NoError(t, err)
	require.NotEmpty(t, first.Embedding, "embedded on the way in")
	_, err = k.Feedback(ctx, "inc_1", fixed)
	require.NoError(t, err)
	b.clock.Advance(time.Minute)

	again := failure("inc_1", "sig_a", undefinedColumn+" (again)")
	again.Label = "CODE_ERROR"
	got, err := k.Remember(ctx, again)
	require.NoError(t, err)
	require.Equal(t, 1, got.Fixed, "remembering again keeps the counts")
	require.Equal(t, memory.OutcomeFixed, got.Outcome)
	require.Equal(t, "schema_migration", got.Action)
	require.Equal(t, "CODE_ERROR", got.Label, "what the failure looked like is replaced")
	require.True(t, first.CreatedAt.Equal(got.CreatedAt))
	require.True(t, b.clock.Now().Equal(got.UpdatedAt))

	held, ok := k.Get("inc_1")
	require.True(t, ok)
	require.Equal(t, 1, held.Fixed)
	require.Equal(t, 1, k.Memory().Len())
	stored, err := b.store.MemoryRecordList(ctx, &store.MemoryRecordListParams{})
	require.NoError(t, err)
	require.Len(t, stored, 1, "one record per id")
	require.Equal(t, 1, stored[0].Fixed)
}

func TestKeeperRememberKeepsEvidenceAnotherReplicaStored(t *testing.T) {
	t.Parallel()
	b := setupKeeper(t)
	ctx := context.Background()
	a, c := b.keeper(nil), b.keeper(nil)
	_, err := a.Remember(ctx, failure("inc_1", "sig_a", undefinedColumn))
	require.NoError(t, err)
	_, err = a.Feedback(ctx, "inc_1", up)
	require.NoError(t, err)
	// c has not synced: its Memory does not know the record, the store does.
	got, err := c.Remember(ctx, failure("inc_1", "sig_a", undefinedColumn))
	require.NoError(t, err)
	require.Equal(t, 1, got.Ups, "the stored evidence wins over the caller's zero counts")
	held, ok := c.Get("inc_1")
	require.True(t, ok)
	require.Equal(t, 1, held.Ups)
	require.InDelta(t, memory.ComputeTrust(held), held.Trust, 1e-12)
}

func TestKeeperFeedback(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		id        string
		u         memory.Update
		wantErr   error
		wantStore bool // the store was asked
		fixed     int
		ups       int
	}{
		{name: "outcome", id: "inc_1", u: fixed, wantStore: true, fixed: 1},
		{name: "label correction", id: "inc_1", u: memory.Update{Label: "PERMISSION"}, wantStore: true, ups: 1},
		{name: "silence", id: "inc_1", u: memory.Update{}, wantStore: true},
		{name: "unknown id", id: "inc_404", u: fixed, wantErr: memory.ErrNotFound, wantStore: true},
		{name: "bad outcome", id: "inc_1", u: memory.Update{Feedback: memory.Feedback{Outcome: "great"}}, wantErr: memory.ErrInvalid},
		{name: "bad label", id: "inc_1", u: memory.Update{Label: "schema"}, wantErr: memory.ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setupKeeper(t)
			ctx := context.Background()
			p := &faultyPersister{Persister: b.store}
			k := b.keeper(p)
			_, err := k.Remember(ctx, failure("inc_1", "sig_a", undefinedColumn))
			require.NoError(t, err)
			got, err := k.Feedback(ctx, tt.id, tt.u)
			require.Equal(t, tt.wantStore, p.applies == 1, "store asked")
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.fixed, got.Fixed)
			require.Equal(t, tt.ups, got.Ups)
			held, ok := k.Get(tt.id)
			require.True(t, ok)
			require.Equal(t, *got, *held, "the Memory holds the stored result")
			res, err := k.Lookup(ctx, memory.Query{Signature: "sig_a"}, 0)
			require.NoError(t, err)
			require.Len(t, res.Exact, 1)
			require.Equal(t, tt.fixed, res.Exact[0].Fixed, "lookups see the feedback")
		})
	}
}

func TestKeeperStoreDown(t *testing.T) {
	t.Parallel()
	b := setupKeeper(t)
	ctx := context.Background()
	p := &faultyPersister{Persister: b.store}
	k := b.keeper(p)
	p.setDown(errStoreDown)

	got, err := k.Remember(ctx, failure("inc_1", "sig_a", undefinedColumn))
	require.ErrorIs(t, err, errStoreDown, "the caller learns it was not saved")
	require.NotNil(t, got, "but gets the record")
	res, err := k.Lookup(ctx, memory.Query{Signature: "sig_a"}, 3)
	require.NoError(t, err, "lookups never touch the store")
	require.Len(t, res.Exact, 1)
	_, err = k.Feedback(ctx, "inc_1", fixed)
	require.ErrorIs(t, err, errStoreDown)
	held, _ := k.Get("inc_1")
	require.Zero(t, held.Fixed, "feedback the store did not take is not in memory either")
	require.ErrorIs(t, k.Sync(ctx), errStoreDown)

	p.setDown(nil)
	require.NoError(t, k.Sync(ctx), "the next sync saves what Remember could not")
	stored, err := b.store.MemoryRecordGet(ctx, "inc_1")
	require.NoError(t, err)
	require.Equal(t, "sig_a", stored.Signature)
	require.Equal(t, got.Embedding, stored.Embedding)
}

func TestKeeperLoadRestoresAndSkipsCorrupt(t *testing.T) {
	t.Parallel()
	b := setupKeeper(t)
	ctx := context.Background()
	w := b.keeper(nil)
	for _, r := range []memory.Record{
		failure("inc_1", "sig_a", undefinedColumn),
		failure("inc_2", "sig_b", connRefusedTpl),
		failure("inc_3", "sig_c", "relation <*> does not exist"),
	} {
		_, err := w.Remember(ctx, r)
		require.NoError(t, err)
		b.clock.Advance(time.Second)
	}
	_, err := w.Feedback(ctx, "inc_2", fixed)
	require.NoError(t, err)
	// A damaged row: its embedding is not a whole number of float32s.
	db, err := sql.Open("sqlite", b.dbPath)
	require.NoError(t, err)
	_, err = db.ExecContext(ctx, `UPDATE memory_records SET embedding = x'01020304050607' WHERE id = 'inc_3'`)
	require.NoError(t, err)
	require.NoError(t, db.Close())

	p := &faultyPersister{Persister: b.store, extra: []*memory.Record{
		{Signature: "sig_no_id"},
		{ID: "inc_bad_enum", Signature: "sig_d", Outcome: "bogus", UpdatedAt: b.clock.Now()},
		{ID: "inc_bad_dim", Signature: "sig_e", Embedding: []float32{1, 0}, EmbeddedBy: "hash-ngram-v1/64", UpdatedAt: b.clock.Now()},
	}}
	r := b.keeper(p)
	require.NoError(t, r.Load(ctx), "corrupt records never fail a load")
	for _, id := range []string{"inc_1", "inc_2", "inc_3", "inc_bad_enum", "inc_bad_dim"} {
		_, ok := r.Get(id)
		require.True(t, ok, id)
	}
	require.Equal(t, 5, r.Memory().Len(), "the record without an id is skipped")
	got, _ := r.Get("inc_2")
	require.Equal(t, 1, got.Fixed)
	bad, _ := r.Get("inc_3")
	require.Nil(t, bad.Embedding, "the damaged record is kept for signature lookup")
	enum, _ := r.Get("inc_bad_enum")
	require.Equal(t, memory.OutcomeUnknown, enum.Outcome)
	require.Contains(t, b.logged(), "corrupt memory record")

	res, err := r.Lookup(ctx, memory.Query{Signature: "sig_x", Template: undefinedColumn, ExceptionType: "psycopg2.errors.UndefinedColumn"}, 1)
	require.NoError(t, err)
	require.Len(t, res.Similar, 1, "restored embeddings are searchable")
	require.Equal(t, "inc_1", res.Similar[0].Record.ID)
}

func TestKeeperReplicasConvergeViaSync(t *testing.T) {
	t.Parallel()
	b := setupKeeper(t)
	ctx := context.Background()
	a, c := b.keeper(nil), b.keeper(nil)
	require.NoError(t, a.Load(ctx))
	require.NoError(t, c.Load(ctx))

	_, err := a.Remember(ctx, failure("inc_1", "sig_a", undefinedColumn))
	require.NoError(t, err)
	_, ok := c.Get("inc_1")
	require.False(t, ok)
	require.NoError(t, c.Sync(ctx))
	_, ok = c.Get("inc_1")
	require.True(t, ok, "a record another replica wrote")

	b.clock.Advance(time.Second)
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for i := range 20 {
		wg.Go(func() {
			k, u := a, fixed
			if i%2 == 1 {
				k, u = c, up
			}
			_, err := k.Feedback(ctx, "inc_1", u)
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.NoError(t, a.Sync(ctx))
	require.NoError(t, c.Sync(ctx))
	for _, k := range []*memory.Keeper{a, c} {
		got, ok := k.Get("inc_1")
		require.True(t, ok)
		require.Equal(t, 10, got.Fixed, "every outcome, from either replica")
		require.Equal(t, 10, got.Ups)
	}

	// A write stamped before the newest record c has seen, as a slow
	// transaction's would be, is still picked up.
	b.clock.Advance(time.Second)
	_, err = a.Remember(ctx, failure("inc_2", "sig_b", connRefusedTpl))
	require.NoError(t, err)
	require.NoError(t, c.Sync(ctx))
	late := failure("inc_0", "sig_c", "relation <*> does not exist")
	late.CreatedAt = b.clock.Now().Add(-memory.SyncOverlap / 2)
	late.UpdatedAt = late.CreatedAt
	require.NoError(t, b.store.MemoryRecordUpsert(ctx, &late))
	require.NoError(t, c.Sync(ctx))
	_, ok = c.Get("inc_0")
	require.True(t, ok, "a late commit within the overlap is found")
	require.Equal(t, 3, c.Memory().Len())
}

func TestKeeperSyncIgnoresStaleReads(t *testing.T) {
	t.Parallel()
	b := setupKeeper(t)
	ctx := context.Background()
	p := &faultyPersister{Persister: b.store}
	k := b.keeper(p)
	before, err := k.Remember(ctx, failure("inc_1", "sig_a", undefinedColumn))
	require.NoError(t, err)
	b.clock.Advance(time.Second)
	_, err = k.Feedback(ctx, "inc_1", fixed)
	require.NoError(t, err)
	// A list that raced the feedback returns the record as it was before.
	p.mu.Lock()
	p.extra = []*memory.Record{before}
	p.mu.Unlock()
	require.NoError(t, k.Sync(ctx))
	got, _ := k.Get("inc_1")
	require.Equal(t, 1, got.Fixed, "an older read never undoes feedback")
}

func TestKeeperRunSyncsUntilCancelled(t *testing.T) {
	t.Parallel()
	b := setupKeeper(t)
	ctx := context.Background()
	a, c := b.keeper(nil), b.keeper(nil)
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); c.Run(runCtx, 5*time.Millisecond) }()
	_, err := a.Remember(ctx, failure("inc_1", "sig_a", undefinedColumn))
	require.NoError(t, err)
	require.Eventually(t, func() bool { _, ok := c.Get("inc_1"); return ok }, 5*time.Second, 5*time.Millisecond)
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		require.FailNow(t, "Run did not return after its context ended")
	}
}
