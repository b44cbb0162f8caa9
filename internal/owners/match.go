package owners

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// Subject is what a rule is matched against: one task and the tables and
// datasets it touches.
type Subject struct {
	Instance string
	Dag      string
	Task     string
	Tables   []string
	Datasets []string
}

// values returns the subject's values for one field.
func (s *Subject) values(f MatchField) []string {
	switch f {
	case MatchInstance:
		return nonEmpty(s.Instance)
	case MatchDag:
		return nonEmpty(s.Dag)
	case MatchTask:
		return nonEmpty(s.Task)
	case MatchTable:
		return s.Tables
	case MatchDataset:
		return s.Datasets
	}
	return nil
}

func nonEmpty(s string) []string {
	if s == "" {
		return nil
	}
	return []string{s}
}

// FieldMatch records that one value matched one pattern of a rule.
type FieldMatch struct {
	Field   MatchField `json:"field"`
	Pattern string     `json:"pattern"`
	Value   string     `json:"value"`
}

// Specificity ranks matching rules; see Compare.
type Specificity struct {
	// Fields is how many fields the rule matches on (all of them matched).
	Fields int `json:"fields"`
	// Exact is how many of its patterns have no wildcard.
	Exact int `json:"exact"`
	// Prefix is the total length of the literal text before each pattern's
	// first wildcard.
	Prefix int `json:"literal_prefix"`
	// Literal is the total length of literal text in its patterns.
	Literal int `json:"literal"`
}

// Compare orders specificities: more fields, then more exact patterns, then
// longer literal prefixes, then more literal text. Equal ones are broken by
// file order (the earlier rule wins) by the caller.
func (s Specificity) Compare(o Specificity) int {
	return cmp.Or(
		cmp.Compare(s.Fields, o.Fields),
		cmp.Compare(s.Exact, o.Exact),
		cmp.Compare(s.Prefix, o.Prefix),
		cmp.Compare(s.Literal, o.Literal),
	)
}

func (s Specificity) String() string {
	return fmt.Sprintf("%d fields, %d exact, literal prefix %d, literal %d", s.Fields, s.Exact, s.Prefix, s.Literal)
}

// RuleMatch is the rule that won for a subject, and why.
type RuleMatch struct {
	// Rule labels the rule: `rule "payments-core" (owners.yaml:14)`.
	Rule        string       `json:"rule"`
	Name        string       `json:"name,omitempty"`
	Line        int          `json:"line"`
	Fields      []FieldMatch `json:"fields"`
	Specificity Specificity  `json:"specificity"`
	// Outranked labels the other rules that matched and lost, most
	// specific first (at most five).
	Outranked []string `json:"outranked,omitempty"`

	rule *Rule
}

// Why explains the match in one sentence.
func (m *RuleMatch) Why() string {
	parts := make([]string, len(m.Fields))
	for i, f := range m.Fields {
		parts[i] = fmt.Sprintf("%s %q matches %q", f.Field, f.Value, f.Pattern)
	}
	s := m.Rule + ": " + strings.Join(parts, ", ")
	if len(m.Outranked) > 0 {
		s += fmt.Sprintf("; more specific (%s) than %s", m.Specificity, strings.Join(m.Outranked, ", "))
	}
	return s
}

// matchPatterns reports whether every pattern matches the subject, and
// with which values.
func matchPatterns(ps []FieldPattern, s *Subject) ([]FieldMatch, Specificity, bool) {
	if len(ps) == 0 {
		return nil, Specificity{}, false
	}
	var sp Specificity
	fields := make([]FieldMatch, 0, len(ps))
	for _, fp := range ps {
		found := false
		for _, v := range s.values(fp.Field) {
			if fp.Pattern.Match(v) {
				fields = append(fields, FieldMatch{Field: fp.Field, Pattern: fp.Pattern.String(), Value: v})
				found = true
				break
			}
		}
		if !found {
			return nil, Specificity{}, false
		}
		sp.Fields++
		if fp.Pattern.Exact() {
			sp.Exact++
		}
		sp.Prefix += fp.Pattern.prefix
		sp.Literal += fp.Pattern.literal
	}
	return fields, sp, true
}

type candidate struct {
	label  string
	fields []FieldMatch
	spec   Specificity
	index  int
}

// pick returns the best candidate (most specific, then earliest) and the
// labels of up to five runners-up, best first.
func pick(cs []candidate) (candidate, []string) {
	best := 0
	for i := 1; i < len(cs); i++ {
		if cs[i].spec.Compare(cs[best].spec) > 0 {
			best = i
		}
	}
	rest := make([]candidate, 0, len(cs)-1)
	for i, c := range cs {
		if i != best {
			rest = append(rest, c)
		}
	}
	// Stable: equally specific runners-up stay in file order.
	slices.SortStableFunc(rest, func(a, b candidate) int { return b.spec.Compare(a.spec) })
	var labels []string
	for i := 0; i < len(rest) && i < 5; i++ {
		labels = append(labels, rest[i].label)
	}
	return cs[best], labels
}

// Match returns the most specific rule matching s, or nil when none does.
// The default owner is not a rule and never matches here.
func (rs *Rules) Match(s Subject) *RuleMatch {
	if rs == nil {
		return nil
	}
	var cs []candidate
	for _, r := range rs.Rules {
		if fields, sp, ok := matchPatterns(r.Match, &s); ok {
			cs = append(cs, candidate{label: r.Label(rs.File), fields: fields, spec: sp, index: r.Index})
		}
	}
	if len(cs) == 0 {
		return nil
	}
	best, others := pick(cs)
	r := rs.Rules[best.index]
	return &RuleMatch{
		Rule: best.label, Name: r.Name, Line: r.Line, Fields: best.fields,
		Specificity: best.spec, Outranked: others, rule: r,
	}
}

// ModelMatch is the dbt_models rule that won for a task.
type ModelMatch struct {
	Rule   string       `json:"rule"`
	Model  string       `json:"model"`
	Fields []FieldMatch `json:"fields"`
}

// MatchModel returns the most specific dbt_models rule for the task, or nil.
func (rs *Rules) MatchModel(s Subject) *ModelMatch {
	if rs == nil {
		return nil
	}
	var cs []candidate
	for _, r := range rs.DbtModels {
		if fields, sp, ok := matchPatterns(r.Match, &s); ok {
			cs = append(cs, candidate{label: r.Label(rs.File), fields: fields, spec: sp, index: r.Index})
		}
	}
	if len(cs) == 0 {
		return nil
	}
	best, _ := pick(cs)
	return &ModelMatch{Rule: best.label, Model: rs.DbtModels[best.index].Model, Fields: best.fields}
}
