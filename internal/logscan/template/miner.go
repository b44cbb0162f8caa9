package template

import (
	"fmt"
	"hash/fnv"
	"sort"
	"strings"
	"sync"
)

// Options configures a Miner. The zero value is the one configuration medic
// uses everywhere; the fields exist to bound resources, not to tune
// accuracy per log source.
type Options struct {
	// MaxLineBytes is how much of each line is tokenised (default
	// DefaultMaxLineBytes); longer lines end in a "<*>" token.
	MaxLineBytes int
	// MaxTokens is how many tokens of each line are kept (default
	// DefaultMaxTokens); longer lines end in a "<*>" token.
	MaxTokens int
	// MaxTemplates bounds the templates kept (default
	// DefaultMaxTemplates). Once full, a line that matches no template
	// gets an untracked template: its masked text, with an id derived from
	// that text, that is neither stored nor counted.
	MaxTemplates int
	// MaxCacheBytes bounds the cache of masked lines already seen
	// (default 8 MiB of keys); when full it is cleared and refilled.
	MaxCacheBytes int
}

// DefaultMaxTemplates is the default bound on stored templates.
const DefaultMaxTemplates = 10000

// Match is the result of adding one line.
type Match struct {
	// ID is the template's stable id.
	ID string
	// Template is the template as it stands after this line.
	Template string
	// New reports that this line created the template.
	New bool
}

// Template is one mined template.
type Template struct {
	// ID is stable: it is assigned when the template is created and kept
	// when the template is generalised or absorbs other templates.
	ID string `json:"id"`
	// Template is the text, variable parts as "<*>".
	Template string `json:"template"`
	// Count is the number of lines matched.
	Count int64 `json:"count"`
	// Aliases are the ids of templates merged into this one; lookups by an
	// alias resolve here.
	Aliases []string `json:"aliases,omitempty"`
}

// Miner groups log lines into templates online. It is safe for concurrent
// use; lines are processed one at a time under a mutex.
//
// Ids are stable across restarts through Snapshot and Restore. An id is a
// hash of the template's text when it was created (for most templates the
// masked text of its first line, which does not depend on which line came
// first); generalising a template later does not change it, and a template
// absorbed by another keeps resolving to the survivor as an alias.
type Miner struct {
	mu      sync.Mutex
	opts    Options
	m       *masker
	buckets map[int][]*cluster // by token count, live clusters in creation order
	varargs []*cluster         // live variable-length clusters
	byID    map[string]*cluster
	exact   map[string]*cluster
	// heads and tails index fixed-length clusters by their first and last
	// token as created, for the variable-length merge.
	heads, tails map[string][]*cluster
	epoch        uint64 // marks clusters already collected by endCandidates
	cached       int    // bytes of keys in exact
	nlive        int    // live clusters
	seq          int64
}

// New returns an empty Miner.
func New(opts Options) *Miner {
	if opts.MaxLineBytes <= 0 {
		opts.MaxLineBytes = DefaultMaxLineBytes
	}
	if opts.MaxTokens <= 0 {
		opts.MaxTokens = DefaultMaxTokens
	}
	if opts.MaxTemplates <= 0 {
		opts.MaxTemplates = DefaultMaxTemplates
	}
	if opts.MaxCacheBytes <= 0 {
		opts.MaxCacheBytes = 8 << 20
	}
	return &Miner{
		opts:    opts,
		m:       newMasker(opts.MaxLineBytes, opts.MaxTokens),
		buckets: map[int][]*cluster{},
		byID:    map[string]*cluster{},
		exact:   map[string]*cluster{},
		heads:   map[string][]*cluster{},
		tails:   map[string][]*cluster{},
	}
}

// Add matches one line against the known templates, creating or
// generalising a template as needed.
func (mn *Miner) Add(line string) Match {
	mn.mu.Lock()
	defer mn.mu.Unlock()
	mn.m.mask(line)
	if c, ok := mn.exact[string(mn.m.line)]; ok {
		c = c.resolve()
		c.count++
		return Match{ID: c.id, Template: c.text()}
	}
	toks := mn.m.tokens()
	created := false
	c := mn.match(toks)
	if c == nil {
		c = mn.matchVararg(toks)
	}
	if c == nil {
		if mn.nlive >= mn.opts.MaxTemplates {
			text := string(mn.m.line)
			return Match{ID: hashID(text), Template: text, New: true}
		}
		c = mn.create(toks)
		created = true
		c = mn.absorbSiblings(c)
		if !c.isVar && len(c.tokens) == len(toks) {
			c = mn.absorbVararg(c)
		}
	}
	if mn.cached+len(mn.m.line) > mn.opts.MaxCacheBytes {
		clear(mn.exact)
		mn.cached = 0
	}
	mn.exact[string(mn.m.line)] = c
	mn.cached += len(mn.m.line)
	c.count++
	return Match{ID: c.id, Template: c.text(), New: created}
}

// Lookup returns the current template for id, following aliases.
func (mn *Miner) Lookup(id string) (Template, bool) {
	mn.mu.Lock()
	defer mn.mu.Unlock()
	c, ok := mn.byID[id]
	if !ok {
		return Template{}, false
	}
	return c.resolve().export(), true
}

// Templates returns the live templates, most frequent first (ties by id).
func (mn *Miner) Templates() []Template {
	mn.mu.Lock()
	defer mn.mu.Unlock()
	var out []Template
	for _, c := range mn.live() {
		out = append(out, c.export())
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Count != out[j].Count {
			return out[i].Count > out[j].Count
		}
		return out[i].ID < out[j].ID
	})
	return out
}

// Len returns the number of live templates.
func (mn *Miner) Len() int {
	mn.mu.Lock()
	defer mn.mu.Unlock()
	return mn.nlive
}

func (mn *Miner) create(toks []string) *cluster {
	text := strings.Join(toks, " ")
	id := hashID(text)
	for k := 2; mn.byID[id] != nil; k++ {
		id = fmt.Sprintf("%s-%d", hashID(text), k)
	}
	mn.seq++
	c := &cluster{id: id, seq: mn.seq, tokens: toks, open: make([]bool, len(toks)), str: text}
	mn.byID[id] = c
	mn.buckets[len(toks)] = append(mn.buckets[len(toks)], c)
	mn.indexEnds(c)
	mn.nlive++
	return c
}

// remove takes a merged cluster out of its bucket; it stays in byID as an
// alias of its survivor.
func (mn *Miner) remove(c *cluster) {
	mn.nlive--
	if c.isVar {
		for i, x := range mn.varargs {
			if x == c {
				mn.varargs = append(mn.varargs[:i], mn.varargs[i+1:]...)
				return
			}
		}
		return
	}
	b := mn.buckets[len(c.tokens)]
	for i, x := range b {
		if x == c {
			mn.buckets[len(c.tokens)] = append(b[:i], b[i+1:]...)
			return
		}
	}
}

func hashID(text string) string {
	h := fnv.New64a()
	h.Write([]byte(text))
	return fmt.Sprintf("%016x", h.Sum64())
}

// live returns the live clusters in creation order.
func (mn *Miner) live() []*cluster {
	out := append([]*cluster(nil), mn.varargs...)
	for _, b := range mn.buckets {
		out = append(out, b...)
	}
	sortBySeq(out)
	return out
}

func sortBySeq(cs []*cluster) {
	sort.Slice(cs, func(i, j int) bool { return cs[i].seq < cs[j].seq })
}
