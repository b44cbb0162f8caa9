package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/medic-sh/medic/internal/audit"
	"github.com/medic-sh/medic/internal/incident"
	"github.com/medic-sh/medic/internal/store"
)

const runColumns = `idempotency_key, incident_id, approval_id, action, params, dag_id, run_id, task_id, try_number,
	status, attempts, request, response, started_at, finished_at, verification, verified_at`

func scanRun(row rowScanner) (*incident.ActionRun, error) {
	var (
		r                  incident.ActionRun
		params             sql.NullString
		started            string
		finished, verified sql.NullString
	)
	if err := row.Scan(&r.IdempotencyKey, &r.IncidentID, &r.ApprovalID, &r.Action, &params, &r.DagID, &r.RunID, &r.TaskID,
		&r.TryNumber, &r.Status, &r.Attempts, &r.Request, &r.Response, &started, &finished, &r.Verification, &verified); err != nil {
		return nil, err
	}
	r.Params, r.StartedAt, r.FinishedAt, r.VerifiedAt = nullJSON(params), parseTime(started), parseNullTime(finished), parseNullTime(verified)
	return &r, nil
}

func getRun(ctx context.Context, q interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}, key string,
) (*incident.ActionRun, error) {
	r, err := scanRun(q.QueryRowContext(ctx, `SELECT `+runColumns+` FROM action_runs WHERE idempotency_key = ?`, key))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("action run %s: %w", key, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("read action run %s: %w", key, err)
	}
	return r, nil
}

func runDetail(r *incident.ActionRun) map[string]string {
	m := map[string]string{"idempotency_key": r.IdempotencyKey, "action": r.Action, "dag_id": r.DagID, "run_id": r.RunID}
	if r.TaskID != "" {
		m["task_id"] = r.TaskID
	}
	if r.ApprovalID != "" {
		m["approval_id"] = r.ApprovalID
	}
	return m
}

// ActionBegin implements store.Store. The insert and the read of an
// existing run share the single writer's transaction, so concurrent begins
// of one key cannot both insert.
func (s *Store) ActionBegin(ctx context.Context, r *incident.ActionRun) (*incident.ActionRun, bool, error) {
	var errs []error
	for _, f := range []struct{ name, v string }{
		{"idempotency key", r.IdempotencyKey}, {"incident id", r.IncidentID}, {"action", r.Action}, {"DAG id", r.DagID}, {"run id", r.RunID},
	} {
		if strings.TrimSpace(f.v) == "" {
			errs = append(errs, fmt.Errorf("action run %s is required: %w", f.name, incident.ErrInvalid))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, false, err
	}
	out := *r
	out.Status, out.Attempts, out.Response, out.FinishedAt = incident.RunStarted, 1, "", nil
	out.Verification, out.VerifiedAt = incident.VerificationPending, nil
	out.StartedAt = s.now().UTC()
	var stored *incident.ActionRun
	err := s.tx(ctx, func(tx *sql.Tx) error {
		if lim := r.Limits; lim != nil {
			if existing, err := getRun(ctx, tx, out.IdempotencyKey); err == nil {
				// A run already begun is returned as it is, whatever the
				// budgets say now: the caller settles it, never acts again.
				_, err := tx.ExecContext(ctx, `UPDATE action_runs SET attempts = attempts + 1 WHERE idempotency_key = ?`, out.IdempotencyKey)
				existing.Attempts++
				stored = existing
				return err
			} else if !errors.Is(err, store.ErrNotFound) {
				return err
			}
			if err := checkLimits(ctx, tx, &out, lim); err != nil {
				return err
			}
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO action_runs (idempotency_key, incident_id, approval_id, action, params, dag_id, run_id,
			task_id, try_number, status, attempts, request, started_at, verification) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?)
			ON CONFLICT (idempotency_key) DO NOTHING`,
			out.IdempotencyKey, out.IncidentID, out.ApprovalID, out.Action, jsonArg(out.Params), out.DagID, out.RunID, out.TaskID,
			out.TryNumber, out.Status, out.Request, fmtTime(out.StartedAt), out.Verification)
		if err != nil {
			return fmt.Errorf("begin action run %s: %w", out.IdempotencyKey, err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return fmt.Errorf("begin action run %s: %w", out.IdempotencyKey, err)
		} else if n == 0 {
			if _, err := tx.ExecContext(ctx, `UPDATE action_runs SET attempts = attempts + 1 WHERE idempotency_key = ?`, out.IdempotencyKey); err != nil {
				return fmt.Errorf("count a repeated begin of action run %s: %w", out.IdempotencyKey, err)
			}
			stored, err = getRun(ctx, tx, out.IdempotencyKey)
			return err
		}
		actor := "medic"
		if out.ApprovalID != "" {
			actor = "medic (approved)"
			if err := markExecuted(ctx, tx, out.ApprovalID, out.IncidentID, out.StartedAt); err != nil {
				return err
			}
		}
		return auditDetail(ctx, tx, out.StartedAt, actor, "action.started", out.IncidentID, &audit.Detail{
			Executed: &audit.Execution{Request: out.Request}, Update: runDetail(&out),
		})
	})
	if err != nil {
		return nil, false, err
	}
	if stored != nil {
		return stored, false, nil
	}
	return &out, true, nil
}

// ActionFinish implements store.Store.
func (s *Store) ActionFinish(ctx context.Context, p *store.ActionFinishParams) (*incident.ActionRun, error) {
	if !p.Status.Final() {
		return nil, fmt.Errorf("finish action run %s: status %q is not succeeded, failed or unknown: %w", p.IdempotencyKey, p.Status, incident.ErrInvalid)
	}
	var out *incident.ActionRun
	err := s.tx(ctx, func(tx *sql.Tx) error {
		r, err := getRun(ctx, tx, p.IdempotencyKey)
		if err != nil {
			return err
		}
		if r.Status.Final() {
			return fmt.Errorf("action run %s already finished %s at %s: %w", r.IdempotencyKey, r.Status, fmtDecided(r.FinishedAt), store.ErrConflict)
		}
		now := s.now().UTC()
		r.Status, r.Response, r.FinishedAt = p.Status, p.Response, &now
		if _, err := tx.ExecContext(ctx, `UPDATE action_runs SET status = ?, response = ?, finished_at = ? WHERE idempotency_key = ?`,
			r.Status, r.Response, fmtTime(now), r.IdempotencyKey); err != nil {
			return fmt.Errorf("finish action run %s: %w", r.IdempotencyKey, err)
		}
		out = r
		d := runDetail(r)
		d["status"] = string(r.Status)
		return auditDetail(ctx, tx, now, "medic", "action.finished", r.IncidentID, &audit.Detail{
			Executed: &audit.Execution{Request: r.Request, Response: r.Response}, Update: d,
		})
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// ActionSetVerification implements store.Store.
func (s *Store) ActionSetVerification(ctx context.Context, p *store.ActionSetVerificationParams) (*incident.ActionRun, error) {
	switch p.Verification {
	case incident.VerificationVerified, incident.VerificationFailed, incident.VerificationEscalated:
	default:
		return nil, fmt.Errorf("verify action run %s: verification %q is not verified, failed or escalated: %w",
			p.IdempotencyKey, p.Verification, incident.ErrInvalid)
	}
	var out *incident.ActionRun
	err := s.tx(ctx, func(tx *sql.Tx) error {
		r, err := getRun(ctx, tx, p.IdempotencyKey)
		if err != nil {
			return err
		}
		if r.Verification != incident.VerificationPending {
			return fmt.Errorf("action run %s was already %s at %s: %w", r.IdempotencyKey, r.Verification, fmtDecided(r.VerifiedAt), store.ErrConflict)
		}
		now := s.now().UTC()
		r.Verification, r.VerifiedAt = p.Verification, &now
		if _, err := tx.ExecContext(ctx, `UPDATE action_runs SET verification = ?, verified_at = ? WHERE idempotency_key = ?`,
			r.Verification, fmtTime(now), r.IdempotencyKey); err != nil {
			return fmt.Errorf("verify action run %s: %w", r.IdempotencyKey, err)
		}
		out = r
		return auditDetail(ctx, tx, now, "medic", "action.verified", r.IncidentID, &audit.Detail{
			Verification: &audit.Verification{Outcome: string(r.Verification), Detail: p.Detail}, Update: runDetail(r),
		})
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// ActionGet implements store.Store.
func (s *Store) ActionGet(ctx context.Context, key string) (*incident.ActionRun, error) {
	return getRun(ctx, s.reader, key)
}

// RemediationCounters implements store.Store.
func (s *Store) RemediationCounters(ctx context.Context, p *store.CountersParams) (*store.RemediationCounts, error) {
	now := p.Now
	if now.IsZero() {
		now = s.now()
	}
	return countRuns(ctx, s.reader, p, now.UTC(), now.UTC())
}

// queryRower is a database or a transaction.
type queryRower interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// countRuns counts the runs of p as of now, up to upper: now for a
// report, the far future for a limit, which must also count a run another
// begin recorded with a later clock while this one waited for the lock.
func countRuns(ctx context.Context, db queryRower, p *store.CountersParams, now, upper time.Time) (*store.RemediationCounts, error) {
	midnight := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	ti := `SELECT count(*) FROM action_runs WHERE dag_id = ? AND run_id = ? AND task_id = ?`
	tiArgs := []any{p.DagID, p.RunID, p.TaskID}
	if p.TryNumber > 0 {
		ti += ` AND try_number = ?`
		tiArgs = append(tiArgs, p.TryNumber)
	}
	var (
		out   store.RemediationCounts
		prior int
	)
	queries := []struct {
		name string
		q    string
		args []any
		dst  *int
	}{
		{"task instance attempts", ti, tiArgs, &out.TaskInstanceAttempts},
		{
			"runs on the DAG today", `SELECT count(*) FROM action_runs WHERE dag_id = ? AND started_at >= ? AND started_at <= ?`,
			[]any{p.DagID, fmtTime(midnight), fmtTime(upper)},
			&out.DagToday,
		},
		{
			"prior failed verification", `SELECT count(*) FROM action_runs WHERE incident_id = ? AND action = ? AND verification = ?`,
			[]any{p.IncidentID, p.Action, incident.VerificationFailed},
			&prior,
		},
	}
	if p.RateWindow > 0 {
		queries = append(queries, struct {
			name string
			q    string
			args []any
			dst  *int
		}{
			"runs in the rate window", `SELECT count(*) FROM action_runs WHERE started_at > ? AND started_at <= ?`,
			[]any{fmtTime(now.Add(-p.RateWindow)), fmtTime(upper)},
			&out.InRateWindow,
		})
	}
	for _, q := range queries {
		if err := db.QueryRowContext(ctx, q.q, q.args...).Scan(q.dst); err != nil {
			return nil, fmt.Errorf("count %s for %s/%s: %w", q.name, p.DagID, p.RunID, err)
		}
	}
	out.PriorFailedVerification = prior > 0
	return &out, nil
}

// KillSwitchGet implements store.Store.
func (s *Store) KillSwitchGet(ctx context.Context) (*store.KillSwitch, error) {
	var (
		k  store.KillSwitch
		on int
		at string
	)
	err := s.reader.QueryRowContext(ctx, `SELECT is_on, set_by, reason, at FROM kill_switch WHERE id = 1`).Scan(&on, &k.By, &k.Reason, &at)
	if errors.Is(err, sql.ErrNoRows) {
		return &store.KillSwitch{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read the kill switch: %w", err)
	}
	k.On, k.At = on != 0, parseTime(at)
	return &k, nil
}

// KillSwitchSet implements store.Store.
func (s *Store) KillSwitchSet(ctx context.Context, p *store.KillSwitchSetParams) (*store.KillSwitch, error) {
	if strings.TrimSpace(p.By) == "" {
		return nil, fmt.Errorf("set the kill switch: who sets it is required: %w", incident.ErrInvalid)
	}
	k := &store.KillSwitch{On: p.On, By: p.By, Reason: p.Reason, At: s.now().UTC()}
	action := "actions.resumed"
	if k.On {
		action = "actions.paused"
	}
	err := s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO kill_switch (id, is_on, set_by, reason, at) VALUES (1, ?, ?, ?, ?)
			ON CONFLICT (id) DO UPDATE SET is_on = excluded.is_on, set_by = excluded.set_by, reason = excluded.reason, at = excluded.at`,
			boolInt(k.On), k.By, k.Reason, fmtTime(k.At)); err != nil {
			return fmt.Errorf("set the kill switch: %w", err)
		}
		return auditDetail(ctx, tx, k.At, k.By, action, "", &audit.Detail{
			RequestedBy: k.By, Reason: k.Reason, Update: map[string]string{"kill_switch": strconv.FormatBool(k.On)},
		})
	})
	if err != nil {
		return nil, err
	}
	return k, nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// markExecuted moves an approved approval to executed, with an
// approval.executed audit entry; an approval in any other status is
// refused, so that nothing runs on a rejected, expired or pending one.
func markExecuted(ctx context.Context, tx *sql.Tx, approvalID, incidentID string, now time.Time) error {
	res, err := tx.ExecContext(ctx, `UPDATE approvals SET status = ? WHERE id = ? AND status = ? AND incident_id = ?`,
		incident.ApprovalExecuted, approvalID, incident.ApprovalApproved, incidentID)
	if err != nil {
		return fmt.Errorf("mark approval %s executed: %w", approvalID, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("mark approval %s executed: %w", approvalID, err)
	} else if n == 0 {
		a, err := scanApproval(tx.QueryRowContext(ctx, `SELECT `+approvalColumns+` FROM approvals WHERE id = ?`, approvalID))
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("approval %s: %w", approvalID, store.ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("read approval %s: %w", approvalID, err)
		}
		if a.IncidentID != incidentID {
			return fmt.Errorf("approval %s is for incident %s, not %s: %w", approvalID, a.IncidentID, incidentID, store.ErrConflict)
		}
		return fmt.Errorf("approval %s is %s, not approved: nothing runs on it: %w", approvalID, a.Status, store.ErrConflict)
	}
	return insertAudit(ctx, tx, &incident.AuditEntry{
		At: now, Actor: "medic (approved)", Action: "approval.executed", IncidentID: incidentID,
		Detail: detailJSON(map[string]any{"approval_id": approvalID}),
	})
}

// farFuture bounds counts that must include every run already recorded.
var farFuture = time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)

// checkLimits refuses to begin a run that would exceed its budgets or the
// rate limit, counted in the same transaction as the insert: SQLite
// serialises writers, so concurrent begins never overshoot together.
func checkLimits(ctx context.Context, tx *sql.Tx, r *incident.ActionRun, lim *incident.ActionLimits) error {
	c, err := countRuns(ctx, tx, &store.CountersParams{
		DagID: r.DagID, RunID: r.RunID, TaskID: r.TaskID, Now: r.StartedAt, RateWindow: lim.RateWindow,
	}, r.StartedAt, farFuture)
	if err != nil {
		return err
	}
	switch {
	case lim.PerTaskInstance > 0 && c.TaskInstanceAttempts >= lim.PerTaskInstance:
		return fmt.Errorf("%d of %d actions on %s/%s/%s used: %w", c.TaskInstanceAttempts, lim.PerTaskInstance, r.DagID, r.RunID, r.TaskID, store.ErrLimit)
	case lim.PerDagPerDay > 0 && c.DagToday >= lim.PerDagPerDay:
		return fmt.Errorf("%d of %d actions on DAG %s today used: %w", c.DagToday, lim.PerDagPerDay, r.DagID, store.ErrLimit)
	case lim.RateWindow > 0 && lim.RateActions > 0 && c.InRateWindow >= lim.RateActions:
		return fmt.Errorf("%d actions in the last %s; the limit is %d: %w", c.InRateWindow, lim.RateWindow, lim.RateActions, store.ErrLimit)
	}
	return nil
}

// ActionListByIncident implements store.Store, oldest first; runs begun at
// the same instant keep the order they were inserted in.
func (s *Store) ActionListByIncident(ctx context.Context, incidentID string) ([]*incident.ActionRun, error) {
	rows, err := s.reader.QueryContext(ctx, `SELECT `+runColumns+` FROM action_runs WHERE incident_id = ?
		ORDER BY started_at, rowid LIMIT ?`, incidentID, store.MaxListLimit)
	if err != nil {
		return nil, fmt.Errorf("list action runs of incident %s: %w", incidentID, err)
	}
	defer rows.Close()
	out := []*incident.ActionRun{}
	for rows.Next() {
		r, err := scanRun(rows)
		if err != nil {
			return nil, fmt.Errorf("list action runs of incident %s: %w", incidentID, err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list action runs of incident %s: %w", incidentID, err)
	}
	return out, nil
}
