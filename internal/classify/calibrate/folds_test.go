package calibrate

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestFoldsNeverSplitAGroup(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		keys []string
		k    int
	}{
		{"singletons", []string{"case a", "case b", "case c", "case d", "case e", "case f"}, 3},
		{"groups and singletons", []string{"group g1", "case a", "group g1", "group g2", "case b", "group g2", "group g1", "case c"}, 2},
		{"more folds than groups", []string{"group g", "group g", "case a"}, 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			folds, err := Folds(tt.keys, tt.k)
			require.NoError(t, err)
			require.Len(t, folds, len(tt.keys))
			fold := map[string]int{}
			for i, key := range tt.keys {
				require.GreaterOrEqual(t, folds[i], 0)
				require.Less(t, folds[i], tt.k)
				if f, ok := fold[key]; ok {
					require.Equal(t, f, folds[i], "group %s split", key)
				}
				fold[key] = folds[i]
			}
		})
	}
}

// TestFoldsDeterministic: the same keys in any order give every key the
// same fold, and the folds are balanced as well as the groups allow.
func TestFoldsDeterministic(t *testing.T) {
	t.Parallel()
	var keys []string
	for i := range 60 {
		keys = append(keys, fmt.Sprintf("case %d", i))
	}
	for i := range 30 {
		keys = append(keys, fmt.Sprintf("group g%d", i%7))
	}
	ref, err := Folds(keys, 5)
	require.NoError(t, err)
	want := map[string]int{}
	for i, key := range keys {
		want[key] = ref[i]
	}
	load := make([]int, 5)
	for _, f := range ref {
		load[f]++
	}
	require.LessOrEqual(t, slices.Max(load)-slices.Min(load), 5, "the largest group holds 5 cases: %v", load)

	rng := rand.New(rand.NewPCG(3, 5))
	for range 10 {
		shuffled := slices.Clone(keys)
		rng.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		got, err := Folds(shuffled, 5)
		require.NoError(t, err)
		for i, key := range shuffled {
			require.Equal(t, want[key], got[i], key)
		}
	}
}

func TestFoldsNeedTwo(t *testing.T) {
	t.Parallel()
	for _, k := range []int{-1, 0, 1} {
		_, err := Folds([]string{"a", "b"}, k)
		require.Error(t, err, k)
	}
}

// TestCrossValidateIsOutOfFold: a point's confidence comes from a map that
// never saw its fold.
func TestCrossValidateIsOutOfFold(t *testing.T) {
	t.Parallel()
	// Fold 0 is all right, fold 1 all wrong, at the same raw confidence: a
	// map fitted on one fold is wrong about the other.
	points := []Point{{Raw: 0.6, Correct: true}, {Raw: 0.6, Correct: true}, {Raw: 0.6}, {Raw: 0.6}}
	folds := []int{0, 0, 1, 1}
	p := Params{MinBlock: 1, Prior: 0, Floor: 0.02, Ceil: 0.98}
	got := CrossValidate(points, folds, 2, p)
	require.Equal(t, []float64{0.02, 0.02, 0.98, 0.98}, got)
	require.Equal(t, []float64{0.5, 0.5, 0.5, 0.5}, Apply(Fit(points, p), points))
}
