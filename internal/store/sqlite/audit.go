package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/medic-sh/medic/internal/audit"
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

// insertAudit appends e to the audit chain inside tx, and sets its ID,
// PrevHash and Hash. Reading the head of the chain in the same write
// transaction is safe because SQLite has one writer: no other append can
// come between the read and the insert.
func insertAudit(ctx context.Context, tx *sql.Tx, e *incident.AuditEntry) error {
	var prev string
	err := tx.QueryRowContext(ctx, `SELECT hash FROM audit_log ORDER BY id DESC LIMIT 1`).Scan(&prev)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		prev = audit.GenesisHash
	case err != nil:
		return fmt.Errorf("audit %s: read the head of the chain: %w", e.Action, err)
	}
	e.At = e.At.UTC()
	var detail any
	if len(e.Detail) > 0 {
		detail = string(e.Detail)
	}
	res, err := tx.ExecContext(ctx, `INSERT INTO audit_log (at, actor, action, incident_id, detail, prev_hash) VALUES (?, ?, ?, ?, ?, ?)`,
		fmtTime(e.At), e.Actor, e.Action, e.IncidentID, detail, prev)
	if err != nil {
		return fmt.Errorf("audit %s: %w", e.Action, err)
	}
	if e.ID, err = res.LastInsertId(); err != nil {
		return fmt.Errorf("audit %s: read its id: %w", e.Action, err)
	}
	audit.Seal(prev, e)
	if _, err := tx.ExecContext(ctx, `UPDATE audit_log SET hash = ? WHERE id = ?`, e.Hash, e.ID); err != nil {
		return fmt.Errorf("audit %s: store its hash: %w", e.Action, err)
	}
	return nil
}

// chainAudit chains the entries written before migration 0006, in id order,
// after the last chained one (the genesis when there is none). It runs when
// the store opens; after the first time it finds nothing to do.
func (s *Store) chainAudit(ctx context.Context) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT `+auditColumns+` FROM audit_log WHERE hash = '' ORDER BY id`)
		if err != nil {
			return fmt.Errorf("sqlite: find unchained audit entries: %w", err)
		}
		entries, err := scanAudit(rows)
		if err != nil {
			return fmt.Errorf("sqlite: find unchained audit entries: %w", err)
		}
		if len(entries) == 0 {
			return nil
		}
		prev := audit.GenesisHash
		err = tx.QueryRowContext(ctx, `SELECT hash FROM audit_log WHERE id < ? AND hash != '' ORDER BY id DESC LIMIT 1`,
			entries[0].ID).Scan(&prev)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("sqlite: read the head of the audit chain: %w", err)
		}
		for _, e := range entries {
			audit.Seal(prev, e)
			if _, err := tx.ExecContext(ctx, `UPDATE audit_log SET prev_hash = ?, hash = ? WHERE id = ?`, e.PrevHash, e.Hash, e.ID); err != nil {
				return fmt.Errorf("sqlite: chain audit entry %d: %w", e.ID, err)
			}
			prev = e.Hash
		}
		s.log.InfoContext(ctx, "chained audit entries written before the hash chain", "entries", len(entries))
		return nil
	})
}

// AuditAppend implements store.Store.
func (s *Store) AuditAppend(ctx context.Context, e *incident.AuditEntry) (*incident.AuditEntry, error) {
	if err := e.Validate(); err != nil {
		return nil, err
	}
	out := *e
	out.ID, out.PrevHash, out.Hash = 0, "", ""
	if out.At.IsZero() {
		out.At = s.now()
	}
	if err := s.tx(ctx, func(tx *sql.Tx) error { return insertAudit(ctx, tx, &out) }); err != nil {
		return nil, err
	}
	return &out, nil
}

const auditColumns = `id, at, actor, action, incident_id, detail, prev_hash, hash`

// AuditList implements store.Store, oldest first.
func (s *Store) AuditList(ctx context.Context, p *store.AuditListParams) ([]*incident.AuditEntry, error) {
	q := `SELECT ` + auditColumns + ` FROM audit_log WHERE id > ?`
	args := []any{p.AfterID}
	if p.IncidentID != "" {
		q += ` AND incident_id = ?`
		args = append(args, p.IncidentID)
	}
	if p.Actor != "" {
		q += ` AND actor = ?`
		args = append(args, p.Actor)
	}
	if p.ActionPrefix != "" {
		// substr, not LIKE: a prefix holding % or _ means itself.
		q += ` AND substr(action, 1, ?) = ?`
		args = append(args, len([]rune(p.ActionPrefix)), p.ActionPrefix)
	}
	if !p.Since.IsZero() {
		q += ` AND at >= ?`
		args = append(args, fmtTime(p.Since))
	}
	if !p.Until.IsZero() {
		q += ` AND at < ?`
		args = append(args, fmtTime(p.Until))
	}
	rows, err := s.reader.QueryContext(ctx, q+` ORDER BY id LIMIT ?`, append(args, store.ClampLimit(p.Limit))...)
	if err != nil {
		return nil, fmt.Errorf("list audit entries: %w", err)
	}
	out, err := scanAudit(rows)
	if err != nil {
		return nil, fmt.Errorf("list audit entries: %w", err)
	}
	return out, nil
}

// scanAudit reads and closes rows of auditColumns.
func scanAudit(rows *sql.Rows) ([]*incident.AuditEntry, error) {
	defer rows.Close()
	var out []*incident.AuditEntry
	for rows.Next() {
		var (
			e      incident.AuditEntry
			at     string
			detail sql.NullString
		)
		if err := rows.Scan(&e.ID, &at, &e.Actor, &e.Action, &e.IncidentID, &detail, &e.PrevHash, &e.Hash); err != nil {
			return nil, fmt.Errorf("scan audit entry: %w", err)
		}
		e.At = parseTime(at)
		if detail.Valid {
			e.Detail = json.RawMessage(detail.String)
		}
		out = append(out, &e)
	}
	if err := rows.Err(); err != nil {
		return nil, err
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
