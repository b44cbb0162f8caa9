package audit

import (
	"errors"
	"fmt"

	"github.com/medic-sh/medic/internal/incident"
)

// Problem names what is wrong with the first broken entry, stable for
// clients to branch on.
type Problem string

// Problems Verify reports.
const (
	// ProblemHash: the entry's content no longer hashes to its stored hash:
	// it was changed after it was written.
	ProblemHash Problem = "hash_mismatch"
	// ProblemLink: the entry's prev_hash is not the hash of the entry
	// before it: an entry was removed, inserted or rewritten with its hash.
	ProblemLink Problem = "broken_link"
	// ProblemOrder: ids do not increase.
	ProblemOrder Problem = "id_order"
)

// Report is the outcome of checking a chain.
type Report struct {
	// Intact is true when every entry checked holds.
	Intact bool `json:"intact"`
	// Entries counts the entries checked, up to and including a broken one.
	Entries int `json:"entries"`
	// FirstID and LastID are the ids of the first and last entries checked.
	FirstID int64 `json:"first_id,omitempty"`
	LastID  int64 `json:"last_id,omitempty"`
	// LastHash is the hash of the last intact entry, the head of the chain
	// when Intact: keep it elsewhere to detect a truncated tail later.
	LastHash string `json:"last_hash,omitempty"`
	// BrokenID is the id of the first entry that does not hold.
	BrokenID int64 `json:"broken_id,omitempty"`
	// Problem and Reason say why it does not.
	Problem Problem `json:"problem,omitempty"`
	Reason  string  `json:"reason,omitempty"`
}

// ErrNilEntry is returned for a nil entry, which cannot be judged.
var ErrNilEntry = errors.New("audit: nil entry")

// Verifier checks a chain fed to it in id order, a page at a time, so that
// a long chain never has to be held in memory. The zero Verifier expects the
// chain to start at the genesis.
type Verifier struct {
	r      Report
	prev   string
	prevID int64
	broken bool
}

// Add checks the next entry. Once an entry is broken the rest are ignored:
// Report names the first. It reports whether the chain still holds.
func (v *Verifier) Add(e *incident.AuditEntry) (bool, error) {
	if e == nil {
		return false, ErrNilEntry
	}
	if v.broken {
		return false, nil
	}
	if v.r.Entries == 0 {
		v.prev = GenesisHash
		v.r.FirstID = e.ID
	}
	v.r.Entries++
	v.r.LastID = e.ID
	switch {
	case v.r.Entries > 1 && e.ID <= v.prevID:
		v.fail(e, ProblemOrder, fmt.Sprintf("id %d follows id %d: ids must increase", e.ID, v.prevID))
	case e.PrevHash != v.prev:
		v.fail(e, ProblemLink, fmt.Sprintf("prev_hash %s is not the hash %s of the entry before it", short(e.PrevHash), short(v.prev)))
	case Hash(e.PrevHash, e) != e.Hash:
		v.fail(e, ProblemHash, fmt.Sprintf("content hashes to %s, not to the stored hash %s: the entry was changed", short(Hash(e.PrevHash, e)), short(e.Hash)))
	default:
		v.prev, v.prevID = e.Hash, e.ID
		v.r.LastHash = e.Hash
	}
	return !v.broken, nil
}

func (v *Verifier) fail(e *incident.AuditEntry, p Problem, reason string) {
	v.broken = true
	v.r.BrokenID, v.r.Problem, v.r.Reason = e.ID, p, fmt.Sprintf("entry %d: %s", e.ID, reason)
}

// Report returns the outcome so far; an empty chain is intact.
func (v *Verifier) Report() *Report {
	r := v.r
	r.Intact = !v.broken
	return &r
}

// Verify checks a whole chain, in id order, from the genesis.
func Verify(entries []*incident.AuditEntry) (*Report, error) {
	var v Verifier
	for _, e := range entries {
		if _, err := v.Add(e); err != nil {
			return nil, err
		}
	}
	return v.Report(), nil
}

func short(h string) string {
	if h == "" {
		return `""`
	}
	if len(h) > 12 {
		return h[:12] + "…"
	}
	return h
}
