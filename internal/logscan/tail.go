package logscan

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Tail defaults and bounds.
const (
	// DefaultTailBytes is TailOptions.MaxBytes when it is zero.
	DefaultTailBytes = 1 << 20
	// DefaultMaxLineBytes is TailOptions.MaxLineBytes when it is zero. A task
	// that prints a 50 MB JSON blob on one line should not push every other
	// line out of the tail.
	DefaultMaxLineBytes = 64 << 10
)

// TailOptions bounds what Tail keeps.
type TailOptions struct {
	// MaxLines keeps at most the last MaxLines lines; 0: no line limit.
	MaxLines int
	// MaxBytes keeps at most the last MaxBytes bytes of text (after
	// sanitizing); 0: DefaultTailBytes. Memory stays within about MaxBytes
	// however long the log is.
	MaxBytes int64
	// HardLimit stops reading after this many bytes; 0: read to the end. A
	// log cut short by it is reported as truncated.
	HardLimit int64
	// MaxLineBytes caps one line: its first MaxLineBytes bytes are kept and
	// the rest is replaced by a marker "[medic: cut N bytes]"; 0:
	// DefaultMaxLineBytes. A cap of MaxBytes or more is no cap: the ring
	// then keeps the end of an over-long line.
	MaxLineBytes int
}

// TailResult is the kept end of a log.
type TailResult struct {
	// Lines are the kept lines, oldest first: valid UTF-8, ANSI escape codes
	// removed, binary runs replaced by U+FFFD, without source headers and
	// without trailing empty lines.
	Lines []string
	// Truncated reports that Lines is not the whole log: lines or bytes fell
	// out of the tail, a line was cut, or reading stopped at HardLimit.
	Truncated bool
	// BytesRead counts every byte read, source headers included.
	BytesRead int64
	// LinesRead counts the lines of log text read, source headers excluded.
	LinesRead int
	// Sources are where the log was read from, as its header lines name them
	// ("*** Found local files:" / "***   * /path", "*** Reading remote log
	// from …"), in order and without repeats.
	Sources []string
}

// Tail reads r to the end (or to opts.HardLimit) and keeps its last lines.
// It never holds the whole log: memory is bounded by opts.MaxBytes plus one
// read buffer, whatever r delivers. A read error is returned with what was
// read up to it.
func Tail(r io.Reader, opts TailOptions) (*TailResult, error) {
	t := NewTailer(opts)
	buf := make([]byte, 64<<10)
	for {
		n, err := r.Read(buf)
		if n > 0 {
			_, _ = t.Write(buf[:n])
		}
		if t.Capped() {
			return t.Result(), nil
		}
		if errors.Is(err, io.EOF) {
			return t.Result(), nil
		}
		if err != nil {
			return t.Result(), fmt.Errorf("tail log after %d bytes: %w", t.BytesWritten(), err)
		}
	}
}

// Tailer is the streaming form of Tail: write the log to it in pieces of any
// size (it is an io.Writer that never fails), then call Result.
type Tailer struct {
	opts    TailOptions
	lineCap int // 0: no per-line cap

	ring ring

	total   int64 // bytes written, headers included
	lines   int64 // newline-terminated lines that reached the ring
	lineLen int   // bytes of the current line kept in the ring
	cut     int64 // bytes of the current line dropped by the cap
	anyCut  bool
	capped  bool // HardLimit reached

	hdr     headerFilter
	sources sourceSet
}

// NewTailer returns a Tailer bounded by opts.
func NewTailer(opts TailOptions) *Tailer {
	if opts.MaxBytes <= 0 {
		opts.MaxBytes = DefaultTailBytes
	}
	if opts.MaxLineBytes <= 0 {
		opts.MaxLineBytes = DefaultMaxLineBytes
	}
	t := &Tailer{opts: opts}
	if int64(opts.MaxLineBytes) < opts.MaxBytes {
		t.lineCap = opts.MaxLineBytes
	}
	t.ring.max = int(min(opts.MaxBytes, int64(maxInt)))
	return t
}

const maxInt = int(^uint(0) >> 1)

// Write adds log bytes. It always returns len(p), nil; bytes past HardLimit
// are dropped and reported through Capped and Result.Truncated.
func (t *Tailer) Write(p []byte) (int, error) {
	n := len(p)
	if t.opts.HardLimit > 0 {
		room := t.opts.HardLimit - t.total
		if room <= 0 {
			t.capped = t.capped || n > 0
			return n, nil
		}
		if int64(len(p)) > room {
			p, t.capped = p[:room], true
		}
	}
	t.total += int64(len(p))
	t.hdr.write(t, p)
	return n, nil
}

// WriteString adds log text.
func (t *Tailer) WriteString(s string) (int, error) {
	return t.Write([]byte(s))
}

// WriteLine adds s and a newline unless s already ends with one.
func (t *Tailer) WriteLine(s string) {
	_, _ = t.WriteString(s)
	if !strings.HasSuffix(s, "\n") {
		_, _ = t.Write([]byte{'\n'})
	}
}

// EndLine terminates an unterminated last line, so that what is written next
// starts a line of its own (a new page, a new host's part).
func (t *Tailer) EndLine() {
	if t.hdr.pending() || t.lineLen > 0 || t.cut > 0 {
		_, _ = t.Write([]byte{'\n'})
	}
}

// AddSource records a log source learnt some other way (Airflow 3's source
// header entries).
func (t *Tailer) AddSource(src string) { t.sources.add(src) }

// Sources returns the sources recorded so far.
func (t *Tailer) Sources() []string { return t.sources.list }

// BytesWritten counts the bytes accepted so far, headers included.
func (t *Tailer) BytesWritten() int64 { return t.total }

// LinesWritten counts the lines of log text so far, including an
// unterminated last one and excluding source headers.
func (t *Tailer) LinesWritten() int64 {
	if t.lineLen > 0 || t.cut > 0 || t.hdr.pending() {
		return t.lines + 1
	}
	return t.lines
}

// Capped reports whether HardLimit stopped the log.
func (t *Tailer) Capped() bool { return t.capped }

// emit takes text that the header filter passed through and applies the
// per-line cap before it reaches the ring.
func (t *Tailer) emit(p []byte) {
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		seg := p
		if i >= 0 {
			seg = p[:i]
		}
		if t.lineCap > 0 && t.lineLen+len(seg) > t.lineCap {
			keep := t.lineCap - t.lineLen
			for keep > 0 && keep < len(seg) && !utf8.RuneStart(seg[keep]) {
				keep-- // cut on a character boundary
			}
			t.ring.write(seg[:keep])
			t.lineLen += keep
			t.cut += int64(len(seg) - keep)
		} else {
			t.ring.write(seg)
			t.lineLen += len(seg)
		}
		if i < 0 {
			return
		}
		t.endOfLine()
		p = p[i+1:]
	}
}

func (t *Tailer) endOfLine() {
	if t.cut > 0 {
		t.ring.write(cutMarker(t.cut))
		t.anyCut = true
	}
	t.ring.write([]byte{'\n'})
	t.lines++
	t.lineLen, t.cut = 0, 0
}

// Result renders the kept tail. It may be called at any point; writing on
// continues the log.
func (t *Tailer) Result() *TailResult {
	t.hdr.flush(t)
	lines := t.lines
	data := t.ring.contents()
	truncated := t.ring.dropped > 0 || t.capped || t.anyCut
	if t.lineLen > 0 || t.cut > 0 {
		lines++ // an unterminated last line
	}
	if t.cut > 0 {
		data = append(data[:len(data):len(data)], cutMarker(t.cut)...)
		truncated = true
	}
	maxBytes := t.ring.max
	if t.ring.dropped > 0 {
		// The oldest line is partial: start at a line boundary when there
		// is one, else at a character boundary.
		if i := bytes.IndexByte(data, '\n'); i >= 0 && i < len(data)-1 {
			data = data[i+1:]
		} else {
			for len(data) > 0 && !utf8.RuneStart(data[0]) {
				data = data[1:]
			}
		}
	}
	text := strings.TrimRight(Sanitize(data), "\n")
	if t.opts.MaxLines > 0 && text != "" {
		if n := strings.Count(text, "\n") + 1; n > t.opts.MaxLines {
			cut := 0
			for range n - t.opts.MaxLines {
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
	res := &TailResult{
		Truncated: truncated, BytesRead: t.total, LinesRead: int(min(lines, int64(maxInt))),
		Sources: append([]string(nil), t.sources.list...),
	}
	if text != "" {
		res.Lines = strings.Split(text, "\n")
	}
	return res
}

// cutMarker stands for the n bytes cut from the end of an over-long line.
func cutMarker(n int64) []byte {
	return []byte(" [medic: cut " + strconv.FormatInt(n, 10) + " bytes]")
}

// ring keeps the last max bytes written to it. It grows on demand, so a short
// log never allocates max bytes.
type ring struct {
	max     int
	buf     []byte
	head    int  // once full: the oldest byte and the next write position
	full    bool // len(buf) == max
	dropped int64
}

func (r *ring) write(p []byte) {
	if len(p) == 0 || r.max <= 0 {
		r.dropped += int64(len(p))
		return
	}
	if len(p) >= r.max {
		r.dropped += int64(len(p)-r.max) + int64(r.used())
		r.buf = append(r.buf[:0], p[len(p)-r.max:]...)
		r.head, r.full = 0, true
		return
	}
	if !r.full {
		if len(r.buf)+len(p) <= r.max {
			r.buf = append(r.buf, p...)
			return
		}
		k := r.max - len(r.buf)
		r.buf = append(r.buf, p[:k]...)
		p = p[k:]
		r.head, r.full = 0, true
	}
	r.dropped += int64(len(p))
	for len(p) > 0 {
		k := copy(r.buf[r.head:], p)
		p = p[k:]
		r.head = (r.head + k) % r.max
	}
}

func (r *ring) used() int { return len(r.buf) }

func (r *ring) contents() []byte {
	if !r.full {
		return r.buf
	}
	out := make([]byte, 0, r.max)
	out = append(out, r.buf[r.head:]...)
	return append(out, r.buf[:r.head]...)
}
