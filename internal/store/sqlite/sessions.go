package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/medic-sh/medic/internal/incident"
	"github.com/medic-sh/medic/internal/store"
)

const sessionCols = `id, incident_id, parent_id, agent, depth, status, error, created_at, updated_at, finished_at,
	input, result, deadline`

func scanSession(r rowScanner) (*incident.Session, error) {
	var (
		ss                      incident.Session
		parent, fin             sql.NullString
		input, result, deadline sql.NullString
		created, update         string
	)
	if err := r.Scan(&ss.ID, &ss.IncidentID, &parent, &ss.Agent, &ss.Depth, &ss.Status, &ss.Error, &created, &update, &fin,
		&input, &result, &deadline); err != nil {
		return nil, err
	}
	ss.ParentID = parent.String
	ss.CreatedAt, ss.UpdatedAt, ss.FinishedAt = parseTime(created), parseTime(update), parseNullTime(fin)
	ss.Input, ss.Result, ss.Deadline = nullJSON(input), nullJSON(result), parseNullTime(deadline)
	return &ss, nil
}

func insertSession(ctx context.Context, tx *sql.Tx, ss *incident.Session) error {
	var parent any
	if ss.ParentID != "" {
		parent = ss.ParentID
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO sessions (`+sessionCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		ss.ID, ss.IncidentID, parent, ss.Agent, ss.Depth, ss.Status, ss.Error, fmtTime(ss.CreatedAt), fmtTime(ss.UpdatedAt),
		fmtNullTime(ss.FinishedAt), jsonArg(ss.Input), jsonArg(ss.Result), fmtNullTime(ss.Deadline)); err != nil {
		return fmt.Errorf("insert session %s: %w", ss.ID, err)
	}
	return nil
}

func getSession(ctx context.Context, q querier, id string) (*incident.Session, error) {
	ss, err := scanSession(q.QueryRowContext(ctx, `SELECT `+sessionCols+` FROM sessions WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("session %s: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get session %s: %w", id, err)
	}
	return ss, nil
}

// SessionGetByID implements store.Store.
func (s *Store) SessionGetByID(ctx context.Context, id string) (*incident.Session, error) {
	return getSession(ctx, s.reader, id)
}

// SessionListChildren implements store.Store, oldest first.
func (s *Store) SessionListChildren(ctx context.Context, parentID string) ([]*incident.Session, error) {
	return listChildren(ctx, s.reader, parentID)
}

// SessionSetStatus implements store.Store. A final session keeps its status.
func (s *Store) SessionSetStatus(ctx context.Context, p *store.SessionSetStatusParams) (*incident.Session, error) {
	var out *incident.Session
	err := s.tx(ctx, func(tx *sql.Tx) error {
		ss, err := getSession(ctx, tx, p.ID)
		if err != nil {
			return err
		}
		out = ss
		if ss.Status.Final() {
			return nil
		}
		from := ss.Status
		now := s.now().UTC()
		ss.Status, ss.Error, ss.UpdatedAt = p.Status, p.Error, now
		if p.Status.Final() {
			ss.FinishedAt = &now
		}
		if _, err := tx.ExecContext(ctx, `UPDATE sessions SET status = ?, error = ?, updated_at = ?, finished_at = ? WHERE id = ?`,
			ss.Status, ss.Error, fmtTime(now), fmtNullTime(ss.FinishedAt), ss.ID); err != nil {
			return fmt.Errorf("set session %s status: %w", ss.ID, err)
		}
		switch {
		case p.Status.Final():
			return appendEvent(ctx, tx, finishedEvent(ss, "", now))
		case from == incident.SessionPending && p.Status == incident.SessionRunning:
			return appendEvent(ctx, tx, &incident.SessionEvent{
				SessionID: ss.ID, IncidentID: ss.IncidentID, Agent: ss.Agent, Kind: incident.SessionEventStarted,
				Message: "started", At: now,
			})
		}
		return nil
	})
	return out, err
}

const findingCols = `id, session_id, incident_id, kind, step, summary, data, evidence, error, created_at`

// FindingInsert implements store.Store.
func (s *Store) FindingInsert(ctx context.Context, f *incident.Finding) (bool, error) {
	if f.SessionID == "" || f.Step == "" {
		return false, errors.New("insert finding: session and step are required")
	}
	if f.ID == "" {
		f.ID = newID("fnd")
	}
	if f.CreatedAt.IsZero() {
		f.CreatedAt = s.now().UTC()
	}
	var data any
	if len(f.Data) > 0 {
		data = string(f.Data)
	}
	ev, err := json.Marshal(f.Evidence)
	if err != nil || f.Evidence == nil {
		ev = []byte("[]")
	}
	var inserted bool
	err = s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO findings (`+findingCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (session_id, step) DO NOTHING`,
			f.ID, f.SessionID, f.IncidentID, f.Kind, f.Step, f.Summary, data, string(ev), f.Error, fmtTime(f.CreatedAt))
		if err != nil {
			return fmt.Errorf("insert finding %s/%s: %w", f.SessionID, f.Step, err)
		}
		n, _ := res.RowsAffected()
		inserted = n == 1
		return nil
	})
	return inserted, err
}

// FindingListBySession implements store.Store, in the order recorded.
func (s *Store) FindingListBySession(ctx context.Context, sessionID string) ([]*incident.Finding, error) {
	rows, err := s.reader.QueryContext(ctx, `SELECT `+findingCols+` FROM findings WHERE session_id = ? ORDER BY created_at, id`, sessionID)
	if err != nil {
		return nil, fmt.Errorf("list findings of session %s: %w", sessionID, err)
	}
	defer rows.Close()
	var out []*incident.Finding
	for rows.Next() {
		var (
			f        incident.Finding
			data     sql.NullString
			ev, crea string
		)
		if err := rows.Scan(&f.ID, &f.SessionID, &f.IncidentID, &f.Kind, &f.Step, &f.Summary, &data, &ev, &f.Error, &crea); err != nil {
			return nil, fmt.Errorf("scan finding: %w", err)
		}
		if data.Valid {
			f.Data = json.RawMessage(data.String)
		}
		_ = json.Unmarshal([]byte(ev), &f.Evidence)
		f.CreatedAt = parseTime(crea)
		out = append(out, &f)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list findings of session %s: %w", sessionID, err)
	}
	return out, nil
}
