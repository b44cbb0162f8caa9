package airflowsim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// kv is one extra key of a 3.x structured log entry.
type kv struct {
	k string
	v any
}

// logLine is one line of a try's log as the server keeps it: either an
// Airflow 2 record ("[ts] {src} LEVEL - msg") or a raw line (traceback,
// continuation of a multi-line message).
type logLine struct {
	ts    time.Time
	src   string
	level string
	msg   string
	raw   bool
	orig  string // the line as scripted, when it carried its own timestamp
	extra []kv   // rendered by 3.x only
}

type logContext struct {
	version    int
	dag        *dagState
	task       *Task
	run        *runState
	rec        *tryRecord
	finalState string
}

func (lc logContext) expand(body string) string {
	if !strings.Contains(body, "{{") {
		return body
	}
	return strings.NewReplacer(
		"{{pid}}", strconv.Itoa(lc.rec.pid),
		"{{job_id}}", strconv.Itoa(lc.rec.jobID),
		"{{hostname}}", lc.rec.hostname,
		"{{dag_id}}", lc.dag.ID,
		"{{task_id}}", lc.task.ID,
		"{{run_id}}", lc.run.runID,
		"{{try_number}}", strconv.Itoa(lc.rec.try),
	).Replace(body)
}

// buildTryLog renders one try's log: Airflow's preamble, the scripted body,
// and the ending Airflow adds (unless the body already ends the process
// itself), stamped across the try's duration. It also returns the exception
// text a failure callback would see.
func buildTryLog(lc logContext, o Outcome) (*tryLog, string) {
	body := o.Log
	if body == "" {
		body = genericBody(lc.task.Operator, o.State)
	}
	bodyLines := parseBody(lc.expand(body))
	exc := o.Exception
	if exc == "" && lc.rec.state == tiFailed {
		exc = exceptionFrom(bodyLines, lc.rec.exitCode)
	}
	lines := preamble(lc)
	lines = append(lines, bodyLines...)
	ownsEnding := false
	for _, l := range bodyLines {
		if strings.Contains(l.msg, "Task exited with return code") {
			ownsEnding = true
			break
		}
	}
	if !ownsEnding {
		lines = append(lines, epilogue(lc, exc)...)
	}
	stamp(lines, lc.rec.start, lc.rec.end)
	path := fmt.Sprintf("/opt/airflow/logs/dag_id=%s/run_id=%s/task_id=%s/attempt=%d.log", lc.dag.ID, lc.run.runID, lc.task.ID, lc.rec.try)
	return &tryLog{path: path, lines: lines}, exc
}

// parseBody splits a scripted body into lines.
func parseBody(body string) []logLine {
	body = strings.TrimSuffix(body, "\n")
	if body == "" {
		return nil
	}
	parts := strings.Split(body, "\n")
	out := make([]logLine, 0, len(parts))
	for _, p := range parts {
		out = append(out, parseLine(strings.TrimSuffix(p, "\r")))
	}
	return out
}

func parseLine(s string) logLine {
	if strings.HasPrefix(s, "[") {
		if i := strings.Index(s, "] {"); i > 0 {
			if l, ok := parsePrefixed(s[i+2:]); ok {
				l.orig = s
				l.ts = parseTS(s[1:i])
				return l
			}
		}
	}
	if l, ok := parsePrefixed(s); ok {
		return l
	}
	return logLine{raw: true, msg: s}
}

// parsePrefixed parses "{file.py:N} LEVEL - message".
func parsePrefixed(s string) (logLine, bool) {
	if !strings.HasPrefix(s, "{") {
		return logLine{}, false
	}
	end := strings.Index(s, "} ")
	if end < 2 {
		return logLine{}, false
	}
	rest := s[end+2:]
	level, msg, ok := strings.Cut(rest, " - ")
	if !ok {
		return logLine{}, false
	}
	switch level {
	case "DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL":
	default:
		return logLine{}, false
	}
	return logLine{src: s[1:end], level: level, msg: msg}, true
}

func parseTS(s string) time.Time {
	for _, layout := range []string{"2006-01-02, 15:04:05 MST", "2006-01-02 15:04:05,000", "2006-01-02T15:04:05.000-0700", time.RFC3339Nano} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC()
		}
	}
	return time.Time{}
}

// stamp gives every line without a time one spread evenly over [start, end];
// raw lines share the time of the record they continue.
func stamp(lines []logLine, start, end time.Time) {
	n := len(lines)
	span := int64(end.Sub(start))
	prev := start
	for i := range lines {
		if lines[i].ts.IsZero() {
			if lines[i].raw {
				lines[i].ts = prev
			} else if n > 1 {
				lines[i].ts = start.Add(time.Duration(span / int64(n-1) * int64(i)))
			} else {
				lines[i].ts = start
			}
		}
		prev = lines[i].ts
	}
}

func renderV1Line(b *strings.Builder, l logLine) {
	switch {
	case l.raw:
		b.WriteString(l.msg)
	case l.orig != "":
		b.WriteString(l.orig)
	default:
		b.WriteString("[")
		b.WriteString(l.ts.UTC().Format("2006-01-02, 15:04:05 MST"))
		b.WriteString("] {")
		b.WriteString(l.src)
		b.WriteString("} ")
		b.WriteString(l.level)
		b.WriteString(" - ")
		b.WriteString(l.msg)
	}
	b.WriteByte('\n')
}

// renderV1Text is the log file as Airflow 2 writes it, as valid UTF-8
// (invalid bytes become U+FFFD, as Python's errors="replace" would).
func renderV1Text(lines []logLine) string {
	var b strings.Builder
	for _, l := range lines {
		renderV1Line(&b, l)
	}
	return strings.ToValidUTF8(b.String(), "\uFFFD")
}

// logEntry is one 3.x StructuredLogMessage.
type logEntry struct {
	ts          *time.Time
	level       string
	event       string
	logger      string
	extra       []kv
	errorDetail []excInfo
	sources     []string
	size        int // rough encoded size, for paging
}

// MarshalJSON writes the keys in structlog's order: timestamp, level, event,
// logger, then the rest.
func (e logEntry) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	first := true
	put := func(k string, v any) {
		if !first {
			b.WriteByte(',')
		}
		first = false
		kb, _ := json.Marshal(k)
		b.Write(kb)
		b.WriteByte(':')
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		_ = enc.Encode(v)
		b.Truncate(b.Len() - 1) // Encode's newline
	}
	if e.ts != nil {
		put("timestamp", v2Time(*e.ts))
	}
	if e.level != "" {
		put("level", e.level)
	}
	put("event", e.event)
	if e.logger != "" {
		put("logger", e.logger)
	}
	for _, x := range e.extra {
		put(x.k, x.v)
	}
	if e.errorDetail != nil {
		put("error_detail", e.errorDetail)
	}
	if e.sources != nil {
		put("sources", e.sources)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// v2Entries converts a try's lines into 3.x entries (without the source
// header). A record becomes one entry; a raw line continues the record
// before it (a multi-line message), except that a traceback block becomes
// that record's error_detail.
func v2Entries(lines []logLine) []logEntry {
	out := make([]logEntry, 0, len(lines))
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		if !l.raw {
			ts := l.ts
			out = append(out, logEntry{
				ts: &ts, level: strings.ToLower(l.level), event: strings.ToValidUTF8(l.msg, "\uFFFD"),
				logger: loggerFor(l.src), extra: l.extra,
			})
			continue
		}
		if l.msg == "Traceback (most recent call last):" && len(out) > 0 {
			var block []string
			j := i
			for ; j < len(lines) && lines[j].raw; j++ {
				block = append(block, strings.ToValidUTF8(lines[j].msg, "\uFFFD"))
			}
			last := &out[len(out)-1]
			last.errorDetail = append(last.errorDetail, parseTraceback(block)...)
			i = j - 1
			continue
		}
		if len(out) > 0 {
			out[len(out)-1].event += "\n" + strings.ToValidUTF8(l.msg, "\uFFFD")
			continue
		}
		ts := l.ts
		out = append(out, logEntry{ts: &ts, event: strings.ToValidUTF8(l.msg, "\uFFFD")})
	}
	for i := range out {
		out[i].size = 80 + len(out[i].event) + 200*len(out[i].errorDetail)
	}
	return out
}

// loggerFor names the 3.x logger for a record's source file.
func loggerFor(src string) string {
	file, _, _ := strings.Cut(src, ":")
	switch file {
	case "supervisor.py":
		return "supervisor"
	case "dagbag.py":
		return "airflow.models.dagbag.DagBag"
	case "manager.py":
		return "airflow.dag_processing.bundles.manager.DagBundlesManager"
	case "base.py":
		return "airflow.hooks.base"
	case "sql.py":
		return "airflow.providers.common.sql.hooks.sql"
	case "subprocess.py":
		return "airflow.providers.standard.hooks.subprocess.SubprocessHook"
	case "s3.py":
		return "airflow.providers.amazon.aws.sensors.s3.S3KeySensor"
	case "http.py":
		return "airflow.providers.http.hooks.http.HttpHook"
	case "bigquery.py":
		return "airflow.providers.google.cloud.hooks.bigquery.BigQueryHook"
	case "cursor.py", "connection.py":
		return "snowflake.connector." + strings.TrimSuffix(file, ".py")
	case "python.py":
		return "airflow.providers.standard.operators.python"
	}
	return "task"
}

// v1Content is 2.x's log "content": Python's str() of a list holding one
// (hostname, text) tuple.
func v1Content(host, text string) string {
	return "[(" + pyRepr(host) + ", " + pyRepr(text) + ")]"
}

// pyRepr renders s like Python's repr() of a str.
func pyRepr(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	quote := byte('\'')
	if strings.ContainsRune(s, '\'') && !strings.ContainsRune(s, '"') {
		quote = '"'
	}
	var b strings.Builder
	b.Grow(len(s) + len(s)/16 + 2)
	b.WriteByte(quote)
	for _, r := range s {
		switch {
		case r == '\\':
			b.WriteString(`\\`)
		case r == rune(quote):
			b.WriteByte('\\')
			b.WriteByte(quote)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, r)
		case r < utf8.RuneSelf || unicode.IsPrint(r):
			b.WriteRune(r)
		case r <= 0xff:
			fmt.Fprintf(&b, `\x%02x`, r)
		case r <= 0xffff:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			fmt.Fprintf(&b, `\U%08x`, r)
		}
	}
	b.WriteByte(quote)
	return b.String()
}

// pyISO formats t like Python's datetime.isoformat() for an aware UTC time.
func pyISO(t time.Time) string {
	t = t.UTC()
	if t.Nanosecond()/1000 == 0 {
		return t.Format("2006-01-02T15:04:05-07:00")
	}
	return t.Format("2006-01-02T15:04:05.000000-07:00")
}

// pyStr formats t like Python's str() of an aware UTC datetime.
func pyStr(t time.Time) string {
	t = t.UTC()
	if t.Nanosecond()/1000 == 0 {
		return t.Format("2006-01-02 15:04:05-07:00")
	}
	return t.Format("2006-01-02 15:04:05.000000-07:00")
}

// v2Time formats t the way pydantic serializes an aware UTC datetime.
func v2Time(t time.Time) string {
	t = t.UTC()
	if t.Nanosecond()/1000 == 0 {
		return t.Format("2006-01-02T15:04:05Z")
	}
	return t.Format("2006-01-02T15:04:05.000000Z")
}
