package classify

import (
	"math"
	"slices"

	cls "github.com/medic-sh/medic/internal/classify"
)

// Bins is the number of equal-width confidence bins used for calibration.
const Bins = 10

// LabelScores are one label's precision, recall and F1 (0 when undefined).
type LabelScores struct {
	Support   int     `json:"support"`
	Predicted int     `json:"predicted"`
	Precision float64 `json:"precision"`
	Recall    float64 `json:"recall"`
	F1        float64 `json:"f1"`
}

// Bin is one reliability-table row: cases whose confidence falls in
// [Lo, Hi), the last bin including 1.
type Bin struct {
	Lo         float64 `json:"lo"`
	Hi         float64 `json:"hi"`
	Count      int     `json:"count"`
	Accuracy   float64 `json:"accuracy"`
	Confidence float64 `json:"confidence"`
}

// Metrics are the scores of a set of predictions.
type Metrics struct {
	N                  int                    `json:"cases"`
	Accuracy           float64                `json:"accuracy"`
	MacroF1            float64                `json:"macro_f1"`
	RetrySafePrecision float64                `json:"retry_safe_precision"`
	RetrySafeRecall    float64                `json:"retry_safe_recall"`
	RemediationAcc     float64                `json:"remediation_accuracy"`
	ECE                float64                `json:"ece"`
	AbstentionRate     float64                `json:"abstention_rate"`
	HardAccuracy       float64                `json:"hard_accuracy"`
	PerLabel           map[string]LabelScores `json:"per_label"`
	// Confusion[truth][predicted] counts cases.
	Confusion   map[string]map[string]int `json:"confusion"`
	Reliability []Bin                     `json:"reliability"`
}

// Score computes every metric over preds. Macro-F1 averages over the labels
// that occur as truth or prediction.
func Score(preds []Prediction) Metrics {
	m := Metrics{N: len(preds), PerLabel: map[string]LabelScores{}, Confusion: map[string]map[string]int{}}
	if len(preds) == 0 {
		return m
	}
	var correct, abst, remOK, hard, hardOK int
	var tp, fp, fn int
	for _, p := range preds {
		if m.Confusion[p.Label] == nil {
			m.Confusion[p.Label] = map[string]int{}
		}
		m.Confusion[p.Label][p.Predicted]++
		if p.Label == p.Predicted {
			correct++
		}
		if p.Predicted == string(cls.Unknown) {
			abst++
		}
		if p.Remediation == p.PredRemediation {
			remOK++
		}
		if p.Hard {
			hard++
			if p.Label == p.Predicted {
				hardOK++
			}
		}
		switch {
		case p.PredRetrySafe && p.RetrySafe:
			tp++
		case p.PredRetrySafe:
			fp++
		case p.RetrySafe:
			fn++
		}
	}
	n := float64(len(preds))
	m.Accuracy = float64(correct) / n
	m.AbstentionRate = float64(abst) / n
	m.RemediationAcc = float64(remOK) / n
	m.HardAccuracy = ratio(hardOK, hard)
	m.RetrySafePrecision = ratio(tp, tp+fp)
	m.RetrySafeRecall = ratio(tp, tp+fn)
	m.PerLabel = perLabel(preds)
	var sum float64
	for _, l := range m.SortedLabels() { // a fixed order: float sums depend on it
		sum += m.PerLabel[l].F1
	}
	m.MacroF1 = sum / float64(len(m.PerLabel))
	m.Reliability, m.ECE = Calibration(preds)
	return m
}

func perLabel(preds []Prediction) map[string]LabelScores {
	out := map[string]LabelScores{}
	for _, p := range preds {
		t := out[p.Label]
		t.Support++
		out[p.Label] = t
		q := out[p.Predicted]
		q.Predicted++
		out[p.Predicted] = q
	}
	for l, s := range out {
		var tp int
		for _, p := range preds {
			if p.Label == l && p.Predicted == l {
				tp++
			}
		}
		s.Precision = ratio(tp, s.Predicted)
		s.Recall = ratio(tp, s.Support)
		if s.Precision+s.Recall > 0 {
			s.F1 = 2 * s.Precision * s.Recall / (s.Precision + s.Recall)
		}
		out[l] = s
	}
	return out
}

// Calibration bins predictions by confidence into Bins equal-width bins and
// returns the reliability table and the expected calibration error: the
// size-weighted mean of |accuracy − mean confidence| over the bins.
func Calibration(preds []Prediction) ([]Bin, float64) {
	bins := make([]Bin, Bins)
	var accSum, confSum [Bins]float64
	for i := range bins {
		bins[i].Lo = float64(i) / Bins
		bins[i].Hi = float64(i+1) / Bins
	}
	for _, p := range preds {
		c := math.Min(math.Max(p.Confidence, 0), 1)
		i := min(int(c*Bins), Bins-1)
		bins[i].Count++
		confSum[i] += c
		if p.Label == p.Predicted {
			accSum[i]++
		}
	}
	var ece float64
	for i := range bins {
		if bins[i].Count == 0 {
			continue
		}
		k := float64(bins[i].Count)
		bins[i].Accuracy = accSum[i] / k
		bins[i].Confidence = confSum[i] / k
		ece += k / float64(len(preds)) * math.Abs(bins[i].Accuracy-bins[i].Confidence)
	}
	return bins, ece
}

// SortedLabels returns the labels of m in taxonomy order, then any others
// alphabetically.
func (m Metrics) SortedLabels() []string {
	var out []string
	for _, l := range cls.Labels() {
		if _, ok := m.PerLabel[string(l)]; ok {
			out = append(out, string(l))
		}
	}
	var rest []string
	for l := range m.PerLabel {
		if !slices.Contains(out, l) {
			rest = append(rest, l)
		}
	}
	slices.Sort(rest)
	return append(out, rest...)
}

func ratio(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}
