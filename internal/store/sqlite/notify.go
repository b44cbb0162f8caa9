package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/medic-sh/medic/internal/store"
)

// NotifyDelivered implements store.Store.
func (s *Store) NotifyDelivered(ctx context.Context, d *store.NotifyDelivery) (bool, error) {
	var n int
	if err := s.reader.QueryRowContext(ctx, `SELECT count(*) FROM notify_deliveries WHERE incident_id = ? AND notifier = ? AND reason = ?`,
		d.IncidentID, d.Notifier, d.Reason).Scan(&n); err != nil {
		return false, fmt.Errorf("read delivery of %s by %s: %w", d.IncidentID, d.Notifier, err)
	}
	return n > 0, nil
}

// NotifyRecordDelivery implements store.Store.
func (s *Store) NotifyRecordDelivery(ctx context.Context, d *store.NotifyDelivery) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO notify_deliveries (incident_id, notifier, reason, delivered_at) VALUES (?, ?, ?, ?)
			ON CONFLICT DO NOTHING`, d.IncidentID, d.Notifier, d.Reason, fmtTime(s.now())); err != nil {
			return fmt.Errorf("record delivery of %s by %s: %w", d.IncidentID, d.Notifier, err)
		}
		return nil
	})
}

const messageColumns = `incident_id, notifier, channel, ts, created_at, updated_at, updates`

func scanMessage(row rowScanner) (*store.NotifyMessage, error) {
	var (
		m                  store.NotifyMessage
		created, updatedAt string
	)
	if err := row.Scan(&m.IncidentID, &m.Notifier, &m.Channel, &m.TS, &created, &updatedAt, &m.Updates); err != nil {
		return nil, err
	}
	m.CreatedAt, m.UpdatedAt = parseTime(created), parseTime(updatedAt)
	return &m, nil
}

func getMessage(ctx context.Context, q queryRower, incidentID, notifier string) (*store.NotifyMessage, error) {
	m, err := scanMessage(q.QueryRowContext(ctx, `SELECT `+messageColumns+` FROM notify_messages WHERE incident_id = ? AND notifier = ?`,
		incidentID, notifier))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("message of %s by %s: %w", incidentID, notifier, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("read message of %s by %s: %w", incidentID, notifier, err)
	}
	return m, nil
}

// NotifyMessageGet implements store.Store.
func (s *Store) NotifyMessageGet(ctx context.Context, incidentID, notifier string) (*store.NotifyMessage, error) {
	return getMessage(ctx, s.reader, incidentID, notifier)
}

// NotifyMessageSave implements store.Store.
func (s *Store) NotifyMessageSave(ctx context.Context, m *store.NotifyMessage) (*store.NotifyMessage, bool, error) {
	if m.IncidentID == "" || m.Notifier == "" || m.Channel == "" || m.TS == "" {
		return nil, false, errors.New("save message: incident, notifier, channel and ts are required")
	}
	var (
		out   *store.NotifyMessage
		saved bool
	)
	err := s.tx(ctx, func(tx *sql.Tx) error {
		now := fmtTime(s.now())
		res, err := tx.ExecContext(ctx, `INSERT INTO notify_messages (`+messageColumns+`) VALUES (?, ?, ?, ?, ?, ?, 0)
			ON CONFLICT DO NOTHING`, m.IncidentID, m.Notifier, m.Channel, m.TS, now, now)
		if err != nil {
			return fmt.Errorf("save message of %s by %s: %w", m.IncidentID, m.Notifier, err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return fmt.Errorf("save message of %s by %s: %w", m.IncidentID, m.Notifier, err)
		}
		saved = n == 1
		out, err = getMessage(ctx, tx, m.IncidentID, m.Notifier)
		return err
	})
	if err != nil {
		return nil, false, err
	}
	return out, saved, nil
}

// NotifyMessageUpdated implements store.Store.
func (s *Store) NotifyMessageUpdated(ctx context.Context, incidentID, notifier string) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE notify_messages SET updates = updates + 1, updated_at = ? WHERE incident_id = ? AND notifier = ?`,
			fmtTime(s.now()), incidentID, notifier)
		if err != nil {
			return fmt.Errorf("count an update of %s by %s: %w", incidentID, notifier, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("message of %s by %s: %w", incidentID, notifier, store.ErrNotFound)
		}
		return nil
	})
}
