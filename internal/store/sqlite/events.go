package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/riverqueue/river"

	"github.com/medic-sh/medic/internal/incident"
	"github.com/medic-sh/medic/internal/store"
)

// TriageAgent names the root session that investigates an incident: the
// commander, which delegates to specialists and composes their findings.
const TriageAgent = "incident-commander"

const eventCols = `id, instance, dag_id, run_id, task_id, try_number, map_index, source, sources, logical_date,
	exception, log_url, owner, tags, occurred_at, received_at, incident_id, deliveries`

func scanEvent(r rowScanner) (*incident.FailureEvent, []string, error) {
	var (
		ev                       incident.FailureEvent
		sources, tags, occ, recv string
		logical                  sql.NullString
	)
	err := r.Scan(&ev.ID, &ev.Instance, &ev.DagID, &ev.RunID, &ev.TaskID, &ev.TryNumber, &ev.MapIndex, &ev.Source,
		&sources, &logical, &ev.Exception, &ev.LogURL, &ev.Owner, &tags, &occ, &recv, &ev.IncidentID, &ev.Deliveries)
	if err != nil {
		return nil, nil, err
	}
	ev.LogicalDate = parseNullTime(logical)
	ev.Tags = parseStrings(tags)
	ev.OccurredAt = parseTime(occ)
	ev.ReceivedAt = parseTime(recv)
	return &ev, parseStrings(sources), nil
}

// EventRecord implements store.Store.
func (s *Store) EventRecord(ctx context.Context, p *store.EventRecordParams) (*store.EventRecordResult, error) {
	if p.Event == nil {
		return nil, errors.New("record event: no event")
	}
	ev := *p.Event
	ev.Tags = slices.Clone(p.Event.Tags)
	if err := ev.Validate(); err != nil {
		return nil, fmt.Errorf("record event %s: %w", ev.Key, err)
	}
	now := s.now().UTC()
	if ev.ReceivedAt.IsZero() {
		ev.ReceivedAt = now
	}
	if ev.OccurredAt.IsZero() {
		ev.OccurredAt = ev.ReceivedAt
	}
	res := &store.EventRecordResult{}
	err := s.tx(ctx, func(tx *sql.Tx) error {
		existing, sources, err := scanEvent(tx.QueryRowContext(ctx, `SELECT `+eventCols+` FROM failure_events WHERE identity = ?`, ev.String()))
		switch {
		case err == nil:
			return s.recordDuplicate(ctx, tx, existing, sources, &ev, res)
		case !errors.Is(err, sql.ErrNoRows):
			return fmt.Errorf("look up event %s: %w", ev.Key, err)
		}

		inc, created, err := s.incidentForGroup(ctx, tx, &ev, p.Window, now)
		if err != nil {
			return err
		}
		ev.ID = newID("evt")
		ev.IncidentID = inc.ID
		ev.Deliveries = 1
		if _, err := tx.ExecContext(ctx, `INSERT INTO failure_events (identity, `+eventCols+`)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			ev.String(), ev.ID, ev.Instance, ev.DagID, ev.RunID, ev.TaskID, ev.TryNumber, ev.MapIndex, ev.Source,
			jsonText([]incident.Source{ev.Source}), fmtNullTime(ev.LogicalDate), ev.Exception, ev.LogURL, ev.Owner,
			jsonText(ev.Tags), fmtTime(ev.OccurredAt), fmtTime(ev.ReceivedAt), ev.IncidentID, ev.Deliveries); err != nil {
			return fmt.Errorf("insert event %s: %w", ev.Key, err)
		}
		res.Event, res.Incident, res.IncidentCreated = &ev, inc, created
		return nil
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

// recordDuplicate counts another delivery of a stored failure and fills in
// what the earlier report lacked (a poller event has no exception text; the
// callback that follows does).
func (s *Store) recordDuplicate(ctx context.Context, tx *sql.Tx, existing *incident.FailureEvent, sources []string,
	ev *incident.FailureEvent, res *store.EventRecordResult,
) error {
	if !slices.Contains(sources, string(ev.Source)) {
		sources = append(sources, string(ev.Source))
	}
	if existing.Exception == "" {
		existing.Exception = ev.Exception
	}
	if existing.LogURL == "" {
		existing.LogURL = ev.LogURL
	}
	if existing.Owner == "" {
		existing.Owner = ev.Owner
	}
	if len(existing.Tags) == 0 {
		existing.Tags = ev.Tags
	}
	existing.Deliveries++
	if _, err := tx.ExecContext(ctx, `UPDATE failure_events SET deliveries = ?, sources = ?, exception = ?, log_url = ?,
		owner = ?, tags = ? WHERE id = ?`, existing.Deliveries, jsonText(sources), existing.Exception, existing.LogURL,
		existing.Owner, jsonText(existing.Tags), existing.ID); err != nil {
		return fmt.Errorf("update event %s: %w", existing.Key, err)
	}
	inc, err := getIncident(ctx, tx, existing.IncidentID)
	if err != nil {
		return err
	}
	res.Event, res.Incident, res.Duplicate = existing, inc, true
	return nil
}

// incidentForGroup returns the incident an event joins: the newest incident of
// its group opened within the window, or a new one with its triage session and
// job.
func (s *Store) incidentForGroup(ctx context.Context, tx *sql.Tx, ev *incident.FailureEvent, window time.Duration, now time.Time) (*incident.Incident, bool, error) {
	since := now.Add(-window)
	if window <= 0 {
		since = time.Time{}
	}
	inc, err := scanIncident(tx.QueryRowContext(ctx, `SELECT `+incidentCols+` FROM incidents
		WHERE group_key = ? AND created_at >= ? ORDER BY created_at DESC LIMIT 1`, ev.RunKey(), fmtTime(since)))
	switch {
	case err == nil:
		inc.EventCount++
		inc.UpdatedAt = now
		if inc.FirstTaskID == "" {
			inc.FirstTaskID = ev.TaskID
			inc.Title = incident.NewFromEvent("", ev, now).Title
		}
		if inc.Owner == "" {
			inc.Owner = ev.Owner
		}
		if _, err := tx.ExecContext(ctx, `UPDATE incidents SET event_count = ?, updated_at = ?, first_task_id = ?, title = ?,
			owner = ? WHERE id = ?`, inc.EventCount, fmtTime(now), inc.FirstTaskID, inc.Title, inc.Owner, inc.ID); err != nil {
			return nil, false, fmt.Errorf("attach event to incident %s: %w", inc.ID, err)
		}
		return inc, false, nil
	case !errors.Is(err, sql.ErrNoRows):
		return nil, false, fmt.Errorf("find incident for %s: %w", ev.RunKey(), err)
	}
	inc = incident.NewFromEvent(newID("inc"), ev, now)
	if err := s.openIncident(ctx, tx, inc, "medic", map[string]any{"source": ev.Source, "task_id": ev.TaskID}); err != nil {
		return nil, false, err
	}
	return inc, true, nil
}

// openIncident inserts a new incident with its pending root session, its
// audit entry and its triage job.
func (s *Store) openIncident(ctx context.Context, tx *sql.Tx, inc *incident.Incident, actor string, detail map[string]any) error {
	sess := incident.NewRootSession(newID("ses"), inc.ID, TriageAgent, inc.CreatedAt)
	inc.TriageSessionID = sess.ID
	if err := insertIncident(ctx, tx, inc); err != nil {
		return err
	}
	if err := insertSession(ctx, tx, sess); err != nil {
		return err
	}
	detail["group_key"] = inc.GroupKey
	if err := insertAudit(ctx, tx, &incident.AuditEntry{
		At: inc.CreatedAt, Actor: actor, Action: "incident.opened",
		IncidentID: inc.ID, Detail: detailJSON(detail),
	}); err != nil {
		return err
	}
	if _, err := s.jobs.InsertTx(ctx, tx, store.TriageJobArgs{IncidentID: inc.ID, SessionID: sess.ID},
		&river.InsertOpts{UniqueOpts: river.UniqueOpts{ByArgs: true}}); err != nil {
		return fmt.Errorf("enqueue triage of incident %s: %w", inc.ID, err)
	}
	return nil
}

// EventListByIncident implements store.Store, oldest first.
func (s *Store) EventListByIncident(ctx context.Context, incidentID string) ([]*incident.FailureEvent, error) {
	rows, err := s.reader.QueryContext(ctx, `SELECT `+eventCols+` FROM failure_events WHERE incident_id = ?
		ORDER BY occurred_at, id LIMIT ?`, incidentID, store.MaxListLimit)
	if err != nil {
		return nil, fmt.Errorf("list events of incident %s: %w", incidentID, err)
	}
	defer rows.Close()
	var out []*incident.FailureEvent
	for rows.Next() {
		ev, _, err := scanEvent(rows)
		if err != nil {
			return nil, fmt.Errorf("scan event: %w", err)
		}
		out = append(out, ev)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list events of incident %s: %w", incidentID, err)
	}
	return out, nil
}
