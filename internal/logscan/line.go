package logscan

import (
	"bytes"
	"encoding/json"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Line is one log line split into Airflow's prefix fields and the message.
// Fields the line does not carry are zero; a line in no known format has
// only Message (the whole line) and Raw.
type Line struct {
	Time *time.Time `json:"time,omitempty"`
	// Source is where the line was logged: "taskinstance.py:1234" from an
	// Airflow 2 "{file:line}" prefix, or a logger name ("task",
	// "airflow.task.hooks…") from Airflow 3 and structured entries.
	Source string `json:"source,omitempty"`
	// Level is upper case as logged: DEBUG, INFO, WARNING, WARN, ERROR,
	// CRITICAL, FATAL.
	Level string `json:"level,omitempty"`
	// Message is the text after the prefix. Leading spaces that belong to
	// the message (a traceback's indentation) are kept.
	Message string `json:"message"`
	Raw     string `json:"-"`
}

// maxParseLine bounds the part of a line ParseLine looks at for a prefix or
// decodes as JSON; longer lines are returned whole as Message.
const maxParseLine = 64 << 10

// ParseLine splits a log line in one of the formats Airflow writes:
//
//   - Airflow 2: "[2024-05-01, 02:00:03 UTC] {taskinstance.py:1234} ERROR - msg",
//     pre-2.3 "[2021-05-08 19:48:35,392] {models.py:985} INFO - msg", ISO
//     "[2022-11-29T21:59:26.280+0530] {…} INFO - msg", each also without the
//     timestamp or without "{file:line}"; process names between the two
//     ("MainProcess MainThread") are skipped;
//   - Celery workers: "[2020-07-15 11:25:46,471: ERROR/ForkPoolWorker-1] msg";
//   - Airflow 3 entries as medic's client renders them
//     ("[2025-01-01T00:00:01Z] {task} ERROR - msg k=v") and as structlog's
//     console renderer prints them ("2025-01-01T00:00:01Z [error    ] msg [task] k=v");
//   - Airflow 3 structured JSON, one object per line, with "timestamp",
//     "level", "event" (or "message") and "logger": Message is the event
//     followed by the other keys as k=v (task-instance context keys
//     excluded), Source is "filename:lineno" when present, else the logger.
func ParseLine(s string) Line {
	l := Line{Raw: s, Message: s}
	if len(s) == 0 || len(s) > maxParseLine {
		return l
	}
	switch s[0] {
	case '{':
		if parseJSONLine(s, &l) {
			return l
		}
		parseBraced(s, &l)
	case '[':
		parseBracketed(s, &l)
	default:
		if s[0] >= '0' && s[0] <= '9' {
			parseConsole(s, &l)
		}
	}
	return l
}

// parseBracketed handles "[ts] {src} LEVEL - msg", "[ts] LEVEL - msg" and
// Celery's "[ts: LEVEL/Process] msg".
func parseBracketed(s string, l *Line) {
	end := strings.IndexByte(s, ']')
	if end < 2 || end > 48 || s[1] < '0' || s[1] > '9' {
		return
	}
	inner := s[1:end]
	if ts, lvl, ok := strings.Cut(inner, ": "); ok && strings.IndexByte(lvl, '/') > 0 {
		// Celery: "2020-07-15 11:25:46,471: ERROR/ForkPoolWorker-1"
		level, proc, _ := strings.Cut(lvl, "/")
		if t, ok := parseTime(ts); ok && isLevel(level) {
			l.Time, l.Level, l.Source = &t, level, proc
			l.Message = trimOneSpace(s[end+1:])
		}
		return
	}
	t, ok := parseTime(inner)
	if !ok {
		return
	}
	rest := trimOneSpace(s[end+1:])
	if src, lvl, msg, ok := splitSourceLevel(rest); ok {
		l.Time, l.Source, l.Level, l.Message = &t, src, lvl, msg
		return
	}
	l.Time, l.Message = &t, rest
}

// parseBraced handles "{src} LEVEL - msg" without a timestamp.
func parseBraced(s string, l *Line) {
	if src, lvl, msg, ok := splitSourceLevel(s); ok && src != "" {
		l.Source, l.Level, l.Message = src, lvl, msg
	}
}

// splitSourceLevel splits "{src} LEVEL - msg", "LEVEL - msg" and
// "Proc Thread {src} LEVEL - msg". A "{src}" without a level (group
// markers such as "▶ Pre task execution logs") gives the rest as msg.
func splitSourceLevel(s string) (src, level, msg string, ok bool) {
	rest := s
	if i := strings.Index(s, "{"); i >= 0 && i <= 48 && !strings.Contains(s[:i], " - ") {
		j := strings.IndexByte(s[i:], '}')
		if j < 0 || j > 200 {
			return "", "", "", false
		}
		if src = s[i+1 : i+j]; !isSourceName(src) {
			return "", "", "", false
		}
		rest = trimOneSpace(s[i+j+1:])
	} else if strings.HasPrefix(s, "***") {
		// A masked secret replaced the braces: "***debug_executor.py:87***".
		if j := strings.Index(s[3:], "***"); j > 0 && j < 200 && isSourceName(s[3:3+j]) {
			src, rest = s[3:3+j], trimOneSpace(s[6+j:])
		}
	}
	lvl, after, found := strings.Cut(rest, " - ")
	if !found && strings.HasSuffix(rest, " -") {
		lvl, after, found = strings.TrimSuffix(rest, " -"), "", true
	}
	if lvl = strings.TrimSpace(lvl); found && isLevel(lvl) {
		return src, lvl, after, true
	}
	if src != "" {
		return src, "", rest, true
	}
	return "", "", "", false
}

// parseConsole handles structlog's console renderer:
// "2025-01-01T00:00:01.5Z [error    ] msg [logger] k=v".
func parseConsole(s string, l *Line) {
	sp := strings.Index(s, " [")
	if sp < 8 || sp > 40 {
		return
	}
	t, ok := parseTime(s[:sp])
	if !ok {
		return
	}
	end := strings.IndexByte(s[sp+2:], ']')
	if end < 0 || end > 16 {
		return
	}
	level := strings.ToUpper(strings.TrimSpace(s[sp+2 : sp+2+end]))
	if !isLevel(level) {
		return
	}
	msg := trimOneSpace(s[sp+3+end:])
	// The logger is the last "[name]" before the k=v pairs.
	if i := strings.LastIndex(msg, " ["); i >= 0 {
		if j := strings.IndexByte(msg[i+2:], ']'); j > 0 && isLoggerName(msg[i+2:i+2+j]) {
			tail := msg[i+3+j:]
			if tail == "" || tail[0] == ' ' {
				l.Source = msg[i+2 : i+2+j]
				msg = strings.TrimRight(msg[:i], " ") + tail
			}
		}
	}
	l.Time, l.Level, l.Message = &t, level, strings.TrimRight(msg, " ")
}

// jsonContextKeys are keys every structured entry repeats, or that are
// rendered as prefix fields; they are left out of Message.
var jsonContextKeys = map[string]bool{
	"timestamp": true, "level": true, "logger": true, "event": true, "message": true,
	"error_detail": true, "filename": true, "lineno": true, "chan": true, "dag_id": true,
	"run_id": true, "task_id": true, "map_index": true, "try_number": true, "ti_id": true,
}

func parseJSONLine(s string, l *Line) bool {
	if !strings.HasSuffix(strings.TrimRight(s, " \t\r"), "}") ||
		!strings.Contains(s, `"event"`) && !strings.Contains(s, `"message"`) {
		return false
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		return false
	}
	event, ok := m["event"]
	if !ok {
		if event, ok = m["message"]; !ok {
			return false
		}
	}
	var b strings.Builder
	b.WriteString(jsonScalar(event))
	extras := make([]string, 0, len(m))
	for k := range m {
		if !jsonContextKeys[k] {
			extras = append(extras, k)
		}
	}
	sort.Strings(extras)
	for _, k := range extras {
		v := jsonScalar(m[k])
		if strings.ContainsAny(v, " \t\n\"=") {
			v = strconv.Quote(v)
		}
		b.WriteString(" " + k + "=" + v)
	}
	l.Message = b.String()
	l.Level = strings.ToUpper(jsonScalar(m["level"]))
	if t, ok := parseTime(jsonScalar(m["timestamp"])); ok {
		l.Time = &t
	}
	l.Source = jsonScalar(m["logger"])
	if file := jsonScalar(m["filename"]); file != "" {
		l.Source = file
		if line := jsonScalar(m["lineno"]); line != "" {
			l.Source += ":" + line
		}
	}
	return true
}

// jsonScalar renders a JSON value as text: strings unquoted, null as "",
// anything else as its JSON.
func jsonScalar(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return ""
	}
	if raw[0] == '"' {
		var s string
		if json.Unmarshal(raw, &s) == nil {
			return s
		}
	}
	return string(raw)
}

// timeLayouts are the timestamp shapes Airflow and its libraries print.
// Parsing accepts fractional seconds after a '.' or ',' without a layout
// saying so.
var timeLayouts = []string{
	"2006-01-02, 15:04:05 -07:00",
	"2006-01-02, 15:04:05 -0700",
	"2006-01-02, 15:04:05 -07",
	"2006-01-02, 15:04:05 MST",
	"2006-01-02, 15:04:05",
	time.RFC3339Nano,
	"2006-01-02T15:04:05-0700",
	"2006-01-02T15:04:05",
	"2006-01-02 15:04:05Z07:00",
	"2006-01-02 15:04:05 -0700",
	"2006-01-02 15:04:05 MST",
	"2006-01-02 15:04:05",
}

// parseTime reads a timestamp in one of timeLayouts; a zone-less time is UTC.
// A repeated zone ("…+0000 +0000", a custom format) is ignored.
func parseTime(s string) (time.Time, bool) {
	if len(s) < 19 || s[0] < '0' || s[0] > '9' || s[4] != '-' {
		return time.Time{}, false
	}
	for _, layout := range timeLayouts {
		if t, err := time.ParseInLocation(layout, s, time.UTC); err == nil {
			return t, true
		}
	}
	if i := strings.LastIndexByte(s, ' '); i >= 19 {
		return parseTime(s[:i])
	}
	return time.Time{}, false
}

func isLevel(s string) bool {
	switch s {
	case "DEBUG", "INFO", "WARNING", "WARN", "ERROR", "CRITICAL", "FATAL", "NOTSET", "TRACE", "EXCEPTION":
		return true
	}
	return false
}

// isSourceName accepts "file.py:123", "logger.name" and the like: no
// spaces or quotes.
func isSourceName(s string) bool {
	return s != "" && len(s) <= 200 && !strings.ContainsAny(s, " \t\"'{}")
}

func isLoggerName(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		ok := c == '.' || c == '_' || c == '-' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
		if !ok {
			return false
		}
	}
	return true
}

// trimOneSpace removes the single separator space after a prefix, keeping
// any indentation that belongs to the message.
func trimOneSpace(s string) string {
	return strings.TrimPrefix(s, " ")
}
