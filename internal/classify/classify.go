package classify

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"

	"github.com/medic-sh/medic/internal/logscan/extract"
)

// Scoring constants. They are part of the model, like the rule weights.
const (
	// RootBoost multiplies the weight of a rule matched in the root block:
	// the block extract chose as the cause beats text elsewhere in the log.
	RootBoost = 1.5
	// supportFactor is how much each further matching rule of a label adds,
	// relative to its own score; one strong rule should outweigh many weak
	// ones.
	supportFactor = 0.25
	// minScore is the evidence below which the classifier abstains.
	minScore = 1.5
	// minConfidence is the raw confidence below which it abstains.
	minConfidence = 0.3
	// retrySafeConfidence is the raw confidence needed to call a failure
	// retry-safe: a wrong "retry" hides a real problem, so be sure first.
	//
	// Both thresholds apply to the raw confidence, not the calibrated one.
	// The calibration map is fitted on the classifier's own answers, so
	// thresholds on its output would move the answers whenever the map is
	// refitted, and refitting would then chase itself. On the raw side,
	// labels and retry-safety do not depend on the calibration at all, and
	// calibrating cannot change macro-F1 or retry-safe precision. As the
	// map is monotone, a raw threshold still is a threshold on the
	// calibrated confidence.
	retrySafeConfidence = 0.5
	// strengthScale sets how fast evidence turns into confidence.
	strengthScale = 3.0
	maxEvidence   = 6
	maxRunnersUp  = 3
	maxTextLen    = 240
)

// Input is what Classify reads.
type Input struct {
	// Lines are the log lines, already redacted.
	Lines []string
	// Extract is extract.Extract(Lines); computed when nil.
	Extract *extract.Result
	// Signals are optional context signals.
	Signals Signals
}

// Evidence is one piece of text that supports the diagnosis.
type Evidence struct {
	// Line is the 0-based input line, -1 for a context signal.
	Line int `json:"line"`
	// Text is the matched text, cut to a few hundred bytes.
	Text string `json:"text"`
	// Rule is the id of the rule that matched.
	Rule string `json:"rule"`
}

// Scored is one candidate label with its score and strongest rule.
type Scored struct {
	Label Label   `json:"label"`
	Score float64 `json:"score"`
	Rule  string  `json:"rule"`
}

// Diagnosis is the classifier's answer.
type Diagnosis struct {
	Label      Label   `json:"label"`
	Confidence float64 `json:"confidence"`
	// RawConfidence is the score-derived confidence before calibration.
	RawConfidence float64     `json:"raw_confidence"`
	RetrySafe     bool        `json:"retry_safe"`
	Remediation   Remediation `json:"remediation"`
	Evidence      []Evidence  `json:"evidence,omitempty"`
	RunnersUp     []Scored    `json:"runners_up,omitempty"`
	Reason        string      `json:"reason"`

	abstention Abstention
}

// Abstention is the kind of abstention of an UNKNOWN answer Classify made,
// "" for a labelled one (also when a later stage, such as memory, gave the
// answer a label) or a Diagnosis that Classify did not make.
func (d Diagnosis) Abstention() Abstention {
	if d.Label != Unknown {
		return ""
	}
	return d.abstention
}

// Classifier classifies logs with one compiled rule set. It is safe for
// concurrent use.
type Classifier struct {
	rules []compiledRule
	cal   Calibration
}

// New compiles rules into a Classifier that reports confidences through the
// embedded calibration unless an option says otherwise. The result does not
// depend on the order of rules.
func New(rules []Rule, opts ...Option) (*Classifier, error) {
	cr, err := compileRules(rules)
	if err != nil {
		return nil, fmt.Errorf("compile classify rules: %w", err)
	}
	c := &Classifier{rules: cr, cal: embeddedCalibration}
	for _, o := range opts {
		o(c)
	}
	return c, nil
}

var defaultClassifier = sync.OnceValue(func() *Classifier {
	c, err := New(DefaultRules())
	if err != nil {
		panic("classify: embedded rules.yaml: " + err.Error())
	}
	return c
})

// Default returns the classifier built from the embedded rules.
func Default() *Classifier { return defaultClassifier() }

// Classify classifies in with the embedded rules.
func Classify(in Input) Diagnosis { return Default().Classify(in) }

type hit struct {
	rule  *compiledRule
	score float64
	root  bool
	// ev is the input line (or signals) quoted; hasEv is false only when
	// no input line was left to quote.
	ev    Evidence
	hasEv bool
}

type labelScore struct {
	label Label
	score float64
	hits  []hit
}

// Classify classifies one failed try. Its confidence is calibrated; the
// decisions (label, abstention, retry safety) are taken on the raw one.
func (c *Classifier) Classify(in Input) Diagnosis {
	d := c.classify(in)
	d.Confidence = c.cal.Apply(d.RawConfidence, d.abstention)
	return d
}

// classify is Classify with raw confidences.
func (c *Classifier) classify(in Input) Diagnosis {
	if !hasText(in.Lines) && signalsText(in.Signals) == "" {
		return abstain(AbstainEmpty, "empty input: no log lines and no signals")
	}
	res := in.Extract
	if res == nil {
		res = extract.Extract(in.Lines)
	}
	doc := newDoc(in, res)

	var hits []hit
	for i := range c.rules {
		if h, ok := match(&c.rules[i], doc); ok {
			hits = append(hits, h)
		}
	}
	ranked := rank(hits)
	if len(ranked) == 0 {
		return abstain(AbstainNoMatch, "no rule matched: the log shows no recognisable cause")
	}
	best := ranked[0]
	var second float64
	for _, ls := range ranked[1:] {
		if ls.label != Unknown {
			second = ls.score
			break
		}
	}
	d := Diagnosis{RunnersUp: runnersUp(ranked, best.label)}
	top := best.hits[0]
	if best.label == Unknown {
		d2 := abstain(AbstainWrapperOnly, "only generic failure wrappers matched ("+top.rule.ID+"): the log shows no cause")
		d2.Evidence = evidence(best.hits)
		d2.RunnersUp = d.RunnersUp
		return d2
	}
	strength := 1 - math.Exp(-best.score/strengthScale)
	margin := (best.score - second) / best.score
	conf := strength * (0.6 + 0.4*margin)
	if best.score < minScore || conf < minConfidence {
		d2 := abstain(AbstainWeak, fmt.Sprintf("evidence too weak or contradictory: best %s (%s) scored %.2f, next %.2f", best.label, top.rule.ID, best.score, second))
		d2.Evidence = evidence(best.hits)
		d2.RunnersUp = runnersUp(ranked, "")
		return d2
	}
	d.Label = best.label
	d.RawConfidence = round3(conf)
	d.Confidence = d.RawConfidence
	d.RetrySafe = best.label.DefaultRetrySafe()
	if top.rule.RetrySafe != nil {
		d.RetrySafe = *top.rule.RetrySafe
	}
	if conf < retrySafeConfidence {
		d.RetrySafe = false
	}
	d.Remediation = best.label.DefaultRemediation()
	if top.rule.Remediation != "" {
		d.Remediation = top.rule.Remediation
	}
	d.Evidence = evidence(best.hits)
	where := "log lines"
	if top.root {
		where = "root error block"
	}
	d.Reason = fmt.Sprintf("%s: rule %s matched in the %s (%s)", best.label, top.rule.ID, where, top.rule.Rationale)
	if second > 0 {
		d.Reason += fmt.Sprintf("; runner-up %s scored %.2f against %.2f", d.RunnersUp[0].Label, second, best.score)
	}
	if in.Signals.recurring() {
		notRetrySafe(&d, in.Signals.FailedRuns)
	}
	return d
}

// notRetrySafe withdraws retry safety from a failure that recurred in runs
// of the lookback: whatever the log says, the retries between those runs
// did not fix it, so a person should look rather than a plain retry.
func notRetrySafe(d *Diagnosis, runs int) {
	if d.Remediation == Retry || d.Remediation == RetryWithBackoff {
		d.Remediation = Escalate
	}
	if !d.RetrySafe {
		return
	}
	d.RetrySafe = false
	d.Reason += fmt.Sprintf("; not retry-safe: the task failed in %d runs of the lookback, so plain retries have not fixed it", runs)
}

func match(r *compiledRule, d *doc) (hit, bool) {
	if r.Scope == ScopeSignals {
		if d.sig == "" {
			return hit{}, false
		}
		if r.matchString(d.sig, strings.ToLower(d.sig)) {
			return hit{rule: r, score: r.Weight, ev: Evidence{Line: -1, Text: clip(d.sig), Rule: r.ID}, hasEv: true}, true
		}
		return hit{}, false
	}
	if s, ok := firstMatch(r, d.root); ok {
		h := hit{rule: r, score: r.Weight * RootBoost, root: true}
		line, ok := s.line, !s.synthetic
		if s.synthetic {
			line, ok = d.locate(r, s)
		}
		if ok {
			h.ev, h.hasEv = d.evidenceAt(line, r), true
		}
		return h, true
	}
	if r.Scope == ScopeAny {
		if s, ok := firstMatch(r, d.real); ok {
			return hit{rule: r, score: r.Weight, ev: d.evidenceAt(s.line, r), hasEv: true}, true
		}
	}
	return hit{}, false
}

// firstMatch returns the earliest segment any pattern of r matches, so the
// answer does not depend on the order of patterns.
func firstMatch(r *compiledRule, segs []segment) (segment, bool) {
	for _, s := range segs {
		if r.matchString(s.text, s.lower) {
			return s, true
		}
	}
	return segment{}, false
}

// rank groups hits by label and orders labels by score, then by taxonomy
// order. Hits within a label are ordered by score, then rule id, so the
// sums do not depend on rule order.
func rank(hits []hit) []labelScore {
	by := map[Label][]hit{}
	for _, h := range hits {
		by[h.rule.Label] = append(by[h.rule.Label], h)
	}
	out := make([]labelScore, 0, len(by))
	for l, hs := range by {
		slices.SortFunc(hs, func(a, b hit) int {
			if a.score != b.score {
				if a.score > b.score {
					return -1
				}
				return 1
			}
			return strings.Compare(a.rule.ID, b.rule.ID)
		})
		s := hs[0].score
		for _, h := range hs[1:] {
			s += supportFactor * h.score
		}
		out = append(out, labelScore{label: l, score: s, hits: hs})
	}
	slices.SortFunc(out, func(a, b labelScore) int {
		if a.score != b.score {
			if a.score > b.score {
				return -1
			}
			return 1
		}
		return labelRank(a.label) - labelRank(b.label)
	})
	return out
}

func runnersUp(ranked []labelScore, winner Label) []Scored {
	var out []Scored
	for _, ls := range ranked {
		if ls.label == winner {
			continue
		}
		out = append(out, Scored{Label: ls.label, Score: round3(ls.score), Rule: ls.hits[0].rule.ID})
		if len(out) == maxRunnersUp {
			break
		}
	}
	return out
}

func evidence(hs []hit) []Evidence {
	out := make([]Evidence, 0, min(len(hs), maxEvidence))
	for _, h := range hs {
		if len(out) == maxEvidence {
			break
		}
		if h.hasEv {
			out = append(out, h.ev)
		}
	}
	return out
}

func abstain(k Abstention, reason string) Diagnosis {
	return Diagnosis{
		Label:         Unknown,
		Confidence:    k.RawConfidence(),
		RawConfidence: k.RawConfidence(),
		RetrySafe:     false,
		Remediation:   Unknown.DefaultRemediation(),
		Reason:        reason,
		abstention:    k,
	}
}

func hasText(lines []string) bool {
	for _, l := range lines {
		if strings.TrimSpace(l) != "" {
			return true
		}
	}
	return false
}

func clip(s string) string {
	s = strings.TrimSpace(s)
	if len(s) <= maxTextLen {
		return s
	}
	cut := maxTextLen
	for cut > 0 && !utf8RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

func utf8RuneStart(b byte) bool { return b&0xC0 != 0x80 }

func round3(f float64) float64 { return math.Round(f*1000) / 1000 }
