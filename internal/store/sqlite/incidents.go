package sqlite

import (
	"context"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"github.com/medic-sh/medic/internal/incident"
	"github.com/medic-sh/medic/internal/store"
)

const incidentCols = `id, state, severity, title, instance, dag_id, run_id, group_key, first_task_id,
	event_count, owner, tags, summary, triage_session_id, created_at, updated_at, triaged_at, notified_at, signature`

func scanIncident(r rowScanner) (*incident.Incident, error) {
	var (
		in                   incident.Incident
		tags, created, upd   string
		triaged, notifiedRaw sql.NullString
	)
	err := r.Scan(&in.ID, &in.State, &in.Severity, &in.Title, &in.Instance, &in.DagID, &in.RunID, &in.GroupKey,
		&in.FirstTaskID, &in.EventCount, &in.Owner, &tags, &in.Summary, &in.TriageSessionID, &created, &upd,
		&triaged, &notifiedRaw, &in.Signature)
	if err != nil {
		return nil, err
	}
	in.Tags = parseStrings(tags)
	in.CreatedAt = parseTime(created)
	in.UpdatedAt = parseTime(upd)
	in.TriagedAt = parseNullTime(triaged)
	in.NotifiedAt = parseNullTime(notifiedRaw)
	return &in, nil
}

func insertIncident(ctx context.Context, tx *sql.Tx, in *incident.Incident) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO incidents (`+incidentCols+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, ?)`,
		in.ID, in.State, in.Severity, in.Title, in.Instance, in.DagID, in.RunID, in.GroupKey, in.FirstTaskID,
		in.EventCount, in.Owner, jsonText(in.Tags), in.Summary, in.TriageSessionID, fmtTime(in.CreatedAt),
		fmtTime(in.UpdatedAt), fmtNullTime(in.TriagedAt), in.Signature)
	if err != nil {
		return fmt.Errorf("insert incident %s: %w", in.ID, err)
	}
	return nil
}

func getIncident(ctx context.Context, q querier, id string) (*incident.Incident, error) {
	in, err := scanIncident(q.QueryRowContext(ctx, `SELECT `+incidentCols+` FROM incidents WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("incident %s: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get incident %s: %w", id, err)
	}
	return in, nil
}

// querier is a *sql.DB or *sql.Tx.
type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// IncidentGetByID implements store.Store.
func (s *Store) IncidentGetByID(ctx context.Context, id string) (*incident.Incident, error) {
	return getIncident(ctx, s.reader, id)
}

// IncidentList implements store.Store: newest first, keyset-paged on
// (created_at, id).
func (s *Store) IncidentList(ctx context.Context, p *store.IncidentListParams) (*store.IncidentListResult, error) {
	var (
		where []string
		args  []any
	)
	if len(p.States) > 0 {
		ph := make([]string, len(p.States))
		for i, st := range p.States {
			ph[i] = "?"
			args = append(args, string(st))
		}
		where = append(where, "state IN ("+strings.Join(ph, ",")+")")
	}
	if p.DagID != "" {
		where = append(where, "dag_id = ?")
		args = append(args, p.DagID)
	}
	if p.Instance != "" {
		where = append(where, "instance = ?")
		args = append(args, p.Instance)
	}
	if p.Signature != "" {
		where = append(where, "signature = ?")
		args = append(args, p.Signature)
	}
	if !p.Since.IsZero() {
		where = append(where, "created_at >= ?")
		args = append(args, fmtTime(p.Since))
	}
	filter := ""
	if len(where) > 0 {
		filter = " WHERE " + strings.Join(where, " AND ")
	}
	var total int
	if err := s.reader.QueryRowContext(ctx, `SELECT count(*) FROM incidents`+filter, args...).Scan(&total); err != nil {
		return nil, fmt.Errorf("count incidents: %w", err)
	}
	if p.Cursor != "" {
		created, id, err := decodeCursor(p.Cursor)
		if err != nil {
			return nil, err
		}
		cond := "(created_at < ? OR (created_at = ? AND id < ?))"
		if filter == "" {
			filter = " WHERE " + cond
		} else {
			filter += " AND " + cond
		}
		args = append(args, created, created, id)
	}
	limit := store.ClampLimit(p.Limit)
	rows, err := s.reader.QueryContext(ctx, `SELECT `+incidentCols+` FROM incidents`+filter+
		` ORDER BY created_at DESC, id DESC LIMIT ?`, append(args, limit+1)...)
	if err != nil {
		return nil, fmt.Errorf("list incidents: %w", err)
	}
	defer rows.Close()
	res := &store.IncidentListResult{Total: total}
	for rows.Next() {
		in, err := scanIncident(rows)
		if err != nil {
			return nil, fmt.Errorf("scan incident: %w", err)
		}
		res.Incidents = append(res.Incidents, in)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list incidents: %w", err)
	}
	if len(res.Incidents) > limit {
		last := res.Incidents[limit-1]
		res.Incidents = res.Incidents[:limit]
		res.NextCursor = encodeCursor(fmtTime(last.CreatedAt), last.ID)
	}
	return res, nil
}

func encodeCursor(created, id string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(created + "|" + id))
}

func decodeCursor(c string) (string, string, error) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err == nil {
		if created, id, ok := strings.Cut(string(b), "|"); ok {
			return created, id, nil
		}
	}
	return "", "", fmt.Errorf("cursor %q is not one this server issued: %w", c, store.ErrInvalidCursor)
}

// IncidentMarkNotified implements store.Store.
func (s *Store) IncidentMarkNotified(ctx context.Context, p *store.IncidentMarkNotifiedParams) (bool, error) {
	var marked bool
	err := s.tx(ctx, func(tx *sql.Tx) error {
		now := s.now()
		res, err := tx.ExecContext(ctx, `UPDATE incidents SET notified_at = ?, updated_at = ? WHERE id = ? AND notified_at IS NULL`,
			fmtTime(now), fmtTime(now), p.IncidentID)
		if err != nil {
			return fmt.Errorf("mark incident %s notified: %w", p.IncidentID, err)
		}
		n, _ := res.RowsAffected()
		if n == 0 {
			if _, err := getIncident(ctx, tx, p.IncidentID); err != nil {
				return err
			}
			return nil
		}
		marked = true
		return insertAudit(ctx, tx, &incident.AuditEntry{
			At: now, Actor: "medic", Action: "incident.notified",
			IncidentID: p.IncidentID, Detail: detailJSON(map[string]string{"channel": p.Channel}),
		})
	})
	return marked, err
}

// IncidentSetSignature implements store.Store.
func (s *Store) IncidentSetSignature(ctx context.Context, p *store.IncidentSetSignatureParams) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE incidents SET signature = ? WHERE id = ?`, p.Signature, p.ID)
		if err != nil {
			return fmt.Errorf("set signature of incident %s: %w", p.ID, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("incident %s: %w", p.ID, store.ErrNotFound)
		}
		return nil
	})
}
