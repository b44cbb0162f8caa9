package owners

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Limits on patterns and on the names matched against them. They keep the
// cost of one match at most maxPatternLen×maxSubjectLen steps, whatever a
// file or an event holds.
const (
	maxPatternLen = 512
	maxSubjectLen = 4096
)

// errPattern is the kind of every pattern problem.
var errPattern = ErrBadPattern

type tokenKind uint8

const (
	tokLiteral tokenKind = iota
	tokAny               // ?: one character other than a separator
	tokStar              // *: any run of characters without a separator
	tokStars             // **: any run of characters, separators included
)

type token struct {
	kind tokenKind
	lit  string
}

// Pattern is a compiled glob over DAG ids, task ids, table names and dataset
// URIs. "*" matches any run of characters except the separators "." and "/",
// "**" matches any run including them, "?" matches one character other than
// a separator, and "\" escapes the next "*", "?", "\", "[", "]", "{" or "}".
// Everything else is literal. "[", "]", "{" and "}" are reserved: a pattern
// using them unescaped is refused rather than silently taken literally.
type Pattern struct {
	raw    string
	tokens []token
	fold   bool // match case-insensitively (tables)
	// Specificity parts, computed once.
	exact   bool
	prefix  int // literal bytes before the first wildcard
	literal int // literal bytes in all
}

// CompilePattern parses a glob. An empty pattern, a dangling or unknown
// escape, three or more "*" in a row, a reserved character or a control
// character is an error matching ErrBadPattern.
func CompilePattern(s string) (*Pattern, error) {
	return compilePattern(s, false)
}

func compilePattern(s string, fold bool) (*Pattern, error) {
	if s == "" {
		return nil, fmt.Errorf("%w: empty pattern; use \"**\" to match everything", errPattern)
	}
	if len(s) > maxPatternLen {
		return nil, fmt.Errorf("%w: pattern is %d bytes, more than the limit of %d", errPattern, len(s), maxPatternLen)
	}
	if !utf8.ValidString(s) {
		return nil, fmt.Errorf("%w: pattern is not valid UTF-8", errPattern)
	}
	if fold {
		s = strings.ToLower(s)
	}
	p := &Pattern{raw: s, fold: fold, exact: true}
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			p.tokens = append(p.tokens, token{kind: tokLiteral, lit: lit.String()})
			lit.Reset()
		}
	}
	wild := func(k tokenKind) {
		flush()
		p.exact = false
		p.tokens = append(p.tokens, token{kind: k})
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\':
			if i+1 == len(s) {
				return nil, fmt.Errorf("%w: %q ends with a lone \\", errPattern, s)
			}
			next := s[i+1]
			if !strings.ContainsRune(`*?\[]{}`, rune(next)) {
				return nil, fmt.Errorf("%w: \\%c at byte %d is not an escape; only *, ?, \\, [, ], { and } may be escaped", errPattern, next, i)
			}
			lit.WriteByte(next)
			i++
		case c == '*':
			n := 1
			for i+n < len(s) && s[i+n] == '*' {
				n++
			}
			if n > 2 {
				return nil, fmt.Errorf("%w: %d \"*\" in a row at byte %d; use * (within a name part) or ** (across . and /)", errPattern, n, i)
			}
			if n == 2 {
				wild(tokStars)
			} else {
				wild(tokStar)
			}
			i += n - 1
		case c == '?':
			wild(tokAny)
		case strings.IndexByte("[]{}", c) >= 0:
			return nil, fmt.Errorf("%w: %q at byte %d: character classes and {a,b} alternatives are not supported; write one rule per alternative or escape it as \\%c", errPattern, c, i, c)
		case c < 0x20 || c == 0x7f:
			return nil, fmt.Errorf("%w: control character 0x%02x at byte %d", errPattern, c, i)
		default:
			lit.WriteByte(c)
		}
	}
	flush()
	for _, t := range p.tokens {
		if t.kind != tokLiteral {
			break
		}
		p.prefix += len(t.lit)
	}
	for _, t := range p.tokens {
		p.literal += len(t.lit)
	}
	return p, nil
}

// String returns the pattern as written (lowercased for table patterns).
func (p *Pattern) String() string { return p.raw }

// Exact reports whether the pattern has no wildcard.
func (p *Pattern) Exact() bool { return p.exact }

func isSep(r rune) bool { return r == '.' || r == '/' }

// Match reports whether s matches the whole pattern. Names longer than 4096
// bytes never match.
func (p *Pattern) Match(s string) bool {
	if len(s) > maxSubjectLen {
		return false
	}
	if p.fold {
		s = strings.ToLower(s)
	}
	if p.exact {
		return len(p.tokens) == 1 && s == p.tokens[0].lit
	}
	// next[j] reports whether tokens[i+1:] match s[j:]; cur is the same for
	// tokens[i:]. Filled from the last token back: O(len(tokens)×len(s)).
	n := len(s)
	next := make([]bool, n+1)
	cur := make([]bool, n+1)
	next[n] = true
	for i := len(p.tokens) - 1; i >= 0; i-- {
		t := p.tokens[i]
		for j := n; j >= 0; j-- {
			switch t.kind {
			case tokLiteral:
				cur[j] = strings.HasPrefix(s[j:], t.lit) && next[j+len(t.lit)]
			case tokAny:
				cur[j] = false
				if j < n {
					r, w := utf8.DecodeRuneInString(s[j:])
					cur[j] = !isSep(r) && next[j+w]
				}
			case tokStar:
				cur[j] = next[j]
				if !cur[j] && j < n {
					r, w := utf8.DecodeRuneInString(s[j:])
					cur[j] = !isSep(r) && cur[j+w]
				}
			case tokStars:
				cur[j] = next[j] || (j < n && cur[j+1])
			}
		}
		next, cur = cur, next
	}
	return next[0]
}
