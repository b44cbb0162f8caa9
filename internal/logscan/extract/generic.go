package extract

import (
	"regexp"
	"strings"
)

// strongPhrases name a failure on their own, whatever the line's level.
var strongPhrases = []string{
	"no space left on device", "out of memory", "outofmemoryerror", "cannot allocate memory", "memoryerror",
	"permission denied", "access denied", "accessdenied", "forbidden", "unauthorized", "invalid credentials",
	"expiredtoken", "token has expired", "token is expired", "security token included in the request is",
	"too many requests", "rate limit", "ratelimit", "slowdown", "throttl", "quota exceeded",
	"connection refused", "connection reset", "broken pipe", "name or service not known",
	"temporary failure in name resolution", "could not resolve host", "nodename nor servname",
	"timed out", "timeout expired", "deadline exceeded", "nosuchkey", "nosuchbucket",
	"no such file or directory", "does not exist", "not found", "segmentation fault", "core dumped",
	"workflow failed", "validation failed", "exceeds the limit", "exceeded",
}

var errorPrefixRe = regexp.MustCompile(`^(?:Error|ERROR|FATAL|Fatal error|Exception|error|fatal)(?:[:!]|\s+-)\s*\S`)

// genericLines reports error lines nothing more specific claimed:
// ERROR/FATAL records, "Error: …" lines, bare exception lines and
// well-known failure phrases. Neighbouring lines form one block whose
// message is its most telling line.
func (s *scan) genericLines() {
	var cur *cand
	bestScore := 0.0
	flush := func() {
		if cur == nil {
			return
		}
		// A message ending in ':' goes on on the next line.
		if strings.HasSuffix(cur.Message, ":") && cur.End < s.n() && !isBlank(s.text(cur.End)) {
			cur.Message += "\n" + strings.TrimSpace(s.text(cur.End))
		}
		if cur.ExceptionType != "" {
			s.classify(cur) // a vendor's exception gets its kind
		}
		s.add(cur)
		cur = nil
	}
	for i := 0; i < s.n(); i++ {
		if !s.free(i) {
			flush()
			continue
		}
		score, typ, msg := s.genericScore(i)
		if score == 0 {
			if cur != nil && i-cur.End >= 1 {
				flush()
			}
			continue
		}
		if cur != nil && (i-cur.End > 1 || i-cur.Start >= 20) {
			flush()
		}
		if cur == nil {
			cur = &cand{Block: Block{Kind: KindGeneric, Start: i}}
			bestScore = 0
		}
		cur.End = i + 1
		if score > bestScore {
			bestScore = score
			cur.Confidence, cur.ExceptionType, cur.Message = score, typ, msg
		}
	}
	flush()
}

var (
	// "… raised: SQLException:sql:value …", "!SQLException:importTable:…"
	embeddedExcRe = regexp.MustCompile(`\b[A-Z]\w*(?:Exception|Error)[:!]`)
	failedWordRe  = regexp.MustCompile(`\b(?:FAILED|FAILURE)\b|[A-Z]_ERROR\b`)
)

// genericScore rates line i as an error line; 0 when it is not one.
func (s *scan) genericScore(i int) (score float64, typ, msg string) {
	l := s.lines[i]
	t := strings.TrimSpace(l.text)
	if t == "" || strings.Trim(t, "-=*#_.:>| ") == "" || t == "None" || isFailureAnnouncement(t) ||
		strings.HasPrefix(t, "Marking task as") {
		return 0, "", ""
	}
	lower := strings.ToLower(t)
	strong := false
	for _, p := range strongPhrases {
		if strings.Contains(lower, p) {
			strong = true
			break
		}
	}
	excTyp, excMsg, isExc := genericException(t)
	bump := 0.0
	if strong {
		bump = 0.05
	}
	quiet := quietLevel(l.level)
	switch level := l.level; {
	case isExc:
		score, typ, msg = 0.5+bump, excTyp, excMsg
		if quiet {
			score -= 0.15
		}
	case level == "ERROR" || level == "CRITICAL" || level == "FATAL":
		score, msg = 0.4+bump, t
	case errorPrefixRe.MatchString(t) && len(t) >= 12:
		score, msg = 0.4+bump, t
	case t == "ERROR:" || t == "Error:" || t == "ERROR" || t == "FAILED!":
		if k := s.nextNonBlank(i+1, 1); k >= 0 && s.free(k) {
			score, msg = 0.4, strings.TrimSpace(s.text(k))
		}
	case !quiet && containsAny(t, "Exception", "Error") && embeddedExcRe.MatchString(t):
		score, msg = 0.35, t
	case strings.HasPrefix(t, `"success": false`):
		score, msg = 0.35, t // a data-quality result (Great Expectations)
	case strong && (level == "WARNING" || level == "WARN"):
		score, msg = 0.2, t
	case strong && level == "":
		score, msg = 0.3, t
	case !quiet && containsAny(t, "FAILED", "FAILURE", "_ERROR") && failedWordRe.MatchString(t):
		score, msg = 0.3, t
	}
	return score, typ, msg
}

// quietLevel reports levels that do not by themselves mean an error.
func quietLevel(level string) bool {
	return level == "INFO" || level == "DEBUG" || level == "WARNING" || level == "WARN"
}

// genericException reads an exception named by a line on its own: Python's
// "pkg.Type: message", a Java class (the innermost of those nested in the
// message).
func genericException(t string) (typ, msg string, ok bool) {
	if typ, msg, ok := parseExceptionLine(t); ok && strings.Contains(t, ":") && len(msg) >= 8 {
		last := lastSegment(typ)
		if strings.Contains(typ, ".") || javaExceptionName(last) || camelCase(last) {
			return typ, msg, true
		}
	}
	if !containsAny(t, "Exception", "Error", "Throwable", "Failure", "Fault") {
		return "", "", false
	}
	typ, msg = javaException(t)
	if typ == "" || len(msg) < 3 {
		return "", "", false
	}
	for range 8 {
		m := javaNestedRe.FindStringSubmatch(msg)
		if m == nil || !javaExceptionName(lastSegment(m[1])) {
			break
		}
		typ, msg = m[1], strings.TrimSpace(m[2])
	}
	return typ, msg, true
}

// camelCase reports a capitalised name with another capital inside
// (NoSuchKey, BadRequest): an exception-like type, unlike "Note".
func camelCase(s string) bool {
	if s == "" || s[0] < 'A' || s[0] > 'Z' {
		return false
	}
	for i := 1; i < len(s); i++ {
		if s[i] >= 'A' && s[i] <= 'Z' {
			return true
		}
	}
	return false
}
