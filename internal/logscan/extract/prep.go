package extract

import (
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/medic-sh/medic/internal/logscan"
)

// pline is one input line prepared for matching.
type pline struct {
	raw string // the line, capped at MaxLineBytes
	// text is the message after every recognised log prefix (Airflow's,
	// nested ones, Celery, Python logging, log4j, docker compose, dbt's time
	// of day), unwrapped from a b'…\n' bytes repr, right-trimmed. Leading
	// indentation is kept: it is how tracebacks and dbt nest.
	text  string
	level string // the innermost prefix's level, upper case
	// record: a log prefix with a timestamp or level starts this line, so it
	// is a new log record rather than the continuation of one.
	record bool
	// clock: dbt's time of day starts the line (dbt prints it on each event
	// line, not on the lines that continue an error message).
	clock bool
}

func prepare(raw string) pline {
	raw = capText(raw, MaxLineBytes)
	if needsSanitizing(raw) {
		// Lines straight from a paste or a file, not through logscan.Tail.
		raw = strings.ReplaceAll(logscan.Sanitize([]byte(raw)), "\n", " ")
	}
	p := pline{raw: raw, text: raw}
	for range 3 {
		l := logscan.ParseLine(p.text)
		if l.Time == nil && l.Source == "" && l.Level == "" {
			break
		}
		p.record = p.record || l.Time != nil || l.Level != ""
		if l.Level != "" {
			p.level = l.Level
		}
		p.text = l.Message
	}
	for range 3 {
		p.clock = p.clock || dbtTime.MatchString(p.text)
		rest, level, ok := stripGenericPrefix(p.text)
		if !ok {
			break
		}
		p.record = true
		if level != "" {
			p.level = level
		}
		p.text = rest
	}
	p.text = strings.TrimRight(unwrapBytesRepr(p.text), " \t\r")
	return p
}

var (
	// "celery-slow_1  | ", "2022-01-06 10:50:19 | stdout | ", "Scheduler 1 | "
	pipePrefix = regexp.MustCompile(`^[A-Za-z0-9][\w.:\-]*(?: [\w.:\-]+)?\s*\| `)
	// 2024-03-06T11:35:53.018866217Z, 2021-06-28 17:29:15,903, 20/01/10 00:51:07
	tsPrefix = regexp.MustCompile(`^(?:\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:[.,]\d+)?(?:Z|[+-]\d\d:?\d\d)?|\d\d/\d\d/\d\d \d\d:\d\d:\d\d)(?:\.\d+)?(?: -- | \| |\s+|$)`)
	// dbt's time of day: "21:25:03  ", "11:35:43 | "
	dbtTime = regexp.MustCompile(`^\d\d:\d\d:\d\d(?:\.\d+)?(?: \| |  ?|$)`)
	// after a timestamp: "- name - ERROR - ", "ERROR name: ", "[ERROR] ", "ERROR: ", "ERROR "
	pyLogging   = regexp.MustCompile(`^-\s+[\w.\-]+\s+-\s+([A-Z]+)\s+-\s`)
	levelWord   = regexp.MustCompile(`^\[?(DEBUG|INFO|WARN|WARNING|ERROR|FATAL|CRITICAL|TRACE)\]?(?:\[[^\]]{1,80}\])?(?::\s*|\s+-\s+|\s+|$)`)
	log4jLogger = regexp.MustCompile(`^(?:\([^)]{0,100}\)\s+)?\.?[A-Za-z_$][\w$]*(?:\.[\w$]+)*(?:\([\w$.]*\))?(?::\d+)?(?:\s+\[[^\]]*\])*(?::\s+|\s+-\s+)`)
	// A log4j line without a timestamp: "ERROR TaskSchedulerImpl: Lost executor".
	bareLog4j = regexp.MustCompile(`^(ERROR|WARN|FATAL|INFO)\s+\.?[A-Z][\w$]*(?:\.[\w$]+)*:\s`)
)

// stripGenericPrefix removes one non-Airflow log prefix.
func stripGenericPrefix(s string) (rest, level string, ok bool) {
	if m := pipePrefix.FindString(s); m != "" {
		return s[len(m):], "", true
	}
	if m := tsPrefix.FindString(s); m != "" {
		rest = s[len(m):]
		if m := pyLogging.FindStringSubmatch(rest); m != nil {
			return rest[len(m[0]):], m[1], true
		}
		if m := levelWord.FindStringSubmatchIndex(rest); m != nil {
			level, rest = rest[m[2]:m[3]], rest[m[1]:]
			if lg := log4jLogger.FindString(rest); lg != "" && !looksLikeExceptionName(lg) {
				rest = rest[len(lg):]
			}
		}
		return rest, level, true
	}
	if m := dbtTime.FindString(s); m != "" {
		return s[len(m):], "", true
	}
	if m := bareLog4j.FindStringSubmatch(s); m != nil {
		rest = s[len(m[1]):]
		rest = strings.TrimLeft(rest, " ")
		if lg := log4jLogger.FindString(rest); lg != "" && !looksLikeExceptionName(lg) {
			rest = rest[len(lg):]
		}
		return rest, m[1], true
	}
	if strings.HasPrefix(s, "[ERROR] ") || strings.HasPrefix(s, "[FATAL] ") {
		return s[8:], s[1:6], true
	}
	return "", "", false
}

// looksLikeExceptionName reports whether a would-be logger name ending in
// ": " is really an exception type ("psycopg2.OperationalError: ").
func looksLikeExceptionName(s string) bool {
	s = strings.TrimRight(s, " :-")
	for _, suf := range []string{"Error", "Exception", "Exit", "Warning", "Timeout", "Failure", "Fault", "Throwable"} {
		if strings.HasSuffix(s, suf) {
			return true
		}
	}
	return false
}

// unwrapBytesRepr turns a Python bytes repr printed by a log line
// (b'Traceback (most recent call last):\n') back into the text.
func unwrapBytesRepr(s string) string {
	if len(s) < 3 || s[0] != 'b' || (s[1] != '\'' && s[1] != '"') || s[len(s)-1] != s[1] {
		return s
	}
	inner := s[2 : len(s)-1]
	if !strings.Contains(inner, `\`) {
		return inner
	}
	var b strings.Builder
	for i := 0; i < len(inner); i++ {
		c := inner[i]
		if c != '\\' || i+1 >= len(inner) {
			b.WriteByte(c)
			continue
		}
		i++
		switch inner[i] {
		case 'n':
			b.WriteByte('\n')
		case 't':
			b.WriteByte('\t')
		case 'r':
		case '\\', '\'', '"':
			b.WriteByte(inner[i])
		case 'x':
			if i+2 < len(inner) {
				if v, err := strconv.ParseUint(inner[i+1:i+3], 16, 8); err == nil {
					b.WriteByte(byte(v))
					i += 2
					continue
				}
			}
			b.WriteString(`\x`)
		default:
			b.WriteByte('\\')
			b.WriteByte(inner[i])
		}
	}
	out := strings.TrimRight(b.String(), "\n")
	return strings.ToValidUTF8(strings.ReplaceAll(out, "\n", " "), "\uFFFD")
}

// needsSanitizing reports control bytes, invalid UTF-8 or an ANSI remnant
// ("[31m") that logscan.Sanitize would clean.
func needsSanitizing(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 && c != '\t' || c == 0x7f || c == '[' && i+2 < len(s) && s[i+1] >= '0' && s[i+1] <= '9' {
			return true
		}
	}
	return !utf8.ValidString(s)
}

// capText cuts s to at most n bytes on a character boundary.
func capText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// indent counts leading spaces and tabs (a tab as 4).
func indent(s string) int {
	n := 0
	for _, c := range []byte(s) {
		switch c {
		case ' ':
			n++
		case '\t':
			n += 4
		default:
			return n
		}
	}
	return n
}

// containsAny reports whether s contains one of subs: a cheap filter before
// a regular expression.
func containsAny(s string, subs ...string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

func isBlank(s string) bool { return strings.TrimSpace(s) == "" }

// isFailureAnnouncement reports Airflow's lines that introduce the
// traceback of the failure.
func isFailureAnnouncement(t string) bool {
	return strings.Contains(t, "Task failed with exception") ||
		strings.HasPrefix(strings.TrimSpace(t), "Failed to execute task") ||
		strings.Contains(t, "raised unexpected:") || strings.Contains(t, "raised exception:")
}
