package template

import (
	"slices"
	"strings"
)

// Sibling merging. A new template that differs from existing ones in one or
// two positions is kept apart at first, because a word that changes often
// names a different event ("Link error" / "Link ok", "boot (command 7)" /
// "wait (command 8)"). The position becomes a variable, and the siblings
// one template, when the evidence says so:
//
//   - text in a position where another sibling has a masked value (a
//     number, an address, a path): "chdir(pwd)" next to "chdir(<*>)";
//   - masked values of different shapes in one position ("<*>:<*>" next
//     to "<*>"): one variable written several ways;
//   - siblingMin distinct identifiers (values with digits, dots,
//     underscores or masked parts), or siblingWordMin distinct plain
//     words, in one position;
//   - for two positions changing together, at least one of them must hold
//     identifiers: two words changing together are two messages.
//
// Siblings must keep at least as many constant tokens as they vary, and a
// key=value token only merges with the same key.
const (
	siblingMin     = 4
	siblingWordMin = 8
	siblingMaxDiff = 2
)

// maskedValue reports a token made only of masked variables and
// punctuation ("<*>", "<*>:<*>", "(<*>)").
func maskedValue(v string) bool {
	if !strings.Contains(v, Wildcard) {
		return false
	}
	for i := 0; i < len(v); i++ {
		if isAlnum(v[i]) {
			return false
		}
	}
	return true
}

// absorbSiblings merges the new cluster c with its siblings when
// shouldMerge says so, and returns the survivor.
func (mn *Miner) absorbSiblings(c *cluster) *cluster {
	type key [siblingMaxDiff]int
	groups := map[key][]*cluster{}
	var keys []key
	for _, d := range mn.buckets[len(c.tokens)] {
		if d == c {
			continue
		}
		diff := d.diffPositions(c.tokens, siblingMaxDiff)
		if len(diff) == 0 || len(diff) > siblingMaxDiff {
			continue
		}
		k := key{-1, -1}
		copy(k[:], diff)
		if _, ok := groups[k]; !ok {
			keys = append(keys, k)
		}
		groups[k] = append(groups[k], d)
	}
	slices.SortFunc(keys, func(a, b key) int {
		if a[0] != b[0] {
			return a[0] - b[0]
		}
		return a[1] - b[1]
	})
	for _, k := range keys {
		ds := groups[k]
		var ps []int
		for _, p := range k {
			if p >= 0 {
				ps = append(ps, p)
			}
		}
		if !shouldMerge(c, ds, ps) {
			continue
		}
		survivor := c
		for _, d := range ds {
			if d.seq < survivor.seq {
				survivor = d
			}
		}
		for _, x := range append(ds, c) {
			if x == survivor {
				continue
			}
			for _, p := range ps {
				survivor.set(p, generalize(survivor.tokens[p], x.tokens[p]))
			}
			for i, o := range x.open {
				survivor.open[i] = survivor.open[i] || o
			}
			mn.fold(survivor, x)
		}
		for _, p := range ps {
			survivor.open[p] = true
		}
		return mn.coalesce(survivor)
	}
	return c
}

// shouldMerge decides whether the new cluster c and its siblings ds, which
// differ from it only at positions ps, are one template with variables
// there.
func shouldMerge(c *cluster, ds []*cluster, ps []int) bool {
	constants := 0
	for i, t := range c.tokens {
		if !slices.Contains(ps, i) && t != Wildcard {
			constants++
		}
	}
	if constants == 0 || constants < len(ps) {
		return false
	}
	distinct := len(ds) + 1
	words, masked, lettered := false, false, false
	// idLike: some position holds digits or masked parts in every value.
	idPos := make([]bool, len(ps))
	for k := range idPos {
		idPos[k] = true
	}
	all := append([]*cluster{c}, ds...)
	for _, x := range all {
		for k, p := range ps {
			v := x.tokens[p]
			if !hasDigitOrWild(v) {
				idPos[k] = false
			}
			if hasLetter(v) && plainWord(v) {
				words = true
			}
			if x == c {
				continue
			}
			// Compare the parts that differ: "chdir(pwd)" against
			// "chdir(<*>)" is "pwd" against a masked path.
			a, b := cores(c.tokens[p], v)
			if (maskedValue(a) && !c.open[p] && hasLetter(b)) || (maskedValue(b) && !x.open[p] && hasLetter(a)) {
				masked = true
			}
			if hasLetter(a) || hasLetter(b) {
				lettered = true
			}
			if keyOf(c.tokens[p]) != keyOf(v) {
				// "num=..." and "topActivity=...": different fields,
				// so different messages.
				return false
			}
		}
	}
	if masked && len(ps) == 1 {
		// Text where other lines have a number, an address or a path: a
		// variable.
		return true
	}
	if !lettered {
		// Only masked values, in different shapes ("<*>:<*>:<*>" and
		// "<*>"): one variable written several ways.
		return len(ps) == 1 && allMasked(all, ps[0])
	}
	if len(ps) > 1 && !slices.Contains(idPos, true) {
		// Two words changing together are two messages more often than
		// two variables ("mapred.x ... mapreduce.y").
		return false
	}
	if distinct < siblingMin {
		return false
	}
	if words && distinct < siblingWordMin {
		return false
	}
	return true
}

// hasLetter reports an ASCII letter in s.
func hasLetter(s string) bool {
	for i := 0; i < len(s); i++ {
		if isLetter(s[i]) {
			return true
		}
	}
	return false
}

// hasDigitOrWild reports a digit or a "<*>" in s: a variable-like token.
func hasDigitOrWild(s string) bool {
	for i := 0; i < len(s); i++ {
		if isDigit(s[i]) {
			return true
		}
	}
	return strings.Contains(s, Wildcard)
}

// plainWord reports a value made of letters and light punctuation only:
// no digits, no wildcard, and none of the joiners ('.', '_', "::") that make
// dotted or qualified identifiers.
func plainWord(v string) bool {
	if !hasLetter(v) || hasDigitOrWild(v) {
		return false
	}
	return !strings.ContainsAny(v, "._") && !strings.Contains(v, "::")
}

// cores strips the common prefix and suffix of a and b, cut at delimiters,
// and returns what differs.
func cores(a, b string) (string, string) {
	n := min(len(a), len(b))
	p := 0
	for p < n && a[p] == b[p] {
		p++
	}
	for p > 0 && !isDelim(a[p-1]) {
		p--
	}
	s := 0
	for s < n-p && a[len(a)-1-s] == b[len(b)-1-s] {
		s++
	}
	for s > 0 && !isDelim(a[len(a)-s]) {
		s--
	}
	return a[p : len(a)-s], b[p : len(b)-s]
}

// keyOf returns the key of a key=value token ("num" for "num=3,x=4"), or
// "" when the token has no '=' after a leading name.
func keyOf(v string) string {
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c == '=' && i > 0 {
			return v[:i]
		}
		if !isAlnum(c) && c != '_' && c != '.' && c != '-' {
			return ""
		}
	}
	return ""
}

// allMasked reports whether every cluster holds a masked value at p.
func allMasked(cs []*cluster, p int) bool {
	for _, x := range cs {
		if !maskedValue(x.tokens[p]) {
			return false
		}
	}
	return true
}
