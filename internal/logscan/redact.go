// Package logscan reads failed-task logs: it redacts secrets and picks out
// the lines that explain a failure. Log text is untrusted data: logscan never
// interprets it as instructions and never lets an unredacted secret out.
//
// Redaction runs before anything is stored, shown, posted, sent to a model or
// served over MCP, and before template mining. A Redactor holds the built-in
// rules (see BuiltinRules) and any operator rules from the configuration.
// Each rule names keywords; a line is lower-cased and matched against all
// keywords at once (Aho-Corasick), and only the rules whose keywords occur
// run their regular expressions, only on that line. Most log lines contain no
// keyword and cost one pass of the automaton.
//
// A secret becomes a stable placeholder, [REDACTED:rule], while key names and
// separators stay readable: password=[REDACTED:password_pair]. Redacting
// twice gives the same text as redacting once: placeholders are masked before
// the rules run, so they never match again.
package logscan

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/cloudflare/ahocorasick"
)

// RedactRule is one redaction rule. Operator rules come from the
// configuration (logscan.redact.rules) and run alongside the built-in ones.
type RedactRule struct {
	// Name identifies the rule and appears in its placeholder,
	// [REDACTED:name]: lower-case letters, digits and underscores, starting
	// with a letter.
	Name string
	// Keywords are literal substrings, at least one of which occurs in every
	// text the pattern matches. They are compared case-insensitively (ASCII)
	// and select the lines the pattern runs on: a match containing none of
	// them is never looked for.
	Keywords []string
	// Pattern is a Go (RE2) regular expression. It is case-sensitive unless
	// it starts with (?i).
	Pattern string
	// SecretGroup is the capture group that holds the secret; 0 means the
	// whole match. Text matched outside the group (a key name, a separator)
	// is kept. If the pattern has groups named "secret", those are the secret
	// instead, whichever of them took part in the match.
	SecretGroup int
}

// RuleError is a problem with one field of a RedactRule.
type RuleError struct {
	Rule  string // the rule's name as given, possibly empty
	Field string // "name", "keywords", "pattern" or "secret_group"
	Msg   string
}

func (e *RuleError) Error() string {
	return fmt.Sprintf("redaction rule %q: %s: %s", e.Rule, e.Field, e.Msg)
}

// Limits of the redactor.
const (
	// MaxWindow is the longest stretch of one line that rules run on at
	// once. Longer lines are scanned in windows of this size that overlap by
	// WindowOverlap bytes, so time and extra memory stay bounded per line and
	// any secret up to WindowOverlap bytes long lies whole in some window.
	MaxWindow = 64 << 10
	// WindowOverlap is how much consecutive windows of a long line share.
	WindowOverlap = 8 << 10

	placeholderPrefix = "[REDACTED:"
	// maskByte replaces placeholders before rules run. It is neither
	// whitespace nor a word character, and value patterns accept it, so a
	// masked placeholder reads as an opaque value that is then dropped.
	maskByte = 0
)

var ruleNameRE = regexp.MustCompile(`^[a-z][a-z0-9_]{0,63}$`)

// CheckRule reports what is wrong with an operator rule, one *RuleError per
// problem; nil means NewRedactor accepts it (if its name is also unique). A
// rule may not take the name of a built-in rule.
func CheckRule(r RedactRule) []*RuleError {
	var errs []*RuleError
	add := func(field, format string, args ...any) {
		errs = append(errs, &RuleError{Rule: r.Name, Field: field, Msg: fmt.Sprintf(format, args...)})
	}
	switch {
	case !ruleNameRE.MatchString(r.Name):
		add("name", "want lower-case letters, digits and _, starting with a letter (at most 64), got %q", r.Name)
	case IsBuiltinRule(r.Name):
		add("name", "%q is the name of a built-in rule; choose another", r.Name)
	}
	if len(r.Keywords) == 0 {
		add("keywords", "give at least one literal substring that every match contains")
	}
	for i, k := range r.Keywords {
		if strings.TrimSpace(k) == "" {
			add("keywords", "keyword %d is empty", i)
		}
	}
	re, err := regexp.Compile(r.Pattern)
	switch {
	case r.Pattern == "":
		add("pattern", "must not be empty")
	case err != nil:
		add("pattern", "does not compile: %v", err)
	case re.MatchString(""):
		add("pattern", "matches the empty string, so it would match everywhere")
	case r.SecretGroup < 0 || r.SecretGroup > re.NumSubexp():
		add("secret_group", "want 0 (the whole match) to %d (the pattern's groups), got %d", re.NumSubexp(), r.SecretGroup)
	}
	return errs
}

// rule is a compiled RedactRule.
type rule struct {
	name        string
	placeholder string
	re          *regexp.Regexp
	groups      []int // secret capture groups; 0 is the whole match
	// anchored rules (the built-in ones) match only where one of their
	// keywords starts, back bytes earlier, and re is anchored there: the
	// regular expression never scans text, it only confirms a candidate.
	// Operator rules are searched for in the whole line.
	anchored bool
	back     int
	boundary bool // the match must not follow a word character
	pre      func(text string, start, kwEnd int) bool
	// accept, for built-in rules, vets a match the pattern cannot (entropy,
	// key names that denote metadata such as token_type).
	accept func(m *match) bool
}

// Redactor removes secrets from log text. It is safe for concurrent use.
type Redactor struct {
	rules    []*rule
	matcher  *ahocorasick.Matcher
	keywords [][]byte // lower-cased, by index in the automaton
	kwRules  [][]int  // keyword index → rules that keyword selects
	sentinel int      // keyword index of the placeholder prefix
	pemRule  int      // index of private_key
}

// NewRedactor compiles the built-in rules plus the operator rules in extra.
// It returns every problem with extra at once, each a *RuleError.
func NewRedactor(extra []RedactRule) (*Redactor, error) {
	var errs []error
	seen := map[string]bool{}
	for _, r := range extra {
		for _, e := range CheckRule(r) {
			errs = append(errs, e)
		}
		if seen[r.Name] {
			errs = append(errs, &RuleError{Rule: r.Name, Field: "name", Msg: "given twice; rule names must be unique"})
		}
		seen[r.Name] = true
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	defs := make([]ruleDef, 0, len(builtinRules)+len(extra))
	defs = append(defs, builtinRules...)
	for _, r := range extra {
		defs = append(defs, ruleDef{RedactRule: r, search: true})
	}
	return compile(defs)
}

func compile(defs []ruleDef) (*Redactor, error) {
	rd := &Redactor{pemRule: -1}
	kwIndex := map[string]int{}
	var dict []string
	keyword := func(k string) int {
		if i, ok := kwIndex[k]; ok {
			return i
		}
		kwIndex[k] = len(dict)
		dict = append(dict, k)
		rd.kwRules = append(rd.kwRules, nil)
		return len(dict) - 1
	}
	for i, d := range defs {
		pattern := d.Pattern
		if !d.search {
			pattern = `^(?:` + pattern + `)`
		}
		re, err := regexp.Compile(pattern)
		if err != nil {
			return nil, &RuleError{Rule: d.Name, Field: "pattern", Msg: err.Error()}
		}
		r := &rule{
			name: d.Name, placeholder: placeholderPrefix + d.Name + "]", re: re,
			anchored: !d.search, back: d.back, boundary: d.boundary, pre: d.pre, accept: d.accept,
		}
		for g, name := range re.SubexpNames() {
			if name == "secret" {
				r.groups = append(r.groups, g)
			}
		}
		if len(r.groups) == 0 {
			r.groups = []int{d.SecretGroup}
		}
		for _, k := range d.Keywords {
			ki := keyword(asciiLower(k))
			if !slices.Contains(rd.kwRules[ki], i) {
				rd.kwRules[ki] = append(rd.kwRules[ki], i)
			}
		}
		if d.Name == pemRuleName {
			rd.pemRule = i
		}
		rd.rules = append(rd.rules, r)
	}
	rd.sentinel = keyword(asciiLower(placeholderPrefix))
	rd.matcher = ahocorasick.NewStringMatcher(dict)
	for _, k := range dict {
		rd.keywords = append(rd.keywords, []byte(k))
	}
	return rd, nil
}

var (
	// builtinRedactor is compiled when the package loads (about 3 MB, most
	// of it the automaton): every medic process redacts, and a first log
	// line should not pay for it.
	builtinRedactor = mustCompile(builtinRules)
	defaultRedactor atomic.Pointer[Redactor]
)

func mustCompile(defs []ruleDef) *Redactor {
	r, err := compile(defs)
	if err != nil {
		panic("logscan: built-in redaction rules do not compile: " + err.Error())
	}
	return r
}

// Default returns the Redactor that Redact and RedactLines use: the one
// given to SetDefault, else one with the built-in rules only.
func Default() *Redactor {
	if r := defaultRedactor.Load(); r != nil {
		return r
	}
	return builtinRedactor
}

// SetDefault makes r the Redactor behind Redact and RedactLines, typically
// one built at start-up with the operator rules:
//
//	r, err := logscan.NewRedactor(cfg.Logscan.Redact.RedactRules())
//	if err != nil { ... }
//	logscan.SetDefault(r)
//
// SetDefault(nil) goes back to the built-in rules.
func SetDefault(r *Redactor) { defaultRedactor.Store(r) }

// Redact replaces every secret the default Redactor recognises with a
// placeholder such as [REDACTED:aws_access_key]. s may hold many lines.
func Redact(s string) string { return Default().Redact(s) }

// RedactLines redacts each line of a slice in place with the default
// Redactor and returns it.
func RedactLines(lines []string) []string { return Default().RedactLines(lines) }

// Redact returns s with every secret replaced by its placeholder. s may hold
// many lines ("\n"-separated): private-key blocks and secrets wrapped across
// lines are handled as in RedactLines. A string without secrets comes back
// as it is, without copying.
func (r *Redactor) Redact(s string) string {
	if s == "" {
		return s
	}
	if !strings.Contains(s, "\n") {
		return r.redactLine(s, nil)
	}
	lines := strings.Split(s, "\n")
	changed := false
	r.redactAll(lines, func(i int, out string) {
		lines[i] = out
		changed = true
	})
	if !changed {
		return s
	}
	return strings.Join(lines, "\n")
}

// RedactLines redacts each line of lines in place and returns it. Lines are
// redacted as a sequence: a private-key block spanning lines is removed
// whole, and a secret wrapped onto the next line is removed from both (see
// redactAll).
func (r *Redactor) RedactLines(lines []string) []string {
	r.redactAll(lines, func(i int, out string) { lines[i] = out })
	return lines
}
