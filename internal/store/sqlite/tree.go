package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/medic-sh/medic/internal/incident"
	"github.com/medic-sh/medic/internal/store"
)

// uniqueByArgs makes a job unique by its arguments among jobs that have not
// been cancelled or discarded: a second insert returns the first job.
var uniqueByArgs = &river.InsertOpts{UniqueOpts: river.UniqueOpts{ByArgs: true}}

// SessionSpawn implements store.Store.
func (s *Store) SessionSpawn(ctx context.Context, p *store.SessionSpawnParams) ([]*incident.Session, error) {
	if err := checkSpawn(p); err != nil {
		return nil, err
	}
	var out []*incident.Session
	err := s.tx(ctx, func(tx *sql.Tx) error {
		parent, err := getSession(ctx, tx, p.ParentID)
		if err != nil {
			return err
		}
		if parent.Status.Final() {
			return fmt.Errorf("spawn under session %s: it is %s already: %w", parent.ID, parent.Status, store.ErrConflict)
		}
		existing, err := listChildren(ctx, tx, parent.ID)
		if err != nil {
			return err
		}
		byAgent := make(map[string]*incident.Session, len(existing))
		for _, c := range existing {
			byAgent[c.Agent] = c
		}
		now := s.now().UTC()
		deadline := p.Deadline.UTC()
		var created []string
		for _, want := range p.Children {
			if c, ok := byAgent[want.Agent]; ok {
				out = append(out, c)
				continue
			}
			child, err := parent.NewChild(newID("ses"), want.Agent, now)
			if err != nil {
				return fmt.Errorf("spawn: %w", err)
			}
			child.Input, child.Deadline = want.Input, &deadline
			if err := s.startChild(ctx, tx, parent, child, now); err != nil {
				return err
			}
			out = append(out, child)
			created = append(created, child.ID)
		}
		if parent.Deadline == nil {
			parent.Deadline, parent.UpdatedAt = &deadline, now
			if _, err := tx.ExecContext(ctx, `UPDATE sessions SET deadline = ?, updated_at = ? WHERE id = ?`,
				fmtTime(deadline), fmtTime(now), parent.ID); err != nil {
				return fmt.Errorf("set deadline of session %s: %w", parent.ID, err)
			}
		}
		compose := *uniqueByArgs
		compose.ScheduledAt = *parent.Deadline
		if _, err := s.jobs.InsertTx(ctx, tx, store.ComposeJobArgs{IncidentID: parent.IncidentID, SessionID: parent.ID}, &compose); err != nil {
			return fmt.Errorf("schedule compose of session %s: %w", parent.ID, err)
		}
		if len(created) == 0 {
			return nil
		}
		return insertAudit(ctx, tx, &incident.AuditEntry{
			At: now, Actor: actorOr(p.Actor), Action: "session.spawned", IncidentID: parent.IncidentID,
			Detail: detailJSON(map[string]any{"session_id": parent.ID, "children": created, "deadline": deadline}),
		})
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// checkSpawn refuses what no parent could take.
func checkSpawn(p *store.SessionSpawnParams) error {
	var errs []error
	if p.ParentID == "" {
		errs = append(errs, fmt.Errorf("parent id is required: %w", incident.ErrInvalid))
	}
	if len(p.Children) == 0 {
		errs = append(errs, fmt.Errorf("no children to spawn: %w", incident.ErrInvalid))
	}
	if p.Deadline.IsZero() {
		errs = append(errs, fmt.Errorf("a deadline is required: %w", incident.ErrInvalid))
	}
	seen := map[string]bool{}
	for i, c := range p.Children {
		switch {
		case c.Agent == "":
			errs = append(errs, fmt.Errorf("child #%d has no agent: %w", i+1, incident.ErrInvalid))
		case seen[c.Agent]:
			errs = append(errs, fmt.Errorf("agent %q is asked for twice: %w", c.Agent, incident.ErrInvalid))
		case len(c.Input) > 0 && !json.Valid(c.Input):
			errs = append(errs, fmt.Errorf("input of %s is not valid JSON: %w", c.Agent, incident.ErrInvalid))
		}
		seen[c.Agent] = true
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("spawn under session %s: %w", p.ParentID, err)
	}
	return nil
}

// startChild stores a new child with its job and the parent's spawned
// event.
func (s *Store) startChild(ctx context.Context, tx *sql.Tx, parent, child *incident.Session, now time.Time) error {
	if err := insertSession(ctx, tx, child); err != nil {
		return err
	}
	if _, err := s.jobs.InsertTx(ctx, tx, store.SpecialistJobArgs{IncidentID: child.IncidentID, SessionID: child.ID, Agent: child.Agent},
		uniqueByArgs); err != nil {
		return fmt.Errorf("enqueue %s session %s: %w", child.Agent, child.ID, err)
	}
	data, err := json.Marshal(map[string]any{"child_session_id": child.ID, "agent": child.Agent, "deadline": child.Deadline})
	if err != nil {
		return fmt.Errorf("spawned event of %s: %w", child.ID, err)
	}
	ev := parent.Event(incident.SessionEventSpawned, "started "+child.Agent, data)
	ev.At = now
	return appendEvent(ctx, tx, ev)
}

// SessionFinish implements store.Store. SQLite's single writer serializes
// sibling finishes, so exactly one of them sees the last child final.
func (s *Store) SessionFinish(ctx context.Context, p *store.SessionFinishParams) (*store.SessionFinishResult, error) {
	switch {
	case !p.Status.Final():
		return nil, fmt.Errorf("finish session %s: status %q is not final: %w", p.ID, p.Status, incident.ErrInvalid)
	case len(p.Result) > 0 && !json.Valid(p.Result):
		return nil, fmt.Errorf("finish session %s: result is not valid JSON: %w", p.ID, incident.ErrInvalid)
	}
	res := &store.SessionFinishResult{}
	err := s.tx(ctx, func(tx *sql.Tx) error {
		ss, err := getSession(ctx, tx, p.ID)
		if err != nil {
			return err
		}
		res.Session = ss
		if ss.Status.Final() {
			return nil
		}
		now := s.now().UTC()
		ss.Status, ss.Error, ss.Result, ss.UpdatedAt, ss.FinishedAt = p.Status, p.Error, p.Result, now, &now
		if _, err := tx.ExecContext(ctx, `UPDATE sessions SET status = ?, error = ?, result = ?, updated_at = ?, finished_at = ?
			WHERE id = ?`, ss.Status, ss.Error, jsonArg(ss.Result), fmtTime(now), fmtTime(now), ss.ID); err != nil {
			return fmt.Errorf("finish session %s: %w", ss.ID, err)
		}
		if err := appendEvent(ctx, tx, finishedEvent(ss, p.Message, now)); err != nil {
			return err
		}
		res.Done = true
		if ss.ParentID == "" {
			return nil
		}
		res.ParentReady, err = s.composeIfReady(ctx, tx, ss.ParentID)
		return err
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

// composeIfReady makes a parent's compose job due now when the parent is
// still working and none of its children is. The job is the one
// SessionSpawn scheduled at the deadline (or a new one, unique the same
// way, if it is gone), moved forward; a compose already running is left to
// finish, since composing is idempotent.
func (s *Store) composeIfReady(ctx context.Context, tx *sql.Tx, parentID string) (bool, error) {
	parent, err := getSession(ctx, tx, parentID)
	if err != nil {
		return false, err
	}
	if parent.Status.Final() {
		return false, nil
	}
	var working int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM sessions WHERE parent_id = ? AND status IN ('pending', 'running')`,
		parentID).Scan(&working); err != nil {
		return false, fmt.Errorf("count unfinished children of %s: %w", parentID, err)
	}
	if working > 0 {
		return false, nil
	}
	ins, err := s.jobs.InsertTx(ctx, tx, store.ComposeJobArgs{IncidentID: parent.IncidentID, SessionID: parent.ID}, uniqueByArgs)
	if err != nil {
		return false, fmt.Errorf("enqueue compose of session %s: %w", parent.ID, err)
	}
	if ins.UniqueSkippedAsDuplicate && ins.Job.State != rivertype.JobStateRunning && ins.Job.State != rivertype.JobStateAvailable {
		if _, err := s.jobs.JobRetryTx(ctx, tx, ins.Job.ID); err != nil && !errors.Is(err, rivertype.ErrNotFound) {
			return false, fmt.Errorf("make compose of session %s due now: %w", parent.ID, err)
		}
	}
	return true, nil
}

// SessionListUnfinished implements store.Store.
func (s *Store) SessionListUnfinished(ctx context.Context, limit int) ([]*incident.Session, error) {
	return listSessions(ctx, s.reader, "unfinished sessions", `SELECT `+sessionCols+` FROM sessions
		WHERE status IN ('pending', 'running') ORDER BY created_at, id LIMIT ?`, store.ClampLimit(limit))
}

func listChildren(ctx context.Context, q querier, parentID string) ([]*incident.Session, error) {
	return listSessions(ctx, q, "children of session "+parentID,
		`SELECT `+sessionCols+` FROM sessions WHERE parent_id = ? ORDER BY created_at, id`, parentID)
}

func listSessions(ctx context.Context, q querier, what, query string, args ...any) ([]*incident.Session, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", what, err)
	}
	defer rows.Close()
	var out []*incident.Session
	for rows.Next() {
		ss, err := scanSession(rows)
		if err != nil {
			return nil, fmt.Errorf("scan session: %w", err)
		}
		out = append(out, ss)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list %s: %w", what, err)
	}
	return out, nil
}
