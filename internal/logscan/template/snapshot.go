package template

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// snapshotVersion is the format of Snapshot's output; Restore rejects any
// other.
const snapshotVersion = 1

type snapshot struct {
	Version   int            `json:"version"`
	Templates []snapTemplate `json:"templates"`
	Seq       int64          `json:"seq"`
}

type snapTemplate struct {
	ID       string   `json:"id"`
	Template string   `json:"template"` // for people reading the snapshot
	Tokens   []string `json:"tokens"`
	Open     []int    `json:"open,omitempty"`
	Count    int64    `json:"count"`
	Seq      int64    `json:"seq"`
	Aliases  []string `json:"aliases,omitempty"`
	// Vararg, when set, is the position that stands for one or more
	// tokens.
	Vararg *int `json:"vararg,omitempty"`
}

// ErrBadSnapshot is returned by Restore for data it cannot use.
var ErrBadSnapshot = errors.New("bad template snapshot")

// Snapshot returns the miner's state as JSON, for the store to persist and
// Restore to load after a restart: every live template with its id, tokens,
// generalised positions, count and aliases.
func (mn *Miner) Snapshot() ([]byte, error) {
	mn.mu.Lock()
	defer mn.mu.Unlock()
	s := snapshot{Version: snapshotVersion, Seq: mn.seq, Templates: []snapTemplate{}}
	for _, c := range mn.live() {
		t := snapTemplate{
			ID: c.id, Template: c.text(), Tokens: c.tokens, Count: c.count,
			Seq: c.seq, Aliases: c.aliases,
		}
		for i, o := range c.open {
			if o {
				t.Open = append(t.Open, i)
			}
		}
		if c.isVar {
			t.Vararg = &c.varPos
		}
		s.Templates = append(s.Templates, t)
	}
	b, err := json.Marshal(s)
	if err != nil {
		return nil, fmt.Errorf("marshal template snapshot: %w", err)
	}
	return b, nil
}

// Restore replaces the miner's state with a snapshot taken by Snapshot.
// Lines added afterwards match the restored templates and get their ids.
// On error the miner is left unchanged.
func (mn *Miner) Restore(data []byte) error {
	var s snapshot
	if err := json.Unmarshal(data, &s); err != nil {
		return fmt.Errorf("%w: %w", ErrBadSnapshot, err)
	}
	if s.Version != snapshotVersion {
		return fmt.Errorf("%w: version %d, want %d", ErrBadSnapshot, s.Version, snapshotVersion)
	}
	buckets := map[int][]*cluster{}
	var varargs []*cluster
	byID := map[string]*cluster{}
	seq := s.Seq
	for _, t := range s.Templates {
		if t.ID == "" {
			return fmt.Errorf("%w: template %q has no id", ErrBadSnapshot, t.Template)
		}
		for _, tok := range t.Tokens {
			if tok == "" || strings.ContainsFunc(tok, func(r rune) bool { return r < 0x80 && isSpace(byte(r)) }) {
				return fmt.Errorf("%w: template %s has an empty or spaced token", ErrBadSnapshot, t.ID)
			}
		}
		c := &cluster{
			id: t.ID, seq: t.Seq, tokens: append([]string{}, t.Tokens...),
			open: make([]bool, len(t.Tokens)), count: t.Count,
			aliases: append([]string(nil), t.Aliases...), dirty: true,
		}
		for _, i := range t.Open {
			if i < 0 || i >= len(c.open) {
				return fmt.Errorf("%w: template %s opens position %d of %d", ErrBadSnapshot, t.ID, i, len(c.open))
			}
			c.open[i] = true
		}
		for _, id := range append([]string{t.ID}, t.Aliases...) {
			if byID[id] != nil {
				return fmt.Errorf("%w: id %s appears twice", ErrBadSnapshot, id)
			}
			byID[id] = c
		}
		seq = max(seq, c.seq)
		if t.Vararg != nil {
			if *t.Vararg < 0 || *t.Vararg >= len(c.tokens) {
				return fmt.Errorf("%w: template %s has variable part %d of %d", ErrBadSnapshot, t.ID, *t.Vararg, len(c.tokens))
			}
			c.isVar, c.varPos = true, *t.Vararg
			varargs = append(varargs, c)
			continue
		}
		buckets[len(c.tokens)] = append(buckets[len(c.tokens)], c)
	}
	sortBySeq(varargs)
	for _, b := range buckets {
		// Matching prefers older templates on ties, so keep creation order.
		sortBySeq(b)
	}
	mn.mu.Lock()
	defer mn.mu.Unlock()
	mn.buckets = buckets
	mn.varargs = varargs
	mn.byID = byID
	mn.nlive = len(s.Templates)
	mn.cached = 0
	mn.heads, mn.tails = map[string][]*cluster{}, map[string][]*cluster{}
	for _, c := range mn.live() {
		mn.indexEnds(c)
	}
	mn.seq = seq
	clear(mn.exact)
	return nil
}
