package airflow

import (
	"strings"

	"github.com/medic-sh/medic/internal/logscan"
)

// The generic tail work (a bounded ring, sanitizing, the per-line cap and
// Airflow 2's "*** Found …" source headers) is logscan.Tailer's. What stays
// here is the glue the Airflow-specific readers (text/plain with its host
// line, the Python-repr JSON, 3.x ndjson) write through.

// tailBuffer feeds one TaskLog call's text to a logscan.Tailer and counts
// what went through, for the page loop's "did this page add anything".
type tailBuffer struct {
	max   int   // MaxBytes of the tail
	total int64 // bytes written
	t     *logscan.Tailer
}

func newTailBuffer(maxBytes int) *tailBuffer {
	return &tailBuffer{max: maxBytes, t: logscan.NewTailer(logscan.TailOptions{MaxBytes: int64(maxBytes)})}
}

func (b *tailBuffer) Write(p []byte) {
	b.total += int64(len(p))
	_, _ = b.t.Write(p)
}

// writeLine writes s and a newline unless s already ends with one.
func (b *tailBuffer) writeLine(s string) {
	b.Write([]byte(s))
	if !strings.HasSuffix(s, "\n") {
		b.Write([]byte{'\n'})
	}
}

// endLine terminates an unterminated last line.
func (b *tailBuffer) endLine() {
	before := b.t.BytesWritten()
	b.t.EndLine()
	b.total += b.t.BytesWritten() - before
}

// totalLines counts lines of log text, including an unterminated last one.
func (b *tailBuffer) totalLines() int64 { return b.t.LinesWritten() }

// finish renders the kept tail as clean text of at most maxLines lines (0:
// no line limit) starting at a line boundary. The Tailer already bounds it to
// the maxBytes newTailBuffer was given; a smaller maxBytes drops whole lines
// from the front.
func (b *tailBuffer) finish(maxBytes, maxLines int) (text string, truncated bool) {
	res := b.t.Result()
	lines, truncated := res.Lines, res.Truncated
	if maxLines > 0 && len(lines) > maxLines {
		lines, truncated = lines[len(lines)-maxLines:], true
	}
	size := len(lines) - 1
	for _, l := range lines {
		size += len(l)
	}
	for len(lines) > 1 && size > maxBytes {
		size -= len(lines[0]) + 1
		lines, truncated = lines[1:], true
	}
	return strings.Join(lines, "\n"), truncated
}

// headerFilter passes 2.x text to the tail, which takes the source headers
// out; flush copies the sources it found into the call's source set.
type headerFilter struct {
	tail    *tailBuffer
	sources *sourceSet
}

func (f *headerFilter) Write(p []byte) { f.tail.Write(p) }

func (f *headerFilter) flush() {
	f.tail.endLine() // a held-back header line is decided at its end
	for _, src := range f.tail.t.Sources() {
		f.sources.add(src)
	}
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
