package memory

import (
	"errors"
	"fmt"
	"runtime"
	"sync"

	"golang.org/x/sync/errgroup"
)

// Vector errors. They are not retryable: the input itself is wrong.
var (
	ErrEmptyVector = errors.New("vector is empty")
	ErrZeroVector  = errors.New("vector has zero length")
	ErrBadVector   = errors.New("vector holds NaN or Inf")
	ErrDimMismatch = errors.New("vector dimension does not match the index")
)

// Hit is one search result: a vector's id and its cosine similarity to the
// query, in [-1, 1].
type Hit struct {
	ID    string  `json:"id"`
	Score float32 `json:"score"`
}

// minRowsPerWorker keeps small searches on one goroutine, where starting
// more would cost more than the work.
const minRowsPerWorker = 4096

// Index is an exact cosine top-k index: vectors are stored L2-normalised in
// one contiguous slice and every search scans all of them, split across
// workers. It trades speed at millions of vectors for recall that is always
// 1.0. It is safe for concurrent use; searches run in parallel with each
// other and wait for writes.
type Index struct {
	mu      sync.RWMutex
	dim     int
	workers int
	minRows int
	ids     []string
	pos     map[string]int
	vecs    []float32 // len(ids)*dim, row i at [i*dim, (i+1)*dim)
}

// NewIndex returns an empty index of dim-dimensional vectors whose searches
// use up to workers goroutines (GOMAXPROCS when workers <= 0).
func NewIndex(dim, workers int) *Index {
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	return &Index{dim: dim, workers: workers, minRows: minRowsPerWorker, pos: map[string]int{}}
}

// Dim returns the vector dimension.
func (ix *Index) Dim() int { return ix.dim }

// Len returns the number of vectors.
func (ix *Index) Len() int {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return len(ix.ids)
}

// Grow reserves room for n more vectors, to avoid repeated copying on a bulk
// load.
func (ix *Index) Grow(n int) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if need := len(ix.vecs) + n*ix.dim; need > cap(ix.vecs) {
		v := make([]float32, len(ix.vecs), need)
		copy(v, ix.vecs)
		ix.vecs = v
	}
}

// Add stores a normalised copy of vec under id, replacing any vector
// already stored under it.
func (ix *Index) Add(id string, vec []float32) error {
	if len(vec) != ix.dim {
		return fmt.Errorf("index add %s: %w: got %d, want %d", id, ErrDimMismatch, len(vec), ix.dim)
	}
	n, err := normalize(vec)
	if err != nil {
		return fmt.Errorf("index add %s: %w", id, err)
	}
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if i, ok := ix.pos[id]; ok {
		copy(ix.vecs[i*ix.dim:(i+1)*ix.dim], n)
		return nil
	}
	ix.pos[id] = len(ix.ids)
	ix.ids = append(ix.ids, id)
	ix.vecs = append(ix.vecs, n...)
	return nil
}

// Remove deletes id's vector and reports whether it was there. The last
// vector moves into the hole, so removal is O(dim).
func (ix *Index) Remove(id string) bool {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	i, ok := ix.pos[id]
	if !ok {
		return false
	}
	last := len(ix.ids) - 1
	if i != last {
		copy(ix.vecs[i*ix.dim:(i+1)*ix.dim], ix.vecs[last*ix.dim:])
		ix.ids[i] = ix.ids[last]
		ix.pos[ix.ids[i]] = i
	}
	ix.ids = ix.ids[:last]
	ix.vecs = ix.vecs[:last*ix.dim]
	delete(ix.pos, id)
	return true
}

// Search returns the k vectors most similar to vec, best first; equal
// scores are ordered by id so results are deterministic. The result is
// exact: every stored vector is compared.
func (ix *Index) Search(vec []float32, k int) ([]Hit, error) {
	if len(vec) != ix.dim {
		return nil, fmt.Errorf("index search: %w: got %d, want %d", ErrDimMismatch, len(vec), ix.dim)
	}
	q, err := normalize(vec)
	if err != nil {
		return nil, fmt.Errorf("index search: %w", err)
	}
	if k <= 0 {
		return nil, nil
	}
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	n := len(ix.ids)
	if n == 0 {
		return nil, nil
	}
	workers := min(ix.workers, max(1, n/ix.minRows))
	if workers == 1 {
		return ix.hits(ix.scan(q, k, 0, n)), nil
	}
	chunk := (n + workers - 1) / workers
	parts := make([]topK, workers)
	var g errgroup.Group
	for w := range workers {
		lo, hi := w*chunk, min((w+1)*chunk, n)
		if lo >= hi {
			continue
		}
		g.Go(func() error {
			parts[w] = ix.scan(q, k, lo, hi)
			return nil
		})
	}
	_ = g.Wait() // workers never fail
	merged := topK{k: k, ids: ix.ids}
	for _, p := range parts {
		for _, c := range p.h {
			merged.offer(c.score, c.row)
		}
	}
	return ix.hits(merged), nil
}

// scan scores rows [lo, hi) against q and keeps the best k. The caller
// holds the read lock.
func (ix *Index) scan(q []float32, k, lo, hi int) topK {
	t := topK{k: k, ids: ix.ids, h: make([]cand, 0, min(k, hi-lo))}
	d := ix.dim
	for row := lo; row < hi; row++ {
		t.offer(dot(q, ix.vecs[row*d:(row+1)*d]), row)
	}
	return t
}

func (ix *Index) hits(t topK) []Hit {
	sorted := t.sorted()
	out := make([]Hit, len(sorted))
	for i, c := range sorted {
		out[i] = Hit{ID: ix.ids[c.row], Score: c.score}
	}
	return out
}

// dot is the inner product of two equal-length vectors, with four
// accumulators so the loop pipelines.
func dot(a, b []float32) float32 {
	b = b[:len(a)]
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(a); i += 4 {
		aa := a[i : i+4 : i+4]
		bb := b[i : i+4 : i+4]
		s0 += aa[0] * bb[0]
		s1 += aa[1] * bb[1]
		s2 += aa[2] * bb[2]
		s3 += aa[3] * bb[3]
	}
	for ; i < len(a); i++ {
		s0 += a[i] * b[i]
	}
	return (s0 + s1) + (s2 + s3)
}
