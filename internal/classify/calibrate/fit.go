// Package calibrate fits the map from the classifier's raw confidence to a
// calibrated probability that its answer is right, measures it (expected
// calibration error in sample and cross-validated over groups of
// near-duplicate cases) and renders it as the Go source of
// internal/classify/calibration_gen.go. It reads a labelled case file and
// never writes anything but the file it is asked to; it must never change
// what the classifier decides, only what its confidence says.
package calibrate

import (
	"math"
	"slices"

	"github.com/medic-sh/medic/internal/classify"
)

// Point is one classified case as the fit sees it.
type Point struct {
	// Raw is the classifier's raw confidence.
	Raw float64
	// Correct is whether the predicted label equals the true one; an
	// UNKNOWN answer is correct when the truth is UNKNOWN.
	Correct bool
	// Abstention is the kind of an UNKNOWN answer, "" for a labelled one.
	Abstention classify.Abstention
}

// Params are the fit's smoothing settings.
type Params struct {
	// MinBlock is the fewest cases one step of the isotonic map may rest
	// on; smaller blocks are pooled with a neighbour.
	MinBlock int
	// Prior is the weight, in cases, of a Beta prior on each block's (and
	// each abstention kind's) accuracy, centred on its mean raw confidence.
	Prior float64
	// Floor and Ceil bound every calibrated confidence: ~150 cases cannot
	// show a probability of 0 or 1.
	Floor, Ceil float64
}

// DefaultParams suit a corpus of one or two hundred cases. A block of 25
// cases measures its accuracy to about ±0.08 (one standard error), so the
// map has a handful of steps, each one real; a prior worth 8 cases keeps a
// block whose cases were all right well below 1, where a new case is not.
// On the dev split, blocks of 10 cases with a prior of 4 fitted the cases
// better but were worse out of fold (cross-validated ECE about 0.09 against
// 0.04): small all-right blocks at the top made the map overconfident.
var DefaultParams = Params{MinBlock: 25, Prior: 8, Floor: 0.02, Ceil: 0.98}

// Fit fits a calibration to points.
//
// Labelled answers get an isotonic (pool-adjacent-violators) regression of
// correctness on raw confidence, since confidence must not fall as the
// evidence grows. Its blocks are then pooled to at least MinBlock cases,
// each block's accuracy is shrunk towards its mean raw confidence by a Beta
// prior of Prior cases, violators are pooled again, and each block becomes
// one knot at its mean raw confidence; between knots the map is linear, so
// it stays monotone and keeps the order of answers within a block.
//
// Abstentions get a table of their own, one value per kind. Their raw
// confidences are one constant per kind, not a score on the labelled
// answers' scale (a log that only shows "Celery command failed" is usually
// rightly UNKNOWN at 0.8; a log no rule matched much less so), so mixing
// them into the labelled map would bend it around four artificial points.
// Each kind's value is its accuracy shrunk towards its raw constant by the
// same prior; a kind the data has no case of keeps its constant.
func Fit(points []Point, p Params) classify.Calibration {
	var labelled []Point
	type tally struct{ n, k int }
	kinds := map[classify.Abstention]tally{}
	for _, pt := range points {
		if pt.Abstention == "" {
			labelled = append(labelled, pt)
			continue
		}
		t := kinds[pt.Abstention]
		t.n++
		if pt.Correct {
			t.k++
		}
		kinds[pt.Abstention] = t
	}
	cal := classify.Calibration{Knots: fitKnots(labelled, p), Abstentions: map[classify.Abstention]float64{}}
	for _, k := range classify.Abstentions() {
		t := kinds[k]
		v := k.RawConfidence()
		if w := float64(t.n) + p.Prior; w > 0 {
			v = (float64(t.k) + p.Prior*v) / w
		}
		cal.Abstentions[k] = round4(clamp(v, p))
	}
	return cal
}

// block is a run of adjacent points, by raw confidence, pooled into one
// value: y/w. x is the sum of the raw confidences and n the number of
// cases; w is n plus any prior weight.
type block struct {
	x, y, w float64
	n       int
}

func (b block) value() float64   { return b.y / b.w }
func (b block) meanRaw() float64 { return b.x / float64(b.n) }

func (b block) pool(o block) block {
	return block{x: b.x + o.x, y: b.y + o.y, w: b.w + o.w, n: b.n + o.n}
}

func fitKnots(points []Point, p Params) []classify.Knot {
	if len(points) == 0 {
		return nil
	}
	points = slices.Clone(points)
	slices.SortStableFunc(points, func(a, b Point) int {
		switch {
		case a.Raw < b.Raw:
			return -1
		case a.Raw > b.Raw:
			return 1
		}
		return 0
	})
	// Equal raw confidences must map to one value: they start as one block.
	var blocks []block
	for i, pt := range points {
		y := 0.0
		if pt.Correct {
			y = 1
		}
		if i > 0 && pt.Raw == points[i-1].Raw {
			last := &blocks[len(blocks)-1]
			*last = last.pool(block{x: pt.Raw, y: y, w: 1, n: 1})
			continue
		}
		blocks = append(blocks, block{x: pt.Raw, y: y, w: 1, n: 1})
	}
	blocks = pav(blocks)
	blocks = poolSmall(blocks, p.MinBlock)
	for i := range blocks {
		b := &blocks[i]
		b.y += p.Prior * b.meanRaw()
		b.w += p.Prior
	}
	blocks = pav(blocks)
	knots := make([]classify.Knot, 0, len(blocks))
	for _, b := range blocks {
		knots = append(knots, classify.Knot{Raw: round4(b.meanRaw()), Calibrated: round4(clamp(b.value(), p))})
	}
	return knots
}

// pav pools adjacent violators until the blocks' values are non-decreasing.
func pav(in []block) []block {
	out := make([]block, 0, len(in))
	for _, b := range in {
		out = append(out, b)
		for len(out) > 1 && out[len(out)-2].value() >= out[len(out)-1].value() {
			last := out[len(out)-1]
			out = out[:len(out)-1]
			out[len(out)-1] = out[len(out)-1].pool(last)
		}
	}
	return out
}

// poolSmall pools every block of fewer than minN cases with the neighbour
// whose value is closer (the lower one on ties), smallest blocks first.
// Pooling two adjacent blocks of a non-decreasing sequence keeps it
// non-decreasing.
func poolSmall(blocks []block, minN int) []block {
	blocks = slices.Clone(blocks)
	for len(blocks) > 1 {
		i := -1
		for j, b := range blocks {
			if b.n < minN && (i < 0 || b.n < blocks[i].n) {
				i = j
			}
		}
		if i < 0 {
			break
		}
		j := i - 1
		switch {
		case i == 0:
			j = 1
		case i < len(blocks)-1:
			v := blocks[i].value()
			if blocks[i+1].value()-v < v-blocks[i-1].value() {
				j = i + 1
			}
		}
		lo := min(i, j)
		blocks[lo] = blocks[lo].pool(blocks[lo+1])
		blocks = slices.Delete(blocks, lo+1, lo+2)
	}
	return blocks
}

func clamp(v float64, p Params) float64 { return math.Min(math.Max(v, p.Floor), p.Ceil) }

// round4 keeps the generated file readable; four decimals are far finer
// than anything ~150 cases can measure.
func round4(f float64) float64 { return math.Round(f*1e4) / 1e4 }
