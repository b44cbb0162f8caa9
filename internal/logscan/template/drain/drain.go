// Package drain is a faithful Go port of the Drain online log parser (He et
// al., ICWS 2017) as benchmarked by logpai/logparser (logparser/Drain/Drain.py
// and benchmark.py at commit db272234). It exists only as the baseline that
// medic's own template miner (package template) is measured against: its
// per-data-set settings are tuned to each Loghub system, which is exactly
// what a real configuration must never do, so nothing outside benchmarks
// should use it.
//
// The port copies the reference's quirks on purpose, because its job is to
// reproduce the published numbers:
//
//   - the tree has a token-count layer and then depth-3 layers keyed by the
//     leading tokens; a token containing a digit always goes to the "<*>"
//     child, and a node with maxChild-1 children routes new tokens to "<*>";
//   - a message with at most depth-3 tokens is never attached to the tree, so
//     each such message starts a new cluster (its lines still share a group
//     when their templates are identical strings);
//   - similarity counts positions where the template token is not "<*>" and
//     equals the message token, divided by the length; ties go to the
//     cluster with more "<*>" positions, then to the first inserted;
//   - only whole tokens equal to "<*>" are wildcards.
package drain

import (
	"fmt"
	"regexp"
	"strings"
	"unicode"
)

// Wildcard is the token Drain uses for a variable position.
const Wildcard = "<*>"

// Config holds Drain's parameters.
type Config struct {
	// Depth is the depth of leaf nodes, as in Drain.py (the number of token
	// layers is Depth-3). Values below 3 are treated as 3.
	Depth int
	// ST is the similarity threshold in [0, 1].
	ST float64
	// MaxChild bounds the children of an internal node.
	MaxChild int
	// Regexes are applied in order before tokenising; every match is
	// replaced by "<*>".
	Regexes []string
}

// DefaultConfig returns Drain.py's constructor defaults (depth 4, st 0.4,
// maxChild 100, no regexes), used for systems without benchmark settings.
func DefaultConfig() Config {
	return Config{Depth: 4, ST: 0.4, MaxChild: 100}
}

type cluster struct {
	id     int
	tokens []string
	lines  int
}

type node struct {
	children map[string]*node
	clusters []*cluster
}

// Parser is one Drain instance. It is not safe for concurrent use.
type Parser struct {
	depth    int // Drain.py's self.depth, i.e. Config.Depth-2
	st       float64
	maxChild int
	rex      []*regexp.Regexp
	root     map[int]*node
	clusters []*cluster
}

// New compiles the configuration's regexes and returns an empty parser.
func New(cfg Config) (*Parser, error) {
	if cfg.Depth < 3 {
		cfg.Depth = 3
	}
	if cfg.MaxChild < 1 {
		cfg.MaxChild = 100
	}
	p := &Parser{
		depth:    cfg.Depth - 2,
		st:       cfg.ST,
		maxChild: cfg.MaxChild,
		root:     map[int]*node{},
	}
	for _, r := range cfg.Regexes {
		re, err := regexp.Compile(r)
		if err != nil {
			return nil, fmt.Errorf("drain: compile preprocessing regex %q: %w", r, err)
		}
		p.rex = append(p.rex, re)
	}
	return p, nil
}

// Add parses one message and returns the index of its cluster. The cluster's
// template may still change as later messages merge into it; read it with
// Template once all messages are in, as the reference does.
func (p *Parser) Add(content string) int {
	for _, re := range p.rex {
		content = re.ReplaceAllLiteralString(content, Wildcard)
	}
	tokens := pyFields(content)
	c := p.search(tokens)
	if c == nil {
		c = &cluster{id: len(p.clusters), tokens: tokens}
		p.clusters = append(p.clusters, c)
		p.insert(c)
	} else {
		for i, t := range c.tokens {
			if t != tokens[i] {
				c.tokens[i] = Wildcard
			}
		}
	}
	c.lines++
	return c.id
}

// Template returns the current template of cluster id, tokens joined by one
// space, or "" for an unknown id.
func (p *Parser) Template(id int) string {
	if id < 0 || id >= len(p.clusters) {
		return ""
	}
	return strings.Join(p.clusters[id].tokens, " ")
}

// Len returns the number of clusters.
func (p *Parser) Len() int { return len(p.clusters) }

// Parse runs Drain over all messages and returns, for each, the final
// template of its cluster, exactly like Drain.py's structured output.
func (p *Parser) Parse(contents []string) []string {
	ids := make([]int, len(contents))
	for i, c := range contents {
		ids[i] = p.Add(c)
	}
	tmpl := make([]string, len(p.clusters))
	for i, c := range p.clusters {
		tmpl[i] = strings.Join(c.tokens, " ")
	}
	out := make([]string, len(contents))
	for i, id := range ids {
		out[i] = tmpl[id]
	}
	return out
}

func (p *Parser) search(tokens []string) *cluster {
	n := len(tokens)
	parent, ok := p.root[n]
	if !ok {
		return nil
	}
	depth := 1
	for _, t := range tokens {
		if depth >= p.depth || depth > n {
			break
		}
		if child, ok := parent.children[t]; ok {
			parent = child
		} else if child, ok := parent.children[Wildcard]; ok {
			parent = child
		} else {
			return nil
		}
		depth++
	}
	return p.fastMatch(parent.clusters, tokens)
}

func (p *Parser) fastMatch(cs []*cluster, tokens []string) *cluster {
	var best *cluster
	bestSim, bestPar := -1.0, -1
	for _, c := range cs {
		sim, par := seqDist(c.tokens, tokens)
		if sim > bestSim || (sim == bestSim && par > bestPar) {
			best, bestSim, bestPar = c, sim, par
		}
	}
	if best != nil && bestSim >= p.st {
		return best
	}
	return nil
}

func seqDist(tmpl, tokens []string) (float64, int) {
	same, par := 0, 0
	for i, t := range tmpl {
		if t == Wildcard {
			par++
			continue
		}
		if t == tokens[i] {
			same++
		}
	}
	// Drain.py divides by len(seq1); an empty message never reaches here
	// because it is never attached to the tree.
	return float64(same) / float64(len(tmpl)), par
}

func (p *Parser) insert(c *cluster) {
	n := len(c.tokens)
	first, ok := p.root[n]
	if !ok {
		first = &node{children: map[string]*node{}}
		p.root[n] = first
	}
	parent := first
	depth := 1
	for _, t := range c.tokens {
		if depth >= p.depth || depth > n {
			parent.clusters = append(parent.clusters, c)
			break
		}
		child, ok := parent.children[t]
		switch {
		case ok:
			parent = child
		case hasDigit(t):
			if w, ok := parent.children[Wildcard]; ok {
				parent = w
			} else {
				parent = parent.addChild(Wildcard)
			}
		default:
			_, hasWild := parent.children[Wildcard]
			switch {
			case hasWild && len(parent.children) < p.maxChild:
				parent = parent.addChild(t)
			case hasWild:
				parent = parent.children[Wildcard]
			case len(parent.children)+1 < p.maxChild:
				parent = parent.addChild(t)
			case len(parent.children)+1 == p.maxChild:
				parent = parent.addChild(Wildcard)
			default:
				// Unreachable in the reference (a full node always holds
				// "<*>"), kept total so a bad MaxChild cannot panic.
				if w, ok := parent.children[Wildcard]; ok {
					parent = w
				} else {
					parent = parent.addChild(Wildcard)
				}
			}
		}
		depth++
	}
}

func (n *node) addChild(key string) *node {
	c := &node{children: map[string]*node{}}
	n.children[key] = c
	return c
}

func hasDigit(s string) bool {
	for _, r := range s {
		if unicode.IsDigit(r) {
			return true
		}
	}
	return false
}

// pyFields splits like Python's str.split() with no argument: on runs of
// whitespace as str.isspace defines it, which adds the ASCII separators
// 0x1c-0x1f to Unicode's White_Space.
func pyFields(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool {
		return unicode.IsSpace(r) || (r >= 0x1c && r <= 0x1f)
	})
}
