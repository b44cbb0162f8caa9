package logscan

import (
	"strings"
	"unicode/utf8"
)

// Sanitize makes log bytes safe to show, store and match:
//
//   - invalid UTF-8, C0/C1 control characters (NUL, binary data) and DEL
//     become one U+FFFD per run; tabs and newlines stay;
//   - ANSI escape sequences (CSI colours and cursor moves, OSC titles,
//     two-byte escapes) are removed, and so are SGR remnants whose ESC byte
//     was lost when the log was pasted ("[31m", "[0;32m"), unless a "]"
//     follows, which reads as ordinary bracketed text;
//   - CRLF becomes LF and a lone CR (progress bars redrawing a line) a line
//     break.
func Sanitize(p []byte) string {
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
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRune(p[i:])
			if r == utf8.RuneError && size <= 1 || r >= 0x80 && r < 0xa0 {
				repl()
			} else {
				b.Write(p[i : i+size])
				replaced = false
			}
			i += size
			continue
		}
		switch {
		case c == '[':
			if n := sgrRemnant(p[i:]); n > 0 {
				i += n
				continue
			}
			b.WriteByte(c)
			replaced = false
		case c == '\n' || c == '\t' || (c >= 0x20 && c != 0x7f):
			b.WriteByte(c)
			replaced = false
		case c == '\r':
			if i+1 >= len(p) || p[i+1] != '\n' {
				b.WriteByte('\n')
			}
			replaced = false
		case c == 0x1b:
			if n := escapeLen(p[i:]); n > 0 {
				i += n
				continue
			}
			repl()
		default:
			repl()
		}
		i++
	}
	return b.String()
}

// escapeLen returns the length of the escape sequence at p[0] == ESC, or 0
// when it is not a complete, reasonably short one.
func escapeLen(p []byte) int {
	const maxSeq = 64
	if len(p) < 2 {
		return 0
	}
	switch c := p[1]; {
	case c == '[': // CSI: parameters and intermediates, then a final byte
		for j := 2; j < len(p) && j < maxSeq; j++ {
			if p[j] >= 0x40 && p[j] <= 0x7e {
				return j + 1
			}
			if p[j] < 0x20 || p[j] > 0x7e {
				return 0
			}
		}
		return 0
	case c == ']': // OSC: up to BEL or ESC \
		for j := 2; j < len(p) && j < 4*maxSeq; j++ {
			if p[j] == 0x07 {
				return j + 1
			}
			if p[j] == 0x1b && j+1 < len(p) && p[j+1] == '\\' {
				return j + 2
			}
		}
		return 0
	case c >= 0x20 && c <= 0x7e: // two-byte escapes: ESC ( B, ESC =, ESC 7 …
		if (c == '(' || c == ')') && len(p) > 2 {
			return 3
		}
		return 2
	}
	return 0
}

// sgrRemnant returns the length of an SGR sequence that lost its ESC byte at
// p[0] == '[': 1–3 digits in up to 8 ';'-separated groups and an 'm', not
// followed by ']'.
func sgrRemnant(p []byte) int {
	j, digits, groups := 1, 0, 1
	for ; j < len(p) && j < 32; j++ {
		switch c := p[j]; {
		case c >= '0' && c <= '9':
			if digits++; digits > 3 {
				return 0
			}
		case c == ';':
			if digits == 0 {
				return 0
			}
			if groups++; groups > 8 {
				return 0
			}
			digits = 0
		case c == 'm':
			if digits == 0 || j+1 < len(p) && p[j+1] == ']' {
				return 0
			}
			return j + 1
		default:
			return 0
		}
	}
	return 0
}
