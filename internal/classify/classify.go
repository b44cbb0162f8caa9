package classify

import (
	"fmt"
	"math"
	"slices"
	"strconv"
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
	// minConfidence is the confidence below which it abstains.
	minConfidence = 0.3
	// retrySafeConfidence is the confidence needed to call a failure
	// retry-safe: a wrong "retry" hides a real problem, so be sure first.
	retrySafeConfidence = 0.5
	// strengthScale sets how fast evidence turns into confidence.
	strengthScale = 3.0
	maxEvidence   = 6
	maxRunnersUp  = 3
	maxTextLen    = 240
)

// Signals are optional facts about the failed try from outside the log.
type Signals struct {
	// ExitCode is the task process's exit code, nil when not known.
	ExitCode *int
	// Signal is the signal that ended it, e.g. "SIGKILL" or "9".
	Signal string
	// TryNumber is the Airflow try number (0 when not known).
	TryNumber int
	// Operator is the operator class, e.g. "BashOperator".
	Operator string
	// State is the Airflow task state, e.g. "failed" or "up_for_retry".
	State string
}

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
}

// Classifier classifies logs with one compiled rule set. It is safe for
// concurrent use.
type Classifier struct {
	rules []compiledRule
}

// New compiles rules into a Classifier. The result does not depend on the
// order of rules.
func New(rules []Rule) (*Classifier, error) {
	cr, err := compileRules(rules)
	if err != nil {
		return nil, fmt.Errorf("compile classify rules: %w", err)
	}
	return &Classifier{rules: cr}, nil
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

type segment struct {
	line  int
	text  string
	lower string
}

func seg(line int, text string) segment {
	return segment{line: line, text: text, lower: strings.ToLower(text)}
}

type hit struct {
	rule  *compiledRule
	score float64
	root  bool
	ev    Evidence
}

type labelScore struct {
	label Label
	score float64
	hits  []hit
}

// Classify classifies one failed try.
func (c *Classifier) Classify(in Input) Diagnosis {
	if !hasText(in.Lines) && signalsText(in.Signals) == "" {
		return abstain(0.9, "empty input: no log lines and no signals")
	}
	res := in.Extract
	if res == nil {
		res = extract.Extract(in.Lines)
	}
	root := rootSegments(res.Root, in.Lines)
	lines := make([]segment, 0, len(in.Lines))
	for i, l := range in.Lines {
		if strings.TrimSpace(l) != "" {
			lines = append(lines, seg(i, l))
		}
	}
	sig := signalsText(in.Signals)

	var hits []hit
	for i := range c.rules {
		if h, ok := match(&c.rules[i], root, lines, sig); ok {
			hits = append(hits, h)
		}
	}
	ranked := rank(hits)
	if len(ranked) == 0 {
		return abstain(noMatchConfidence, "no rule matched: the log shows no recognisable cause")
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
		d2 := abstain(wrapperOnlyConfidence, "only generic failure wrappers matched ("+top.rule.ID+"): the log shows no cause")
		d2.Evidence = evidence(best.hits)
		d2.RunnersUp = d.RunnersUp
		return d2
	}
	strength := 1 - math.Exp(-best.score/strengthScale)
	margin := (best.score - second) / best.score
	conf := strength * (0.6 + 0.4*margin)
	if best.score < minScore || conf < minConfidence {
		d2 := abstain(weakConfidence, fmt.Sprintf("evidence too weak or contradictory: best %s (%s) scored %.2f, next %.2f", best.label, top.rule.ID, best.score, second))
		d2.Evidence = evidence(best.hits)
		d2.RunnersUp = runnersUp(ranked, "")
		return d2
	}
	d.Label = best.label
	d.Confidence = round3(conf)
	d.RawConfidence = d.Confidence
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
	return d
}

func match(r *compiledRule, root, lines []segment, sig string) (hit, bool) {
	if r.Scope == ScopeSignals {
		if sig == "" {
			return hit{}, false
		}
		if r.matchString(sig, strings.ToLower(sig)) {
			return hit{rule: r, score: r.Weight, ev: Evidence{Line: -1, Text: clip(sig), Rule: r.ID}}, true
		}
		return hit{}, false
	}
	if s, ok := firstMatch(r, root); ok {
		return hit{rule: r, score: r.Weight * RootBoost, root: true, ev: Evidence{Line: s.line, Text: clip(s.text), Rule: r.ID}}, true
	}
	if r.Scope == ScopeAny {
		if s, ok := firstMatch(r, lines); ok {
			return hit{rule: r, score: r.Weight, ev: Evidence{Line: s.line, Text: clip(s.text), Rule: r.ID}}, true
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
	for _, h := range hs[:min(len(hs), maxEvidence)] {
		out = append(out, h.ev)
	}
	return out
}

// Confidences of the three kinds of abstention, measured on the dev split:
// a log whose only evidence is a generic wrapper ("Celery command failed",
// "Lost executor") usually really shows no cause, while a log no rule
// matches is often a failure family the rules do not know yet.
const (
	wrapperOnlyConfidence = 0.8
	noMatchConfidence     = 0.4
	weakConfidence        = 0.35
)

func abstain(conf float64, reason string) Diagnosis {
	return Diagnosis{
		Label:         Unknown,
		Confidence:    conf,
		RawConfidence: conf,
		RetrySafe:     false,
		Remediation:   Unknown.DefaultRemediation(),
		Reason:        reason,
	}
}

// rootSegments is the text of the root block: its exception and message,
// each cause in its chain, its details as key=value, then its lines.
func rootSegments(b *extract.Block, lines []string) []segment {
	if b == nil {
		return nil
	}
	var segs []segment
	head := b.Message
	if b.ExceptionType != "" {
		head = b.ExceptionType + ": " + b.Message
	}
	if strings.TrimSpace(head) != "" {
		segs = append(segs, seg(b.Start, head))
	}
	for _, c := range b.Chain {
		segs = append(segs, seg(c.Line, c.ExceptionType+": "+c.Message))
	}
	keys := make([]string, 0, len(b.Details))
	for k := range b.Details {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		segs = append(segs, seg(b.Start, k+"="+b.Details[k]))
	}
	for i := max(b.Start, 0); i < min(b.End, len(lines)); i++ {
		if strings.TrimSpace(lines[i]) != "" {
			segs = append(segs, seg(i, lines[i]))
		}
	}
	return segs
}

func signalsText(s Signals) string {
	var parts []string
	if s.ExitCode != nil {
		parts = append(parts, "exit_code="+strconv.Itoa(*s.ExitCode))
	}
	if s.Signal != "" {
		parts = append(parts, "signal="+s.Signal)
	}
	if s.TryNumber > 0 {
		parts = append(parts, "try_number="+strconv.Itoa(s.TryNumber))
	}
	if s.Operator != "" {
		parts = append(parts, "operator="+s.Operator)
	}
	if s.State != "" {
		parts = append(parts, "state="+s.State)
	}
	return strings.Join(parts, " ")
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
