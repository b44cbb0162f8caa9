package sqlite

import (
	"context"
	"fmt"
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
