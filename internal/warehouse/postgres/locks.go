package postgres

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/medic-sh/medic/internal/warehouse"
)

type lockRow struct {
	pid       int32
	lockType  string
	mode      string
	granted   bool
	waitStart *time.Time
	rel       *warehouse.TableName
	blockedBy []int32
}

func (r *profileRun) locks(ctx context.Context) error {
	var all []lockRow
	cut, err := r.c.read(ctx, locksSQL, nil, func(rows pgx.Rows) error {
		var (
			l             lockRow
			schema, table string
		)
		if err := rows.Scan(&l.pid, &l.lockType, &l.mode, &l.granted, &l.waitStart, &schema, &table, &l.blockedBy); err != nil {
			return err
		}
		if table != "" {
			l.rel = &warehouse.TableName{Schema: warehouse.Clean(schema, 200), Name: warehouse.Clean(table, 200)}
		}
		all = append(all, l)
		return nil
	})
	r.truncated("locks", cut)
	if err != nil {
		return err
	}
	for _, l := range all {
		if l.rel != nil && isTarget(*l.rel, r.p.Targets) {
			if s, ok := r.sessions[l.pid]; ok {
				s.TouchesTarget = true
			}
		}
	}
	for _, w := range all {
		if w.granted {
			continue
		}
		rel := w.rel
		if rel == nil {
			// A row lock waits on the holder's transaction id; the
			// waiter's tuple lock names the table.
			rel = tupleRelation(all, w.pid)
		}
		touches := rel != nil && isTarget(*rel, r.p.Targets)
		lw := warehouse.LockWait{
			PID: w.pid, LockType: w.lockType, Mode: w.mode, Relation: rel,
			WaitStart: w.waitStart, WaitedSec: secs(w.waitStart, r.p.ObservedAt),
			BlockedBy: w.blockedBy, TouchesTarget: touches,
		}
		lw.Evidence = lockEvidence(&lw)
		r.p.LockWaits = append(r.p.LockWaits, lw)
		for _, blocker := range w.blockedBy {
			r.p.Blocking = append(r.p.Blocking, warehouse.BlockingPair{
				Blocked:       warehouse.Session{PID: w.pid},
				Blocking:      warehouse.Session{PID: blocker},
				LockType:      w.lockType,
				Mode:          w.mode,
				Relation:      rel,
				BlockerHolds:  holds(all, blocker, w.pid),
				WaitedSec:     lw.WaitedSec,
				TouchesTarget: touches,
			})
		}
	}
	return nil
}

func tupleRelation(all []lockRow, pid int32) *warehouse.TableName {
	for _, l := range all {
		if l.pid == pid && l.granted && l.lockType == "tuple" && l.rel != nil {
			return l.rel
		}
	}
	return nil
}

// holds lists the locks blocker holds on the relations waiter locks or
// waits for, and its transaction id lock, which row-lock waiters queue on.
func holds(all []lockRow, blocker, waiter int32) []string {
	rels := map[warehouse.TableName]bool{}
	for _, l := range all {
		if l.pid == waiter && l.rel != nil {
			rels[*l.rel] = true
		}
	}
	var out []string
	for _, l := range all {
		if l.pid != blocker || !l.granted {
			continue
		}
		switch {
		case l.rel != nil && rels[*l.rel]:
			out = append(out, fmt.Sprintf("%s on %s", l.mode, l.rel))
		case l.lockType == "transactionid":
			out = append(out, fmt.Sprintf("%s on its transaction", l.mode))
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func lockEvidence(l *warehouse.LockWait) string {
	var b strings.Builder
	fmt.Fprintf(&b, "pid %d waits %s for %s", l.PID, dur(l.WaitedSec), l.Mode)
	if l.Relation != nil {
		fmt.Fprintf(&b, " on %s", l.Relation)
	} else {
		fmt.Fprintf(&b, " on a %s lock", l.LockType)
	}
	if len(l.BlockedBy) > 0 {
		fmt.Fprintf(&b, ", blocked by %s", pids(l.BlockedBy))
	}
	return warehouse.Clean(b.String(), 500)
}
