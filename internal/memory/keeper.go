package memory

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/medic-sh/medic/internal/classify"
)

// ErrInvalid is returned for an update (or a record) a Keeper or a store
// refuses: an unknown outcome or verdict, a label that is not a failure
// class, a label correction together with a thumbs-down, or no id.
var ErrInvalid = errors.New("invalid memory update")

// RecordListParams pages through stored records in (UpdatedAt, ID) order:
// the records strictly after the position (UpdatedAfter, AfterID), at most
// Limit of them (the store's default and maximum apply). The store's
// MemoryRecordListParams is this type, so that a store satisfies Persister
// while memory knows nothing of the store.
type RecordListParams struct {
	UpdatedAfter time.Time
	AfterID      string
	Limit        int
}

// Persister is the storage a Keeper needs; store.Store satisfies it.
// Counts and trust change only through MemoryRecordApply, atomically in the
// database, so that several medic processes never lose an increment.
type Persister interface {
	// MemoryRecordUpsert inserts r, or replaces the descriptive fields of
	// the stored record with r's id while keeping its evidence; on return
	// r holds what is stored.
	MemoryRecordUpsert(ctx context.Context, r *Record) error
	// MemoryRecordApply adds u's evidence to record id and returns the
	// stored result.
	MemoryRecordApply(ctx context.Context, id string, u Update, now time.Time) (*Record, error)
	MemoryRecordList(ctx context.Context, p *RecordListParams) ([]*Record, error)
}

// Keeper is the persistent face of a Memory: lookups are answered from
// memory alone, while every write goes to the Persister first or right
// after, and Sync picks up what other medic processes wrote. It is safe for
// concurrent use.
type Keeper struct {
	mem *Memory
	p   Persister
	log *slog.Logger
	now func() time.Time

	// syncMu serialises Load and Sync and guards the position they reached.
	syncMu sync.Mutex
	seenAt time.Time
	seenID string

	// unsaved holds the ids of records Remember could not save; Sync saves
	// them again, so a short store outage loses nothing at the next restart.
	unsavedMu sync.Mutex
	unsaved   map[string]struct{}
}

// keeperPage is how many records one list call asks for.
const keeperPage = 500

// SyncOverlap is how far before the newest record it has seen each Sync
// starts reading again. A write is stamped before it commits, so a slow
// transaction (or a replica whose clock lags a little) can make a record
// appear behind a position already passed; reading the recent past again
// catches it. Records read twice are recognised and cost nothing.
const SyncOverlap = time.Minute

// defaultSyncEvery is Run's interval when it is given none.
const defaultSyncEvery = 30 * time.Second

// NewKeeper returns a Keeper that keeps mem in step with p. logger and now
// default to slog.Default and time.Now.
func NewKeeper(mem *Memory, p Persister, logger *slog.Logger, now func() time.Time) *Keeper {
	if logger == nil {
		logger = slog.Default()
	}
	if now == nil {
		now = time.Now
	}
	return &Keeper{mem: mem, p: p, log: logger.With("component", "memory_keeper"), now: now, unsaved: map[string]struct{}{}}
}

// Load restores every stored record into the Memory, page by page, without
// calling the embedder. A record that cannot be used is logged and skipped
// (or kept for signature lookup only) and never fails the load; an error
// means the store could not be read, and the records of the pages read so
// far stay loaded. A later Sync carries on from where Load stopped.
func (k *Keeper) Load(ctx context.Context) error {
	k.syncMu.Lock()
	defer k.syncMu.Unlock()
	k.seenAt, k.seenID = time.Time{}, ""
	st, err := k.pull(ctx, RecordListParams{})
	if err != nil {
		return fmt.Errorf("load memory records: %w", err)
	}
	k.log.InfoContext(ctx, "memory records loaded", "records", k.mem.Len(), "read", st.read,
		"skipped", st.skipped, "unindexed", st.unindexed)
	return nil
}

// Sync saves the records Remember could not save, then picks up the
// records other processes wrote or updated since the newest one this Keeper
// has seen (less SyncOverlap).
func (k *Keeper) Sync(ctx context.Context) error {
	k.syncMu.Lock()
	defer k.syncMu.Unlock()
	saveErr := k.saveUnsaved(ctx)
	var from RecordListParams // from the start when nothing was seen yet
	if !k.seenAt.IsZero() {
		from.UpdatedAfter = k.seenAt.Add(-SyncOverlap)
	}
	st, err := k.pull(ctx, from)
	if err != nil {
		return errors.Join(saveErr, fmt.Errorf("sync memory records: %w", err))
	}
	if st.restored > 0 {
		k.log.DebugContext(ctx, "memory records synced", "restored", st.restored, "skipped", st.skipped,
			"unindexed", st.unindexed)
	}
	return saveErr
}

// saveUnsaved saves again the records Remember could not save.
func (k *Keeper) saveUnsaved(ctx context.Context) error {
	k.unsavedMu.Lock()
	ids := make([]string, 0, len(k.unsaved))
	for id := range k.unsaved {
		ids = append(ids, id)
	}
	k.unsavedMu.Unlock()
	for _, id := range ids {
		r, ok := k.mem.Get(id)
		if ok {
			if err := k.p.MemoryRecordUpsert(ctx, r); err != nil {
				return fmt.Errorf("save memory record %s again (%d waiting): %w", id, len(ids), err)
			}
			k.mem.Restore(ctx, []Record{*r})
		}
		k.unsavedMu.Lock()
		delete(k.unsaved, id)
		k.unsavedMu.Unlock()
	}
	return nil
}

// pullStats counts what a pull did.
type pullStats struct {
	read, restored, skipped, unindexed int
}

// pull reads every record after from and restores those that are newer
// than what the Memory holds, advancing the seen position as it goes.
func (k *Keeper) pull(ctx context.Context, from RecordListParams) (pullStats, error) {
	var st pullStats
	p := from
	p.Limit = keeperPage
	for {
		page, err := k.p.MemoryRecordList(ctx, &p)
		if err != nil {
			return st, err
		}
		if len(page) == 0 {
			return st, nil
		}
		recs := make([]Record, 0, len(page))
		for _, r := range page {
			st.read++
			if old, ok := k.mem.Get(r.ID); ok && !newer(r, old) {
				continue
			}
			recs = append(recs, *r)
		}
		skipped, unindexed := k.mem.Restore(ctx, recs)
		st.restored += len(recs) - skipped
		st.skipped += skipped
		st.unindexed += unindexed
		last := page[len(page)-1]
		p.UpdatedAfter, p.AfterID = last.UpdatedAt, last.ID
		if last.UpdatedAt.After(k.seenAt) || (last.UpdatedAt.Equal(k.seenAt) && last.ID > k.seenID) {
			k.seenAt, k.seenID = last.UpdatedAt, last.ID
		}
	}
}

// newer reports whether stored record r should replace old, the Memory's
// copy. Evidence counts only ever grow, so a stored copy with less evidence
// is an older read (a list that raced a Feedback or a Remember); with the
// same evidence, only a later UpdatedAt is news.
func newer(r, old *Record) bool {
	re, oe := evidence(r), evidence(old)
	if re != oe {
		return re > oe
	}
	return r.UpdatedAt.After(old.UpdatedAt)
}

func evidence(r *Record) int { return r.Fixed + r.Failed + r.Ups + r.Downs }

// Run calls Sync every interval (30s when every <= 0) until ctx ends. A
// failed Sync is logged and tried again at the next tick.
func (k *Keeper) Run(ctx context.Context, every time.Duration) {
	if every <= 0 {
		every = defaultSyncEvery
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := k.Sync(ctx); err != nil && ctx.Err() == nil {
				k.log.WarnContext(ctx, "memory sync failed; retrying next interval", "error", err)
			}
		}
	}
}

// Remember adds r to the Memory (embedding it) and saves it. Remembering
// an id that is already known replaces what the failure looked like but
// keeps the record's evidence (action, outcome, verdict, counts, trust)
// and creation time: those change only through Feedback. UpdatedAt is set
// to now, which is how other processes find the change.
//
// When saving fails the record is still in the Memory (and the next Sync
// saves it again), and the Memory's copy is returned together with an
// error saying it was not saved, for the caller to log. The only other
// errors are an invalid record and ctx ending while embedding.
func (k *Keeper) Remember(ctx context.Context, r Record) (*Record, error) {
	if r.ID != "" {
		if old, ok := k.mem.Get(r.ID); ok {
			r.Action, r.Outcome, r.Verdict = old.Action, old.Outcome, old.Verdict
			r.Fixed, r.Failed, r.Ups, r.Downs = old.Fixed, old.Failed, old.Ups, old.Downs
			r.CreatedAt = old.CreatedAt
		}
	}
	now := k.now()
	if r.CreatedAt.IsZero() {
		r.CreatedAt = now
	}
	r.UpdatedAt = now
	rec, err := k.mem.Add(ctx, r)
	if err != nil {
		return nil, fmt.Errorf("remember: %w", err)
	}
	stored := *rec
	if err := k.p.MemoryRecordUpsert(ctx, &stored); err != nil {
		k.unsavedMu.Lock()
		k.unsaved[rec.ID] = struct{}{}
		k.unsavedMu.Unlock()
		return rec, fmt.Errorf("remember %s: kept in memory, saving again at the next sync: %w", rec.ID, err)
	}
	k.unsavedMu.Lock()
	delete(k.unsaved, rec.ID)
	k.unsavedMu.Unlock()
	// The store kept its own evidence if another process had the record
	// first; the Memory takes the stored copy.
	k.mem.Restore(ctx, []Record{stored})
	return &stored, nil
}

// Feedback applies u to record id in the store, atomically, and puts the
// result in the Memory. Silence (an Update with nothing in it) changes
// nothing. An unknown id gives the store's not-found error; an invalid
// update gives ErrInvalid without touching the store.
func (k *Keeper) Feedback(ctx context.Context, id string, u Update) (*Record, error) {
	if err := u.Validate(); err != nil {
		return nil, fmt.Errorf("memory feedback on %s: %w", id, err)
	}
	rec, err := k.p.MemoryRecordApply(ctx, id, u, k.now())
	if err != nil {
		return nil, fmt.Errorf("memory feedback on %s: %w", id, err)
	}
	k.mem.Restore(ctx, []Record{*rec})
	return rec, nil
}

// Lookup is Memory.Lookup: it never touches the store.
func (k *Keeper) Lookup(ctx context.Context, q Query, n int) (*Result, error) {
	return k.mem.Lookup(ctx, q, n)
}

// Get is Memory.Get: it never touches the store.
func (k *Keeper) Get(id string) (*Record, bool) { return k.mem.Get(id) }

// Memory returns the in-process memory the Keeper keeps.
func (k *Keeper) Memory() *Memory { return k.mem }

// Silent reports whether u carries nothing: no outcome, no verdict, no
// action and no label. Silence changes no record, not even its UpdatedAt.
func (u Update) Silent() bool {
	return (u.Outcome == "" || u.Outcome == OutcomeUnknown) && (u.Verdict == "" || u.Verdict == VerdictNone) &&
		u.Action == "" && u.Label == ""
}

// Validate checks u before it is applied: known outcome and verdict, a
// label that is a failure class, and no thumbs-down with a label
// correction (the correction is itself the thumbs-up). Errors match
// ErrInvalid.
func (u Update) Validate() error {
	switch u.Outcome {
	case "", OutcomeUnknown, OutcomeFixed, OutcomeFailed:
	default:
		return fmt.Errorf("%w: unknown outcome %q (want fixed, failed or unknown)", ErrInvalid, u.Outcome)
	}
	switch u.Verdict {
	case "", VerdictNone, VerdictUp, VerdictDown:
	default:
		return fmt.Errorf("%w: unknown verdict %q (want up, down or none)", ErrInvalid, u.Verdict)
	}
	if u.Label != "" {
		if !classify.Label(u.Label).Valid() {
			return fmt.Errorf("%w: label %q is not a failure class (want one of %v)", ErrInvalid, u.Label, classify.Labels())
		}
		if u.Verdict == VerdictDown {
			return fmt.Errorf("%w: a label correction counts as a thumbs-up; send it without verdict down", ErrInvalid)
		}
	}
	return nil
}

// Delta is what applying u adds to a record: the count increments, and the
// outcome, verdict, action and label to set ("" keeps the stored value).
// Stores use it so that every engine applies an Update the same way; they
// add the increments in SQL and recompute trust with ComputeTrust.
type Delta struct {
	Fixed, Failed, Ups, Downs int
	Outcome                   Outcome
	Verdict                   Verdict
	Action                    string
	Label                     string
}

// Delta returns what u adds to a record, after Validate has passed. An
// action with no outcome resets the stored outcome to unknown: the stored
// outcome is the stored action's, and this one's is not known yet. A label
// correction is a thumbs-up.
func (u Update) Delta() Delta {
	var d Delta
	switch u.Outcome {
	case OutcomeFixed:
		d.Fixed, d.Outcome = 1, OutcomeFixed
	case OutcomeFailed:
		d.Failed, d.Outcome = 1, OutcomeFailed
	default:
		if u.Action != "" {
			d.Outcome = OutcomeUnknown
		}
	}
	switch {
	case u.Label != "" || u.Verdict == VerdictUp:
		d.Ups, d.Verdict = 1, VerdictUp
	case u.Verdict == VerdictDown:
		d.Downs, d.Verdict = 1, VerdictDown
	}
	d.Action, d.Label = u.Action, u.Label
	return d
}

// Validate checks that a store can save r as it is: an id, a known (or
// empty) outcome and verdict, and no negative counts. Errors match
// ErrInvalid.
func (r *Record) Validate() error {
	switch {
	case r.ID == "":
		return fmt.Errorf("%w: record has no id", ErrInvalid)
	case r.Fixed < 0 || r.Failed < 0 || r.Ups < 0 || r.Downs < 0:
		return fmt.Errorf("%w: record %s has negative evidence counts", ErrInvalid, r.ID)
	}
	if err := (Update{Feedback: Feedback{Outcome: r.Outcome, Verdict: r.Verdict}}).Validate(); err != nil {
		return fmt.Errorf("record %s: %w", r.ID, err)
	}
	return nil
}
