package airflow

import (
	"bytes"
	"strings"
	"unicode/utf8"
)

// tailBuffer keeps the last max bytes written to it in a ring, and counts
// everything that went through. Memory is bounded by max however much is
// written.
type tailBuffer struct {
	max   int
	buf   []byte
	head  int  // in ring mode, the oldest byte and the next write position
	full  bool // ring mode: len(buf) == max
	total int64
	lines int64
	last  byte // last byte written, to count an unterminated final line
}

func newTailBuffer(max int) *tailBuffer {
	return &tailBuffer{max: max, buf: make([]byte, 0, min(max, 64<<10))}
}

func (t *tailBuffer) Write(p []byte) {
	if len(p) == 0 {
		return
	}
	t.total += int64(len(p))
	t.lines += int64(bytes.Count(p, []byte{'\n'}))
	t.last = p[len(p)-1]
	if len(p) >= t.max {
		t.buf = append(t.buf[:0], p[len(p)-t.max:]...)
		t.head, t.full = 0, true
		return
	}
	if !t.full {
		if len(t.buf)+len(p) <= t.max {
			t.buf = append(t.buf, p...)
			return
		}
		k := t.max - len(t.buf)
		t.buf = append(t.buf, p[:k]...)
		p = p[k:]
		t.head, t.full = 0, true
	}
	for len(p) > 0 {
		k := copy(t.buf[t.head:], p)
		p = p[k:]
		t.head = (t.head + k) % t.max
	}
}

// writeLine writes s and a newline unless s already ends with one.
func (t *tailBuffer) writeLine(s string) {
	t.Write([]byte(s))
	if !strings.HasSuffix(s, "\n") {
		t.Write([]byte{'\n'})
	}
}

// endLine terminates an unterminated last line.
func (t *tailBuffer) endLine() {
	if t.total > 0 && t.last != '\n' {
		t.Write([]byte{'\n'})
	}
}

func (t *tailBuffer) contents() []byte {
	if !t.full {
		return t.buf
	}
	out := make([]byte, 0, t.max)
	out = append(out, t.buf[t.head:]...)
	return append(out, t.buf[:t.head]...)
}

// totalLines counts lines, including an unterminated last one.
func (t *tailBuffer) totalLines() int64 {
	if t.total > 0 && t.last != '\n' {
		return t.lines + 1
	}
	return t.lines
}

// finish renders the kept tail as clean text of at most maxBytes bytes and
// maxLines lines (0: no line limit). When bytes were dropped the partial
// first line is dropped too, so the text starts at a line boundary.
func (t *tailBuffer) finish(maxBytes, maxLines int) (text string, truncated bool) {
	data := t.contents()
	truncated = t.total > int64(len(data))
	if truncated {
		if i := bytes.IndexByte(data, '\n'); i >= 0 && i < len(data)-1 {
			data = data[i+1:]
		} else {
			for len(data) > 0 && !utf8.RuneStart(data[0]) {
				data = data[1:]
			}
		}
	}
	text = strings.TrimRight(sanitizeLog(data), "\n")
	if maxLines > 0 {
		if n := strings.Count(text, "\n") + 1; n > maxLines && text != "" {
			cut := 0
			for range n - maxLines {
				cut += strings.IndexByte(text[cut:], '\n') + 1
			}
			text, truncated = text[cut:], true
		}
	}
	// Sanitizing can grow the text (U+FFFD is three bytes): cut again, at a
	// line boundary when there is one.
	if len(text) > maxBytes {
		truncated = true
		cut := len(text) - maxBytes
		for cut < len(text) && !utf8.RuneStart(text[cut]) {
			cut++
		}
		if cut > 0 && text[cut-1] != '\n' {
			if i := strings.IndexByte(text[cut:], '\n'); i >= 0 && cut+i+1 < len(text) {
				cut += i + 1
			}
		}
		text = text[cut:]
	}
	return text, truncated
}

// sanitizeLog makes log bytes safe to show and store: invalid UTF-8 and
// control characters (NUL, binary) become one U+FFFD per run, ANSI escape
// sequences (colours) are removed, CRLF becomes LF and a lone CR (progress
// bars) a line break.
func sanitizeLog(p []byte) string {
	var b strings.Builder
	b.Grow(len(p))
	replaced := false // the previous output was a replacement
	repl := func() {
		if !replaced {
			b.WriteRune(utf8.RuneError)
		}
		replaced = true
	}
	for i := 0; i < len(p); {
		c := p[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '\n' || c == '\t' || (c >= 0x20 && c != 0x7f):
				b.WriteByte(c)
				replaced = false
			case c == '\r':
				if i+1 >= len(p) || p[i+1] != '\n' {
					b.WriteByte('\n')
				}
				replaced = false
			case c == 0x1b && i+1 < len(p) && p[i+1] == '[':
				j := i + 2
				for j < len(p) && j-i < 64 && (p[j] < 0x40 || p[j] > 0x7e) {
					j++
				}
				if j < len(p) && j-i < 64 {
					i = j + 1
					continue
				}
				repl()
			default:
				repl()
			}
			i++
			continue
		}
		r, size := utf8.DecodeRune(p[i:])
		if r == utf8.RuneError && size <= 1 || r >= 0x80 && r < 0xa0 {
			repl()
		} else {
			b.Write(p[i : i+size])
			replaced = false
		}
		i += size
	}
	return b.String()
}

// maxHeaderLine bounds a line kept aside to check whether it is a 2.x
// "*** Found local files:" header.
const maxHeaderLine = 1024

// headerFilter moves 2.x source header lines ("*** Found logs in s3:",
// "***   * s3://bucket/key", "*** Reading remote log from …") out of the log
// text into sources, streaming everything else to the tail.
type headerFilter struct {
	tail    *tailBuffer
	sources *sourceSet
	line    []byte // a line starting with '*' being collected
	through bool   // the current line is being passed straight through
}

func (f *headerFilter) Write(p []byte) {
	for len(p) > 0 {
		if f.through {
			i := bytes.IndexByte(p, '\n')
			if i < 0 {
				f.tail.Write(p)
				return
			}
			f.tail.Write(p[:i+1])
			p, f.through = p[i+1:], false
			continue
		}
		if len(f.line) == 0 && p[0] != '*' {
			f.through = true
			continue
		}
		i := bytes.IndexByte(p, '\n')
		chunk := p
		if i >= 0 {
			chunk = p[:i+1]
		}
		if len(f.line)+len(chunk) > maxHeaderLine {
			f.tail.Write(f.line)
			f.line, f.through = f.line[:0], true
			continue
		}
		f.line = append(f.line, chunk...)
		p = p[len(chunk):]
		if i >= 0 {
			f.flush()
		}
	}
}

func (f *headerFilter) flush() {
	if len(f.line) == 0 {
		return
	}
	if src, ok := headerSource(strings.TrimRight(string(f.line), "\r\n")); ok {
		f.sources.add(src)
	} else {
		f.tail.Write(f.line)
	}
	f.line = f.line[:0]
}

// headerSource recognises a 2.x source header line and returns the source it
// names ("" for a heading like "*** Found local files:").
func headerSource(line string) (string, bool) {
	rest, ok := strings.CutPrefix(line, "***")
	if !ok {
		return "", false
	}
	trimmed := strings.TrimSpace(rest)
	switch {
	case strings.HasPrefix(trimmed, "* "):
		return strings.TrimSpace(trimmed[2:]), true
	case strings.HasPrefix(trimmed, "Found ") && strings.HasSuffix(trimmed, ":"):
		return "", true
	case strings.HasPrefix(trimmed, "Reading remote log from "):
		return strings.TrimSuffix(strings.TrimPrefix(trimmed, "Reading remote log from "), "."), true
	case strings.HasPrefix(trimmed, "Reading local file: "):
		return strings.TrimPrefix(trimmed, "Reading local file: "), true
	}
	return "", false
}

// sourceSet collects distinct log sources, bounded.
type sourceSet struct{ list []string }

func (s *sourceSet) add(src string) {
	src = strings.TrimSpace(strings.ToValidUTF8(src, "\uFFFD"))
	if src == "" || len(s.list) >= 64 {
		return
	}
	for _, have := range s.list {
		if have == src {
			return
		}
	}
	s.list = append(s.list, src)
}
