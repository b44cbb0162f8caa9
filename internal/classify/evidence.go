package classify

import (
	"slices"
	"strings"

	"github.com/medic-sh/medic/internal/logscan/extract"
)

// segment is one piece of text a rule is matched against.
type segment struct {
	line  int
	text  string
	lower string
	// synthetic marks text extract composed from the root block (its
	// "ExceptionType: Message", a cause of its chain, a key=value detail)
	// rather than an input line. Its line is only where to look first for
	// the real line to quote; value is a detail's value.
	synthetic bool
	value     string
}

func seg(line int, text string) segment {
	return segment{line: line, text: text, lower: strings.ToLower(text)}
}

func synth(line int, text, value string) segment {
	s := seg(line, text)
	s.synthetic, s.value = true, value
	return s
}

// doc is the text of one input as the rules see it.
type doc struct {
	// lines are the input lines; real holds the non-blank ones.
	lines []string
	real  []segment
	// block is the root block (nil when extract found none) and root its
	// segments: the synthetic ones first, then the block's lines.
	block *extract.Block
	root  []segment
	sig   string
}

func newDoc(in Input, res *extract.Result) *doc {
	d := &doc{lines: in.Lines, block: res.Root, sig: signalsText(in.Signals)}
	d.real = make([]segment, 0, len(in.Lines))
	for i, l := range in.Lines {
		if strings.TrimSpace(l) != "" {
			d.real = append(d.real, seg(i, l))
		}
	}
	d.root = rootSegments(res.Root, in.Lines)
	return d
}

// rootSegments is the text of the root block: its exception and message,
// each cause in its chain, its details as key=value, then its lines.
func rootSegments(b *extract.Block, lines []string) []segment {
	if b == nil {
		return nil
	}
	var segs []segment
	head := b.Message
	if b.ExceptionType != "" {
		head = b.ExceptionType + ": " + b.Message
	}
	if strings.TrimSpace(head) != "" {
		segs = append(segs, synth(b.Start, head, ""))
	}
	for _, c := range b.Chain {
		segs = append(segs, synth(c.Line, c.ExceptionType+": "+c.Message, ""))
	}
	keys := make([]string, 0, len(b.Details))
	for k := range b.Details {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		segs = append(segs, synth(b.Start, k+"="+b.Details[k], b.Details[k]))
	}
	for i := max(b.Start, 0); i < min(b.End, len(lines)); i++ {
		if strings.TrimSpace(lines[i]) != "" {
			segs = append(segs, seg(i, lines[i]))
		}
	}
	return segs
}

// Evidence quotes input lines only. A rule that matched synthetic text is
// traced back to the input line that carries the match, trying in turn:
//  1. a line the rule itself matches;
//  2. a line holding the matched text, or for a detail its value;
//  3. the line holding the longest start of the matched text, when extract
//     joined it from several lines;
//  4. the block line where the block prints its exception or message,
//     then the block's first line.
//
// Steps 1 and 2 try the segment's own line and the root block's lines
// before the rest of the log. When none of that finds a line and the block
// has none in Lines (an extract result that does not belong to them), the
// hit still counts but quotes nothing.

// minPiece is the shortest start of a matched text that step 3 accepts.
const minPiece = 8

// minValue is the shortest text step 2 looks for: a one- or two-character
// value ("9") is on many lines by chance.
const minValue = 3

// evidenceAt quotes input line i for rule r.
func (d *doc) evidenceAt(i int, r *compiledRule) Evidence {
	return Evidence{Line: i, Text: clip(d.lines[i]), Rule: r.ID}
}

// locate returns the input line to quote for r matching the synthetic
// segment s.
func (d *doc) locate(r *compiledRule, s segment) (int, bool) {
	near, far := d.candidates(s.line)
	if len(near)+len(far) == 0 {
		return 0, false
	}
	m := strings.ToLower(strings.TrimSpace(r.find(s.text)))
	v := strings.ToLower(strings.TrimSpace(s.value))
	for _, cands := range [][]segment{near, far} {
		for _, c := range cands {
			if r.matchString(c.text, c.lower) {
				return c.line, true
			}
		}
		for _, key := range []string{m, v} {
			if len(key) < minValue {
				continue
			}
			for _, c := range cands {
				if strings.Contains(c.lower, key) {
					return c.line, true
				}
			}
		}
	}
	if i, ok := longestStart(slices.Concat(near, far), m); ok {
		return i, true
	}
	if len(near) == 0 {
		// The block is not in Lines: nothing of it can be quoted.
		return 0, false
	}
	return d.headLine(near), true
}

// candidates splits the non-blank input lines into the ones locate tries
// first, line itself and then the root block's lines, and the rest.
func (d *doc) candidates(line int) (near, far []segment) {
	start, end := 0, 0
	if d.block != nil {
		start, end = d.block.Start, d.block.End
	}
	for _, c := range d.real {
		if c.line == line {
			near = append(near, c)
		}
	}
	for _, c := range d.real {
		switch {
		case c.line == line:
		case c.line >= start && c.line < end:
			near = append(near, c)
		default:
			far = append(far, c)
		}
	}
	return near, far
}

// longestStart finds the candidate holding the longest prefix of m, at
// least minPiece bytes long; the first one on ties.
func longestStart(cands []segment, m string) (int, bool) {
	if len(m) < minPiece {
		return 0, false
	}
	best, bestLen := 0, minPiece-1
	for _, c := range cands {
		// Containing a prefix is monotone in its length: binary search.
		lo, hi := bestLen+1, len(m)
		if !strings.Contains(c.lower, m[:lo]) {
			continue
		}
		for lo < hi {
			mid := (lo + hi + 1) / 2
			if strings.Contains(c.lower, m[:mid]) {
				lo = mid
			} else {
				hi = mid - 1
			}
		}
		best, bestLen = c.line, lo
	}
	return best, bestLen >= minPiece
}

// headLine is the block line where the root block prints its exception
// type or the start of its message, else the first of cands (the segment's
// own line or the block's first non-blank line).
func (d *doc) headLine(cands []segment) int {
	if b := d.block; b != nil {
		var keys []string
		if t := b.ExceptionType; t != "" {
			keys = append(keys, strings.ToLower(t[strings.LastIndexAny(t, ".$")+1:]))
		}
		if msg, _, _ := strings.Cut(strings.TrimSpace(b.Message), "\n"); msg != "" {
			keys = append(keys, strings.ToLower(msg[:min(len(msg), 40)]))
		}
		for _, k := range keys {
			if len(k) < minValue {
				continue
			}
			for _, c := range cands {
				if strings.Contains(c.lower, k) {
					return c.line
				}
			}
		}
	}
	return cands[0].line
}
