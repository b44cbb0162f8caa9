package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/riverqueue/river"

	"github.com/medic-sh/medic/internal/incident"
	"github.com/medic-sh/medic/internal/store"
)

// TriageAgent names the root session that investigates an incident: the
// commander, which delegates to specialists and composes their findings.
const TriageAgent = "incident-commander"

const eventCols = `id, instance, dag_id, run_id, task_id, try_number, map_index, source, sources, logical_date,
	exception, log_url, owner, tags, occurred_at, received_at, incident_id, deliveries, datasets`

func scanEvent(r rowScanner) (*incident.FailureEvent, []string, error) {
	var (
		ev                       incident.FailureEvent
		sources, tags, occ, recv string
		datasets                 string
		logical                  sql.NullString
	)
	err := r.Scan(&ev.ID, &ev.Instance, &ev.DagID, &ev.RunID, &ev.TaskID, &ev.TryNumber, &ev.MapIndex, &ev.Source,
		&sources, &logical, &ev.Exception, &ev.LogURL, &ev.Owner, &tags, &occ, &recv, &ev.IncidentID, &ev.Deliveries,
		&datasets)
	if err != nil {
		return nil, nil, err
	}
	if ds := parseStrings(datasets); len(ds) > 0 {
		ev.Datasets = ds
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
	ev.Datasets = slices.Clone(p.Event.Datasets)
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

		var (
			inc     *incident.Incident
			created bool
		)
		if p.Coalesce {
			inc, created, err = s.incidentForKeys(ctx, tx, &ev, p, now, res)
		} else {
			inc, created, err = s.incidentForGroup(ctx, tx, &ev, p.Window, now)
		}
		if err != nil {
			return err
		}
		newTask, newDAG, err := groupNovelty(ctx, tx, inc.ID, &ev)
		if err != nil {
			return err
		}
		ev.ID = newID("evt")
		ev.IncidentID = inc.ID
		ev.Deliveries = 1
		if _, err := tx.ExecContext(ctx, `INSERT INTO failure_events (identity, `+eventCols+`)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			ev.String(), ev.ID, ev.Instance, ev.DagID, ev.RunID, ev.TaskID, ev.TryNumber, ev.MapIndex, ev.Source,
			jsonText([]incident.Source{ev.Source}), fmtNullTime(ev.LogicalDate), ev.Exception, ev.LogURL, ev.Owner,
			jsonText(ev.Tags), fmtTime(ev.OccurredAt), fmtTime(ev.ReceivedAt), ev.IncidentID, ev.Deliveries,
			jsonText(ev.Datasets)); err != nil {
			return fmt.Errorf("insert event %s: %w", ev.Key, err)
		}
		res.Event, res.Incident, res.IncidentCreated = &ev, inc, created
		return countGroup(ctx, tx, inc.ID, newTask, newDAG, res)
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

// recordDuplicate counts another delivery of a stored failure and fills in
// what the earlier report lacked (a poller event has no exception text; the
// callback that follows does; only an OpenLineage event names datasets).
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
	if len(existing.Datasets) == 0 {
		existing.Datasets = ev.Datasets
	}
	existing.Deliveries++
	if _, err := tx.ExecContext(ctx, `UPDATE failure_events SET deliveries = ?, sources = ?, exception = ?, log_url = ?,
		owner = ?, tags = ?, datasets = ? WHERE id = ?`, existing.Deliveries, jsonText(sources), existing.Exception,
		existing.LogURL, existing.Owner, jsonText(existing.Tags), jsonText(existing.Datasets), existing.ID); err != nil {
		return fmt.Errorf("update event %s: %w", existing.Key, err)
	}
	inc, err := getIncident(ctx, tx, existing.IncidentID)
	if err != nil {
		return err
	}
	res.Event, res.Incident, res.Duplicate = existing, inc, true
	return countGroup(ctx, tx, inc.ID, false, false, res)
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
		return inc, false, attachEvent(ctx, tx, inc, ev, now)
	case !errors.Is(err, sql.ErrNoRows):
		return nil, false, fmt.Errorf("find incident for %s: %w", ev.RunKey(), err)
	}
	inc = incident.NewFromEvent(newID("inc"), ev, now)
	if err := s.openIncident(ctx, tx, inc, "medic", map[string]any{"source": ev.Source, "task_id": ev.TaskID}); err != nil {
		return nil, false, err
	}
	return inc, true, nil
}

// attachEvent counts one more event of an incident.
func attachEvent(ctx context.Context, tx *sql.Tx, inc *incident.Incident, ev *incident.FailureEvent, now time.Time) error {
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
		return fmt.Errorf("attach event to incident %s: %w", inc.ID, err)
	}
	return nil
}

// openIncident inserts a new incident with its pending root session, its
// audit entry and its triage job, due now.
func (s *Store) openIncident(ctx context.Context, tx *sql.Tx, inc *incident.Incident, actor string, detail map[string]any) error {
	_, err := s.openIncidentAt(ctx, tx, inc, actor, detail, time.Time{})
	return err
}

// openIncidentAt is openIncident with the triage job scheduled at triageAt
// (now when zero); it returns the job's id.
func (s *Store) openIncidentAt(ctx context.Context, tx *sql.Tx, inc *incident.Incident, actor string, detail map[string]any,
	triageAt time.Time,
) (int64, error) {
	sess := incident.NewRootSession(newID("ses"), inc.ID, TriageAgent, inc.CreatedAt)
	inc.TriageSessionID = sess.ID
	if err := insertIncident(ctx, tx, inc); err != nil {
		return 0, err
	}
	if err := insertSession(ctx, tx, sess); err != nil {
		return 0, err
	}
	detail["group_key"] = inc.GroupKey
	if err := insertAudit(ctx, tx, &incident.AuditEntry{
		At: inc.CreatedAt, Actor: actor, Action: "incident.opened",
		IncidentID: inc.ID, Detail: detailJSON(detail),
	}); err != nil {
		return 0, err
	}
	ins, err := s.jobs.InsertTx(ctx, tx, store.TriageJobArgs{IncidentID: inc.ID, SessionID: sess.ID},
		&river.InsertOpts{UniqueOpts: river.UniqueOpts{ByArgs: true}, ScheduledAt: triageAt})
	if err != nil {
		return 0, fmt.Errorf("enqueue triage of incident %s: %w", inc.ID, err)
	}
	return ins.Job.ID, nil
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

// openForKeys is the condition under which an incident still collects
// failures on its storm keys: not triaged, its investigation not begun (the
// root session pending and the triage job never attempted), younger than
// max age and below max batch.
const openForKeys = `incidents.triaged_at IS NULL AND incidents.created_at >= ? AND incidents.event_count < ?
	AND incidents.coalesce_until IS NOT NULL
	AND EXISTS (SELECT 1 FROM sessions WHERE sessions.id = incidents.triage_session_id AND sessions.status = 'pending')
	AND NOT EXISTS (SELECT 1 FROM river_job WHERE river_job.id = incidents.triage_job_id AND river_job.attempted_at IS NOT NULL)`

// incidentForKeys returns the incident an event joins under storm
// coalescing: the newest incident of its DAG run within the window, else the
// newest open incident sharing one of its keys (in the order given), else a
// new one that holds its investigation back for the debounce.
func (s *Store) incidentForKeys(ctx context.Context, tx *sql.Tx, ev *incident.FailureEvent, p *store.EventRecordParams,
	now time.Time, res *store.EventRecordResult,
) (*incident.Incident, bool, error) {
	since := now.Add(-p.Window)
	if p.Window <= 0 {
		since = time.Time{}
	}
	maxBatch := p.MaxBatch
	if maxBatch <= 0 {
		maxBatch = math.MaxInt32
	}
	for _, k := range p.Keys {
		kind, value, ok := strings.Cut(k, ":")
		if !ok || value == "" {
			continue
		}
		var row *sql.Row
		if kind == "run" {
			// The run an incident opened with joins it for the whole window,
			// as without coalescing; a run that joined on a storm key only
			// while the incident has room.
			row = tx.QueryRowContext(ctx, `SELECT `+incidentCols+` FROM incidents WHERE created_at >= ?
				AND (group_key = ? OR (event_count < ? AND id IN (SELECT incident_id FROM incident_keys WHERE kind = 'run' AND value = ?)))
				ORDER BY created_at DESC LIMIT 1`, fmtTime(since), value, maxBatch, value)
		} else {
			row = tx.QueryRowContext(ctx, `SELECT `+incidentCols+` FROM incidents
				WHERE id IN (SELECT incident_id FROM incident_keys WHERE kind = ? AND value = ?) AND `+openForKeys+`
				ORDER BY created_at DESC LIMIT 1`, kind, value, fmtTime(now.Add(-p.MaxAge)), maxBatch)
		}
		inc, err := scanIncident(row)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			continue
		case err != nil:
			return nil, false, fmt.Errorf("find incident for %s key of %s: %w", kind, ev.Key, err)
		}
		if err := attachEvent(ctx, tx, inc, ev, now); err != nil {
			return nil, false, err
		}
		if kind != "run" && slices.Contains(p.Keys, "run:"+ev.RunKey()) {
			// Later failures of this run (a retry) belong here too.
			if err := insertKeys(ctx, tx, inc.ID, []string{"run:" + ev.RunKey()}, now); err != nil {
				return nil, false, err
			}
		}
		res.JoinedOn = kind
		res.TriageAt, err = s.pushTriage(ctx, tx, inc, p, now)
		return inc, false, err
	}

	inc := incident.NewFromEvent(newID("inc"), ev, now)
	until := now.Add(p.MaxWait)
	triageAt := now.Add(min(p.Debounce, p.MaxWait))
	jobID, err := s.openIncidentAt(ctx, tx, inc, "medic", map[string]any{"source": ev.Source, "task_id": ev.TaskID, "keys": p.Keys}, triageAt)
	if err != nil {
		return nil, false, err
	}
	if _, err := tx.ExecContext(ctx, `UPDATE incidents SET cause = ?, triage_job_id = ?, coalesce_until = ? WHERE id = ?`,
		p.Cause, jobID, fmtTime(until), inc.ID); err != nil {
		return nil, false, fmt.Errorf("mark incident %s coalescing: %w", inc.ID, err)
	}
	if err := insertKeys(ctx, tx, inc.ID, p.Keys, now); err != nil {
		return nil, false, err
	}
	res.TriageAt = triageAt
	return inc, true, nil
}

// insertKeys records the structured keys an incident collects failures on.
func insertKeys(ctx context.Context, tx *sql.Tx, incidentID string, keys []string, now time.Time) error {
	for _, k := range keys {
		kind, value, ok := strings.Cut(k, ":")
		if !ok || value == "" {
			continue
		}
		if _, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO incident_keys (kind, value, incident_id, created_at)
			VALUES (?, ?, ?, ?)`, kind, value, incidentID, fmtTime(now)); err != nil {
			return fmt.Errorf("record %s key of incident %s: %w", kind, incidentID, err)
		}
	}
	return nil
}

// pushTriage holds back a coalescing incident's investigation after an
// event joined it: to debounce from now, never past the incident's
// coalesce_until; a full batch makes it due now. A job already picked up is
// left alone. It returns when the investigation is due, zero for an incident
// that does not coalesce.
func (s *Store) pushTriage(ctx context.Context, tx *sql.Tx, inc *incident.Incident, p *store.EventRecordParams, now time.Time) (time.Time, error) {
	var (
		jobID int64
		until sql.NullString
	)
	if err := tx.QueryRowContext(ctx, `SELECT triage_job_id, coalesce_until FROM incidents WHERE id = ?`, inc.ID).
		Scan(&jobID, &until); err != nil {
		return time.Time{}, fmt.Errorf("read triage job of incident %s: %w", inc.ID, err)
	}
	if jobID == 0 || !until.Valid {
		return time.Time{}, nil
	}
	// River keeps its times as SQLite text in this format; others compare
	// wrongly against its own.
	const riverTime = "2006-01-02 15:04:05.000"
	if p.MaxBatch > 0 && inc.EventCount >= p.MaxBatch {
		// Due now; River's scheduler makes it available within seconds. A
		// job already due, running or done is left alone.
		rt := now.UTC().Round(time.Millisecond).Format(riverTime)
		if _, err := tx.ExecContext(ctx, `UPDATE river_job SET scheduled_at = ? WHERE id = ? AND state = 'scheduled' AND scheduled_at > ?`,
			rt, jobID, rt); err != nil {
			return time.Time{}, fmt.Errorf("start triage of full incident %s: %w", inc.ID, err)
		}
		return now, nil
	}
	at := now.Add(p.Debounce)
	if u := parseTime(until.String); at.After(u) {
		at = u
	}
	rt := at.UTC().Round(time.Millisecond).Format(riverTime)
	if _, err := tx.ExecContext(ctx, `UPDATE river_job SET scheduled_at = ? WHERE id = ? AND state = 'scheduled' AND scheduled_at < ?`,
		rt, jobID, rt); err != nil {
		return time.Time{}, fmt.Errorf("hold back triage of incident %s: %w", inc.ID, err)
	}
	return at, nil
}

// groupNovelty reports whether an event about to be stored is the first of
// its task, and of its DAG, in an incident.
func groupNovelty(ctx context.Context, tx *sql.Tx, incidentID string, ev *incident.FailureEvent) (task, dag bool, err error) {
	var seenTask, seenDAG bool
	if err := tx.QueryRowContext(ctx, `SELECT
		EXISTS (SELECT 1 FROM failure_events WHERE incident_id = ? AND dag_id = ? AND task_id = ?),
		EXISTS (SELECT 1 FROM failure_events WHERE incident_id = ? AND dag_id = ?)`,
		incidentID, ev.DagID, ev.TaskID, incidentID, ev.DagID).Scan(&seenTask, &seenDAG); err != nil {
		return false, false, fmt.Errorf("count tasks of incident %s: %w", incidentID, err)
	}
	return !seenTask, !seenDAG, nil
}

// countGroup adds an event's task and DAG to its incident's counts, when
// new, and reports the counts and cause in res.
func countGroup(ctx context.Context, tx *sql.Tx, incidentID string, newTask, newDAG bool, res *store.EventRecordResult) error {
	if err := tx.QueryRowContext(ctx, `UPDATE incidents SET task_count = task_count + ?, dag_count = dag_count + ?
		WHERE id = ? RETURNING task_count, dag_count, cause`, b2i(newTask), b2i(newDAG), incidentID).
		Scan(&res.Tasks, &res.DAGs, &res.Cause); err != nil {
		return fmt.Errorf("count tasks of incident %s: %w", incidentID, err)
	}
	return nil
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// IncidentGroupCounts returns how many distinct tasks and DAGs an
// incident's events span and its cause (empty unless it coalesced), for a
// message such as "37 tasks in 12 DAGs failed: <cause>".
func (s *Store) IncidentGroupCounts(ctx context.Context, id string) (tasks, dags int, cause string, err error) {
	err = s.reader.QueryRowContext(ctx, `SELECT task_count, dag_count, cause FROM incidents WHERE id = ?`, id).Scan(&tasks, &dags, &cause)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, 0, "", fmt.Errorf("incident %s: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return 0, 0, "", fmt.Errorf("count tasks of incident %s: %w", id, err)
	}
	return tasks, dags, cause, nil
}
