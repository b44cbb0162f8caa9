package template

import "strings"

// Variable-length templates. Some messages carry a list of values whose
// length changes from line to line ("to delete blk_1 blk_2 blk_3", "name
// an14 an15 ... an63"). Lines of different token counts never meet in the
// same-length buckets, so when a new template has the same leading and
// trailing tokens as a template of another length, and the tokens in
// between are all variables in both, the two become one template whose
// middle is a single "<*>" standing for one or more tokens.

// varargMinConstants is how many constant tokens the shared head and tail
// must hold, so that two short lines of numbers are not merged on that
// alone.
const varargMinConstants = 2

// variableToken reports tokens that are variables whatever their text: a
// masked part or a digit.
func variableToken(t string) bool { return hasDigitOrWild(t) }

// varMatch reports whether a variable-length cluster accepts toks: head and
// tail positions as usual, and one or more variable tokens in between.
func (c *cluster) varMatch(toks []string) bool {
	v := c.varPos
	tail := len(c.tokens) - v - 1
	if len(toks) < v+1+tail {
		return false
	}
	for i := 0; i < v; i++ {
		if !c.accepts(i, toks[i]) {
			return false
		}
	}
	for i := 0; i < tail; i++ {
		if !c.accepts(v+1+i, toks[len(toks)-tail+i]) {
			return false
		}
	}
	mid := toks[v : len(toks)-tail]
	for _, t := range mid {
		if !variableToken(t) {
			return false
		}
	}
	p := c.tokens[v]
	return p == Wildcard || globMatch(p, strings.Join(mid, " "))
}

// runPattern is the one token standing for two runs of variables: what
// their joined texts share at the edges around a "<*>" ("(<*>):" for
// "(<*> x/y.rrd):" and "(<*>):").
func runPattern(a, b []string) string {
	p := generalize(strings.Join(a, " "), strings.Join(b, " "))
	if strings.ContainsFunc(p, func(r rune) bool { return r < 0x80 && isSpace(byte(r)) }) {
		return Wildcard
	}
	return p
}

// matchVararg finds a variable-length cluster for toks.
func (mn *Miner) matchVararg(toks []string) *cluster {
	for _, c := range mn.varargs {
		if c.varMatch(toks) {
			return c
		}
	}
	return nil
}

// absorbVararg looks, for a newly created cluster c, for a cluster of
// another length that differs only in a run of variables, and merges the
// two into a variable-length cluster. It returns the survivor.
func (mn *Miner) absorbVararg(c *cluster) *cluster {
	if len(c.tokens) == 0 {
		return c
	}
	for _, d := range mn.endCandidates(c) {
		head, tail, ok := varargSplit(d, c.tokens)
		if !ok {
			continue
		}
		v := &cluster{
			isVar:  true,
			varPos: head,
			tokens: make([]string, 0, head+1+tail),
			open:   make([]bool, 0, head+1+tail),
			dirty:  true,
		}
		v.tokens = append(v.tokens, d.tokens[:head]...)
		v.open = append(v.open, d.open[:head]...)
		v.tokens = append(v.tokens, runPattern(d.tokens[head:len(d.tokens)-tail], c.tokens[head:len(c.tokens)-tail]))
		v.open = append(v.open, true)
		v.tokens = append(v.tokens, d.tokens[len(d.tokens)-tail:]...)
		v.open = append(v.open, d.open[len(d.open)-tail:]...)
		// The older of the two lends its identity.
		old, young := d, c
		if c.seq < d.seq {
			old, young = c, d
		}
		v.id, v.seq, v.count = old.id, old.seq, old.count+young.count
		v.aliases = append(append(append(v.aliases, old.aliases...), young.id), young.aliases...)
		mn.remove(old)
		mn.remove(young)
		old.into, young.into = v, v
		old.aliases, young.aliases = nil, nil
		for _, id := range append([]string{v.id}, v.aliases...) {
			mn.byID[id] = v
		}
		mn.varargs = append(mn.varargs, v)
		mn.nlive++
		return v
	}
	return c
}

// endCandidates returns the live fixed-length clusters of other lengths
// whose first or last token, as created, equals c's, oldest first. The
// shared head or tail of a variable-length merge holds constants, so one of
// the two ends must agree; the index spares a scan of every template.
func (mn *Miner) endCandidates(c *cluster) []*cluster {
	var out []*cluster
	mn.epoch++
	collect := func(idx map[string][]*cluster, key string) {
		kept := idx[key][:0]
		for _, d := range idx[key] {
			if d.into != nil || d.isVar {
				continue // retired: drop it from the index
			}
			kept = append(kept, d)
			if d != c && len(d.tokens) != len(c.tokens) && d.mark != mn.epoch {
				d.mark = mn.epoch
				out = append(out, d)
			}
		}
		idx[key] = kept
	}
	collect(mn.heads, c.tokens[0])
	collect(mn.tails, c.tokens[len(c.tokens)-1])
	sortBySeq(out)
	return out
}

// indexEnds records c's first and last tokens for endCandidates.
func (mn *Miner) indexEnds(c *cluster) {
	if len(c.tokens) == 0 || c.isVar {
		return
	}
	mn.heads[c.tokens[0]] = append(mn.heads[c.tokens[0]], c)
	last := c.tokens[len(c.tokens)-1]
	mn.tails[last] = append(mn.tails[last], c)
}

// varargSplit reports whether d and toks (of different lengths) share a
// head and a tail with only variables between them, and the lengths of
// head and tail.
func varargSplit(d *cluster, toks []string) (head, tail int, ok bool) {
	a, b := d.tokens, toks
	n := min(len(a), len(b))
	for head < n && d.accepts(head, b[head]) {
		head++
	}
	for tail < n-head && d.accepts(len(a)-1-tail, b[len(b)-1-tail]) {
		tail++
	}
	// The run is every variable between the last constant of the head and
	// the first constant of the tail.
	for head > 0 && variableToken(a[head-1]) && variableToken(b[head-1]) {
		head--
	}
	for tail > 0 && variableToken(a[len(a)-tail]) && variableToken(b[len(b)-tail]) {
		tail--
	}
	midA, midB := a[head:len(a)-tail], b[head:len(b)-tail]
	if len(midA) == 0 || len(midB) == 0 || max(len(midA), len(midB)) < 2 {
		return 0, 0, false
	}
	for _, t := range midA {
		if !variableToken(t) {
			return 0, 0, false
		}
	}
	for _, t := range midB {
		if !variableToken(t) {
			return 0, 0, false
		}
	}
	constants := 0
	for _, t := range a[:head] {
		if !hasDigitOrWild(t) {
			constants++
		}
	}
	for _, t := range a[len(a)-tail:] {
		if !hasDigitOrWild(t) {
			constants++
		}
	}
	return head, tail, constants >= varargMinConstants
}
