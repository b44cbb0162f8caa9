package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/riverqueue/river"

	"github.com/medic-sh/medic/internal/incident"
	"github.com/medic-sh/medic/internal/store"
)

// TriageRequest implements store.Store.
func (s *Store) TriageRequest(ctx context.Context, p *store.TriageRequestParams) (*store.TriageRequestResult, error) {
	key := incident.Key{Instance: p.Instance, DagID: p.DagID, RunID: p.RunID, TaskID: "request", TryNumber: 1}
	if p.TaskID != "" {
		key.TaskID = p.TaskID
	}
	if err := key.Validate(); err != nil {
		return nil, fmt.Errorf("triage request: %w", err)
	}
	now := s.now().UTC()
	since := time.Time{}
	if p.Window > 0 {
		since = now.Add(-p.Window)
	}
	res := &store.TriageRequestResult{}
	err := s.tx(ctx, func(tx *sql.Tx) error {
		inc, err := scanIncident(tx.QueryRowContext(ctx, `SELECT `+incidentCols+` FROM incidents
			WHERE group_key = ? AND created_at >= ? ORDER BY created_at DESC LIMIT 1`, key.RunKey(), fmtTime(since)))
		switch {
		case err == nil:
		case errors.Is(err, sql.ErrNoRows):
			inc = &incident.Incident{
				ID: newID("inc"), State: incident.StateOpen, Severity: incident.SeverityMedium,
				Title:    fmt.Sprintf("%s run %s (triage requested)", p.DagID, p.RunID),
				Instance: p.Instance, DagID: p.DagID, RunID: p.RunID, GroupKey: key.RunKey(), FirstTaskID: p.TaskID,
				CreatedAt: now, UpdatedAt: now,
			}
			if p.TaskID != "" {
				inc.Title = fmt.Sprintf("%s.%s failed (run %s)", p.DagID, p.TaskID, p.RunID)
			}
			if err := s.openIncident(ctx, tx, inc, actorOr(p.Actor), map[string]any{"source": "triage_request", "task_id": p.TaskID}); err != nil {
				return err
			}
			res.Created = true
		default:
			return fmt.Errorf("find incident for %s: %w", key.RunKey(), err)
		}
		sess, err := getSession(ctx, tx, inc.TriageSessionID)
		if err != nil {
			return err
		}
		res.Incident, res.Session = inc, sess
		return nil
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

func actorOr(a string) string {
	if a == "" {
		return "medic"
	}
	return a
}

// TriageComplete implements store.Store.
func (s *Store) TriageComplete(ctx context.Context, p *store.TriageCompleteParams) (*store.TriageCompleteResult, error) {
	if !p.Status.Final() {
		return nil, fmt.Errorf("complete triage of %s: status %q is not final", p.IncidentID, p.Status)
	}
	res := &store.TriageCompleteResult{}
	err := s.tx(ctx, func(tx *sql.Tx) error {
		inc, err := getIncident(ctx, tx, p.IncidentID)
		if err != nil {
			return err
		}
		res.Incident = inc
		if inc.TriagedAt != nil {
			return nil
		}
		now := s.now().UTC()
		if p.State != "" && p.State != inc.State {
			if err := inc.Transition(p.State, now); err != nil {
				return fmt.Errorf("complete triage: %w", err)
			}
		}
		inc.TriagedAt, inc.UpdatedAt, inc.Summary = &now, now, p.Summary
		if p.Severity != "" {
			inc.Severity = p.Severity
		}
		if _, err := tx.ExecContext(ctx, `UPDATE incidents SET state = ?, severity = ?, summary = ?, triaged_at = ?, updated_at = ?
			WHERE id = ? AND triaged_at IS NULL`, inc.State, inc.Severity, inc.Summary, fmtTime(now), fmtTime(now), inc.ID); err != nil {
			return fmt.Errorf("complete triage of %s: %w", inc.ID, err)
		}
		sess, err := getSession(ctx, tx, p.SessionID)
		switch {
		case errors.Is(err, store.ErrNotFound):
			sess = nil
		case err != nil:
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE sessions SET status = ?, updated_at = ?, finished_at = ? WHERE id = ?`,
			p.Status, fmtTime(now), fmtTime(now), p.SessionID); err != nil {
			return fmt.Errorf("finish session %s: %w", p.SessionID, err)
		}
		if sess != nil && !sess.Status.Final() {
			sess.Status = p.Status
			if err := appendEvent(ctx, tx, finishedEvent(sess, "", now)); err != nil {
				return err
			}
		}
		if err := insertAudit(ctx, tx, &incident.AuditEntry{
			At: now, Actor: "medic", Action: "incident.triaged",
			IncidentID: inc.ID, Detail: detailJSON(map[string]any{"session_id": p.SessionID, "status": p.Status, "state": inc.State}),
		}); err != nil {
			return err
		}
		if _, err := s.jobs.InsertTx(ctx, tx, store.NotifyJobArgs{IncidentID: inc.ID, Reason: "triaged"},
			&river.InsertOpts{UniqueOpts: river.UniqueOpts{ByArgs: true}}); err != nil {
			return fmt.Errorf("enqueue notification for %s: %w", inc.ID, err)
		}
		if p.Remediate {
			if _, err := s.jobs.InsertTx(ctx, tx, store.RemediateJobArgs{IncidentID: inc.ID, SessionID: p.SessionID},
				&river.InsertOpts{UniqueOpts: river.UniqueOpts{ByArgs: true}}); err != nil {
				return fmt.Errorf("enqueue remediation for %s: %w", inc.ID, err)
			}
		}
		res.Done = true
		return nil
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

// IncidentTransition implements store.Store.
func (s *Store) IncidentTransition(ctx context.Context, p *store.IncidentTransitionParams) (*incident.Incident, error) {
	var out *incident.Incident
	err := s.tx(ctx, func(tx *sql.Tx) error {
		inc, err := s.moveIncident(ctx, tx, p.ID, p.From, p.To, s.now().UTC(), p.Actor, p.Reason)
		out = inc
		return err
	})
	return out, err
}

// moveIncident moves an incident to state to, from state from when that is
// set (an incident elsewhere is left as it is), with an incident.transition
// audit entry. An incident already in to is returned unchanged.
func (s *Store) moveIncident(ctx context.Context, tx *sql.Tx, id string, from, to incident.State, now time.Time, actor, reason string) (*incident.Incident, error) {
	inc, err := getIncident(ctx, tx, id)
	if err != nil {
		return nil, err
	}
	if inc.State == to || (from != "" && inc.State != from) {
		return inc, nil
	}
	was := inc.State
	if err := inc.Transition(to, now); err != nil {
		return inc, err
	}
	if _, err := tx.ExecContext(ctx, `UPDATE incidents SET state = ?, updated_at = ? WHERE id = ? AND state = ?`,
		inc.State, fmtTime(now), inc.ID, was); err != nil {
		return inc, fmt.Errorf("move incident %s to %s: %w", inc.ID, to, err)
	}
	if err := insertAudit(ctx, tx, &incident.AuditEntry{
		At: now, Actor: actorOr(actor), Action: "incident.transition",
		IncidentID: inc.ID, Detail: detailJSON(map[string]any{"from": was, "to": to, "reason": reason}),
	}); err != nil {
		return inc, err
	}
	// People hear of every move, once triage has told them of the incident.
	if inc.TriagedAt != nil {
		if _, err := s.jobs.InsertTx(ctx, tx, store.NotifyJobArgs{IncidentID: inc.ID, Reason: "state:" + string(to), Detail: reason},
			&river.InsertOpts{UniqueOpts: river.UniqueOpts{ByArgs: true}}); err != nil {
			return inc, fmt.Errorf("enqueue notification for %s: %w", inc.ID, err)
		}
	}
	return inc, nil
}

// transitionTx moves an incident from one state to another inside tx; an
// incident in any other state, or gone, is left alone.
func (s *Store) transitionTx(ctx context.Context, tx *sql.Tx, id string, from, to incident.State, now time.Time, actor, reason string) error {
	_, err := s.moveIncident(ctx, tx, id, from, to, now, actor, reason)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	return err
}
