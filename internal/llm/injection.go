package llm

import (
	"regexp"
	"strings"
)

// injectionRule is one sign that text is trying to instruct the model
// rather than inform it. The rules are heuristics: they flag for people to
// look, and they never need to be complete, because nothing the model says
// can act.
type injectionRule struct {
	name string
	re   *regexp.Regexp
}

var injectionRules = []injectionRule{
	{"override_instructions", regexp.MustCompile(`(?i)\b(ignore|disregard|forget|override|bypass)\b[^.\n]{0,40}\b(instructions?|prompts?|rules|guidelines|directions|guardrails)\b`)},
	{"role_change", regexp.MustCompile(`(?i)\byou are now\b|\bfrom now on,? you\b|\bpretend (to be|you are)\b|\bnew (system )?instructions?\b|\bsystem prompt\b`)},
	{"chat_markup", regexp.MustCompile(`(?i)<\|im_(start|end)\|>|\[/?INST\]|<<\s*/?SYS\s*>>|<\s*/?\s*(system|assistant|tool_call|function_call)\s*>`)},
	{"delimiter_spoof", delimiterRE},
	{"write_tool", regexp.MustCompile(`(?i)\b(trigger_dag\w*|clear_task\w*|clear_dag\w*|mark_(success|failed|skipped)\w*|set_(task_)?state\w*|delete_(dag|task|run)\w*|(un)?pause_dag\w*|patch_(dag|task)\w*)\b`)},
	{"write_request", regexp.MustCompile(`(?i)\b(trigger|re-?run|clear|delete|pause|unpause|kill)\s+(the\s+|this\s+|that\s+|a\s+|all\s+|every\s+)?(dag|task|run|job)s?\b|\bmark\s+(the\s+|this\s+)?(task|run)\s+as\s+(success|failed)`)},
	{"tool_request", regexp.MustCompile(`(?i)\b(call|invoke|execute|use)\s+(the\s+)?(\w+\s+)?(tool|function)\b`)},
}

// maxDetail bounds how much matched text a flag quotes.
const maxDetail = 120

// detectInjection returns one "rule: quote" finding per rule that matches
// text, plus one per name in names (tools the model must not call) that
// text mentions. text is already redacted.
func detectInjection(text string, names []string) []string {
	var out []string
	var spans [][2]int
	for _, r := range injectionRules {
		if loc := r.re.FindStringIndex(text); loc != nil {
			out = append(out, r.name+": "+quote(text, loc[0], loc[1]))
			spans = append(spans, [2]int{loc[0], loc[1]})
		}
	}
	lower := strings.ToLower(text)
	for _, n := range names {
		i := indexWord(lower, strings.ToLower(n))
		if i < 0 || covered(spans, i, i+len(n)) {
			continue
		}
		out = append(out, "names_disallowed_tool: "+quote(text, i, i+len(n)))
	}
	return out
}

// covered reports whether [i, j) lies inside one of spans, so that a tool
// name a rule already quoted is not reported twice.
func covered(spans [][2]int, i, j int) bool {
	for _, s := range spans {
		if s[0] <= i && j <= s[1] {
			return true
		}
	}
	return false
}

// indexWord finds w in s where it is not part of a longer identifier.
func indexWord(s, w string) int {
	if w == "" {
		return -1
	}
	for off := 0; off < len(s); {
		i := strings.Index(s[off:], w)
		if i < 0 {
			return -1
		}
		i += off
		end := i + len(w)
		if (i == 0 || !isIdentByte(s[i-1])) && (end == len(s) || !isIdentByte(s[end])) {
			return i
		}
		off = i + 1
	}
	return -1
}

func isIdentByte(b byte) bool {
	return b == '_' || b >= '0' && b <= '9' || b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z'
}

// quote returns the match at [i, j) with a little context, on one line.
func quote(s string, i, j int) string {
	const ctx = 30
	a, b := max(0, i-ctx), min(len(s), j+ctx)
	for a > 0 && !isRuneStart(s[a]) {
		a--
	}
	for b < len(s) && !isRuneStart(s[b]) {
		b++
	}
	q := strings.Join(strings.Fields(s[a:b]), " ")
	return strings.TrimSpace(truncateUTF8(q, maxDetail))
}

// writeToolRE recognises tool names that would change something, for
// saying so when the model asks for one.
var writeToolRE = regexp.MustCompile(`(?i)^(trigger|clear|delete|pause|unpause|mark|set|patch|update|create|kill|run|retry|execute|write|drop)(_|$)`)

// looksLikeWrite reports whether a tool name reads as one that acts.
func looksLikeWrite(name string) bool { return writeToolRE.MatchString(name) }
