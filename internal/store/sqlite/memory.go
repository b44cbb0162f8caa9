package sqlite

import (
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/medic-sh/medic/internal/memory"
	"github.com/medic-sh/medic/internal/store"
)

const memoryCols = `id, signature, template, exception_type, excerpt, embedding, embedded_by, label, action,
	outcome, verdict, fixed, failed, ups, downs, trust, created_at, updated_at`

// scanMemoryRecord reads one row. An embedding blob that is not a whole
// number of float32s is dropped with a warning: the record stays usable for
// signature lookup, and the next Remember of it stores a fresh one.
func (s *Store) scanMemoryRecord(ctx context.Context, row rowScanner) (*memory.Record, error) {
	var (
		r                memory.Record
		blob             []byte
		created, updated string
	)
	err := row.Scan(&r.ID, &r.Signature, &r.Template, &r.ExceptionType, &r.Excerpt, &blob, &r.EmbeddedBy, &r.Label,
		&r.Action, &r.Outcome, &r.Verdict, &r.Fixed, &r.Failed, &r.Ups, &r.Downs, &r.Trust, &created, &updated)
	if err != nil {
		return nil, err
	}
	r.CreatedAt, r.UpdatedAt = parseTime(created), parseTime(updated)
	vec, ok := decodeEmbedding(blob)
	if !ok {
		s.log.WarnContext(ctx, "corrupt memory record embedding dropped; signature lookup only until remembered again",
			"record_id", r.ID, "embedding_bytes", len(blob), "embedded_by", r.EmbeddedBy)
		r.EmbeddedBy = ""
	}
	r.Embedding = vec
	return &r, nil
}

// encodeEmbedding stores v as little-endian float32s; no vector is NULL.
func encodeEmbedding(v []float32) any {
	if len(v) == 0 {
		return nil
	}
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	return b
}

// decodeEmbedding reverses encodeEmbedding; ok is false for a blob that is
// not a whole number of float32s.
func decodeEmbedding(b []byte) (v []float32, ok bool) {
	if len(b) == 0 {
		return nil, true
	}
	if len(b)%4 != 0 {
		return nil, false
	}
	v = make([]float32, len(b)/4)
	for i := range v {
		v[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return v, true
}

// MemoryRecordUpsert implements store.Store.
func (s *Store) MemoryRecordUpsert(ctx context.Context, r *memory.Record) error {
	if err := r.Validate(); err != nil {
		return fmt.Errorf("save memory record: %w", err)
	}
	in := *r
	if in.Outcome == "" {
		in.Outcome = memory.OutcomeUnknown
	}
	if in.Verdict == "" {
		in.Verdict = memory.VerdictNone
	}
	if in.CreatedAt.IsZero() {
		in.CreatedAt = s.now()
	}
	if in.UpdatedAt.IsZero() {
		in.UpdatedAt = in.CreatedAt
	}
	in.Trust = memory.ComputeTrust(&in)
	out, err := s.scanMemoryRecord(ctx, s.writer.QueryRowContext(ctx, `INSERT INTO memory_records (`+memoryCols+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET signature = excluded.signature, template = excluded.template,
			exception_type = excluded.exception_type, excerpt = excluded.excerpt, embedding = excluded.embedding,
			embedded_by = excluded.embedded_by,
			label = CASE WHEN memory_records.ups + memory_records.downs > 0 THEN memory_records.label ELSE excluded.label END,
			updated_at = excluded.updated_at
		RETURNING `+memoryCols,
		in.ID, in.Signature, in.Template, in.ExceptionType, in.Excerpt, encodeEmbedding(in.Embedding), in.EmbeddedBy,
		in.Label, in.Action, in.Outcome, in.Verdict, in.Fixed, in.Failed, in.Ups, in.Downs, in.Trust,
		fmtTime(in.CreatedAt), fmtTime(in.UpdatedAt)))
	if err != nil {
		return fmt.Errorf("save memory record %s: %w", in.ID, err)
	}
	*r = *out
	return nil
}

// MemoryRecordApply implements store.Store. The counts are incremented in
// SQL and trust is recomputed from the incremented counts in the same
// transaction, so concurrent updates never lose one.
func (s *Store) MemoryRecordApply(ctx context.Context, id string, u memory.Update, now time.Time) (*memory.Record, error) {
	if err := u.Validate(); err != nil {
		return nil, fmt.Errorf("apply feedback to memory record %s: %w", id, err)
	}
	if u.Silent() {
		return s.MemoryRecordGet(ctx, id)
	}
	if now.IsZero() {
		now = s.now()
	}
	d := u.Delta()
	var out *memory.Record
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var c memory.Record
		err := tx.QueryRowContext(ctx, `UPDATE memory_records SET
				fixed = fixed + ?, failed = failed + ?, ups = ups + ?, downs = downs + ?,
				outcome = coalesce(nullif(?, ''), outcome), verdict = coalesce(nullif(?, ''), verdict),
				action = coalesce(nullif(?, ''), action), label = coalesce(nullif(?, ''), label), updated_at = ?
			WHERE id = ? RETURNING fixed, failed, ups, downs`,
			d.Fixed, d.Failed, d.Ups, d.Downs, string(d.Outcome), string(d.Verdict), d.Action, d.Label, fmtTime(now), id,
		).Scan(&c.Fixed, &c.Failed, &c.Ups, &c.Downs)
		if errors.Is(err, sql.ErrNoRows) {
			return store.MemoryRecordNotFound(id)
		}
		if err != nil {
			return fmt.Errorf("apply feedback to memory record %s: %w", id, err)
		}
		out, err = s.scanMemoryRecord(ctx, tx.QueryRowContext(ctx,
			`UPDATE memory_records SET trust = ? WHERE id = ? RETURNING `+memoryCols, memory.ComputeTrust(&c), id))
		if err != nil {
			return fmt.Errorf("update trust of memory record %s: %w", id, err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// MemoryRecordGet implements store.Store.
func (s *Store) MemoryRecordGet(ctx context.Context, id string) (*memory.Record, error) {
	r, err := s.scanMemoryRecord(ctx, s.reader.QueryRowContext(ctx, `SELECT `+memoryCols+` FROM memory_records WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.MemoryRecordNotFound(id)
	}
	if err != nil {
		return nil, fmt.Errorf("get memory record %s: %w", id, err)
	}
	return r, nil
}

// MemoryRecordList implements store.Store, keyset-paged on (updated_at, id).
func (s *Store) MemoryRecordList(ctx context.Context, p *store.MemoryRecordListParams) ([]*memory.Record, error) {
	after := fmtTime(p.UpdatedAfter)
	rows, err := s.reader.QueryContext(ctx, `SELECT `+memoryCols+` FROM memory_records
		WHERE updated_at > ? OR (updated_at = ? AND id > ?)
		ORDER BY updated_at, id LIMIT ?`, after, after, p.AfterID, store.ClampLimit(p.Limit))
	if err != nil {
		return nil, fmt.Errorf("list memory records: %w", err)
	}
	defer rows.Close()
	var out []*memory.Record
	for rows.Next() {
		r, err := s.scanMemoryRecord(ctx, rows)
		if err != nil {
			return nil, fmt.Errorf("list memory records: read row after %s: %w", p.AfterID, err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list memory records: %w", err)
	}
	return out, nil
}
