package calibrate

import (
	"cmp"
	"errors"
	"hash/fnv"
	"slices"

	"github.com/medic-sh/medic/internal/classify"
)

// Folds assigns each case to one of k folds so that cases with the same
// group key always share a fold: near-duplicates in different folds would
// let the fit see the answer it is tested on. Groups are placed largest
// first (ties in the order of a hash of their key, which spreads them
// without following the file's order), each into the fold with the fewest
// cases so far, the lowest-numbered on ties. The result depends only on the
// multiset of keys, never on the order of cases.
func Folds(keys []string, k int) ([]int, error) {
	if k < 2 {
		return nil, errors.New("cross-validation needs at least 2 folds")
	}
	size := map[string]int{}
	for _, key := range keys {
		size[key]++
	}
	groups := make([]string, 0, len(size))
	for g := range size {
		groups = append(groups, g)
	}
	slices.SortFunc(groups, func(a, b string) int {
		return cmp.Or(cmp.Compare(size[b], size[a]), cmp.Compare(hash(a), hash(b)), cmp.Compare(a, b))
	})
	load := make([]int, k)
	fold := make(map[string]int, len(groups))
	for _, g := range groups {
		f := 0
		for i := 1; i < k; i++ {
			if load[i] < load[f] {
				f = i
			}
		}
		fold[g] = f
		load[f] += size[g]
	}
	out := make([]int, len(keys))
	for i, key := range keys {
		out[i] = fold[key]
	}
	return out, nil
}

func hash(s string) uint64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(s))
	return h.Sum64()
}

// CrossValidate fits a calibration on every fold but one and applies it to
// the one left out; it returns each point's out-of-fold calibrated
// confidence.
func CrossValidate(points []Point, folds []int, k int, p Params) []float64 {
	out := make([]float64, len(points))
	for f := range k {
		var train []Point
		for i, pt := range points {
			if folds[i] != f {
				train = append(train, pt)
			}
		}
		cal := Fit(train, p)
		for i, pt := range points {
			if folds[i] == f {
				out[i] = cal.Apply(pt.Raw, pt.Abstention)
			}
		}
	}
	return out
}

// Apply returns the confidence cal gives each point.
func Apply(cal classify.Calibration, points []Point) []float64 {
	out := make([]float64, len(points))
	for i, pt := range points {
		out[i] = cal.Apply(pt.Raw, pt.Abstention)
	}
	return out
}
