package postgres

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/medic-sh/medic/internal/warehouse"
)

func (r *profileRun) activity(ctx context.Context) error {
	cut, err := r.c.read(ctx, activitySQL, nil, func(rows pgx.Rows) error {
		var (
			s     warehouse.Session
			query string
		)
		if err := rows.Scan(&s.PID, &s.User, &s.Application, &s.ClientAddr, &s.State,
			&s.WaitEventType, &s.WaitEvent, &s.BackendStart, &s.XactStart, &s.QueryStart,
			&query, &s.BlockedBy); err != nil {
			return err
		}
		s.User = warehouse.Clean(s.User, 200)
		s.Application = warehouse.Clean(s.Application, 200)
		s.Query = warehouse.Clean(query, r.c.opts.MaxText)
		s.QuerySec = secs(s.QueryStart, r.p.ObservedAt)
		s.XactSec = secs(s.XactStart, r.p.ObservedAt)
		start := s.XactStart
		if start == nil {
			start = s.QueryStart
		}
		s.RunningAtFailure = s.State != "idle" && start != nil && !start.After(r.t.FailedAt)
		s.TouchesTarget = mentions(query, r.p.Targets) != ""
		r.sessions[s.PID] = &s
		r.order = append(r.order, s.PID)
		return nil
	})
	r.truncated("activity", cut)
	return err
}

// finish builds the session lists once activity and locks are both read.
func (r *profileRun) finish() {
	long := r.c.opts.LongRunning
	for _, pid := range r.order {
		s := r.sessions[pid]
		s.Evidence = sessionEvidence(s)
		if s.RunningAtFailure {
			r.p.Activity = append(r.p.Activity, *s)
		}
		active := s.State == "active" && s.QuerySec >= long.Seconds()
		openXact := s.State != "active" && s.XactStart != nil && s.XactSec >= long.Seconds()
		if active || openXact {
			r.p.LongRunning = append(r.p.LongRunning, *s)
		}
	}
	for i := range r.p.Blocking {
		b := &r.p.Blocking[i]
		if s, ok := r.sessions[b.Blocked.PID]; ok {
			b.Blocked = *s
		}
		if s, ok := r.sessions[b.Blocking.PID]; ok {
			b.Blocking = *s
		}
		b.TouchesTarget = b.TouchesTarget || b.Blocked.TouchesTarget || b.Blocking.TouchesTarget
		b.Evidence = pairEvidence(b)
	}
}

func sessionEvidence(s *warehouse.Session) string {
	var b strings.Builder
	fmt.Fprintf(&b, "pid %d", s.PID)
	if s.User != "" || s.Application != "" {
		fmt.Fprintf(&b, " (user %s, application %s)", orDash(s.User), orDash(s.Application))
	}
	fmt.Fprintf(&b, " %s", orDash(s.State))
	if s.QueryStart != nil {
		fmt.Fprintf(&b, ", query for %s", dur(s.QuerySec))
	}
	if s.XactStart != nil {
		fmt.Fprintf(&b, ", transaction open %s", dur(s.XactSec))
	}
	if s.WaitEventType != "" {
		fmt.Fprintf(&b, ", waiting on %s/%s", s.WaitEventType, s.WaitEvent)
	}
	if len(s.BlockedBy) > 0 {
		fmt.Fprintf(&b, ", blocked by %s", pids(s.BlockedBy))
	}
	if s.Query != "" {
		fmt.Fprintf(&b, ": %s", oneLine(s.Query, 300))
	}
	return warehouse.Clean(b.String(), 1000)
}

func pairEvidence(p *warehouse.BlockingPair) string {
	var b strings.Builder
	fmt.Fprintf(&b, "pid %d waits %s", p.Blocked.PID, dur(p.WaitedSec))
	if p.Mode != "" {
		fmt.Fprintf(&b, " for %s", p.Mode)
		if p.Relation != nil {
			fmt.Fprintf(&b, " on %s", p.Relation)
		} else if p.LockType != "" {
			fmt.Fprintf(&b, " on a %s", p.LockType)
		}
	}
	if p.Blocked.WaitEventType != "" {
		fmt.Fprintf(&b, " (%s/%s)", p.Blocked.WaitEventType, p.Blocked.WaitEvent)
	}
	fmt.Fprintf(&b, ", blocked by pid %d", p.Blocking.PID)
	if p.Blocking.State != "" {
		fmt.Fprintf(&b, " (%s", p.Blocking.State)
		if p.Blocking.XactStart != nil {
			fmt.Fprintf(&b, ", transaction open %s", dur(p.Blocking.XactSec))
		}
		b.WriteString(")")
	}
	if len(p.BlockerHolds) > 0 {
		fmt.Fprintf(&b, " holding %s", strings.Join(p.BlockerHolds, ", "))
	}
	if p.Blocked.Query != "" {
		fmt.Fprintf(&b, "; blocked query: %s", oneLine(p.Blocked.Query, 200))
	}
	if p.Blocking.Query != "" {
		fmt.Fprintf(&b, "; blocking query: %s", oneLine(p.Blocking.Query, 200))
	}
	return warehouse.Clean(b.String(), 1200)
}

func dur(sec float64) string {
	return time.Duration(sec * float64(time.Second)).Round(100 * time.Millisecond).String()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func pids(ps []int32) string {
	parts := make([]string, len(ps))
	for i, p := range ps {
		parts[i] = fmt.Sprint(p)
	}
	return strings.Join(parts, ", ")
}

// oneLine folds whitespace and caps s for evidence; s is already clean.
func oneLine(s string, limit int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > limit {
		return warehouse.Clean(s, limit)
	}
	return s
}
