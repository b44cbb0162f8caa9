package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/medic-sh/medic/internal/incident"
	"github.com/medic-sh/medic/internal/store"
)

const slackAlertColumns = `channel, ts, status, format, reason, event_id, incident_id, reply_ts, created_at`

func scanSlackAlert(row rowScanner) (*store.SlackAlert, error) {
	var (
		a       store.SlackAlert
		created string
	)
	if err := row.Scan(&a.Channel, &a.TS, &a.Status, &a.Format, &a.Reason, &a.EventID, &a.IncidentID, &a.ReplyTS, &created); err != nil {
		return nil, err
	}
	a.CreatedAt = parseTime(created)
	return &a, nil
}

func getSlackAlert(ctx context.Context, q queryRower, channel, ts string) (*store.SlackAlert, error) {
	a, err := scanSlackAlert(q.QueryRowContext(ctx, `SELECT `+slackAlertColumns+` FROM slack_alerts WHERE channel = ? AND ts = ?`, channel, ts))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("slack alert %s/%s: %w", channel, ts, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("read slack alert %s/%s: %w", channel, ts, err)
	}
	return a, nil
}

// SlackAlertInsert implements store.Store.
func (s *Store) SlackAlertInsert(ctx context.Context, a *store.SlackAlert) (*store.SlackAlert, bool, error) {
	if a.Channel == "" || a.TS == "" {
		return nil, false, fmt.Errorf("store slack alert: channel and ts are required: %w", incident.ErrInvalid)
	}
	if !a.Status.Valid() {
		return nil, false, fmt.Errorf("store slack alert %s/%s: unknown status %q: %w", a.Channel, a.TS, a.Status, incident.ErrInvalid)
	}
	var (
		out      *store.SlackAlert
		inserted bool
	)
	err := s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO slack_alerts (`+slackAlertColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT DO NOTHING`, a.Channel, a.TS, a.Status, a.Format, a.Reason, a.EventID, a.IncidentID, a.ReplyTS, fmtTime(s.now()))
		if err != nil {
			return fmt.Errorf("store slack alert %s/%s: %w", a.Channel, a.TS, err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return fmt.Errorf("store slack alert %s/%s: %w", a.Channel, a.TS, err)
		}
		inserted = n == 1
		out, err = getSlackAlert(ctx, tx, a.Channel, a.TS)
		return err
	})
	if err != nil {
		return nil, false, err
	}
	return out, inserted, nil
}

// SlackAlertGet implements store.Store.
func (s *Store) SlackAlertGet(ctx context.Context, channel, ts string) (*store.SlackAlert, error) {
	return getSlackAlert(ctx, s.reader, channel, ts)
}

// SlackAlertSetReply implements store.Store.
func (s *Store) SlackAlertSetReply(ctx context.Context, channel, ts, replyTS string) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE slack_alerts SET reply_ts = ? WHERE channel = ? AND ts = ?`, replyTS, channel, ts)
		if err != nil {
			return fmt.Errorf("store reply to slack alert %s/%s: %w", channel, ts, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("slack alert %s/%s: %w", channel, ts, store.ErrNotFound)
		}
		return nil
	})
}

// SlackAlertListByIncident implements store.Store.
func (s *Store) SlackAlertListByIncident(ctx context.Context, incidentID string) ([]*store.SlackAlert, error) {
	rows, err := s.reader.QueryContext(ctx, `SELECT `+slackAlertColumns+` FROM slack_alerts WHERE incident_id = ?
		ORDER BY created_at, channel, ts LIMIT ?`, incidentID, store.MaxListLimit)
	if err != nil {
		return nil, fmt.Errorf("list slack alerts of %s: %w", incidentID, err)
	}
	defer rows.Close()
	var out []*store.SlackAlert
	for rows.Next() {
		a, err := scanSlackAlert(rows)
		if err != nil {
			return nil, fmt.Errorf("list slack alerts of %s: %w", incidentID, err)
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list slack alerts of %s: %w", incidentID, err)
	}
	return out, nil
}

// SlackAlertCursorGet implements store.Store.
func (s *Store) SlackAlertCursorGet(ctx context.Context, channel string) (string, bool, error) {
	var ts string
	err := s.reader.QueryRowContext(ctx, `SELECT ts FROM slack_alert_cursors WHERE channel = ?`, channel).Scan(&ts)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("read slack alert cursor of %s: %w", channel, err)
	}
	return ts, true, nil
}

// SlackAlertCursorSet implements store.Store. Slack timestamps are
// "seconds.micros" with the same number of fraction digits, so a longer
// one is later and equal lengths compare as text.
func (s *Store) SlackAlertCursorSet(ctx context.Context, channel, ts string) error {
	if channel == "" || ts == "" {
		return fmt.Errorf("store slack alert cursor: channel and ts are required: %w", incident.ErrInvalid)
	}
	return s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO slack_alert_cursors (channel, ts, updated_at) VALUES (?, ?, ?)
			ON CONFLICT (channel) DO UPDATE SET ts = excluded.ts, updated_at = excluded.updated_at
			WHERE length(excluded.ts) > length(slack_alert_cursors.ts)
			   OR (length(excluded.ts) = length(slack_alert_cursors.ts) AND excluded.ts > slack_alert_cursors.ts)`,
			channel, ts, fmtTime(s.now())); err != nil {
			return fmt.Errorf("store slack alert cursor of %s: %w", channel, err)
		}
		return nil
	})
}

// SlackAlertReplied implements store.Store.
func (s *Store) SlackAlertReplied(ctx context.Context, channel, ts, reason string) (bool, error) {
	var n int
	if err := s.reader.QueryRowContext(ctx, `SELECT count(*) FROM slack_alert_replies WHERE channel = ? AND ts = ? AND reason = ?`,
		channel, ts, reason).Scan(&n); err != nil {
		return false, fmt.Errorf("read reply %s to slack alert %s/%s: %w", reason, channel, ts, err)
	}
	return n > 0, nil
}

// SlackAlertRecordReply implements store.Store.
func (s *Store) SlackAlertRecordReply(ctx context.Context, channel, ts, reason, replyTS string) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO slack_alert_replies (channel, ts, reason, reply_ts, created_at) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT DO NOTHING`, channel, ts, reason, replyTS, fmtTime(s.now())); err != nil {
			return fmt.Errorf("record reply %s to slack alert %s/%s: %w", reason, channel, ts, err)
		}
		return nil
	})
}
