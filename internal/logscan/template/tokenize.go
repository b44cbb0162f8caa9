package template

import (
	"bytes"
	"strings"
	"unicode/utf8"
)

// Default bounds on the work one line can cause.
const (
	// DefaultMaxLineBytes is how much of a line is tokenised; the rest is
	// represented by a final "<*>" token.
	DefaultMaxLineBytes = 4096
	// DefaultMaxTokens is how many tokens of a line are kept; the rest is
	// represented by a final "<*>" token.
	DefaultMaxTokens = 128
)

// masker turns a line into canonical masked tokens. Its buffers are reused
// from line to line, so one masker serves one goroutine at a time.
type masker struct {
	maxBytes  int
	maxTokens int
	// line holds the masked tokens joined by single spaces; ends[i] is the
	// end offset of token i in line.
	line    []byte
	ends    []int
	tok     []byte
	scratch []byte
}

func newMasker(maxBytes, maxTokens int) *masker {
	if maxBytes <= 0 {
		maxBytes = DefaultMaxLineBytes
	}
	if maxTokens <= 0 {
		maxTokens = DefaultMaxTokens
	}
	return &masker{maxBytes: maxBytes, maxTokens: maxTokens}
}

// isSpace reports the bytes that separate tokens: ASCII whitespace and the
// other control characters, so binary garbage cannot glue tokens together
// in ways that make every line unique.
func isSpace(c byte) bool { return c <= ' ' || c == 0x7f }

// mask fills m.line and m.ends for line.
func (m *masker) mask(line string) {
	truncated := false
	if len(line) > m.maxBytes {
		line, truncated = cut(line, m.maxBytes), true
	}
	if !m.maskValid(line, truncated) {
		// Invalid UTF-8: replace bad bytes, which can lengthen the line,
		// and start again.
		line = strings.ToValidUTF8(line, "\uFFFD")
		if len(line) > m.maxBytes {
			line, truncated = cut(line, m.maxBytes), true
		}
		m.maskValid(line, truncated)
	}
}

// cut shortens s to at most n bytes on a rune boundary.
func cut(s string, n int) string {
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// maskValid masks line, or returns false as soon as it finds the line is
// not valid UTF-8.
func (m *masker) maskValid(line string, truncated bool) bool {
	m.line = m.line[:0]
	m.ends = m.ends[:0]
	checked := false
	i := 0
	for i < len(line) {
		for i < len(line) && isSpace(line[i]) {
			i++
		}
		if i == len(line) {
			break
		}
		j := i
		var f tokFlags
		for j < len(line) && !isSpace(line[j]) {
			f |= byteFlags[line[j]]
			j++
		}
		if f&fHigh != 0 && !checked {
			if !utf8.ValidString(line) {
				return false
			}
			checked = true
		}
		if len(m.ends) == m.maxTokens {
			truncated = true
			break
		}
		if c := line[i]; ((c >= 'A' && c <= 'Z') || c == '(' || c == '[') && j-i <= 10 {
			if end, lead, trail := dateAt(line, i); end > 0 {
				if !checked && !isASCII(trail) {
					if !utf8.ValidString(line) {
						return false
					}
					checked = true
				}
				// "Fri Jul 01 08:16:53 PDT 2005" is one value.
				m.appendToken(append(append(append(m.tok[:0], lead...), wildcardBytes...), trail...))
				i = end
				continue
			}
		}
		if j-i >= 36 {
			f |= fLong
		}
		m.addToken(line[i:j], f&^fHigh)
		i = j
	}
	if truncated {
		m.appendToken(wildcardBytes)
	}
	return true
}

// addToken masks and canonicalises one raw token and appends it. A size
// unit after a number ("5.2 KB") joins the number's "<*>".
func (m *masker) addToken(raw string, f tokFlags) {
	if n := len(m.ends); n > 0 && isSizeUnit(raw) && m.lastIsWildcard() {
		unit := unitLen(raw)
		m.line = append(m.line, raw[unit:]...)
		m.ends[n-1] = len(m.line)
		return
	}
	if n := len(m.ends); n > 0 && raw[0] >= 'A' && raw[0] <= 'Z' && bytes.HasSuffix(m.line, wildcardBytes) {
		if v := protoVersionLen(raw); v > 0 {
			// "GET /a/b HTTP/1.1": the protocol version belongs to the
			// request target before it.
			m.line = append(m.line, raw[v:]...)
			m.ends[n-1] = len(m.line)
			return
		}
	}
	if len(m.ends) > 0 {
		m.line = append(m.line, ' ')
	}
	if f == 0 && plainAsIs(raw) {
		// Letters and punctuation that no rule touches: the common case.
		m.line = append(m.line, raw...)
	} else {
		m.tok = maskToken(m.tok[:0], raw, f)
		m.line = canonToken(m.line, m.tok, &m.scratch)
	}
	m.ends = append(m.ends, len(m.line))
}

func (m *masker) appendToken(t []byte) {
	if len(m.ends) > 0 {
		m.line = append(m.line, ' ')
	}
	m.line = append(m.line, t...)
	m.ends = append(m.ends, len(m.line))
}

// lastIsWildcard reports whether the last token is exactly "<*>".
func (m *masker) lastIsWildcard() bool {
	n := len(m.ends)
	start := 0
	if n > 1 {
		start = m.ends[n-2] + 1
	}
	return string(m.line[start:m.ends[n-1]]) == Wildcard
}

// tokens returns the masked tokens as fresh strings.
func (m *masker) tokens() []string {
	all := string(m.line)
	out := make([]string, len(m.ends))
	start := 0
	for i, e := range m.ends {
		out[i] = all[start:e]
		start = e + 1
	}
	return out
}

// sizeUnits are byte-size units that read as part of the number before
// them ("21.4 KB" is one value).
var sizeUnits = [...]string{"B", "KB", "MB", "GB", "TB", "PB", "KiB", "MiB", "GiB", "TiB"}

// unitLen returns the length of the size unit raw starts with, or 0.
func unitLen(raw string) int {
	switch raw[0] {
	case 'B', 'K', 'M', 'G', 'T', 'P':
	default:
		return 0
	}
	best := 0
	for _, u := range sizeUnits {
		if strings.HasPrefix(raw, u) && len(u) > best {
			best = len(u)
		}
	}
	return best
}

// isSizeUnit reports a token that is a size unit, optionally followed by
// closing punctuation ("KB,", "MB)").
func isSizeUnit(raw string) bool {
	if len(raw) > 5 {
		return false
	}
	n := unitLen(raw)
	if n == 0 {
		return false
	}
	for i := n; i < len(raw); i++ {
		switch raw[i] {
		case ',', ';', ')', ']', '}', '.':
		default:
			return false
		}
	}
	return true
}

// Mask returns line with its variable parts replaced by "<*>" in the
// canonical Loghub style, using the default bounds: the template a line
// would get if it were the only line ever seen. Failure signatures use it
// to compare messages across runs whatever their numbers, ids, paths, hosts
// and times.
func Mask(line string) string {
	m := newMasker(DefaultMaxLineBytes, DefaultMaxTokens)
	m.mask(line)
	return string(m.line)
}

// protoVersionLen matches a protocol version such as HTTP/1.1 (three to
// five capitals, a slash, digits and dots) followed only by closing
// punctuation, and returns the length of the version.
func protoVersionLen(raw string) int {
	i := 0
	for i < len(raw) && raw[i] >= 'A' && raw[i] <= 'Z' {
		i++
	}
	if i < 3 || i > 5 || i+1 >= len(raw) || raw[i] != '/' || !isDigit(raw[i+1]) {
		return 0
	}
	j := i + 1
	for j < len(raw) && (isDigit(raw[j]) || raw[j] == '.') {
		j++
	}
	for k := j; k < len(raw); k++ {
		switch raw[k] {
		case '"', '\'', ',', ';', ')', ']':
		default:
			return 0
		}
	}
	return j
}

// nextField returns the bounds of the whitespace-separated field at or
// after i, or start == len(s) when there is none.
func nextField(s string, i int) (start, end int) {
	for i < len(s) && isSpace(s[i]) {
		i++
	}
	j := i
	for j < len(s) && !isSpace(s[j]) {
		j++
	}
	return i, j
}

var (
	weekdays = []string{"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"}
	months   = []string{"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"}
)

// dateAt matches a written-out date and time starting at field i:
// [weekday] month day hh:mm[:ss[.frac]] [zone] [year], e.g. "Fri Jul 01
// 08:16:53 PDT 2005". It returns where the match ends, the punctuation
// before the first field and after the last one, or end == 0.
func dateAt(s string, i int) (end int, lead, trail string) {
	f0, e0 := nextField(s, i)
	field := s[f0:e0]
	k := 0
	for k < len(field) && (field[k] == '(' || field[k] == '[') {
		k++
	}
	lead, field = field[:k], field[k:]
	pos := e0
	if hasWordPrefix(field, weekdays) {
		f, e := nextField(s, pos)
		field, pos = s[f:e], e
	}
	if !hasWordPrefix(field, months) {
		return 0, "", ""
	}
	f, e := nextField(s, pos)
	day := s[f:e]
	if len(day) == 0 || len(day) > 2 || !allDigits(day) {
		return 0, "", ""
	}
	f, e = nextField(s, e)
	t := s[f:e]
	tn := timeLen(t)
	if tn == 0 {
		return 0, "", ""
	}
	end, trail = e, t[tn:]
	if trail != "" {
		return end, lead, trail
	}
	// Optional zone and year.
	f, e = nextField(s, end)
	if z := s[f:e]; len(z) >= 3 && len(z) <= 4 && allUpper(z) {
		end = e
		f, e = nextField(s, end)
	}
	if y := s[f:e]; len(y) >= 4 && allDigits(y[:4]) && (len(y) == 4 || !isAlnum(y[4])) {
		end, trail = e, y[4:]
	}
	return end, lead, trail
}

func hasWordPrefix(field string, words []string) bool {
	if len(field) < 3 || field[0] < 'A' || field[0] > 'Z' {
		return false
	}
	for _, w := range words {
		if strings.HasPrefix(field, w) {
			rest := field[len(w):]
			// "Jul", "July", "Jul," but not "Julia".
			for i := 0; i < len(rest); i++ {
				if !isLetter(rest[i]) && rest[i] != ',' && rest[i] != '.' {
					return false
				}
			}
			return len(rest) <= 6
		}
	}
	return false
}

// timeLen returns the length of a leading hh:mm[:ss[.frac]].
func timeLen(t string) int {
	i := 0
	parts := 0
	for {
		j := i
		for j < len(t) && isDigit(t[j]) {
			j++
		}
		if j-i < 1 || j-i > 2 {
			return 0
		}
		parts++
		i = j
		if parts < 3 && i+1 < len(t) && t[i] == ':' && isDigit(t[i+1]) {
			i++
			continue
		}
		break
	}
	if parts < 2 {
		return 0
	}
	if parts == 3 && i+1 < len(t) && (t[i] == '.' || t[i] == ',') && isDigit(t[i+1]) {
		i++
		for i < len(t) && isDigit(t[i]) {
			i++
		}
	}
	if i < len(t) && isAlnum(t[i]) {
		return 0
	}
	return i
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return s != ""
}

func allUpper(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 'A' || s[i] > 'Z' {
			return false
		}
	}
	return s != ""
}

// plainAsIs reports whether a token without digits, slashes, colons, dots,
// at signs or dashes comes out of masking and canonicalisation unchanged:
// no run of eight or more hex letters and no boolean or user-string piece.
func plainAsIs(tok string) bool {
	run, hexRun, pieceStart := 0, true, 0
	for i := 0; i <= len(tok); i++ {
		if i < len(tok) && isLetter(tok[i]) {
			if run == 0 {
				hexRun = true
			}
			run++
			hexRun = hexRun && isHex(tok[i])
			continue
		}
		if run >= 8 && hexRun {
			return false
		}
		run = 0
		if i == len(tok) || isDelim(tok[i]) {
			if n := i - pieceStart; n == 4 || n == 5 {
				if wildPiece([]byte(tok[pieceStart:i])) {
					return false
				}
			}
			pieceStart = i + 1
		}
	}
	return true
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}
