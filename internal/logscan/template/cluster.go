package template

import (
	"slices"
	"strings"
)

// cluster is one template. Its tokens are canonical masked tokens; open[i]
// marks a position generalised from differing values, which then accepts
// any token its pattern matches. A "<*>" that came from masking is not
// open: it stands for a number, an address or a path, and a plain word in
// that position is a different message.
type cluster struct {
	id      string
	seq     int64
	tokens  []string
	open    []bool
	count   int64
	into    *cluster // set when merged into another cluster
	aliases []string
	str     string // cached text, valid unless dirty
	dirty   bool
	// isVar marks a variable-length cluster: the token at varPos stands
	// for one or more variable tokens (see vararg.go).
	isVar  bool
	varPos int
	mark   uint64 // scratch for Miner.endCandidates
}

// resolve follows merges to the live cluster c now belongs to.
func (c *cluster) resolve() *cluster {
	for c.into != nil {
		c = c.into
	}
	return c
}

// text returns the template text, tokens joined by single spaces.
func (c *cluster) text() string {
	if c.dirty {
		c.str = strings.Join(c.tokens, " ")
		c.dirty = false
	}
	return c.str
}

// set replaces token i; the cached text is rebuilt on next use.
func (c *cluster) set(i int, v string) {
	c.tokens[i] = v
	c.dirty = true
}

func (c *cluster) export() Template {
	return Template{ID: c.id, Template: c.text(), Count: c.count, Aliases: slices.Clone(c.aliases)}
}

// accepts reports whether position i of c takes token l unchanged.
func (c *cluster) accepts(i int, l string) bool {
	t := c.tokens[i]
	return t == l || (c.open[i] && globMatch(t, l))
}

// compatible reports whether toks can join c, and how many positions are
// equal constants (the match score).
func (c *cluster) compatible(toks []string) (equal int, ok bool) {
	for i, l := range toks {
		t := c.tokens[i]
		switch {
		case t == l:
			if t != Wildcard {
				equal++
			}
		case c.open[i] && globMatch(t, l):
		case digitVariant(t, l):
		default:
			return 0, false
		}
	}
	return equal, true
}

// absorb generalises c so that it accepts toks and reports whether c
// changed.
func (c *cluster) absorb(toks []string) bool {
	changed := false
	for i, l := range toks {
		if !c.accepts(i, l) {
			c.set(i, generalize(c.tokens[i], l))
			c.open[i] = true
			changed = true
		}
	}
	return changed
}

// covers reports whether c accepts every token of d's template.
func (c *cluster) covers(d *cluster) bool {
	for i, t := range d.tokens {
		if !c.accepts(i, t) {
			return false
		}
	}
	return true
}

// mergeInto merges two clusters of one bucket, where general's template
// covers other's: the older of the two keeps its id and takes general's
// template. It returns the survivor.
func (mn *Miner) mergeInto(general, other *cluster) *cluster {
	keep, gone := general, other
	if other.seq < general.seq {
		keep, gone = other, general
		keep.tokens = general.tokens
		keep.open = general.open
		keep.dirty = true
	}
	mn.fold(keep, gone)
	return keep
}

// fold retires gone into keep: its lines, its id and its aliases move to
// keep, and lookups by its id resolve to keep from now on.
func (mn *Miner) fold(keep, gone *cluster) {
	keep.count += gone.count
	keep.aliases = append(keep.aliases, gone.id)
	keep.aliases = append(keep.aliases, gone.aliases...)
	gone.aliases = nil
	gone.into = keep
	mn.remove(gone)
}

// coalesce merges into c every other cluster of its bucket that c's
// (just generalised) template now covers, and returns the survivor.
func (mn *Miner) coalesce(c *cluster) *cluster {
	for {
		var d *cluster
		for _, x := range mn.buckets[len(c.tokens)] {
			if x != c && c.covers(x) {
				d = x
				break
			}
		}
		if d == nil {
			return c
		}
		c = mn.mergeInto(c, d)
	}
}

// diffPositions returns the positions where c does not accept toks, up to
// limit+1 of them.
func (c *cluster) diffPositions(toks []string, limit int) []int {
	var out []int
	for i, l := range toks {
		if !c.accepts(i, l) {
			out = append(out, i)
			if len(out) > limit {
				break
			}
		}
	}
	return out
}

// digitVariant reports tokens that differ only in their numbers: the same
// text once every digit run and every "<*>" is reduced to one placeholder,
// with at least one such placeholder ("eth0"/"eth1", "node-D3"/"node-D4").
func digitVariant(a, b string) bool {
	i, j := 0, 0
	seen := false
	for i < len(a) || j < len(b) {
		ai, ad := numAt(a, i)
		bj, bd := numAt(b, j)
		if ad || bd {
			if !ad || !bd {
				return false
			}
			seen = true
			i, j = ai, bj
			continue
		}
		if i >= len(a) || j >= len(b) || a[i] != b[j] {
			return false
		}
		i++
		j++
	}
	return seen
}

// numAt reports whether a digit run or "<*>" (possibly several, adjacent)
// starts at i, and where it ends.
func numAt(s string, i int) (int, bool) {
	j := i
	for j < len(s) {
		switch {
		case isDigit(s[j]):
			j++
		case strings.HasPrefix(s[j:], Wildcard):
			j += len(Wildcard)
		default:
			return j, j > i
		}
	}
	return j, j > i
}

// generalize returns a pattern accepting both a and b: their common prefix
// up to a delimiter, "<*>", and their common suffix from a delimiter, in
// canonical form ("com.apple.x:" and "com.apple.y:" give "com.apple.<*>:").
func generalize(a, b string) string {
	if a == b {
		return a
	}
	if globMatch(a, b) {
		return a
	}
	if globMatch(b, a) {
		return b
	}
	n := min(len(a), len(b))
	p := 0
	for p < n && a[p] == b[p] {
		p++
	}
	// Cut the prefix back to just after a delimiter.
	for p > 0 && !isDelim(a[p-1]) {
		p--
	}
	s := 0
	for s < n-p && a[len(a)-1-s] == b[len(b)-1-s] {
		s++
	}
	// Cut the suffix forward to start at a delimiter.
	for s > 0 && !isDelim(a[len(a)-s]) {
		s--
	}
	var scratch []byte
	raw := a[:p] + Wildcard + a[len(a)-s:]
	return string(canonToken(nil, []byte(raw), &scratch))
}

// globMatch reports whether s matches pattern p, where each "<*>" in p
// matches any run of bytes, possibly empty.
func globMatch(p, s string) bool {
	if !strings.Contains(p, Wildcard) {
		return p == s
	}
	// Iterative matcher with one backtrack point: linear in practice.
	pi, si := 0, 0
	star, mark := -1, 0
	for si < len(s) {
		switch {
		case strings.HasPrefix(p[pi:], Wildcard):
			star = pi
			pi += len(Wildcard)
			mark = si
		case pi < len(p) && p[pi] == s[si]:
			pi++
			si++
		case star >= 0:
			pi = star + len(Wildcard)
			mark++
			si = mark
		default:
			return false
		}
	}
	for strings.HasPrefix(p[pi:], Wildcard) {
		pi += len(Wildcard)
	}
	return pi == len(p)
}

// match finds the cluster toks belongs to, generalising it as needed, or
// returns nil. Among compatible clusters the one with the most equal
// constants wins, then the oldest.
func (mn *Miner) match(toks []string) *cluster {
	var best *cluster
	bestEq := -1
	for _, c := range mn.buckets[len(toks)] {
		eq, ok := c.compatible(toks)
		if ok && eq > bestEq {
			best, bestEq = c, eq
		}
	}
	if best != nil && best.absorb(toks) {
		best = mn.coalesce(best)
	}
	return best
}
