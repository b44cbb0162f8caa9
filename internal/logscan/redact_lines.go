package logscan

import "strings"

// Secrets that span lines come in two shapes, and redactAll handles both.
//
// Private-key blocks. A line that opens a PEM private key ("-----BEGIN ...
// PRIVATE KEY-----") without closing it starts a block: the following lines
// lose their base64 (the whole line, or the base64 run that ends it after a
// log prefix) until the line with "-----END ... PRIVATE KEY-----", which is
// redacted up to the end marker. Blank lines and "Proc-Type:"-style headers
// inside the block are kept; any other line ends the block early, so a
// truncated key does not swallow the rest of the log.
//
// Wrapped secrets. A long token hard-wrapped at 80 or 120 columns, or split
// by a log shipper, shows up as a line ending in part of the secret and a
// next line starting with the rest; neither half matches a rule alone. When
// a line ends in a token character, the next starts with one and does not
// look like a new log record (a date, a time, a level, "["), and the first
// line contains a keyword (or one straddles the break), the lines are joined
// (up to maxJoinLines lines and maxJoinBytes bytes while each break looks
// like a wrap) and the join is scanned. A secret found across a break is
// redacted on both sides; a join in which no secret crosses a break changes
// nothing. The price: when a secret ends exactly at the end of a line and
// the next line starts with a word, that word is redacted too; medic errs on
// the side of redacting. The line's length is deliberately not a condition:
// redaction changes lengths, and redacting twice must give what redacting
// once gives.
const (
	maxJoinLines = 16
	maxJoinBytes = 16 << 10
	// boundaryProbe is how many bytes either side of a break are checked for
	// a keyword cut in two by the wrap.
	boundaryProbe = 32
)

const pemRuleName = "private_key"

// redactAll redacts lines as a sequence, calling set for each line that
// changes.
func (r *Redactor) redactAll(lines []string, set func(i int, out string)) {
	carried := map[int][]span{} // spans pushed onto later lines by a join
	inPEM := false
	cont := continuation{line: -1}
	for i, line := range lines {
		extra := carried[i]
		delete(carried, i)
		if inPEM {
			extra, inPEM = pemBody(line, extra, r.pemRule)
		}
		if cont.line == i {
			// A secret longer than a join runs on: it takes this line's
			// leading run, and the next line's too if it fills this one.
			n := tokenRun(line)
			extra = append(extra, span{0, n, cont.rule})
			if n == len(strings.TrimSuffix(line, "\r")) && i+1 < len(lines) && joinable(line, lines[i+1]) {
				cont.line++
			}
		}
		var out string
		if len(line) > MaxWindow {
			out = r.redactLine(line, extra)
		} else {
			spans, seen := r.scan(line, 0, extra)
			if i+1 < len(lines) && joinable(line, lines[i+1]) && (seen.hit || r.straddles(line, lines[i+1])) {
				spans = r.join(lines, i, spans, carried, &cont)
			}
			if seen.pem && pemOpens(line) {
				inPEM = true
			}
			out = r.apply(line, spans)
		}
		if out != line {
			set(i, out)
		}
	}
}

// join scans lines[i] joined with the lines it wraps onto, adds the secrets
// that start on line i to spans and pushes the parts of those that cross a
// break onto the later lines' entries in carried.
//
// When the join stops at its limits while the lines still look wrapped and
// a secret runs to its end, cont is set so that the lines after it lose
// their leading token runs too (see continuation).
func (r *Redactor) join(lines []string, i int, spans []span, carried map[int][]span, cont *continuation) []span {
	var b strings.Builder
	starts := []int{0}
	body := strings.TrimSuffix(lines[i], "\r")
	b.WriteString(body)
	truncated := false
	for j := i + 1; j < len(lines); j++ {
		next := strings.TrimSuffix(lines[j], "\r")
		if j-i >= maxJoinLines || b.Len()+len(next) > maxJoinBytes {
			truncated = true
			break
		}
		starts = append(starts, b.Len())
		b.WriteString(next)
		if j+1 >= len(lines) || !joinable(lines[j], lines[j+1]) {
			break
		}
	}
	if len(starts) == 1 {
		return spans
	}
	joined := b.String()
	found, _ := r.scan(joined, 0, nil)
	first := len(body)
	pem := pemOpens(body) // the block mode handles a key spread over lines
	for _, sp := range found {
		if sp.start >= first || pem && sp.rule == r.pemRule {
			continue // found again when its own line is scanned
		}
		spans = append(spans, span{sp.start, min(sp.end, first), sp.rule})
		for k := 1; k < len(starts) && sp.end > starts[k]; k++ {
			end := len(joined)
			if k+1 < len(starts) {
				end = starts[k+1]
			}
			carried[i+k] = append(carried[i+k], span{0, min(sp.end, end) - starts[k], sp.rule})
		}
		if truncated && sp.end == len(joined) {
			*cont = continuation{line: i + len(starts), rule: sp.rule}
		}
	}
	return spans
}

// continuation is a secret that a join found running past its limits:
// line is the next line it continues on.
type continuation struct {
	line, rule int
}

// tokenRun is the length of the run at the start of line that continues a
// wrapped secret: up to the first space, quote or angle bracket.
func tokenRun(line string) int {
	for i := 0; i < len(line); i++ {
		switch line[i] {
		case ' ', '\t', '\r', '"', '\'', '<', '>':
			return i
		}
	}
	return len(line)
}

// straddles reports whether a keyword runs across the break between a and b.
func (r *Redactor) straddles(a, b string) bool {
	a = strings.TrimSuffix(a, "\r")
	probe := a[max(0, len(a)-boundaryProbe):] + b[:min(len(b), boundaryProbe)]
	return r.hits(probe)
}

// joinable reports whether the break between lines a and b looks like a
// wrap inside a token.
func joinable(a, b string) bool {
	a = strings.TrimSuffix(a, "\r")
	if a == "" || len(a) > maxJoinBytes || b == "" {
		return false
	}
	return isTokenByte(a[len(a)-1]) && isTokenByte(b[0]) && !recordStart(b)
}

func isTokenByte(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("+/=_-.~%:@\\", c) >= 0
}

// recordStart reports whether a line looks like the start of a new log
// record rather than the continuation of a wrapped one.
func recordStart(s string) bool {
	digits := func(s string, at ...int) bool {
		for _, i := range at {
			if i >= len(s) || s[i] < '0' || s[i] > '9' {
				return false
			}
		}
		return true
	}
	switch {
	case digits(s, 0, 1, 2, 3) && len(s) > 4 && (s[4] == '-' || s[4] == '/'): // 2024-05-01
		return true
	case digits(s, 0, 1) && len(s) > 2 && (s[2] == '/' || s[2] == ':' || s[2] == '-') && digits(s, 3, 4): // 24/05/01, 02:00:03
		return true
	}
	for _, p := range []string{"INFO", "WARN", "ERROR", "DEBUG", "CRITICAL", "FATAL", "TRACE", "Traceback"} {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// pemOpens reports whether line ends with the header of a private-key
// block, so the key follows on the next lines. A header followed by more
// text on its line (a key in JSON with \n escapes) is left to the rules and
// the wrap logic.
func pemOpens(line string) bool {
	i := strings.LastIndex(line, "-----BEGIN ")
	if i < 0 {
		return false
	}
	rest := line[i+len("-----BEGIN "):]
	head, tail, ok := strings.Cut(rest, "-----")
	return ok && strings.Contains(head, "PRIVATE KEY") && strings.TrimSpace(tail) == ""
}

// pemBody handles a line inside an open private-key block: it adds the
// line's secret part to spans and reports whether the block is still open.
func pemBody(line string, spans []span, pemRule int) ([]span, bool) {
	if i := strings.Index(line, "-----END "); i >= 0 {
		rest := line[i+len("-----END "):]
		if head, _, ok := strings.Cut(rest, "-----"); ok && strings.Contains(head, "PRIVATE KEY") {
			end := i + len("-----END ") + len(head) + len("-----")
			return append(spans, span{0, end, pemRule}), false
		}
	}
	body := strings.TrimRight(line, " \t\r")
	trimmed := strings.TrimLeft(body, " \t")
	if trimmed == "" {
		return spans, true
	}
	if k, _, ok := strings.Cut(trimmed, ": "); ok && isHeaderName(k) {
		return spans, true // Proc-Type: 4,ENCRYPTED
	}
	run := len(body)
	for run > 0 && isBase64Byte(body[run-1]) {
		run--
	}
	n := len(body) - run
	if n >= 16 || n > 0 && n == len(trimmed) {
		return append(spans, span{run, len(body), pemRule}), true
	}
	return spans, false
}

func isHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !isLetter(c) && c != '-' {
			return false
		}
	}
	return true
}

func isBase64Byte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '+' || c == '/' || c == '='
}
