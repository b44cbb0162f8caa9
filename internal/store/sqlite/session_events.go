package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/medic-sh/medic/internal/incident"
	"github.com/medic-sh/medic/internal/store"
)

const sessionEventCols = `id, session_id, incident_id, agent, kind, message, data, at`

// appendEvent inserts e in tx and sets its ID. The caller has checked e and
// filled its times and names.
func appendEvent(ctx context.Context, tx *sql.Tx, e *incident.SessionEvent) error {
	err := tx.QueryRowContext(ctx, `INSERT INTO session_events (session_id, incident_id, agent, kind, message, data, at)
		VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id`,
		e.SessionID, e.IncidentID, e.Agent, e.Kind, e.Message, jsonArg(e.Data), fmtTime(e.At)).Scan(&e.ID)
	if err != nil {
		return fmt.Errorf("append %s event to session %s: %w", e.Kind, e.SessionID, err)
	}
	return nil
}

// finishedEvent is the event every path that makes a session final
// appends, so that a reader of the log sees each session end exactly once.
func finishedEvent(ss *incident.Session, message string, at time.Time) *incident.SessionEvent {
	if message == "" {
		message = string(ss.Status)
		if ss.Error != "" {
			message += ": " + ss.Error
		}
	}
	data, _ := json.Marshal(struct {
		Status incident.SessionStatus `json:"status"`
		Error  string                 `json:"error,omitempty"`
	}{ss.Status, ss.Error})
	return &incident.SessionEvent{
		SessionID: ss.ID, IncidentID: ss.IncidentID, Agent: ss.Agent, Kind: incident.SessionEventFinished,
		Message: clipMessage(message), Data: data, At: at,
	}
}

// clipMessage bounds a message the store writes itself (from an error
// text) at a character boundary.
func clipMessage(m string) string {
	if len(m) <= incident.MaxSessionEventMessage {
		return m
	}
	n := incident.MaxSessionEventMessage - len("…")
	for n > 0 && m[n]&0xC0 == 0x80 {
		n--
	}
	return m[:n] + "…"
}

// SessionEventAppend implements store.Store.
func (s *Store) SessionEventAppend(ctx context.Context, e *incident.SessionEvent) (*incident.SessionEvent, error) {
	if e == nil {
		return nil, fmt.Errorf("append session event: no event: %w", incident.ErrInvalid)
	}
	if err := e.Validate(); err != nil {
		return nil, fmt.Errorf("append session event to %s: %w", e.SessionID, err)
	}
	out := *e
	if out.At.IsZero() {
		out.At = s.now()
	}
	out.At = out.At.UTC()
	err := s.tx(ctx, func(tx *sql.Tx) error {
		ss, err := getSession(ctx, tx, out.SessionID)
		if err != nil {
			return err
		}
		switch {
		case out.IncidentID == "":
			out.IncidentID = ss.IncidentID
		case out.IncidentID != ss.IncidentID:
			return fmt.Errorf("append session event: session %s belongs to incident %s, not %s: %w",
				ss.ID, ss.IncidentID, out.IncidentID, incident.ErrInvalid)
		}
		if out.Agent == "" {
			out.Agent = ss.Agent
		}
		return appendEvent(ctx, tx, &out)
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// SessionEventList implements store.Store.
func (s *Store) SessionEventList(ctx context.Context, p *store.SessionEventListParams) ([]*incident.SessionEvent, error) {
	query := `SELECT ` + sessionEventCols + ` FROM session_events WHERE session_id = ? AND id > ? ORDER BY id LIMIT ?`
	args := []any{p.SessionID, p.AfterID, store.ClampLimit(p.Limit)}
	if p.Tree {
		// A tree's events are all its incident's: walking the incident's
		// index in id order needs no sort and stops at the limit.
		query = `WITH RECURSIVE tree (id) AS (
				SELECT ? UNION SELECT sessions.id FROM sessions JOIN tree ON sessions.parent_id = tree.id
			)
			SELECT ` + sessionEventCols + ` FROM session_events
			WHERE incident_id = (SELECT incident_id FROM sessions WHERE id = ?)
				AND session_id IN (SELECT id FROM tree) AND id > ? ORDER BY id LIMIT ?`
		args = []any{p.SessionID, p.SessionID, p.AfterID, store.ClampLimit(p.Limit)}
	}
	rows, err := s.reader.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("list events of session %s: %w", p.SessionID, err)
	}
	defer rows.Close()
	var out []*incident.SessionEvent
	for rows.Next() {
		var (
			e    incident.SessionEvent
			data sql.NullString
			at   string
		)
		if err := rows.Scan(&e.ID, &e.SessionID, &e.IncidentID, &e.Agent, &e.Kind, &e.Message, &data, &at); err != nil {
			return nil, fmt.Errorf("scan session event: %w", err)
		}
		e.Data, e.At = nullJSON(data), parseTime(at)
		out = append(out, &e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list events of session %s: %w", p.SessionID, err)
	}
	return out, nil
}
