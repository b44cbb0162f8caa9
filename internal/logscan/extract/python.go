package extract

import (
	"regexp"
	"strconv"
	"strings"
)

const (
	tracebackHeader = "Traceback (most recent call last)"
	sepDuring       = "During handling of the above exception, another exception occurred:"
	sepDirect       = "The above exception was the direct cause of the following exception:"
)

var (
	fileFrameRe = regexp.MustCompile(`^\s*File "([^"]*)", line (\d+)(?:, in (.+))?$`)
	excLineRe   = regexp.MustCompile(`^([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)(?::(?:\s+(.*))?)?$`)
	// IPython: "~/x/context.py in get_meta(self, …)", "[/usr/…/core.py](https://…) in _get_object(…)"
	ipyFrameRe = regexp.MustCompile(`^(?:\[([^\]]+)\]\([^)]*\)|(\S+)) in ([\w<>.]+)\(`)
	ipyArrowRe = regexp.MustCompile(`^-*>\s*(\d+)\s`)
	// sqlalchemy and friends wrap the driver's exception: "(psycopg2.errors.UndefinedColumn) column …"
	nestedPyExc = regexp.MustCompile(`^\(([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+)\)\s*(.*)`)
)

// pyExc is one exception of a printed traceback.
type pyExc struct {
	typ, msg   string
	frames     []Frame
	start, end int
	excLine    int // -1: the traceback is cut before its exception line
	header     bool
	pre        string // text before the header on its line ("Broken DAG: [...]", an error message)
}

// pythonTracebacks finds printed Python tracebacks and their chains.
func (s *scan) pythonTracebacks() {
	for i := 0; i < s.n(); i++ {
		if !s.free(i) {
			continue
		}
		t := s.text(i)
		isFrame := strings.Contains(t, `File "`) && fileFrameRe.MatchString(t)
		if !isFrame && !strings.Contains(t, tracebackHeader) {
			continue
		}
		if end := s.pythonChain(i); end > i {
			i = end - 1
		}
	}
}

// pythonChain parses the traceback starting at line i and every traceback
// chained after it; it returns the line after the last, or i when there is
// none.
func (s *scan) pythonChain(i int) int {
	var excs []pyExc
	var rels []string
	if pre, rel, ok := s.precedingCause(i); ok {
		excs, rels = append(excs, pre), append(rels, rel)
	}
	for j := i; j < s.n() && j-i < MaxBlockLines; {
		e := s.parsePyExc(j)
		if e == nil {
			break
		}
		excs = append(excs, *e)
		rel, next := s.chainNext(e.end)
		if rel == "" {
			break
		}
		rels = append(rels, rel)
		j = next
	}
	if len(excs) == 0 || len(excs) == 1 && excs[0].end <= excs[0].start {
		return i
	}
	s.addPython(excs, rels)
	return excs[len(excs)-1].end
}

// precedingCause handles a log cut inside a chain: an exception line, a
// chain separator, then the traceback at i. The exception line is the
// original exception, whose frames were cut off.
func (s *scan) precedingCause(i int) (pyExc, string, bool) {
	k := s.prevNonBlank(i, 3)
	if k < 0 {
		return pyExc{}, "", false
	}
	rel := separator(s.text(k))
	if rel == "" {
		return pyExc{}, "", false
	}
	x := s.prevNonBlank(k, 3)
	if !s.free(x) {
		return pyExc{}, "", false
	}
	typ, msg, ok := parseExceptionLine(strings.TrimSpace(s.text(x)))
	if !ok {
		return pyExc{}, "", false
	}
	return pyExc{typ: typ, msg: msg, start: x, end: x + 1, excLine: x}, rel, true
}

// chainNext looks after a traceback for a chain separator and the next
// traceback's header.
func (s *scan) chainNext(k int) (rel string, next int) {
	j := s.nextNonBlank(k, 3)
	if j < 0 {
		return "", 0
	}
	if rel = separator(s.text(j)); rel == "" {
		return "", 0
	}
	m := s.nextNonBlank(j+1, 3)
	if m < 0 || !strings.Contains(s.text(m), tracebackHeader) {
		return "", 0
	}
	return rel, m
}

func separator(t string) string {
	switch strings.TrimSpace(t) {
	case sepDuring:
		return "during_handling"
	case sepDirect:
		return "direct_cause"
	}
	return ""
}

// nextNonBlank returns the first non-blank line at or after j within gap
// blank lines, or -1.
func (s *scan) nextNonBlank(j, gap int) int {
	for k := 0; j < s.n() && k <= gap; j, k = j+1, k+1 {
		if !isBlank(s.text(j)) {
			return j
		}
	}
	return -1
}

// prevNonBlank returns the last non-blank line before j within gap blank
// lines, or -1.
func (s *scan) prevNonBlank(j, gap int) int {
	for k := 0; j-1 >= 0 && k <= gap; j, k = j-1, k+1 {
		if !isBlank(s.text(j - 1)) {
			return j - 1
		}
	}
	return -1
}

// parsePyExc parses one traceback (header, frames, exception line and its
// continuation) starting at line i; nil when there is none.
func (s *scan) parsePyExc(i int) *pyExc {
	t := s.text(i)
	e := &pyExc{start: i, excLine: -1}
	record := s.lines[i].record // every line of this traceback carries a log prefix
	j := i
	base := indent(t)
	if h := strings.Index(t, tracebackHeader); h >= 0 {
		e.header = true
		j = i + 1
		if before := strings.TrimSpace(t[:h]); before != "" {
			if typ, _, ok := parseExceptionLine(before); ok && !strings.Contains(before, ":") {
				return s.parseIPython(e, j, typ)
			}
			e.pre = before
		}
	}
	codeLines := 0
	fileIndent := 0
	for j < s.n() && j-i < MaxBlockLines {
		t := s.text(j)
		if !record && s.lines[j].record && j > i {
			break // a new log record: the traceback was cut
		}
		if m := fileFrameRe.FindStringSubmatch(t); m != nil {
			line, _ := strconv.Atoi(m[2])
			e.frames = append(e.frames, Frame{File: m[1], Line: line, Function: strings.TrimSpace(m[3]), User: isUserPythonFile(m[1])})
			fileIndent, codeLines = indent(t), 0
			j++
			continue
		}
		if isBlank(t) {
			// Some pastes double-space every line.
			if nb := s.nextNonBlank(j, 1); nb > 0 && len(e.frames) > 0 &&
				(fileFrameRe.MatchString(s.text(nb)) || indent(s.text(nb)) > base) {
				j = nb
				continue
			}
			if len(e.frames) == 0 && e.header && j-i < 3 {
				j++
				continue
			}
			break
		}
		if len(e.frames) == 0 {
			break
		}
		if isCaretLine(t) || isRepeatLine(t) {
			j++
			continue
		}
		if codeLines < 20 && (indent(t) > fileIndent ||
			codeLines == 0 && !isExceptionish(strings.TrimSpace(t))) {
			codeLines++
			j++
			continue
		}
		break
	}
	if j < s.n() && isBlank(s.text(j)) && j+1 < s.n() && isExceptionish(strings.TrimSpace(s.text(j+1))) {
		j++ // a blank line before the exception (double-spaced paste)
	}
	if j < s.n() && (record || !s.lines[j].record) && (len(e.frames) > 0 || e.header) {
		if typ, msg, ok := parseExceptionLine(strings.TrimSpace(s.text(j))); ok {
			e.typ, e.excLine = typ, j
			j++
			e.msg, j = s.continuation(msg, j, record)
		}
	}
	if e.excLine < 0 && !e.header && len(e.frames) < 2 {
		return nil // a stray "File …" line
	}
	e.end = j
	return e
}

// continuation appends the lines that continue an exception message: an
// indented line, one after a line ending in ':', SQL error context (DETAIL,
// HINT, LINE n), a caret line.
func (s *scan) continuation(msg string, j int, record bool) (string, int) {
	lines := []string{msg}
	colon := strings.HasSuffix(msg, ":")
	for k := 0; j < s.n() && k < 30; k++ {
		t := s.text(j)
		if isBlank(t) || strings.Contains(t, tracebackHeader) || separator(t) != "" || fileFrameRe.MatchString(t) {
			break
		}
		if !record && s.lines[j].record {
			break
		}
		if indent(t) == 0 && !colon && !isSQLContinuation(t) && !isCaretLine(t) {
			break
		}
		lines = append(lines, strings.TrimSpace(t))
		colon = strings.HasSuffix(t, ":")
		j++
	}
	return strings.TrimSpace(strings.Join(lines, "\n")), j
}

// parseIPython parses an IPython/Jupyter traceback: "Type   Traceback (most
// recent call last)", frames as "file in func(args)" with "--> N" markers,
// then the exception line.
func (s *scan) parseIPython(e *pyExc, j int, typ string) *pyExc {
	e.typ = typ
	for ; j < s.n() && j-e.start < MaxBlockLines; j++ {
		t := s.text(j)
		tt := strings.TrimSpace(t)
		if strings.Contains(t, tracebackHeader) {
			break
		}
		if indent(t) == 0 && (tt == typ || strings.HasPrefix(tt, typ+":")) {
			_, msg, _ := parseExceptionLine(tt)
			e.excLine = j
			e.msg, j = s.continuation(msg, j+1, s.lines[e.start].record)
			break
		}
		if m := ipyFrameRe.FindStringSubmatch(t); m != nil {
			file := m[1] + m[2]
			e.frames = append(e.frames, Frame{File: file, Function: m[3], User: isUserPythonFile(file)})
			continue
		}
		if m := ipyArrowRe.FindStringSubmatch(strings.TrimLeft(t, " ")); m != nil && len(e.frames) > 0 {
			if f := &e.frames[len(e.frames)-1]; f.Line == 0 {
				f.Line, _ = strconv.Atoi(m[1])
			}
		}
	}
	e.end = j
	return e
}

// addPython turns a parsed chain (in printed order: the original exception
// first) into a block.
func (s *scan) addPython(excs []pyExc, rels []string) {
	root, outer := excs[0], excs[len(excs)-1]
	c := &cand{Block: Block{Kind: KindPython, Start: excs[0].start, End: outer.end}}
	if len(excs) > 1 {
		for k := len(excs) - 1; k >= 0; k-- {
			cause := Cause{ExceptionType: excs[k].typ, Message: firstLine(excs[k].msg), Line: max(excs[k].excLine, excs[k].start)}
			if k < len(excs)-1 {
				cause.Relation = rels[k]
			}
			c.Chain = append(c.Chain, cause)
		}
	}
	c.ExceptionType, c.Message = root.typ, root.msg
	if m := nestedPyExc.FindStringSubmatch(root.msg); m != nil {
		if c.Chain == nil {
			c.Chain = []Cause{{ExceptionType: root.typ, Message: firstLine(root.msg), Line: max(root.excLine, root.start)}}
		}
		c.Chain = append(c.Chain, Cause{ExceptionType: m[1], Message: firstLine(m[2]), Relation: "wrapped", Line: max(root.excLine, root.start)})
		c.ExceptionType, c.Message = m[1], m[2]
	}
	frames := root.frames
	if len(frames) == 0 {
		frames = outer.frames
	}
	setFrames(c, frames, true)
	for k := 1; k < len(excs) && c.FirstUserFrame == nil; k++ {
		// The root was raised in a library: the user code that got there is
		// in the tracebacks printed after it.
		c.FirstUserFrame = userFrame(excs[k].frames, true)
	}
	switch {
	case root.excLine < 0 && root.typ == "":
		c.Confidence = 0.45
		c.detail("truncated", "true")
		// Older Airflow logs str(exception) as an ERROR line right before
		// the traceback: with the traceback cut, that line is the message.
		if root.pre != "" && !strings.HasPrefix(root.pre, "Broken DAG") {
			// The message was printed on the header's line.
			c.Message, c.Confidence = root.pre, 0.55
			break
		}
		p := s.prevNonBlank(c.Start, 1)
		var ctx []string
		for p > 0 && s.free(p) && isSQLContinuation(s.text(p)) && len(ctx) < 4 {
			ctx = append([]string{strings.TrimSpace(s.text(p))}, ctx...)
			p--
		}
		if p >= 0 && s.free(p) && s.failAt[p] {
			// "Failed to execute task [Errno 22] Invalid argument: …",
			// "… raised unexpected: AirflowException('…')": the
			// announcement carries the message.
			if typ, msg := announcedError(s.text(p)); msg != "" {
				c.Start, c.ExceptionType, c.Message, c.Confidence = p, typ, msg, 0.7
			}
		} else if p >= 0 && s.free(p) {
			if score, typ, msg := s.genericScore(p); score > 0 {
				c.Start, c.ExceptionType = p, typ
				c.Message = strings.Join(append([]string{msg}, ctx...), "\n")
				c.Confidence = max(0.55, score+0.1)
			}
		}
	case root.excLine < 0:
		c.Confidence = 0.5
		c.detail("truncated", "true")
	case !root.header && len(root.frames) == 0:
		c.Confidence = 0.7 // cut before its frames, known from the chain
	case root.header:
		c.Confidence = 0.9
	default:
		c.Confidence = 0.75
	}
	if !outer.header && outer.excLine >= 0 && len(excs) == 1 {
		c.detail("truncated", "start")
	}
	s.logContext(c, c.Start)
	for _, e := range excs {
		c.typesSeen = append(c.typesSeen, e.typ)
	}
	s.classify(c)
	s.add(c)
}

// logContext adjusts confidence by how the block was logged: right after
// "Task failed with exception" or an ERROR record it is the failure; after
// a WARNING record it was handled (logged with exc_info and retried).
func (s *scan) logContext(c *cand, start int) {
	if start < 0 || start >= s.n() {
		return
	}
	if s.lines[start].record {
		return // every line has a prefix: subprocess or pod output, no context
	}
	if p := s.prevNonBlank(start, 1); p >= 0 {
		switch {
		case s.failAt[p]:
			c.Confidence += 0.05
		case s.lines[p].record && (s.lines[p].level == "WARNING" || s.lines[p].level == "WARN" || s.lines[p].level == "DEBUG"):
			c.Confidence -= 0.35
			c.detail("logged_at", strings.ToLower(s.lines[p].level))
		case s.lines[p].record && (s.lines[p].level == "ERROR" || s.lines[p].level == "CRITICAL"):
			c.Confidence += 0.03
		}
	}
}

var (
	raisedRe     = regexp.MustCompile(`raised (?:unexpected|exception): ([A-Za-z_][\w.]*)\((.*)\)\s*$`)
	failedTaskRe = regexp.MustCompile(`Failed to execute task:?\s+(.{8,})`)
)

// announcedError reads the error an announcement line quotes: Celery's
// "raised unexpected: Type('message')", Airflow's "Failed to execute task
// <message>".
func announcedError(t string) (typ, msg string) {
	if m := raisedRe.FindStringSubmatch(t); m != nil {
		return m[1], strings.Trim(strings.TrimSuffix(m[2], ","), `'"`)
	}
	if m := failedTaskRe.FindStringSubmatch(t); m != nil {
		return "", strings.TrimSpace(m[1])
	}
	return "", ""
}

// parseExceptionLine reads "pkg.Type: message" or a bare exception type.
func parseExceptionLine(t string) (typ, msg string, ok bool) {
	m := excLineRe.FindStringSubmatch(t)
	if m == nil {
		return "", "", false
	}
	typ = m[1]
	last := typ[strings.LastIndexByte(typ, '.')+1:]
	colon := len(t) > len(typ) && t[len(typ)] == ':'
	lower := strings.ToLower(last)
	exceptionish := strings.HasSuffix(lower, "error") || strings.HasSuffix(lower, "exception") ||
		strings.HasSuffix(lower, "timeout") || strings.HasSuffix(lower, "exit") ||
		strings.HasSuffix(lower, "interrupt") || strings.HasSuffix(lower, "warning") ||
		strings.HasSuffix(lower, "failure") || strings.HasSuffix(lower, "fault") ||
		strings.HasSuffix(lower, "iteration") || strings.HasSuffix(lower, "cancelled") ||
		strings.HasSuffix(lower, "group") || strings.HasSuffix(lower, "killed")
	capital := last[0] >= 'A' && last[0] <= 'Z'
	if typ == strings.ToUpper(typ) {
		return "", "", false // DETAIL:, HINT:, ERROR: are labels, not types
	}
	switch {
	case colon && (capital || exceptionish):
	case !colon && exceptionish && (capital || strings.Contains(typ, ".")):
	default:
		return "", "", false
	}
	return typ, strings.TrimSpace(m[2]), true
}

func isExceptionish(t string) bool {
	_, _, ok := parseExceptionLine(t)
	return ok
}

// isCaretLine reports Python 3.11+ position markers ("    ^^^^~~~~") and
// SQL error carets.
func isCaretLine(t string) bool {
	t = strings.TrimSpace(t)
	return t != "" && strings.Trim(t, "^~ ") == ""
}

func isRepeatLine(t string) bool {
	t = strings.TrimSpace(t)
	return strings.HasPrefix(t, "[Previous line repeated") || t == "..." || strings.HasPrefix(t, "...<")
}

// isSQLContinuation reports the lines databases print after an error.
func isSQLContinuation(t string) bool {
	t = strings.TrimSpace(t)
	for _, p := range []string{"DETAIL:", "HINT:", "CONTEXT:", "LINE ", "STATEMENT:", "QUERY:", "WHERE:", "SQL state:", "Position:", "Where:", "Hint:", "Detail:", "LOCATION:"} {
		if strings.HasPrefix(t, p) {
			return true
		}
	}
	return false
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
