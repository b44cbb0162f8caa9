package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/medic-sh/medic/internal/audit"
	"github.com/medic-sh/medic/internal/incident"
	"github.com/medic-sh/medic/internal/store"
)

const silenceColumns = `id, dag_glob, instance, severity, reason, created_by, created_at, starts_at, ends_at, expired_at, expired_by`

// silenceActive is the condition of a silence active at the time bound
// three times after it, the same rule as incident.Silence.Active.
const silenceActive = ` AND (expired_at IS NULL OR expired_at > ?) AND starts_at <= ? AND ends_at > ?`

func scanSilence(row rowScanner) (*incident.Silence, error) {
	var (
		s                     incident.Silence
		created, starts, ends string
		expired               sql.NullString
		severity              string
	)
	if err := row.Scan(&s.ID, &s.Matcher.DagGlob, &s.Matcher.Instance, &severity, &s.Reason, &s.CreatedBy,
		&created, &starts, &ends, &expired, &s.ExpiredBy); err != nil {
		return nil, err
	}
	s.Matcher.Severity = incident.Severity(severity)
	s.CreatedAt, s.StartsAt, s.EndsAt, s.ExpiredAt = parseTime(created), parseTime(starts), parseTime(ends), parseNullTime(expired)
	return &s, nil
}

// silenceUpdate is what the audit entries of a silence record of it.
func silenceUpdate(s *incident.Silence) map[string]string {
	u := map[string]string{
		"silence_id": s.ID, "dag": s.Matcher.DagGlob,
		"starts_at": s.StartsAt.UTC().Format(time.RFC3339), "ends_at": s.EndsAt.UTC().Format(time.RFC3339),
	}
	if s.Matcher.Instance != "" {
		u["instance"] = s.Matcher.Instance
	}
	if s.Matcher.Severity != "" {
		u["severity"] = string(s.Matcher.Severity)
	}
	return u
}

// SilenceCreate implements store.Store.
func (s *Store) SilenceCreate(ctx context.Context, in *incident.Silence) (*incident.Silence, error) {
	now := s.now().UTC()
	out := *in
	out.ID, out.CreatedAt, out.ExpiredAt, out.ExpiredBy = newID("sil"), now, nil, ""
	if out.StartsAt.IsZero() {
		out.StartsAt = now
	}
	out.StartsAt, out.EndsAt = out.StartsAt.UTC(), out.EndsAt.UTC()
	if err := out.Validate(); err != nil {
		return nil, err
	}
	if !out.EndsAt.After(now) {
		return nil, fmt.Errorf("silence ends at %s, which has passed: give a later end: %w",
			out.EndsAt.Format(time.RFC3339), incident.ErrInvalid)
	}
	err := s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO silences (`+silenceColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, '')`,
			out.ID, out.Matcher.DagGlob, out.Matcher.Instance, string(out.Matcher.Severity), out.Reason, out.CreatedBy,
			fmtTime(out.CreatedAt), fmtTime(out.StartsAt), fmtTime(out.EndsAt)); err != nil {
			return fmt.Errorf("insert silence of dag %q: %w", out.Matcher.DagGlob, err)
		}
		return auditDetail(ctx, tx, now, out.CreatedBy, "silence.created", "", &audit.Detail{
			RequestedBy: out.CreatedBy, Reason: out.Reason, Update: silenceUpdate(&out),
		})
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// SilenceList implements store.Store, newest first.
func (s *Store) SilenceList(ctx context.Context, p *store.SilenceListParams) ([]*incident.Silence, error) {
	q := `SELECT ` + silenceColumns + ` FROM silences WHERE 1 = 1`
	var args []any
	if p.Active {
		at := p.At
		if at.IsZero() {
			at = s.now()
		}
		q += silenceActive
		args = append(args, fmtTime(at), fmtTime(at), fmtTime(at))
	}
	return s.querySilences(ctx, q+` ORDER BY created_at DESC, id DESC LIMIT ?`, append(args, store.ClampLimit(p.Limit))...)
}

func (s *Store) querySilences(ctx context.Context, q string, args ...any) ([]*incident.Silence, error) {
	rows, err := s.reader.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list silences: %w", err)
	}
	defer rows.Close()
	out := []*incident.Silence{}
	for rows.Next() {
		sil, err := scanSilence(rows)
		if err != nil {
			return nil, fmt.Errorf("list silences: %w", err)
		}
		out = append(out, sil)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list silences: %w", err)
	}
	return out, nil
}

// SilenceExpire implements store.Store.
func (s *Store) SilenceExpire(ctx context.Context, id, by string, at time.Time) (*incident.Silence, error) {
	if strings.TrimSpace(by) == "" {
		return nil, fmt.Errorf("expire silence %s: who expires it is required: %w", id, incident.ErrInvalid)
	}
	if at.IsZero() {
		at = s.now()
	}
	at = at.UTC()
	var out *incident.Silence
	err := s.tx(ctx, func(tx *sql.Tx) error {
		sil, err := scanSilence(tx.QueryRowContext(ctx, `SELECT `+silenceColumns+` FROM silences WHERE id = ?`, id))
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("silence %s: %w", id, store.ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("read silence %s: %w", id, err)
		}
		switch {
		case sil.ExpiredAt != nil:
			return fmt.Errorf("silence %s was already expired by %s at %s: %w", sil.ID, orUnknown(sil.ExpiredBy),
				sil.ExpiredAt.Format(time.RFC3339), store.ErrConflict)
		case !at.Before(sil.EndsAt):
			return fmt.Errorf("silence %s already ended at %s: %w", sil.ID, sil.EndsAt.Format(time.RFC3339), store.ErrConflict)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE silences SET expired_at = ?, expired_by = ? WHERE id = ?`, fmtTime(at), by, id); err != nil {
			return fmt.Errorf("expire silence %s: %w", id, err)
		}
		sil.ExpiredAt, sil.ExpiredBy = &at, by
		out = sil
		return auditDetail(ctx, tx, at, by, "silence.expired", "", &audit.Detail{
			RequestedBy: sil.CreatedBy, Update: silenceUpdate(sil),
		})
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// SilenceMatch implements store.Store. SQL narrows to the active silences
// of the incident's instance; the glob and severity are matched in Go, by
// the same incident.Silence.Matches the rest of medic uses.
func (s *Store) SilenceMatch(ctx context.Context, inc *incident.Incident, at time.Time) (*incident.Silence, error) {
	if inc == nil {
		return nil, nil
	}
	if at.IsZero() {
		at = s.now()
	}
	list, err := s.querySilences(ctx, `SELECT `+silenceColumns+` FROM silences WHERE (instance = '' OR instance = ?)`+silenceActive+
		` ORDER BY ends_at DESC, id DESC`, inc.Instance, fmtTime(at), fmtTime(at), fmtTime(at))
	if err != nil {
		return nil, fmt.Errorf("match silences for incident %s: %w", inc.ID, err)
	}
	for _, sil := range list {
		if sil.Matches(inc, at) {
			return sil, nil
		}
	}
	return nil, nil
}
