package extract

import (
	"regexp"
	"strconv"
	"strings"
)

var (
	// "at org.apache.spark.rdd.RDD.iterator(RDD.scala:288) ~[spark-core.jar:3.3.0]"
	javaFrameRe = regexp.MustCompile(`^\s*at\s+(?:[\w.\-]+/)?([\w$.<>\-]+)\(([^)]*)\)`)
	javaMoreRe  = regexp.MustCompile(`^\s*\.\.\. \d+ (?:more|common frames omitted)`)
	// A Java exception where a trace starts: at the line start, after
	// "Caused by:", `Exception in thread "main"`, a leading ": " (py4j), or
	// a log message ("threw exception: ", "ERROR Foo: ").
	javaExcRe = regexp.MustCompile(`(?:^|Caused by:\s*|Exception in thread "[^"]*"\s+|^:\s+|: |\s)((?:[a-z_][\w$]*\.)+[A-Z][\w$]*)(?::\s?(.*)|$)`)
	// The same, anchored, for causes nested in a message.
	javaNestedRe = regexp.MustCompile(`^((?:[a-z_][\w$]*\.)+[A-Z][\w$]*)(?::\s?(.*))?$`)
)

type javaExc struct {
	typ, msg string
	frames   []Frame
	line     int
	relation string
}

// javaTraces finds Java/Scala stack traces: an exception line, "at" frames,
// "Caused by:" sections.
func (s *scan) javaTraces() {
	for i := 0; i < s.n(); i++ {
		if !s.free(i) {
			continue
		}
		t := s.text(i)
		if !strings.Contains(t, "at ") && !strings.Contains(t, "Caused by: ") {
			continue
		}
		isFrame := javaFrameRe.MatchString(t)
		startsCause := strings.HasPrefix(strings.TrimSpace(t), "Caused by: ")
		if !isFrame && !startsCause {
			continue
		}
		if end := s.javaTrace(i); end > i {
			i = end - 1
		}
	}
}

// javaTrace parses the trace whose first frame (or first "Caused by:") is
// at line i, with its header above it; it returns the line after it.
func (s *scan) javaTrace(i int) int {
	start := i
	var excs []javaExc
	if !strings.HasPrefix(strings.TrimSpace(s.text(i)), "Caused by: ") {
		if h := s.javaHeader(i); h >= 0 {
			start = h
			typ, msg := javaException(s.text(h))
			msg = s.javaMessage(msg, h+1, i)
			excs = append(excs, javaExc{typ: typ, msg: msg, line: h})
		} else {
			excs = append(excs, javaExc{line: i})
		}
	}
	j := i
	for j < s.n() && j-start < MaxBlockLines {
		t := s.text(j)
		tt := strings.TrimSpace(t)
		switch {
		case javaFrameRe.MatchString(t):
			m := javaFrameRe.FindStringSubmatch(t)
			if len(excs) > 0 {
				e := &excs[len(excs)-1]
				e.frames = append(e.frames, javaFrame(m[1], m[2]))
			}
		case javaMoreRe.MatchString(t), tt == "Driver stacktrace:":
		case strings.HasPrefix(tt, "Caused by: "):
			typ, msg := javaException(strings.TrimPrefix(tt, "Caused by: "))
			if typ == "" {
				typ = strings.TrimSpace(strings.TrimPrefix(tt, "Caused by:"))
			}
			k := s.nextJavaFrame(j+1, 20)
			if k < 0 {
				k = j + 1
			}
			msg = s.javaMessage(msg, j+1, k)
			excs = append(excs, javaExc{typ: typ, msg: msg, line: j, relation: "caused_by"})
			j = k
			continue
		case strings.HasPrefix(tt, "Suppressed: "):
			// A suppressed exception is not a cause; its frames are skipped.
			k := s.nextJavaFrame(j+1, 5)
			for k >= 0 && k < s.n() && (javaFrameRe.MatchString(s.text(k)) || javaMoreRe.MatchString(s.text(k))) {
				k++
			}
			if k < 0 {
				k = j + 1
			}
			j = k
			continue
		default:
			return s.addJava(excs, start, j)
		}
		j++
	}
	return s.addJava(excs, start, j)
}

// javaHeader finds the exception line above the first frame at i: the
// nearest line within 20 that names a Java exception, not crossing another
// block or another trace's frames.
func (s *scan) javaHeader(i int) int {
	for k := i - 1; k >= 0 && i-k <= 20; k-- {
		if !s.free(k) || javaFrameRe.MatchString(s.text(k)) || javaMoreRe.MatchString(s.text(k)) {
			return -1
		}
		if typ, _ := javaException(s.text(k)); typ != "" {
			return k
		}
	}
	return -1
}

func (s *scan) nextJavaFrame(j, within int) int {
	for k := j; k < s.n() && k-j < within; k++ {
		t := s.text(k)
		if javaFrameRe.MatchString(t) {
			return k
		}
		if strings.HasPrefix(strings.TrimSpace(t), "Caused by: ") {
			return -1
		}
	}
	return -1
}

// javaMessage joins an exception's message with the lines between it and
// its first frame (Spark plans, multi-line messages), capped.
func (s *scan) javaMessage(msg string, from, to int) string {
	lines := []string{msg}
	for k := from; k < to && k-from < 12; k++ {
		if t := strings.TrimSpace(s.text(k)); t != "" {
			lines = append(lines, t)
		}
	}
	return strings.TrimSpace(strings.Join(lines, "\n"))
}

// javaException finds the exception a line names.
func javaException(t string) (typ, msg string) {
	if !strings.Contains(t, ".") {
		return "", ""
	}
	m := javaExcRe.FindStringSubmatchIndex(t)
	if m == nil {
		return "", ""
	}
	typ = t[m[2]:m[3]]
	if m[4] >= 0 {
		msg = strings.TrimSpace(t[m[4]:m[5]])
	}
	last := typ[strings.LastIndexByte(typ, '.')+1:]
	atStart := m[2] == 0 || strings.HasPrefix(strings.TrimSpace(t[:m[2]]), "Caused by:") ||
		strings.HasPrefix(t, "Exception in thread") || strings.TrimSpace(t[:m[2]]) == ":"
	if !atStart && !javaExceptionName(last) {
		return "", ""
	}
	if atStart && !javaExceptionName(last) && m[4] < 0 {
		return "", "" // "org.example.Main" alone is not an exception
	}
	return typ, msg
}

func javaExceptionName(last string) bool {
	for _, suf := range []string{"Exception", "Error", "Throwable", "Failure", "Fault"} {
		if strings.HasSuffix(last, suf) {
			return true
		}
	}
	return false
}

func javaFrame(fn, loc string) Frame {
	f := Frame{Function: fn, User: isUserJavaFunction(fn)}
	file, line, ok := strings.Cut(loc, ":")
	f.File = file
	if ok {
		f.Line, _ = strconv.Atoi(line)
	}
	return f
}

// addJava turns a parsed trace into a block: the root is the last "Caused
// by:", or the innermost cause nested in the messages.
func (s *scan) addJava(excs []javaExc, start, end int) int {
	nframes := 0
	for _, e := range excs {
		nframes += len(e.frames)
	}
	if len(excs) == 0 || nframes < 2 && excs[0].typ == "" && len(excs) == 1 {
		return start // not enough to call it a trace
	}
	c := &cand{Block: Block{Kind: KindJava, Start: start, End: end}}
	seen := map[string]bool{}
	for _, e := range excs {
		if e.typ == "" {
			continue
		}
		rel := e.relation
		typ, msg := e.typ, e.msg
		for range 8 {
			if !seen[typ] {
				c.Chain = append(c.Chain, Cause{ExceptionType: typ, Message: firstLine(msg), Relation: rel, Line: e.line})
				seen[typ] = true
			}
			m := javaNestedRe.FindStringSubmatch(firstLine(msg))
			if m == nil || !javaExceptionName(m[1][strings.LastIndexByte(m[1], '.')+1:]) {
				break
			}
			typ, msg, rel = m[1], strings.TrimSpace(m[2]+strings.TrimPrefix(msg, firstLine(msg))), "wrapped"
		}
		c.typesSeen = append(c.typesSeen, e.typ)
	}
	if len(c.Chain) > 0 {
		root := c.Chain[len(c.Chain)-1]
		c.ExceptionType = root.ExceptionType
		c.Message = root.Message
		// The full message of the exception that names the root.
		for _, e := range excs {
			if e.typ == root.ExceptionType {
				c.Message = e.msg
			}
		}
	}
	if len(c.Chain) == 1 {
		c.Chain = nil
	} else if len(c.Chain) > 1 {
		c.Chain[0].Relation = ""
	}
	// Frames: the root's own, else the deepest exception that has some.
	var frames []Frame
	for k := len(excs) - 1; k >= 0 && frames == nil; k-- {
		if len(excs[k].frames) > 0 {
			frames = excs[k].frames
		}
	}
	setFrames(c, frames, false)
	for k := len(excs) - 1; k >= 0 && c.FirstUserFrame == nil; k-- {
		// "... 9 more" frames of a cause are its enclosing exception's.
		c.FirstUserFrame = userFrame(excs[k].frames, false)
	}
	switch {
	case c.ExceptionType != "" && nframes > 0:
		c.Confidence = 0.85
	case c.ExceptionType != "":
		c.Confidence = 0.65
	default:
		c.Confidence = 0.45
		c.detail("truncated", "true")
	}
	s.logContext(c, start)
	s.classify(c)
	s.add(c)
	return end
}
