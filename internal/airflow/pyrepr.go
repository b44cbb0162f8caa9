package airflow

import (
	"bytes"
	"unicode/utf8"
)

// Airflow 2's JSON log endpoint returns content as the Python str() of a
// list of (hostname, text) tuples: "[('host', '*** Found local files:\n…')]".
// pyReprDecoder unwraps that text as it streams in, so a large log never has
// to be held in memory. Input that is not such a list is passed through as
// text unchanged.

// reprSink receives what pyReprDecoder finds.
type reprSink interface {
	reprHost(host string)
	reprText(p []byte)
	reprEnd() // end of one (host, text) tuple
}

const (
	rStart = iota
	rList
	rTuple
	rString
	rEscape
	rCode  // \xNN, \uNNNN, \UNNNNNNNN
	rOctal // \NNN
	rDone
	rRaw
)

type pyReprDecoder struct {
	sink  reprSink
	state int
	quote byte
	elem  int    // index of the string within the tuple: 0 host, 1 text
	host  []byte // bounded
	out   []byte // pending text
	code  []byte // digits of a numeric escape
	want  int    // digits a \x, \u or \U escape takes
	esc   byte   // x, u or U
}

const maxReprHost = 256

func newPyReprDecoder(sink reprSink) *pyReprDecoder {
	return &pyReprDecoder{sink: sink, out: make([]byte, 0, 32<<10)}
}

// emit appends decoded bytes to the current string.
func (d *pyReprDecoder) emit(p ...byte) {
	switch d.elem {
	case 0:
		if room := maxReprHost - len(d.host); room > 0 {
			d.host = append(d.host, p[:min(room, len(p))]...)
		}
	case 1:
		d.out = append(d.out, p...)
		if len(d.out) >= 32<<10 {
			d.flush()
		}
	}
}

func (d *pyReprDecoder) emitRune(r rune) {
	if r < 0 || r > utf8.MaxRune || (r >= 0xd800 && r < 0xe000) {
		r = utf8.RuneError
	}
	var b [utf8.UTFMax]byte
	d.emit(b[:utf8.EncodeRune(b[:], r)]...)
}

func (d *pyReprDecoder) flush() {
	if len(d.out) > 0 {
		d.sink.reprText(d.out)
		d.out = d.out[:0]
	}
}

// Write decodes the next chunk.
func (d *pyReprDecoder) Write(p []byte) {
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch d.state {
		case rRaw:
			d.flush()
			d.sink.reprText(p[i:])
			return
		case rDone:
			if !isSpace(c) { // trailing junk: keep it visible
				d.state = rRaw
				i--
			}
		case rStart:
			switch {
			case isSpace(c):
			case c == '[':
				d.state = rList
			default:
				d.state = rRaw
				d.elem = 1
				i--
			}
		case rList:
			switch {
			case isSpace(c) || c == ',':
			case c == ']':
				d.state = rDone
			case c == '(':
				d.state, d.elem = rTuple, 0
			default:
				d.toRaw()
				i--
			}
		case rTuple:
			switch {
			case isSpace(c) || c == ',':
			case c == '\'' || c == '"':
				d.state, d.quote = rString, c
			case c == ')':
				d.endTuple()
				d.state = rList
			default:
				d.toRaw()
				i--
			}
		case rString:
			// Fast path: copy up to the next quote or backslash.
			rest := p[i:]
			j := indexEither(rest, d.quote, '\\')
			if j < 0 {
				d.emit(rest...)
				return
			}
			d.emit(rest[:j]...)
			i += j
			if rest[j] == '\\' {
				d.state = rEscape
			} else {
				d.endString()
			}
		case rEscape:
			d.escape(c)
		case rCode:
			if isHex(c) {
				d.code = append(d.code, c)
				if len(d.code) == d.want {
					d.emitRune(rune(hexValue(d.code)))
					d.state = rString
				}
				continue
			}
			// Not a valid escape: keep it literally and reread c.
			d.emit('\\', d.esc)
			d.emit(d.code...)
			d.state = rString
			i--
		case rOctal:
			if c >= '0' && c <= '7' && len(d.code) < 3 {
				d.code = append(d.code, c)
				continue
			}
			d.emitOctal()
			i--
		}
	}
}

func (d *pyReprDecoder) escape(c byte) {
	d.state = rString
	switch c {
	case 'n':
		d.emit('\n')
	case 't':
		d.emit('\t')
	case 'r':
		d.emit('\r')
	case '\\', '\'', '"':
		d.emit(c)
	case 'a':
		d.emit(7)
	case 'b':
		d.emit(8)
	case 'f':
		d.emit(12)
	case 'v':
		d.emit(11)
	case '\n': // line continuation
	case 'x':
		d.state, d.code, d.esc, d.want = rCode, d.code[:0], c, 2
	case 'u':
		d.state, d.code, d.esc, d.want = rCode, d.code[:0], c, 4
	case 'U':
		d.state, d.code, d.esc, d.want = rCode, d.code[:0], c, 8
	case '0', '1', '2', '3', '4', '5', '6', '7':
		d.state, d.code = rOctal, append(d.code[:0], c)
	default:
		d.emit('\\', c)
	}
}

func (d *pyReprDecoder) emitOctal() {
	v := 0
	for _, o := range d.code {
		v = v*8 + int(o-'0')
	}
	d.emitRune(rune(v))
	d.state = rString
}

func (d *pyReprDecoder) endString() {
	if d.elem == 0 {
		d.sink.reprHost(string(bytes.ToValidUTF8(d.host, []byte("\uFFFD"))))
		d.host = d.host[:0]
	}
	d.flush()
	d.elem++
	d.state = rTuple
}

func (d *pyReprDecoder) endTuple() {
	d.flush()
	d.sink.reprEnd()
}

// toRaw gives up on the structure: the rest is passed through as text.
func (d *pyReprDecoder) toRaw() {
	d.flush()
	d.state, d.elem = rRaw, 1
}

// Close flushes a truncated input.
func (d *pyReprDecoder) Close() {
	switch d.state {
	case rEscape:
		d.emit('\\')
	case rCode:
		d.emit('\\', d.esc)
		d.emit(d.code...)
	case rOctal:
		d.emitOctal()
	}
	d.flush()
}

func isSpace(c byte) bool { return c == ' ' || c == '\n' || c == '\t' || c == '\r' }

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func hexValue(digits []byte) uint64 {
	var v uint64
	for _, c := range digits {
		switch {
		case c <= '9':
			v = v<<4 | uint64(c-'0')
		case c >= 'a':
			v = v<<4 | uint64(c-'a'+10)
		default:
			v = v<<4 | uint64(c-'A'+10)
		}
	}
	return v
}

// indexEither returns the index of the first a or b in p, or -1.
func indexEither(p []byte, a, b byte) int {
	i, j := bytes.IndexByte(p, a), bytes.IndexByte(p, b)
	switch {
	case i < 0:
		return j
	case j < 0 || i < j:
		return i
	}
	return j
}

// reprPart is one (host, text) tuple.
type reprPart struct{ Host, Text string }

type partCollector struct {
	parts []reprPart
	cur   reprPart
	host  bool
	text  bytes.Buffer
}

func (p *partCollector) reprHost(h string) { p.cur.Host, p.host = h, true }
func (p *partCollector) reprText(b []byte) { p.text.Write(b) }
func (p *partCollector) reprEnd() {
	p.cur.Text = p.text.String()
	p.parts = append(p.parts, p.cur)
	p.cur, p.host = reprPart{}, false
	p.text.Reset()
}

// unwrapPythonRepr decodes a whole content string into its tuples. ok is
// false when s is not a list of tuples, in which case the single part holds
// s as text.
func unwrapPythonRepr(s string) (parts []reprPart, ok bool) {
	var c partCollector
	d := newPyReprDecoder(&c)
	d.Write([]byte(s))
	d.Close()
	if d.state == rDone && c.text.Len() == 0 {
		return c.parts, true
	}
	if c.text.Len() > 0 || c.host {
		c.reprEnd()
	}
	return c.parts, false
}
