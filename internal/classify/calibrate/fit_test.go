package calibrate

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/medic-sh/medic/internal/classify"
)

func pts(raw []float64, correct []bool) []Point {
	out := make([]Point, len(raw))
	for i := range raw {
		out[i] = Point{Raw: raw[i], Correct: correct[i]}
	}
	return out
}

// plain is PAV alone: no pooling of small blocks, no prior, no bounds.
var plain = Params{MinBlock: 1, Prior: 0, Floor: 0, Ceil: 1}

func TestFitKnownExamples(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		raw     []float64
		correct []bool
		p       Params
		want    []classify.Knot
	}{
		{
			name: "already monotone keeps one knot per value", raw: []float64{0.2, 0.5, 0.8}, correct: []bool{false, true, true}, p: plain,
			// 0.5 and 0.8 are both all-right: equal values pool.
			want: []classify.Knot{{Raw: 0.2, Calibrated: 0}, {Raw: 0.65, Calibrated: 1}},
		},
		{
			name: "a violator is pooled", raw: []float64{0.2, 0.5, 0.8}, correct: []bool{true, false, true}, p: plain,
			want: []classify.Knot{{Raw: 0.35, Calibrated: 0.5}, {Raw: 0.8, Calibrated: 1}},
		},
		{
			name: "ties start as one block", raw: []float64{0.3, 0.6, 0.6, 0.6, 0.9}, correct: []bool{false, true, false, true, true}, p: plain,
			want: []classify.Knot{{Raw: 0.3, Calibrated: 0}, {Raw: 0.6, Calibrated: 0.6667}, {Raw: 0.9, Calibrated: 1}},
		},
		{
			name: "decreasing data pools to one block", raw: []float64{0.1, 0.4, 0.7, 0.9}, correct: []bool{true, true, false, false}, p: plain,
			want: []classify.Knot{{Raw: 0.525, Calibrated: 0.5}},
		},
		{
			name: "all right is bounded by Ceil", raw: []float64{0.4, 0.6, 0.8}, correct: []bool{true, true, true},
			p:    Params{MinBlock: 1, Prior: 0, Floor: 0.02, Ceil: 0.98},
			want: []classify.Knot{{Raw: 0.6, Calibrated: 0.98}},
		},
		{
			name: "all wrong is bounded by Floor", raw: []float64{0.4, 0.6, 0.8}, correct: []bool{false, false, false},
			p:    Params{MinBlock: 1, Prior: 0, Floor: 0.02, Ceil: 0.98},
			want: []classify.Knot{{Raw: 0.6, Calibrated: 0.02}},
		},
		{
			name: "the prior pulls towards the raw confidence", raw: []float64{0.5, 0.5, 0.5, 0.5}, correct: []bool{true, true, true, true},
			p: Params{MinBlock: 1, Prior: 4, Floor: 0, Ceil: 1},
			// (4 right + 4 × 0.5) / (4 + 4)
			want: []classify.Knot{{Raw: 0.5, Calibrated: 0.75}},
		},
		{
			name:    "a small block pools with the closer neighbour",
			raw:     []float64{0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6},
			correct: []bool{false, false, false, false, true, true, false, true, true, true, true},
			p:       Params{MinBlock: 4, Prior: 0, Floor: 0, Ceil: 1},
			// PAV: four wrong (0), then right, right, wrong (2/3, three
			// cases), then four right (1). The middle block is closer to the
			// top one.
			want: []classify.Knot{{Raw: 0.175, Calibrated: 0}, {Raw: 0.45, Calibrated: 0.8571}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cal := Fit(pts(tt.raw, tt.correct), tt.p)
			require.Equal(t, tt.want, cal.Knots)
		})
	}
}

// TestFitIsMonotone: on random data the knots ascend in raw confidence,
// never descend in calibrated confidence, stay within the bounds, and the
// map they define is monotone everywhere.
func TestFitIsMonotone(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(7, 11))
	for range 200 {
		n := 1 + rng.IntN(80)
		points := make([]Point, n)
		for i := range points {
			raw := float64(rng.IntN(20)) / 20 // many ties
			points[i] = Point{Raw: raw, Correct: rng.Float64() < raw}
		}
		p := Params{MinBlock: 1 + rng.IntN(15), Prior: float64(rng.IntN(10)), Floor: 0.02, Ceil: 0.98}
		cal := Fit(points, p)
		require.NotEmpty(t, cal.Knots)
		for i, k := range cal.Knots {
			require.GreaterOrEqual(t, k.Calibrated, p.Floor)
			require.LessOrEqual(t, k.Calibrated, p.Ceil)
			if i > 0 {
				require.Greater(t, k.Raw, cal.Knots[i-1].Raw)
				require.GreaterOrEqual(t, k.Calibrated, cal.Knots[i-1].Calibrated)
			}
		}
		prev := -1.0
		for r := 0.0; r <= 1; r += 0.01 {
			v := cal.Labelled(r)
			require.GreaterOrEqual(t, v, prev, "raw %.2f", r)
			prev = v
		}
	}
}

func TestFitNoLabelledPointsIsTheIdentity(t *testing.T) {
	t.Parallel()
	cal := Fit([]Point{{Raw: 0.8, Correct: true, Abstention: classify.AbstainWrapperOnly}}, DefaultParams)
	require.Empty(t, cal.Knots)
	require.InDelta(t, 0.42, cal.Labelled(0.42), 1e-12)
}

func TestFitAbstentionsByKind(t *testing.T) {
	t.Parallel()
	var points []Point
	for i := range 10 {
		points = append(points, Point{Raw: 0.8, Correct: i < 9, Abstention: classify.AbstainWrapperOnly})
	}
	points = append(points, Point{Raw: 0.4, Correct: false, Abstention: classify.AbstainNoMatch})
	p := Params{MinBlock: 1, Prior: 4, Floor: 0.02, Ceil: 0.98}
	cal := Fit(points, p)
	tests := []struct {
		kind classify.Abstention
		want float64
	}{
		{classify.AbstainWrapperOnly, (9 + 4*0.8) / 14.0},
		{classify.AbstainNoMatch, (0 + 4*0.4) / 5.0},
		{classify.AbstainWeak, classify.AbstainWeak.RawConfidence()},   // no data: the prior
		{classify.AbstainEmpty, classify.AbstainEmpty.RawConfidence()}, // no data: the prior
	}
	for _, tt := range tests {
		require.InDelta(t, tt.want, cal.Abstentions[tt.kind], 1e-4, tt.kind)
	}
	require.Len(t, cal.Abstentions, len(classify.Abstentions()))
}

func TestPoolSmallKeepsOrder(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		in    []block
		minN  int
		wantN []int
	}{
		{"nothing small", []block{{y: 0, w: 3, n: 3}, {y: 3, w: 3, n: 3}}, 3, []int{3, 3}},
		{"small first joins the second", []block{{y: 0, w: 1, n: 1}, {y: 1, w: 3, n: 3}, {y: 3, w: 3, n: 3}}, 3, []int{4, 3}},
		{"small last joins the one before", []block{{y: 0, w: 3, n: 3}, {y: 1, w: 3, n: 3}, {y: 1, w: 1, n: 1}}, 3, []int{3, 4}},
		{"everything small ends as one block", []block{{y: 0, w: 1, n: 1}, {y: 1, w: 1, n: 1}}, 5, []int{2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			out := poolSmall(tt.in, tt.minN)
			var got []int
			for _, b := range out {
				got = append(got, b.n)
			}
			require.Equal(t, tt.wantN, got)
		})
	}
}

func TestLabelledInterpolates(t *testing.T) {
	t.Parallel()
	cal := classify.Calibration{Knots: []classify.Knot{{Raw: 0.5, Calibrated: 0.4}, {Raw: 0.7, Calibrated: 0.8}, {Raw: 0.9, Calibrated: 0.9}}}
	tests := []struct {
		raw, want float64
	}{
		{0, 0.4},    // flat below the first knot
		{0.5, 0.4},  // on a knot
		{0.6, 0.6},  // halfway
		{0.65, 0.7}, // three quarters
		{0.7, 0.8},
		{0.8, 0.85},
		{0.9, 0.9},
		{1, 0.9}, // flat above the last knot
	}
	for _, tt := range tests {
		require.InDelta(t, tt.want, cal.Labelled(tt.raw), 1e-12, "raw %v", tt.raw)
	}
	one := classify.Calibration{Knots: []classify.Knot{{Raw: 0.5, Calibrated: 0.7}}}
	require.InDelta(t, 0.7, one.Labelled(0.1), 1e-12)
	require.InDelta(t, 0.7, one.Labelled(0.9), 1e-12)
	var identity classify.Calibration
	require.InDelta(t, 0.33, identity.Labelled(0.33), 1e-12)
	require.InDelta(t, classify.AbstainNoMatch.RawConfidence(), identity.Abstained(classify.AbstainNoMatch), 1e-12)
	require.InDelta(t, 0.6, cal.Apply(0.6, ""), 1e-12)
}
