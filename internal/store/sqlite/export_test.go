package sqlite

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/medic-sh/medic/internal/store/storetest"
)

// SetMemoryEmbedding overwrites a memory record's embedding bytes, for the
// conformance suite's corrupt-embedding case.
func (s *Store) SetMemoryEmbedding(ctx context.Context, id string, blob []byte) error {
	res, err := s.writer.ExecContext(ctx, `UPDATE memory_records SET embedding = ? WHERE id = ?`, blob, id)
	if err != nil {
		return fmt.Errorf("set embedding of %s: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return fmt.Errorf("set embedding of %s: %d rows", id, n)
	}
	return nil
}

// ListJobs lists the jobs of a kind in insertion order, for the
// conformance suite's job checks.
func (s *Store) ListJobs(ctx context.Context, kind string) ([]storetest.Job, error) {
	rows, err := s.reader.QueryContext(ctx, `SELECT json(args), state, scheduled_at FROM river_job WHERE kind = ? ORDER BY id`, kind)
	if err != nil {
		return nil, fmt.Errorf("list %s jobs: %w", kind, err)
	}
	defer rows.Close()
	var out []storetest.Job
	for rows.Next() {
		var (
			j    storetest.Job
			args []byte
		)
		// The driver reads River's timestamp column as a time.
		if err := rows.Scan(&args, &j.State, &j.ScheduledAt); err != nil {
			return nil, fmt.Errorf("scan %s job: %w", kind, err)
		}
		j.Args = json.RawMessage(args)
		out = append(out, j)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list %s jobs: %w", kind, err)
	}
	return out, nil
}

// TamperAudit rewrites an audit entry's detail directly, for the
// conformance suite's tamper case.
func (s *Store) TamperAudit(ctx context.Context, id int64, detail string) error {
	res, err := s.writer.ExecContext(ctx, `UPDATE audit_log SET detail = ? WHERE id = ?`, detail, id)
	if err != nil {
		return fmt.Errorf("tamper with audit entry %d: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return fmt.Errorf("tamper with audit entry %d: %d rows", id, n)
	}
	return nil
}
