package classify

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"go.yaml.in/yaml/v3"
)

//go:embed rules.yaml
var rulesYAML []byte

// Scope says which text a rule is matched against.
type Scope string

// Rule scopes.
const (
	// ScopeAny matches the root error block first and every log line after.
	ScopeAny Scope = "any"
	// ScopeRoot matches only the root error block (its exception, message,
	// details, chain and lines).
	ScopeRoot Scope = "root"
	// ScopeSignals matches only the context signals, rendered as
	// "exit_code=137 signal=SIGKILL try_number=2 operator=… state=…".
	ScopeSignals Scope = "signals"
)

// Rule is one classification rule as written in rules.yaml.
type Rule struct {
	ID       string   `yaml:"id"`
	Label    Label    `yaml:"label"`
	Patterns []string `yaml:"patterns"`
	// Weight is how specific the rule is: how strongly one match points to
	// the label. A rule matched in the root block counts RootBoost times.
	Weight float64 `yaml:"weight"`
	Scope  Scope   `yaml:"scope"`
	// CaseSensitive turns off the default (?i) flag.
	CaseSensitive bool `yaml:"case_sensitive"`
	// RetrySafe and Remediation, when set, override the label's defaults
	// when this rule is the strongest evidence for the winning label.
	RetrySafe   *bool       `yaml:"retry_safe"`
	Remediation Remediation `yaml:"remediation"`
	Rationale   string      `yaml:"rationale"`
}

type compiledRule struct {
	Rule
	// lit joins the patterns that have a literal prefix; lits holds those
	// prefixes (lower-cased unless CaseSensitive): a line containing none of
	// them cannot match lit, so it is skipped. free joins the rest.
	lit, free *regexp.Regexp
	lits      []string
}

// matchString reports whether any pattern of r matches s, whose lower-cased
// form is lower.
func (r *compiledRule) matchString(s, lower string) bool {
	if r.lit != nil {
		hay := lower
		if r.CaseSensitive {
			hay = s
		}
		for _, l := range r.lits {
			if strings.Contains(hay, l) {
				if r.lit.MatchString(s) {
					return true
				}
				break
			}
		}
	}
	return r.free != nil && r.free.MatchString(s)
}

// find returns the leftmost text of s any pattern of r matches, "" when
// none does. It is for quoting, not matching, so it skips the prefilter.
func (r *compiledRule) find(s string) string {
	var best []int
	for _, re := range []*regexp.Regexp{r.lit, r.free} {
		if re == nil {
			continue
		}
		if loc := re.FindStringIndex(s); loc != nil && (best == nil || loc[0] < best[0]) {
			best = loc
		}
	}
	if best == nil {
		return ""
	}
	return s[best[0]:best[1]]
}

func joinPatterns(alts []string, caseSensitive bool) (*regexp.Regexp, error) {
	if len(alts) == 0 {
		return nil, nil
	}
	expr := strings.Join(alts, "|")
	if !caseSensitive {
		expr = "(?i)" + expr
	}
	return regexp.Compile(expr)
}

// prefilterLiteral is the literal prefix every match of re starts with,
// lower-cased for case-insensitive rules; "" when there is none or when
// lower-casing could disagree with the regexp's case folding (non-ASCII).
func prefilterLiteral(re *regexp.Regexp, caseSensitive bool) string {
	prefix, _ := re.LiteralPrefix()
	if len(prefix) < 3 {
		return ""
	}
	if caseSensitive {
		return prefix
	}
	for i := 0; i < len(prefix); i++ {
		if prefix[i] >= 0x80 {
			return ""
		}
	}
	return strings.ToLower(prefix)
}

// DefaultRules returns a copy of the embedded rules.
func DefaultRules() []Rule {
	rs, err := ParseRules(rulesYAML)
	if err != nil {
		panic("classify: embedded rules.yaml: " + err.Error())
	}
	return rs
}

// ParseRules decodes a rules document strictly: unknown keys are errors.
func ParseRules(data []byte) ([]Rule, error) {
	var doc struct {
		Rules []Rule `yaml:"rules"`
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("decode rules: %w", err)
	}
	return doc.Rules, nil
}

func compileRules(rules []Rule) ([]compiledRule, error) {
	seen := make(map[string]bool, len(rules))
	out := make([]compiledRule, 0, len(rules))
	var errs []error
	for i, r := range rules {
		if r.Scope == "" {
			r.Scope = ScopeAny
		}
		if err := checkRule(r); err != nil {
			errs = append(errs, fmt.Errorf("rule %d (%q): %w", i, r.ID, err))
			continue
		}
		if seen[r.ID] {
			errs = append(errs, fmt.Errorf("rule %d: duplicate id %q", i, r.ID))
			continue
		}
		seen[r.ID] = true
		// Each pattern is checked alone for a precise error. Patterns with a
		// literal prefix are joined into one alternation guarded by a
		// substring prefilter; the others into a second one that always runs.
		ok := true
		var withLit, free, lits []string
		for _, p := range r.Patterns {
			re, err := regexp.Compile(p)
			if err != nil {
				errs = append(errs, fmt.Errorf("rule %q pattern %q: %w", r.ID, p, err))
				ok = false
				continue
			}
			if l := prefilterLiteral(re, r.CaseSensitive); l != "" {
				withLit = append(withLit, "(?:"+p+")")
				lits = append(lits, l)
			} else {
				free = append(free, "(?:"+p+")")
			}
		}
		if !ok {
			continue
		}
		cr := compiledRule{Rule: r, lits: lits}
		var err error
		if cr.lit, err = joinPatterns(withLit, r.CaseSensitive); err == nil {
			cr.free, err = joinPatterns(free, r.CaseSensitive)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("rule %q: %w", r.ID, err))
			continue
		}
		out = append(out, cr)
	}
	return out, errors.Join(errs...)
}

func checkRule(r Rule) error {
	switch {
	case r.ID == "":
		return errors.New("missing id")
	case !r.Label.Valid():
		return fmt.Errorf("unknown label %q", r.Label)
	case len(r.Patterns) == 0:
		return errors.New("no patterns")
	case r.Weight <= 0:
		return fmt.Errorf("weight %v must be positive", r.Weight)
	case r.Remediation != "" && !r.Remediation.Valid():
		return fmt.Errorf("unknown remediation %q", r.Remediation)
	case r.Rationale == "":
		return errors.New("missing rationale")
	}
	switch r.Scope {
	case ScopeAny, ScopeRoot, ScopeSignals:
		return nil
	default:
		return fmt.Errorf("unknown scope %q", r.Scope)
	}
}
