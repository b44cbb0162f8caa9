package airflow

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
)

// Airflow 3 logs are structured: one JSON object per line (ndjson) with
// "timestamp", "level", "logger", "event", optional "error_detail" (the
// structlog exception list) and any extra keys. entryRenderer turns each
// entry into the familiar 2.x-style text line, so everything downstream of
// the client (extractors, reports) reads one format.

// Keys that are rendered specially, or are the task instance context that
// every line repeats.
var entryKnownKeys = map[string]bool{
	"timestamp": true, "level": true, "logger": true, "event": true, "error_detail": true,
	"sources": true, "dag_id": true, "run_id": true, "task_id": true, "map_index": true,
	"try_number": true, "ti_id": true,
}

const (
	groupSources = "::group::Log message source details"
	groupEnd     = "::endgroup::"
)

// entryRenderer renders entries to the tail, taking the source header group
// out into sources.
type entryRenderer struct {
	tail      *tailBuffer
	sources   *sourceSet
	inSources bool
	line      strings.Builder
}

// renderLine handles one ndjson line (or one JSON array element).
func (e *entryRenderer) renderLine(raw []byte) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return
	}
	if raw[0] != '{' {
		var s string
		if raw[0] == '"' && json.Unmarshal(raw, &s) == nil {
			e.tail.writeLine(s) // content can be a plain list of strings
			return
		}
		e.tail.Write(raw)
		e.tail.Write([]byte{'\n'})
		return
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		e.tail.Write(raw)
		e.tail.Write([]byte{'\n'})
		return
	}
	e.renderEntry(m)
}

func (e *entryRenderer) renderEntry(m map[string]json.RawMessage) {
	event := jsonText(m["event"])
	switch {
	case event == groupSources:
		e.inSources = true
		var srcs []string
		if json.Unmarshal(m["sources"], &srcs) == nil {
			for _, s := range srcs {
				e.sources.add(s)
			}
		}
		return
	case event == groupEnd && e.inSources:
		e.inSources = false
		return
	case e.inSources:
		// 3.2.2+ handlers emit each source as its own line in the group.
		e.sources.add(event)
		return
	}
	b := &e.line
	b.Reset()
	if ts := jsonText(m["timestamp"]); ts != "" {
		b.WriteString("[" + ts + "] ")
	}
	if lg := jsonText(m["logger"]); lg != "" {
		b.WriteString("{" + lg + "} ")
	}
	if lv := jsonText(m["level"]); lv != "" {
		b.WriteString(strings.ToUpper(lv) + " ")
	}
	if b.Len() > 0 {
		b.WriteString("- ")
	}
	b.WriteString(event)
	extras := make([]string, 0, len(m))
	for k := range m {
		if !entryKnownKeys[k] {
			extras = append(extras, k)
		}
	}
	sort.Strings(extras)
	for _, k := range extras {
		b.WriteString(" " + k + "=" + extraValue(m[k]))
	}
	b.WriteByte('\n')
	if detail, ok := m["error_detail"]; ok {
		renderTraceback(b, detail)
	}
	e.tail.Write([]byte(b.String()))
}

// jsonText renders a scalar as text: strings unquoted, null as "".
func jsonText(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return ""
	}
	var s string
	if raw[0] == '"' && json.Unmarshal(raw, &s) == nil {
		return s
	}
	return string(raw)
}

// extraValue renders key=value the way structlog's console renderer does:
// bare when the string has no spaces, quoted otherwise, JSON for the rest.
func extraValue(raw json.RawMessage) string {
	s := jsonText(raw)
	if len(raw) > 0 && raw[0] == '"' && strings.ContainsAny(s, " \t\n\"=") {
		return fmt.Sprintf("%q", s)
	}
	return s
}

// structlog's ExceptionDictTransformer output, one element per exception in
// the chain, outermost first.
type excStack struct {
	ExcType  string     `json:"exc_type"`
	ExcValue string     `json:"exc_value"`
	ExcNotes []string   `json:"exc_notes"`
	IsCause  bool       `json:"is_cause"`
	Frames   []excFrame `json:"frames"`
}

type excFrame struct {
	Filename string `json:"filename"`
	Lineno   int    `json:"lineno"`
	Name     string `json:"name"`
	Line     string `json:"line"`
}

// renderTraceback writes error_detail as a Python traceback. Python prints
// the innermost exception first, so the list is walked backwards; a stack
// with is_cause was the direct cause of the one before it in the list.
func renderTraceback(b *strings.Builder, raw json.RawMessage) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return
	}
	var stacks []excStack
	if err := json.Unmarshal(raw, &stacks); err != nil {
		var one excStack
		if raw[0] != '{' || json.Unmarshal(raw, &one) != nil {
			b.WriteString(jsonText(raw)) // a string or an unknown shape
			b.WriteByte('\n')
			return
		}
		stacks = []excStack{one}
	}
	for i := len(stacks) - 1; i >= 0; i-- {
		st := stacks[i]
		if len(st.Frames) > 0 {
			b.WriteString("Traceback (most recent call last):\n")
		}
		for _, f := range st.Frames {
			fmt.Fprintf(b, "  File \"%s\", line %d, in %s\n", f.Filename, f.Lineno, f.Name)
			if line := strings.TrimSpace(f.Line); line != "" {
				b.WriteString("    " + line + "\n")
			}
		}
		b.WriteString(cmpOr(st.ExcType, "Exception"))
		if st.ExcValue != "" {
			b.WriteString(": " + st.ExcValue)
		}
		b.WriteByte('\n')
		for _, n := range st.ExcNotes {
			b.WriteString(n + "\n")
		}
		if i > 0 {
			if st.IsCause {
				b.WriteString("\nThe above exception was the direct cause of the following exception:\n\n")
			} else {
				b.WriteString("\nDuring handling of the above exception, another exception occurred:\n\n")
			}
		}
	}
}

// readNDJSON reads 3.x application/x-ndjson, one entry per line. Parsing
// and rendering an entry costs far more than reading it, and only the tail
// is kept, so entries are held raw in a bounded window and only those still
// in it at the end are rendered. The leading source header group is handled
// as it arrives.
func (st *logReader) readNDJSON(r io.Reader) error {
	e := st.renderer()
	window := &rawWindow{max: st.windowBytes()}
	defer func() {
		for _, line := range window.lines[window.head:] {
			e.renderLine(line)
		}
		st.extraLines += window.droppedLines
		st.extraBytes += window.droppedBytes
		st.dropped = st.dropped || window.droppedLines > 0
	}()
	br := bufio.NewReaderSize(r, 64<<10)
	var long []byte // an entry longer than the reader's buffer
	skipping, first := false, true
	take := func(line []byte) {
		if first || e.inSources {
			first = false
			e.renderLine(line)
			return
		}
		window.add(line)
	}
	for {
		chunk, err := br.ReadSlice('\n')
		switch {
		case errors.Is(err, bufio.ErrBufferFull):
			if !skipping && len(long)+len(chunk) <= maxEntryBytes {
				long = append(long, chunk...)
			} else if !skipping {
				skipping, long = true, long[:0]
				take([]byte(fmt.Sprintf(`{"event":"[medic: skipped a log entry larger than %d KiB]"}`, maxEntryBytes>>10)))
			}
			continue
		case skipping:
			skipping = false
		case len(long) > 0:
			take(append(long, chunk...))
			long = long[:0]
		case len(bytes.TrimSpace(chunk)) > 0:
			take(chunk)
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
	}
}

// rawWindow keeps the most recent raw entries up to max bytes.
type rawWindow struct {
	max          int
	lines        [][]byte
	head         int
	size         int
	droppedLines int64
	droppedBytes int64
}

func (w *rawWindow) add(p []byte) {
	w.lines = append(w.lines, bytes.Clone(p))
	w.size += len(p)
	for w.size > w.max && w.head < len(w.lines) {
		w.size -= len(w.lines[w.head])
		w.droppedBytes += int64(len(w.lines[w.head]))
		w.droppedLines++
		w.lines[w.head] = nil
		w.head++
	}
	if w.head > 1024 && w.head*2 > len(w.lines) {
		w.lines = append(w.lines[:0:0], w.lines[w.head:]...)
		w.head = 0
	}
}

// readEntriesJSON reads the 3.x JSON form {"content": [entries or strings],
// "continuation_token": …}, one element at a time.
func (st *logReader) readEntriesJSON(r io.Reader) (string, error) {
	e := st.renderer()
	dec := json.NewDecoder(r)
	var token string
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return "", fmt.Errorf("%w: expected an object", errJSONSyntax)
	}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return token, err
		}
		switch t {
		case "content":
			if t, err := dec.Token(); err != nil || t != json.Delim('[') {
				return token, fmt.Errorf("%w: content is not a list", errJSONSyntax)
			}
			for dec.More() {
				var raw json.RawMessage
				if err := dec.Decode(&raw); err != nil {
					return token, err
				}
				e.renderLine(raw)
			}
			if _, err := dec.Token(); err != nil {
				return token, err
			}
		case "continuation_token":
			var s *string
			if err := dec.Decode(&s); err != nil {
				return token, err
			}
			if s != nil {
				token = *s
			}
		default:
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return token, err
			}
		}
	}
	return token, nil
}
