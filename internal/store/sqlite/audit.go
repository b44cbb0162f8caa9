package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/medic-sh/medic/internal/incident"
	"github.com/medic-sh/medic/internal/store"
)

func detailJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	return b
}

func insertAudit(ctx context.Context, tx *sql.Tx, e *incident.AuditEntry) error {
	var detail any
	if len(e.Detail) > 0 {
		detail = string(e.Detail)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO audit_log (at, actor, action, incident_id, detail) VALUES (?, ?, ?, ?, ?)`,
		fmtTime(e.At), e.Actor, e.Action, e.IncidentID, detail); err != nil {
		return fmt.Errorf("audit %s: %w", e.Action, err)
	}
	return nil
}

// AuditList implements store.Store, oldest first.
func (s *Store) AuditList(ctx context.Context, p *store.AuditListParams) ([]*incident.AuditEntry, error) {
	q := `SELECT id, at, actor, action, incident_id, detail FROM audit_log WHERE id > ?`
	args := []any{p.AfterID}
	if p.IncidentID != "" {
		q += ` AND incident_id = ?`
		args = append(args, p.IncidentID)
	}
	rows, err := s.reader.QueryContext(ctx, q+` ORDER BY id LIMIT ?`, append(args, store.ClampLimit(p.Limit))...)
	if err != nil {
		return nil, fmt.Errorf("list audit entries: %w", err)
	}
	defer rows.Close()
	var out []*incident.AuditEntry
	for rows.Next() {
		var (
			e      incident.AuditEntry
			at     string
			detail sql.NullString
		)
		if err := rows.Scan(&e.ID, &at, &e.Actor, &e.Action, &e.IncidentID, &detail); err != nil {
			return nil, fmt.Errorf("scan audit entry: %w", err)
		}
		e.At = parseTime(at)
		if detail.Valid {
			e.Detail = json.RawMessage(detail.String)
		}
		out = append(out, &e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list audit entries: %w", err)
	}
	return out, nil
}

// PollerMarkGet implements store.Store.
func (s *Store) PollerMarkGet(ctx context.Context, instance string) (time.Time, bool, error) {
	var mark string
	err := s.reader.QueryRowContext(ctx, `SELECT mark FROM poller_marks WHERE instance = ?`, instance).Scan(&mark)
	if errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, false, nil
	}
	if err != nil {
		return time.Time{}, false, fmt.Errorf("read poller mark of %s: %w", instance, err)
	}
	return parseTime(mark), true, nil
}

// PollerMarkSet implements store.Store. The mark only moves forward.
func (s *Store) PollerMarkSet(ctx context.Context, instance string, mark time.Time) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO poller_marks (instance, mark, updated_at) VALUES (?, ?, ?)
			ON CONFLICT (instance) DO UPDATE SET mark = excluded.mark, updated_at = excluded.updated_at
			WHERE excluded.mark > poller_marks.mark`, instance, fmtTime(mark), fmtTime(s.now())); err != nil {
			return fmt.Errorf("store poller mark of %s: %w", instance, err)
		}
		return nil
	})
}
