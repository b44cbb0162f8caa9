package memory

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

func randVec(rng *rand.Rand, dim int) []float32 {
	v := make([]float32, dim)
	for i := range v {
		v[i] = float32(rng.NormFloat64())
	}
	return v
}

// naiveSearch is the reference: score everything, sort, cut.
func naiveSearch(ix *Index, q []float32, k int) []Hit {
	qn, err := normalize(q)
	if err != nil {
		panic(err)
	}
	all := make([]Hit, len(ix.ids))
	for i, id := range ix.ids {
		all[i] = Hit{ID: id, Score: dot(qn, ix.vecs[i*ix.dim:(i+1)*ix.dim])}
	}
	slices.SortFunc(all, func(a, b Hit) int {
		return cmp.Or(cmp.Compare(b.Score, a.Score), cmp.Compare(a.ID, b.ID))
	})
	return all[:min(k, len(all))]
}

func TestIndexMatchesNaive(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	for trial := range 60 {
		n := rng.IntN(500)
		dim := 1 + rng.IntN(40)
		workers := 1 + rng.IntN(7)
		k := rng.IntN(30)
		ix := NewIndex(dim, workers)
		ix.minRows = 1 + rng.IntN(20) // force the parallel path on small inputs
		for i := range n {
			require.NoError(t, ix.Add(fmt.Sprintf("r%04d", i), randVec(rng, dim)))
		}
		// Duplicates give exact score ties, which must break by id.
		if n > 10 {
			dup := slices.Clone(ix.vecs[:dim])
			require.NoError(t, ix.Add("dup-a", dup))
			require.NoError(t, ix.Add("dup-b", dup))
		}
		for range 5 {
			q := randVec(rng, dim)
			if n > 10 && rng.IntN(2) == 0 {
				q = slices.Clone(ix.vecs[:dim])
			}
			got, err := ix.Search(q, k)
			require.NoError(t, err)
			want := naiveSearch(ix, q, k)
			if len(want) == 0 {
				require.Empty(t, got)
				continue
			}
			require.Equal(t, want, got, "trial %d n=%d dim=%d workers=%d k=%d", trial, n, dim, workers, k)
		}
	}
}

func TestIndexSplitSizes(t *testing.T) {
	t.Parallel()
	// Sizes around multiples of the worker count: every row must be
	// scanned exactly once, including the short last chunk.
	for _, workers := range []int{1, 2, 3, 4, 7} {
		for _, n := range []int{1, 2, 3, 5, 6, 7, 8, 13, 29, 64, 101} {
			t.Run(fmt.Sprintf("w%d_n%d", workers, n), func(t *testing.T) {
				t.Parallel()
				ix := NewIndex(2, workers)
				ix.minRows = 1
				for i := range n {
					// Row i sits at angle i, so the query at angle 0 ranks rows by id.
					require.NoError(t, ix.Add(fmt.Sprintf("r%03d", i), []float32{float32(n - i), 1}))
				}
				got, err := ix.Search([]float32{1, 0}, n+5)
				require.NoError(t, err)
				require.Len(t, got, n)
				for i, h := range got {
					require.Equal(t, fmt.Sprintf("r%03d", i), h.ID)
				}
			})
		}
	}
}

func TestIndexAddReplaceRemove(t *testing.T) {
	t.Parallel()
	ix := NewIndex(2, 2)
	require.NoError(t, ix.Add("a", []float32{1, 0}))
	require.NoError(t, ix.Add("b", []float32{0, 1}))
	require.NoError(t, ix.Add("c", []float32{-1, 0}))
	require.NoError(t, ix.Add("a", []float32{0, -1})) // replace
	require.Equal(t, 3, ix.Len())

	got, err := ix.Search([]float32{5, 0}, 3)
	require.NoError(t, err)
	// a now points down, so a and b both score 0 against the query: the tie breaks by id.
	require.Equal(t, []Hit{{"a", 0}, {"b", 0}, {"c", -1}}, got)
	require.Equal(t, "a", mustTop(t, ix, []float32{0, -3}))

	require.True(t, ix.Remove("a"))
	require.False(t, ix.Remove("a"))
	require.Equal(t, 2, ix.Len())
	require.Equal(t, "b", mustTop(t, ix, []float32{0, 3}))
	require.Equal(t, "c", mustTop(t, ix, []float32{-1, 0}))
}

func mustTop(t *testing.T, ix *Index, q []float32) string {
	t.Helper()
	got, err := ix.Search(q, 1)
	require.NoError(t, err)
	require.Len(t, got, 1)
	return got[0].ID
}

func TestIndexRejectsBadVectors(t *testing.T) {
	t.Parallel()
	ix := NewIndex(3, 1)
	require.ErrorIs(t, ix.Add("a", []float32{1, 2}), ErrDimMismatch)
	require.ErrorIs(t, ix.Add("a", []float32{0, 0, 0}), ErrZeroVector)
	_, err := ix.Search([]float32{1}, 3)
	require.ErrorIs(t, err, ErrDimMismatch)
	got, err := ix.Search([]float32{1, 0, 0}, 3)
	require.NoError(t, err)
	require.Empty(t, got)
}

func BenchmarkSearch100k(b *testing.B) {
	const n, dim, k = 100_000, 256, 10
	rng := rand.New(rand.NewPCG(7, 7))
	ix := NewIndex(dim, 0)
	ix.Grow(n)
	for i := range n {
		if err := ix.Add(fmt.Sprintf("r%d", i), randVec(rng, dim)); err != nil {
			b.Fatal(err)
		}
	}
	q := randVec(rng, dim)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ix.Search(q, k); err != nil {
			b.Fatal(err)
		}
	}
}
