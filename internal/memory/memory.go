package memory

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
)

// ErrNotFound is returned for an id Memory does not hold.
var ErrNotFound = errors.New("memory record not found")

// Config configures a Memory.
type Config struct {
	// Embedder defaults to NewHashEmbedder(DefaultHashDim).
	Embedder Embedder
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Workers bounds search goroutines (GOMAXPROCS when <= 0).
	Workers int
	// Now defaults to time.Now; tests set it.
	Now func() time.Time
}

// Memory holds records and their vector index. It is safe for concurrent
// use. Records it returns are copies; changing them changes nothing.
type Memory struct {
	mu    sync.RWMutex
	emb   Embedder
	log   *slog.Logger
	now   func() time.Time
	index *Index
	byID  map[string]*Record
	bySig map[string][]string // signature -> ids, oldest first
}

// New returns an empty Memory.
func New(cfg Config) *Memory {
	m := &Memory{emb: cfg.Embedder, log: cfg.Logger, now: cfg.Now, byID: map[string]*Record{}, bySig: map[string][]string{}}
	if m.emb == nil {
		m.emb = NewHashEmbedder(DefaultHashDim)
	}
	if m.log == nil {
		m.log = slog.Default()
	}
	m.log = m.log.With("component", "memory", "embedder", m.emb.Name())
	if m.now == nil {
		m.now = time.Now
	}
	m.index = NewIndex(m.emb.Dim(), cfg.Workers)
	return m
}

// Query is what Lookup matches against. Signature is matched exactly;
// Template and ExceptionType (or Text, when set, instead) are embedded for
// similarity.
type Query struct {
	Signature     string
	Template      string
	ExceptionType string
	Text          string
}

// Match is a similar record and its cosine similarity to the query.
type Match struct {
	Record *Record
	Score  float32
}

// Result is what Lookup found. Degraded, when not empty, says why
// similarity search was skipped and only exact matches are returned.
type Result struct {
	Exact    []*Record
	Similar  []Match
	Degraded string
}

// embedText is what gets embedded for a record or a query, so both sides
// embed the same fields.
func embedText(template, exceptionType string) string {
	return strings.TrimSpace(exceptionType + " " + template)
}

// Add stores r, filling ID, timestamps, enum defaults and Trust, and embeds
// it unless it carries an embedding from this Memory's embedder. When the
// embedder fails the record is still stored, findable by signature only,
// and a warning is logged. It returns the stored copy.
func (m *Memory) Add(ctx context.Context, r Record) (*Record, error) {
	if r.ID == "" {
		r.ID = uuid.NewString()
	}
	now := m.now()
	if r.CreatedAt.IsZero() {
		r.CreatedAt = now
	}
	if r.UpdatedAt.IsZero() {
		r.UpdatedAt = r.CreatedAt
	}
	if fixed := r.normalizeEnums(); len(fixed) > 0 {
		return nil, fmt.Errorf("add memory record %s: invalid %s", r.ID, strings.Join(fixed, ", "))
	}
	r.Trust = ComputeTrust(&r)
	if r.EmbeddedBy != m.emb.Name() || len(r.Embedding) != m.emb.Dim() {
		r.Embedding, r.EmbeddedBy = nil, ""
		if text := embedText(r.Template, r.ExceptionType); text != "" {
			vecs, err := m.emb.Embed(ctx, []string{text})
			switch {
			case err != nil && ctx.Err() != nil:
				return nil, fmt.Errorf("add memory record %s: %w", r.ID, context.Cause(ctx))
			case err != nil:
				m.log.WarnContext(ctx, "embedder failed; record stored for signature lookup only",
					"record_id", r.ID, "retryable", IsRetryable(err), "error", err)
			case len(vecs) != 1:
				m.log.WarnContext(ctx, "embedder returned the wrong number of vectors; record stored for signature lookup only",
					"record_id", r.ID, "vectors", len(vecs))
			case isZero(vecs[0]):
				// No features in the text: nothing to compare, not an error.
			default:
				r.Embedding, r.EmbeddedBy = vecs[0], m.emb.Name()
			}
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.putLocked(ctx, &r)
	out := r
	return &out, nil
}

// Restore loads records saved by a store, without calling the embedder. A
// record without an ID is skipped; a record whose embedding is missing,
// corrupt or from another embedder is kept for signature lookup only. Each
// problem is logged and counted in the returned skipped and unindexed.
func (m *Memory) Restore(ctx context.Context, recs []Record) (skipped, unindexed int) {
	m.index.Grow(len(recs))
	m.mu.Lock()
	defer m.mu.Unlock()
	for i := range recs {
		r := recs[i]
		if r.ID == "" {
			m.log.WarnContext(ctx, "corrupt memory record skipped: no id", "position", i, "signature", r.Signature)
			skipped++
			continue
		}
		if fixed := r.normalizeEnums(); len(fixed) > 0 {
			m.log.WarnContext(ctx, "corrupt memory record repaired", "record_id", r.ID, "fixed", strings.Join(fixed, ", "))
		}
		r.Trust = ComputeTrust(&r)
		if !m.putLocked(ctx, &r) {
			unindexed++
		}
	}
	return skipped, unindexed
}

func isZero(v []float32) bool {
	for _, x := range v {
		if x != 0 {
			return false
		}
	}
	return true
}

// putLocked stores r (replacing a record with the same id) and indexes its
// embedding if usable, reporting whether it did.
func (m *Memory) putLocked(ctx context.Context, r *Record) bool {
	if old, ok := m.byID[r.ID]; ok {
		m.dropSigLocked(old)
		m.index.Remove(old.ID)
	}
	m.byID[r.ID] = r
	m.bySig[r.Signature] = append(m.bySig[r.Signature], r.ID)
	if len(r.Embedding) == 0 {
		return false
	}
	if r.EmbeddedBy != m.emb.Name() {
		m.log.WarnContext(ctx, "memory record embedded by another embedder; signature lookup only until re-embedded",
			"record_id", r.ID, "embedded_by", r.EmbeddedBy)
		return false
	}
	if err := m.index.Add(r.ID, r.Embedding); err != nil {
		m.log.WarnContext(ctx, "corrupt memory record embedding; signature lookup only", "record_id", r.ID, "error", err)
		return false
	}
	return true
}

func (m *Memory) dropSigLocked(r *Record) {
	ids := slices.DeleteFunc(m.bySig[r.Signature], func(id string) bool { return id == r.ID })
	if len(ids) == 0 {
		delete(m.bySig, r.Signature)
		return
	}
	m.bySig[r.Signature] = ids
}

// Get returns a copy of the record with id.
func (m *Memory) Get(id string) (*Record, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	r, ok := m.byID[id]
	if !ok {
		return nil, false
	}
	out := *r
	return &out, true
}

// Delete removes record id and reports whether it was there.
func (m *Memory) Delete(id string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.byID[id]
	if !ok {
		return false
	}
	m.dropSigLocked(r)
	m.index.Remove(id)
	delete(m.byID, id)
	return true
}

// Len returns the number of records.
func (m *Memory) Len() int {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return len(m.byID)
}

// Records returns copies of all records, oldest first, for a store to save.
func (m *Memory) Records() []Record {
	m.mu.RLock()
	out := make([]Record, 0, len(m.byID))
	for _, r := range m.byID {
		out = append(out, *r)
	}
	m.mu.RUnlock()
	slices.SortFunc(out, func(a, b Record) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(a.ID, b.ID))
	})
	return out
}

// Lookup returns records with q's signature (most trusted first), then up
// to k other records by vector similarity (most similar first). If the
// embedder fails or returns an unusable vector, the similar part is empty
// and Result.Degraded says why; that is a warning, not an error. The only
// error is ctx being done.
func (m *Memory) Lookup(ctx context.Context, q Query, k int) (*Result, error) {
	res := &Result{Exact: m.exact(q.Signature)}
	if k <= 0 {
		return res, nil
	}
	text := q.Text
	if text == "" {
		text = embedText(q.Template, q.ExceptionType)
	}
	if text == "" {
		return res, nil
	}
	vecs, err := m.emb.Embed(ctx, []string{text})
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("memory lookup: %w", context.Cause(ctx))
		}
		return m.degrade(ctx, res, fmt.Sprintf("embedder %s failed: %v", m.emb.Name(), err), IsRetryable(err)), nil
	}
	if len(vecs) != 1 {
		return m.degrade(ctx, res, fmt.Sprintf("embedder %s returned %d vectors for 1 text", m.emb.Name(), len(vecs)), false), nil
	}
	hits, err := m.index.Search(vecs[0], k+len(res.Exact))
	switch {
	case errors.Is(err, ErrZeroVector):
		return res, nil // nothing to compare: no features in the text
	case err != nil:
		return m.degrade(ctx, res, fmt.Sprintf("unusable query vector: %v", err), false), nil
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	for _, h := range hits {
		r, ok := m.byID[h.ID]
		if !ok || (q.Signature != "" && r.Signature == q.Signature) {
			continue // removed since the search, or already an exact match
		}
		c := *r
		res.Similar = append(res.Similar, Match{Record: &c, Score: h.Score})
		if len(res.Similar) == k {
			break
		}
	}
	return res, nil
}

func (m *Memory) degrade(ctx context.Context, res *Result, why string, retryable bool) *Result {
	m.log.WarnContext(ctx, "memory lookup degraded to signature only", "reason", why, "retryable", retryable)
	res.Degraded = why
	return res
}

// exact returns copies of the records with signature sig, most trusted
// first, then most recently updated.
func (m *Memory) exact(sig string) []*Record {
	if sig == "" {
		return nil
	}
	m.mu.RLock()
	ids := m.bySig[sig]
	out := make([]*Record, 0, len(ids))
	for _, id := range ids {
		c := *m.byID[id]
		out = append(out, &c)
	}
	m.mu.RUnlock()
	slices.SortStableFunc(out, func(a, b *Record) int {
		return cmp.Or(cmp.Compare(b.Trust, a.Trust), b.UpdatedAt.Compare(a.UpdatedAt))
	})
	return out
}

// Learn applies feedback to record id and returns the updated copy. Silence
// (OutcomeUnknown and VerdictNone) changes nothing, not even UpdatedAt.
func (m *Memory) Learn(id string, f Feedback) (*Record, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.byID[id]
	if !ok {
		return nil, fmt.Errorf("learn %s: %w", id, ErrNotFound)
	}
	next := *r
	changed, err := next.apply(f)
	if err != nil {
		return nil, fmt.Errorf("learn %s: %w", id, err)
	}
	if changed {
		next.UpdatedAt = m.now()
		*r = next
	}
	out := *r
	return &out, nil
}
