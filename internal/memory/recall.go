package memory

import (
	"cmp"
	"fmt"
	"math"
	"slices"

	"github.com/medic-sh/medic/internal/classify"
)

// RecallOptions tunes how past failures change a cold diagnosis.
type RecallOptions struct {
	// MinSimilarity is the cosine similarity a similar (not exact) record
	// needs to count; DefaultMinSimilarity when zero.
	MinSimilarity float32
	// MinTrust is the trust a record needs to count at all; records whose
	// actions failed more often than they worked, or that people voted
	// down, say little about what this failure is. DefaultMinTrust when
	// zero.
	MinTrust float64
}

// Recall defaults. An exact signature match counts as similarity 1.
const (
	DefaultMinSimilarity = 0.85
	DefaultMinTrust      = 0.4
	// overrideTrust is the trust an exact-signature record needs for its
	// label to replace a different cold label.
	overrideTrust = 0.6
	// retrySafeTrust is the trust a record's verified plain retry needs to
	// make a failure retry-safe: one lucky retry (trust 2/3) is not
	// enough; two verified fixes and no failure (3/4) are.
	retrySafeTrust = 0.75
	// maxRecallConfidence caps a confidence that rests on memory alone.
	maxRecallConfidence = 0.95
	// RecallRule names the evidence and reason memory contributes.
	RecallRule = "memory.recall"
)

// Precedent is the past failure that most supports the recalled label.
type Precedent struct {
	RecordID   string  `json:"record_id"`
	Label      string  `json:"label"`
	Action     string  `json:"action,omitempty"`
	Outcome    Outcome `json:"outcome"`
	Trust      float64 `json:"trust"`
	Similarity float32 `json:"similarity"`
	Exact      bool    `json:"exact"`
	// Agreement is the share of the counted records' weight behind Label.
	Agreement float64 `json:"agreement"`
	// Counted is how many records took part in the vote.
	Counted int `json:"counted"`
}

type vote struct {
	rec   *Record
	sim   float32
	exact bool
	w     float64
}

// Recall combines a cold diagnosis d with the records a Lookup found. It
// returns d unchanged (and a nil precedent) when no record is similar
// enough, trusted enough and backed by an outcome or a verdict. Otherwise the records vote for a label, weighted by
// similarity times trust:
//
//   - memory agrees with d: d's confidence rises with the agreement;
//   - d abstained: memory's label is adopted, with a confidence that is the
//     agreement times the best record's similarity and trust;
//   - they disagree: an exact-signature record trusted at least 0.6 wins;
//     otherwise d stands, with memory's label as a runner-up and its
//     confidence lowered.
//
// A failure is retry-safe from memory only when the best record's action
// was a plain retry that verifiably fixed it, with trust of at least 0.75
// (one lucky retry is not enough); a retry that failed before makes it not
// retry-safe whatever the label says. The result depends only
// on the set of records, not on their order.
func Recall(d classify.Diagnosis, res *Result, opts RecallOptions) (classify.Diagnosis, *Precedent) {
	if res == nil {
		return d, nil
	}
	if opts.MinSimilarity <= 0 {
		opts.MinSimilarity = DefaultMinSimilarity
	}
	if opts.MinTrust <= 0 {
		opts.MinTrust = DefaultMinTrust
	}
	var votes []vote
	for _, r := range res.Exact {
		if counts(r, opts) {
			votes = append(votes, vote{rec: r, sim: 1, exact: true, w: r.Trust})
		}
	}
	for _, m := range res.Similar {
		if m.Score >= opts.MinSimilarity && counts(m.Record, opts) {
			votes = append(votes, vote{rec: m.Record, sim: m.Score, w: float64(m.Score) * m.Record.Trust})
		}
	}
	if len(votes) == 0 {
		return d, nil
	}
	byLabel := map[classify.Label]float64{}
	var total float64
	for _, v := range votes {
		byLabel[classify.Label(v.rec.Label)] += v.w
		total += v.w
	}
	labels := make([]classify.Label, 0, len(byLabel))
	for l := range byLabel {
		labels = append(labels, l)
	}
	slices.SortFunc(labels, func(a, b classify.Label) int {
		return cmp.Or(cmp.Compare(byLabel[b], byLabel[a]), cmp.Compare(a, b))
	})
	label := labels[0]
	agreement := byLabel[label] / total
	// The best record behind the label: exact before similar, then by
	// weight, then by id so that order never matters.
	var best *vote
	for i := range votes {
		v := &votes[i]
		if classify.Label(v.rec.Label) != label {
			continue
		}
		if best == nil || better(v, best) {
			best = v
		}
	}
	p := &Precedent{
		RecordID: best.rec.ID, Label: best.rec.Label, Action: best.rec.Action, Outcome: best.rec.Outcome,
		Trust: best.rec.Trust, Similarity: best.sim, Exact: best.exact, Agreement: round3(agreement), Counted: len(votes),
	}
	support := agreement * float64(best.sim) * best.rec.Trust
	ev := classify.Evidence{Line: -1, Rule: RecallRule, Text: describe(p, label)}

	out := d
	out.Evidence = append(slices.Clone(d.Evidence), ev)
	switch {
	case d.Label == label:
		out.Confidence = round3(1 - (1-d.Confidence)*(1-0.5*support))
		out.Reason = d.Reason + "; " + ev.Text
	case d.Label == classify.Unknown || (best.exact && best.rec.Trust >= overrideTrust):
		out.Label = label
		out.Confidence = round3(math.Min(maxRecallConfidence, math.Max(support, d.Confidence*0.5)))
		out.Remediation = label.DefaultRemediation()
		out.RetrySafe = label.DefaultRetrySafe()
		out.RunnersUp = prepend(d.RunnersUp, d.Label, d.Confidence)
		out.Reason = fmt.Sprintf("%s recalled from memory (%s); the rules said %s", label, ev.Text, d.Label)
	default:
		out.Confidence = round3(d.Confidence * (1 - 0.5*support))
		out.RunnersUp = prepend(d.RunnersUp, label, support)
		out.Reason = d.Reason + "; memory disagrees: " + ev.Text
		return out, p
	}
	if act := classify.Remediation(best.rec.Action); act.Valid() && best.rec.Outcome == OutcomeFixed {
		out.Remediation = act
	}
	retry := isPlainRetry(best.rec.Action)
	switch {
	case retry && best.rec.Outcome == OutcomeFixed && best.rec.Trust >= retrySafeTrust:
		out.RetrySafe = out.Confidence >= 0.5
	case retry && best.rec.Outcome == OutcomeFailed:
		out.RetrySafe = false
	case !retry && best.rec.Outcome == OutcomeFixed && best.rec.Action != "":
		out.RetrySafe = false // a person had to do something else
	}
	return out, p
}

// counts reports whether r may vote: it has a valid label, enough trust,
// and some evidence behind it (a verified outcome or a human verdict). A
// record nobody resolved or judged only repeats an earlier guess, and
// letting it vote would make medic agree with itself.
func counts(r *Record, opts RecallOptions) bool {
	return classify.Label(r.Label).Valid() && r.Trust >= opts.MinTrust && r.Fixed+r.Failed+r.Ups+r.Downs > 0
}

func better(a, b *vote) bool {
	if a.exact != b.exact {
		return a.exact
	}
	if a.w != b.w {
		return a.w > b.w
	}
	return a.rec.ID < b.rec.ID
}

func isPlainRetry(action string) bool {
	switch classify.Remediation(action) {
	case classify.Retry, classify.RetryWithBackoff:
		return true
	}
	return false
}

func describe(p *Precedent, label classify.Label) string {
	kind := fmt.Sprintf("a similar past failure (similarity %.2f)", p.Similarity)
	if p.Exact {
		kind = "the same failure signature"
	}
	s := fmt.Sprintf("%s was %s, trust %.2f", kind, label, p.Trust)
	if p.Action != "" {
		s += fmt.Sprintf(", %s %s", p.Action, p.Outcome)
	}
	if p.Counted > 1 {
		s += fmt.Sprintf(" (%d records, %.0f%% agree)", p.Counted, 100*p.Agreement)
	}
	return s
}

func prepend(rs []classify.Scored, l classify.Label, score float64) []classify.Scored {
	out := []classify.Scored{{Label: l, Score: round3(score), Rule: RecallRule}}
	for _, r := range rs {
		if r.Label != l {
			out = append(out, r)
		}
	}
	return out
}

func round3(f float64) float64 { return math.Round(f*1000) / 1000 }
