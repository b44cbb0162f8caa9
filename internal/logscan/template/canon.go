package template

import (
	"bytes"
	"strings"
)

// Wildcard marks a variable part of a template, in the Loghub "<*>" style.
const Wildcard = "<*>"

var wildcardBytes = []byte(Wildcard)

// The canonical form follows the conventions the Loghub-2.0 ground truth was
// normalised with (see ../shared/loghub/METRICS.md): after masking, a template
// token is split on punctuation and
//
//   - a piece that is a slash path becomes "<*>" (split on the reduced
//     "path" delimiter set first, so "a=/x/y" keeps "a=");
//   - a piece that is true/false/null/root/admin (any case) or all digits
//     becomes "<*>";
//   - a piece that contains "<*>" and no '/' becomes "<*>" ("blk_<*>");
//   - "<*>.<*>" and then "<*><*>" collapse to one "<*>" until stable.
//
// Template tokens never contain whitespace, and none of the rules reaches
// across a space, so canonicalising each token on its own gives the same
// result as canonicalising the joined template.

// isPathDelim reports the reduced delimiter set used to find path pieces.
func isPathDelim(c byte) bool {
	switch c {
	case ',', '!', ';', ':', '=', '|', '"', '\'', '[', ']', '(', ')', '{', '}', ' ', '\t', '\n', '\r', '\v', '\f':
		return true
	}
	return false
}

// isDelim reports the full delimiter set: the path set plus . - + @ # $ % &.
func isDelim(c byte) bool {
	switch c {
	case '.', '-', '+', '@', '#', '$', '%', '&':
		return true
	}
	return isPathDelim(c)
}

// canonToken appends the canonical form of tok (which has no whitespace) to
// dst. scratch is reused between calls to avoid allocation.
func canonToken(dst []byte, tok []byte, scratch *[]byte) []byte {
	if !needsCanon(tok) {
		return append(dst, tok...)
	}
	a := tok
	if bytes.IndexByte(tok, '/') >= 0 {
		// PS: path pieces between path delimiters.
		a = (*scratch)[:0]
		start := 0
		for i := 0; i <= len(tok); i++ {
			if i < len(tok) && !isPathDelim(tok[i]) {
				continue
			}
			piece := tok[start:i]
			if isSlashPath(piece) {
				a = append(a, wildcardBytes...)
			} else {
				a = append(a, piece...)
			}
			if i < len(tok) {
				a = append(a, tok[i])
			}
			start = i + 1
		}
		*scratch = a
	}
	// BL, US, DG, WV on pieces between all delimiters, into dst.
	base := len(dst)
	wild := 0
	start := 0
	for i := 0; i <= len(a); i++ {
		if i < len(a) && !isDelim(a[i]) {
			continue
		}
		piece := a[start:i]
		if wildPiece(piece) {
			dst = append(dst, wildcardBytes...)
			wild++
		} else {
			dst = append(dst, piece...)
		}
		if i < len(a) {
			dst = append(dst, a[i])
		}
		start = i + 1
	}
	if wild < 2 {
		return dst
	}
	// DV then CV, each until nothing changes.
	out := collapse(dst[base:], "<*>.<*>")
	out = collapse(out, "<*><*>")
	return dst[:base+len(out)]
}

// needsCanon is a fast test for tokens the rules leave unchanged: no digit,
// no wildcard, no slash path and no boolean/user-string piece.
func needsCanon(tok []byte) bool {
	for i, c := range tok {
		switch {
		case c >= '0' && c <= '9', c == '<', c == '/':
			return true
		case c == 't' || c == 'T' || c == 'f' || c == 'F' || c == 'n' || c == 'N' ||
			c == 'r' || c == 'R' || c == 'a' || c == 'A':
			if i == 0 || isDelim(tok[i-1]) {
				return true
			}
		}
	}
	return false
}

// isSlashPath reports whether p fully matches ^(/[^/]+)+$.
func isSlashPath(p []byte) bool {
	if len(p) < 2 || p[0] != '/' || p[len(p)-1] == '/' {
		return false
	}
	for i := 1; i < len(p); i++ {
		if p[i] == '/' && p[i-1] == '/' {
			return false
		}
	}
	return true
}

var userStrings = []string{"true", "false", "null", "root", "admin"}

// wildPiece reports whether a delimiter-free piece becomes "<*>".
func wildPiece(p []byte) bool {
	if len(p) == 0 {
		return false
	}
	digits, star, slash := true, false, false
	for i, c := range p {
		switch {
		case c >= '0' && c <= '9':
		case c == '<':
			digits = false
			if i+2 < len(p) && p[i+1] == '*' && p[i+2] == '>' {
				star = true
			}
		case c == '/':
			digits = false
			slash = true
		default:
			digits = false
		}
	}
	if digits {
		return true
	}
	if star {
		// WV: ^[^\s/]*<\*>[^\s/]*$
		return !slash
	}
	if len(p) >= 4 && len(p) <= 5 {
		for _, u := range userStrings {
			if len(u) == len(p) && strings.EqualFold(u, string(p)) {
				return true
			}
		}
	}
	return false
}

// collapse replaces pat ("<*>.<*>" or "<*><*>") with "<*>", left to right,
// until the text no longer changes; b is rewritten in place.
func collapse(b []byte, pat string) []byte {
	for bytes.Contains(b, []byte(pat)) {
		w := 0
		for r := 0; r < len(b); {
			if r+len(pat) <= len(b) && string(b[r:r+len(pat)]) == pat {
				w += copy(b[w:], wildcardBytes)
				r += len(pat)
				continue
			}
			b[w] = b[r]
			w++
			r++
		}
		b = b[:w]
	}
	return b
}

// Canonical returns the canonical form of a template: whitespace runs
// collapsed to one space and each token normalised by the rules above.
func Canonical(t string) string {
	var out, scratch []byte
	for i, tok := range strings.Fields(t) {
		if i > 0 {
			out = append(out, ' ')
		}
		out = canonToken(out, []byte(tok), &scratch)
	}
	return string(out)
}
