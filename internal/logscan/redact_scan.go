package logscan

import (
	"bytes"
	"regexp"
	"slices"
	"strings"
	"sync"
)

// span is a secret at src[start:end], found by rules[rule].
type span struct {
	start, end int
	rule       int
}

// match gives accept functions a match's groups and its context.
type match struct {
	text string // the whole window, so accept can look before the match
	loc  []int  // submatch offsets into text
	re   *regexp.Regexp
}

// group returns the text of the named group that took part in the match
// (a name may be given to several alternatives), or "".
func (m *match) group(name string) string {
	for i, n := range m.re.SubexpNames() {
		if n == name && m.loc[2*i] >= 0 {
			return m.text[m.loc[2*i]:m.loc[2*i+1]]
		}
	}
	return ""
}

// lowered is a window lower-cased for the prefilter, with the keywords the
// automaton found in it.
type lowered struct {
	buf  *[]byte
	b    []byte
	kws  []int // keyword indexes, without the placeholder sentinel
	mask bool  // the window contains a placeholder
}

var lowerPool = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

// asciiLower lower-cases ASCII letters only; keywords are compared that way.
func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// prefilter lower-cases w and runs the automaton over it. ok is false when
// no keyword occurs, which is the common case and costs one pass.
func (r *Redactor) prefilter(w string) (l lowered, ok bool) {
	l.buf = lowerPool.Get().(*[]byte)
	b := *l.buf
	if cap(b) < len(w) {
		b = make([]byte, len(w))
	}
	b = b[:len(w)]
	for i := 0; i < len(w); i++ {
		c := w[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		b[i] = c
	}
	l.b = b
	if !r.matcher.Contains(b) {
		return l, false
	}
	for _, k := range r.matcher.MatchThreadSafe(b) {
		if k == r.sentinel {
			l.mask = true
			continue
		}
		l.kws = append(l.kws, k)
	}
	return l, len(l.kws) > 0
}

func (l *lowered) release() {
	if cap(l.b) <= 2*MaxWindow {
		*l.buf = l.b[:0]
		lowerPool.Put(l.buf)
	}
}

// hits reports whether a keyword occurs in w.
func (r *Redactor) hits(w string) bool {
	l, ok := r.prefilter(w)
	l.release()
	return ok
}

// candidate is a place where an anchored rule may match: a keyword at
// pos, ending at end.
type candidate struct{ pos, end, rule int }

// scanned says what the prefilter saw in a window.
type scanned struct {
	hit bool // some keyword occurs
	pem bool // a private-key header may start here
}

// scan appends the secrets in window w, which starts at offset base of its
// line, to spans.
func (r *Redactor) scan(w string, base int, spans []span) ([]span, scanned) {
	l, ok := r.prefilter(w)
	defer l.release()
	if !ok {
		return spans, scanned{}
	}
	text, holes := w, []span(nil)
	if l.mask {
		text, holes = maskPlaceholders(w)
	}
	// Anchored rules run where their keywords occur, in order, each
	// skipping the places inside a secret it already found. Operator rules
	// selected by a keyword search the whole window.
	var cands []candidate
	var search []int
	res := scanned{hit: true}
	for _, k := range l.kws {
		kw := r.keywords[k]
		for _, ri := range r.kwRules[k] {
			if ri == r.pemRule {
				res.pem = true
			}
			if !r.rules[ri].anchored && !slices.Contains(search, ri) {
				search = append(search, ri)
			}
		}
		for i := 0; ; {
			j := bytes.Index(l.b[i:], kw)
			if j < 0 {
				break
			}
			for _, ri := range r.kwRules[k] {
				if r.rules[ri].anchored {
					cands = append(cands, candidate{i + j, i + j + len(kw), ri})
				}
			}
			i += j + 1
		}
	}
	slices.SortFunc(cands, func(a, b candidate) int {
		if a.pos != b.pos {
			return a.pos - b.pos
		}
		return a.rule - b.rule
	})
	var done []span // per rule that found one, the end of its last secret
	for _, c := range cands {
		if skipped(done, c) {
			continue
		}
		ru := r.rules[c.rule]
		start := c.pos - ru.back
		if start < 0 || ru.pre != nil && !ru.pre(text, start, c.end) {
			continue
		}
		if sp, ok := ru.at(text, start); ok {
			spans = appendMinusHoles(spans, span{sp.start + base, sp.end + base, c.rule}, holes, base)
			done = append(done, span{0, sp.end, c.rule})
		}
	}
	slices.Sort(search)
	for _, ri := range search {
		spans = r.rules[ri].find(text, base, ri, holes, spans)
	}
	return spans, res
}

// skipped reports whether candidate c lies inside a secret its rule found.
func skipped(done []span, c candidate) bool {
	for i := len(done) - 1; i >= 0; i-- {
		if done[i].rule == c.rule {
			return c.pos < done[i].end
		}
	}
	return false
}

// at tries anchored rule ru at text[start:]. The attempt sees at most
// WindowOverlap bytes, the longest secret redaction promises to find whole.
func (ru *rule) at(text string, start int) (span, bool) {
	if start < 0 || ru.boundary && start > 0 && isWordByte(text[start-1]) {
		return span{}, false
	}
	end := min(len(text), start+WindowOverlap)
	loc := ru.re.FindStringSubmatchIndex(text[start:end])
	if loc == nil {
		return span{}, false
	}
	for i := range loc {
		if loc[i] >= 0 {
			loc[i] += start
		}
	}
	s, e, ok := ru.secretIn(loc)
	if ok && ru.accept != nil {
		ok = ru.accept(&match{text: text, loc: loc, re: ru.re})
	}
	return span{s, e, 0}, ok
}

// secretIn returns the secret group of a match.
func (ru *rule) secretIn(loc []int) (start, end int, ok bool) {
	for _, g := range ru.groups {
		if loc[2*g] >= 0 {
			return loc[2*g], loc[2*g+1], loc[2*g+1] > loc[2*g]
		}
	}
	return 0, 0, false
}

// find appends the secrets that unanchored rule ru finds in text. Searching
// resumes after each secret rather than after the whole match, so context a
// match consumed after its secret can start the next one, as it would once
// the secret is a placeholder.
func (ru *rule) find(text string, base, ri int, holes, spans []span) []span {
	for pos := 0; pos < len(text); {
		loc := ru.re.FindStringSubmatchIndex(text[pos:])
		if loc == nil {
			break
		}
		for i := range loc {
			if loc[i] >= 0 {
				loc[i] += pos
			}
		}
		next := loc[1]
		if s, e, ok := ru.secretIn(loc); ok {
			spans = appendMinusHoles(spans, span{s + base, e + base, ri}, holes, base)
			next = e
		}
		pos = max(next, loc[0]+1, pos+1)
	}
	return spans
}

// appendMinusHoles appends sp less the masked placeholders in holes (given
// relative to the window, which starts at base).
func appendMinusHoles(spans []span, sp span, holes []span, base int) []span {
	for _, h := range holes {
		hs, he := h.start+base, h.end+base
		if he <= sp.start || hs >= sp.end {
			continue
		}
		if hs > sp.start {
			spans = append(spans, span{sp.start, hs, sp.rule})
		}
		sp.start = he
		if sp.start >= sp.end {
			return spans
		}
	}
	return append(spans, sp)
}

// maskPlaceholders returns w with each placeholder's bytes set to maskByte,
// and where the placeholders are.
func maskPlaceholders(w string) (string, []span) {
	var holes []span
	b := []byte(w)
	for i := 0; i < len(w); {
		j := strings.Index(w[i:], placeholderPrefix)
		if j < 0 {
			break
		}
		start := i + j
		end := start + len(placeholderPrefix)
		for end < len(w) && isNameByte(w[end]) {
			end++
		}
		if end < len(w) && w[end] == ']' && end > start+len(placeholderPrefix) {
			end++
			for k := start; k < end; k++ {
				b[k] = maskByte
			}
			holes = append(holes, span{start, end, -1})
		}
		i = end
	}
	if holes == nil {
		return w, nil
	}
	return string(b), holes
}

func isNameByte(c byte) bool {
	return 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '_'
}

// redactLine redacts one line, adding the secrets in extra (found by the
// multi-line logic). Lines up to MaxWindow are scanned at once; longer ones
// in overlapping windows, writing the output as it goes, so extra memory is
// bounded by the window whatever the line's length.
func (r *Redactor) redactLine(line string, extra []span) string {
	if len(line) <= MaxWindow {
		spans, _ := r.scan(line, 0, extra)
		return r.apply(line, spans)
	}
	w := &rewriter{r: r, src: line}
	w.pending = append(w.pending, extra...)
	const step = MaxWindow - WindowOverlap
	for start := 0; start < len(line); start += step {
		end := min(start+MaxWindow, len(line))
		w.pending, _ = r.scan(line[start:end], start, w.pending)
		if end == len(line) {
			break
		}
		w.flush(start + step)
	}
	w.flush(len(line) + 1)
	return w.result()
}

// apply replaces the spans of src with their placeholders.
func (r *Redactor) apply(src string, spans []span) string {
	if len(spans) == 0 {
		return src
	}
	w := &rewriter{r: r, src: src, pending: spans}
	w.flush(len(src) + 1)
	return w.result()
}

// rewriter writes src with its spans replaced, in order.
type rewriter struct {
	r       *Redactor
	src     string
	pending []span
	out     strings.Builder
	pos     int // src[:pos] is written (or dropped as part of a span)
}

// flush merges the pending spans and writes those that end before limit;
// later spans may still grow by merging with spans found further on.
func (w *rewriter) flush(limit int) {
	if len(w.pending) == 0 {
		return
	}
	merged := mergeSpans(w.pending)
	i := 0
	for ; i < len(merged) && merged[i].end < limit; i++ {
		sp := merged[i]
		if w.out.Len() == 0 && w.pos == 0 {
			w.out.Grow(len(w.src) + 32)
		}
		start := max(sp.start, w.pos)
		if start > w.pos {
			w.out.WriteString(w.src[w.pos:start])
		}
		if sp.end > w.pos {
			w.out.WriteString(w.r.rules[sp.rule].placeholder)
			w.pos = sp.end
		}
	}
	w.pending = append(w.pending[:0], merged[i:]...)
}

func (w *rewriter) result() string {
	if w.pos == 0 && w.out.Len() == 0 {
		return w.src
	}
	w.out.WriteString(w.src[w.pos:])
	return w.out.String()
}

// mergeSpans sorts spans and merges overlapping ones. A merged span takes
// the rule of its earliest part, the first-listed rule among parts starting
// there (specific rules are listed before generic ones), so the placeholder
// does not depend on the order rules ran in.
func mergeSpans(spans []span) []span {
	slices.SortFunc(spans, func(a, b span) int {
		if a.start != b.start {
			return a.start - b.start
		}
		if a.rule != b.rule {
			return a.rule - b.rule
		}
		return b.end - a.end
	})
	out := spans[:0]
	for _, sp := range spans {
		if sp.end <= sp.start {
			continue
		}
		if n := len(out); n > 0 && sp.start < out[n-1].end {
			out[n-1].end = max(out[n-1].end, sp.end)
			continue
		}
		out = append(out, sp)
	}
	return out
}
