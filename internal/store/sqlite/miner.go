package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// MinerSnapshotGet implements store.Store.
func (s *Store) MinerSnapshotGet(ctx context.Context, name string) ([]byte, error) {
	var b []byte
	err := s.reader.QueryRowContext(ctx, `SELECT snapshot FROM miner_snapshots WHERE name = ?`, name).Scan(&b)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read miner snapshot %s: %w", name, err)
	}
	return b, nil
}

// MinerSnapshotSave implements store.Store.
func (s *Store) MinerSnapshotSave(ctx context.Context, name string, snapshot []byte) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO miner_snapshots (name, snapshot, updated_at) VALUES (?, ?, ?)
			ON CONFLICT (name) DO UPDATE SET snapshot = excluded.snapshot, updated_at = excluded.updated_at`,
			name, snapshot, fmtTime(s.now())); err != nil {
			return fmt.Errorf("save miner snapshot %s: %w", name, err)
		}
		return nil
	})
}
