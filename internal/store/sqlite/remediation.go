package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/riverqueue/river"

	"github.com/medic-sh/medic/internal/audit"
	"github.com/medic-sh/medic/internal/incident"
	"github.com/medic-sh/medic/internal/store"
)

const approvalColumns = `id, incident_id, action, params, idempotency_key, preview, evidence, decision,
	requested_by, status, decided_by, decided_role, reason, created_at, expires_at, decided_at`

func scanApproval(row rowScanner) (*incident.Approval, error) {
	var (
		a                                  incident.Approval
		params, preview, evidence, decided sql.NullString
		decision                           sql.NullString
		created, expires                   string
	)
	if err := row.Scan(&a.ID, &a.IncidentID, &a.Action, &params, &a.IdempotencyKey, &preview, &evidence, &decision,
		&a.RequestedBy, &a.Status, &a.DecidedBy, &a.DecidedRole, &a.Reason, &created, &expires, &decided); err != nil {
		return nil, err
	}
	a.Params, a.Preview, a.Evidence, a.Decision = nullJSON(params), nullJSON(preview), nullJSON(evidence), nullJSON(decision)
	a.CreatedAt, a.ExpiresAt, a.DecidedAt = parseTime(created), parseTime(expires), parseNullTime(decided)
	return &a, nil
}

func validateApproval(a *incident.Approval) error {
	var errs []error
	for _, f := range []struct{ name, v string }{
		{"incident id", a.IncidentID}, {"action", a.Action}, {"idempotency key", a.IdempotencyKey}, {"requester", a.RequestedBy},
	} {
		if strings.TrimSpace(f.v) == "" {
			errs = append(errs, fmt.Errorf("approval %s is required: %w", f.name, incident.ErrInvalid))
		}
	}
	if a.ExpiresAt.IsZero() {
		errs = append(errs, fmt.Errorf("approval expiry is required: %w", incident.ErrInvalid))
	}
	for _, f := range []struct {
		name string
		v    json.RawMessage
	}{{"params", a.Params}, {"preview", a.Preview}, {"evidence", a.Evidence}, {"decision", a.Decision}} {
		if len(f.v) > 0 && !json.Valid(f.v) {
			errs = append(errs, fmt.Errorf("approval %s is not JSON: %w", f.name, incident.ErrInvalid))
		}
	}
	return errors.Join(errs...)
}

// decisionDetail reads what the audit entry records of a policy decision
// (remediate.Decision): outcome, reasons and the numeric gate figures. A
// decision it cannot read is recorded as stored on the approval only.
func decisionDetail(raw json.RawMessage, d *audit.Detail) {
	var dec struct {
		Outcome string `json:"outcome"`
		Reasons []struct {
			Rule, Result, Detail string
		} `json:"reasons"`
		Gate map[string]any `json:"gate"`
	}
	if len(raw) == 0 || json.Unmarshal(raw, &dec) != nil {
		return
	}
	d.Decision = dec.Outcome
	for _, r := range dec.Reasons {
		d.Reasons = append(d.Reasons, r.Rule+": "+r.Result+": "+r.Detail)
	}
	for k, v := range dec.Gate {
		if f, ok := v.(float64); ok {
			if d.Gate == nil {
				d.Gate = map[string]float64{}
			}
			d.Gate[k] = f
		}
	}
}

func auditDetail(ctx context.Context, tx *sql.Tx, at time.Time, actor, action, incidentID string, d *audit.Detail) error {
	detail, err := d.JSON()
	if err != nil {
		return fmt.Errorf("audit %s: %w", action, err)
	}
	return insertAudit(ctx, tx, &incident.AuditEntry{At: at, Actor: actor, Action: action, IncidentID: incidentID, Detail: detail})
}

// expireApproval marks a pending approval expired, with its audit entry.
func expireApproval(ctx context.Context, tx *sql.Tx, a *incident.Approval, now time.Time) error {
	if _, err := tx.ExecContext(ctx, `UPDATE approvals SET status = ? WHERE id = ? AND status = ?`,
		incident.ApprovalExpired, a.ID, incident.ApprovalPending); err != nil {
		return fmt.Errorf("expire approval %s: %w", a.ID, err)
	}
	a.Status = incident.ApprovalExpired
	return auditDetail(ctx, tx, now, "medic", "approval.expired", a.IncidentID, &audit.Detail{
		RequestedBy: a.RequestedBy,
		Update:      map[string]string{"approval_id": a.ID, "action": a.Action, "expires_at": a.ExpiresAt.Format(time.RFC3339)},
	})
}

// ApprovalCreate implements store.Store.
func (s *Store) ApprovalCreate(ctx context.Context, a *incident.Approval) (*incident.Approval, bool, error) {
	if err := validateApproval(a); err != nil {
		return nil, false, err
	}
	out := *a
	now := s.now().UTC()
	if out.CreatedAt.IsZero() {
		out.CreatedAt = now
	}
	out.ID, out.Status, out.DecidedBy, out.DecidedRole, out.Reason, out.DecidedAt = newID("apr"), incident.ApprovalPending, "", "", "", nil
	var existing *incident.Approval
	err := s.tx(ctx, func(tx *sql.Tx) error {
		prev, err := scanApproval(tx.QueryRowContext(ctx, `SELECT `+approvalColumns+` FROM approvals WHERE idempotency_key = ? AND status = ?`,
			out.IdempotencyKey, incident.ApprovalPending))
		switch {
		case errors.Is(err, sql.ErrNoRows):
		case err != nil:
			return fmt.Errorf("find pending approval for key %s: %w", out.IdempotencyKey, err)
		case now.Before(prev.ExpiresAt):
			existing = prev
			return nil
		default:
			if err := expireApproval(ctx, tx, prev, now); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO approvals (id, incident_id, action, params, idempotency_key, preview, evidence,
			decision, requested_by, status, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			out.ID, out.IncidentID, out.Action, jsonArg(out.Params), out.IdempotencyKey, jsonArg(out.Preview), jsonArg(out.Evidence),
			jsonArg(out.Decision), out.RequestedBy, out.Status, fmtTime(out.CreatedAt), fmtTime(out.ExpiresAt)); err != nil {
			return fmt.Errorf("insert approval for key %s: %w", out.IdempotencyKey, err)
		}
		d := &audit.Detail{
			RequestedBy: out.RequestedBy,
			Update: map[string]string{
				"approval_id": out.ID, "action": out.Action, "idempotency_key": out.IdempotencyKey,
				"expires_at": out.ExpiresAt.UTC().Format(time.RFC3339),
			},
		}
		decisionDetail(out.Decision, d)
		if err := auditDetail(ctx, tx, now, out.RequestedBy, "approval.requested", out.IncidentID, d); err != nil {
			return err
		}
		if _, err := s.jobs.InsertTx(ctx, tx, store.ApprovalExpiryJobArgs{ApprovalID: out.ID},
			&river.InsertOpts{ScheduledAt: out.ExpiresAt, UniqueOpts: river.UniqueOpts{ByArgs: true}}); err != nil {
			return fmt.Errorf("schedule the expiry of approval %s: %w", out.ID, err)
		}
		// People are told, so that the message can offer its buttons.
		if _, err := s.jobs.InsertTx(ctx, tx, store.NotifyJobArgs{
			IncidentID: out.IncidentID, Reason: "approval:" + out.ID, Detail: "approval of " + out.Action + " requested",
		}, &river.InsertOpts{UniqueOpts: river.UniqueOpts{ByArgs: true}}); err != nil {
			return fmt.Errorf("enqueue notification of approval %s: %w", out.ID, err)
		}
		return nil
	})
	if err != nil {
		return nil, false, err
	}
	if existing != nil {
		return existing, false, nil
	}
	out.CreatedAt, out.ExpiresAt = out.CreatedAt.UTC(), out.ExpiresAt.UTC()
	return &out, true, nil
}

// ApprovalDecide implements store.Store.
func (s *Store) ApprovalDecide(ctx context.Context, p *store.ApprovalDecideParams) (*incident.Approval, error) {
	if strings.TrimSpace(p.By) == "" {
		return nil, fmt.Errorf("decide approval %s: who decides is required: %w", p.ID, incident.ErrInvalid)
	}
	now := p.Now
	if now.IsZero() {
		now = s.now()
	}
	now = now.UTC()
	var (
		out     *incident.Approval
		refusal error // committed, then returned: an expiry is stored
	)
	err := s.tx(ctx, func(tx *sql.Tx) error {
		a, err := scanApproval(tx.QueryRowContext(ctx, `SELECT `+approvalColumns+` FROM approvals WHERE id = ?`, p.ID))
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("approval %s: %w", p.ID, store.ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("read approval %s: %w", p.ID, err)
		}
		switch {
		case a.Status == incident.ApprovalExpired:
			return fmt.Errorf("approval %s expired at %s: ask for the action again: %w", a.ID, a.ExpiresAt.Format(time.RFC3339), store.ErrConflict)
		case a.Status != incident.ApprovalPending:
			return fmt.Errorf("approval %s was already %s by %s at %s: %w", a.ID, a.Status, orUnknown(a.DecidedBy),
				fmtDecided(a.DecidedAt), store.ErrConflict)
		case !now.Before(a.ExpiresAt):
			if err := expireApproval(ctx, tx, a, now); err != nil {
				return err
			}
			refusal = fmt.Errorf("approval %s expired at %s, before it was decided: ask for the action again: %w",
				a.ID, a.ExpiresAt.Format(time.RFC3339), store.ErrConflict)
			return nil
		case p.Approve && p.ForbidSelfApproval && p.By == a.RequestedBy:
			return fmt.Errorf("approval %s was requested by %s, who may not approve it here: another person must: %w",
				a.ID, a.RequestedBy, store.ErrForbidden)
		}
		a.Status, a.DecidedBy, a.DecidedRole, a.Reason, a.DecidedAt = incident.ApprovalRejected, p.By, p.Role, p.Reason, &now
		action := "approval.rejected"
		if p.Approve {
			a.Status, action = incident.ApprovalApproved, "approval.approved"
		}
		update := map[string]string{"approval_id": a.ID, "action": a.Action, "idempotency_key": a.IdempotencyKey, "role": p.Role}
		if p.Approve && len(p.Params) > 0 {
			if !json.Valid(p.Params) {
				return fmt.Errorf("approval %s: edited params are not JSON: %w", a.ID, incident.ErrInvalid)
			}
			a.Params = json.RawMessage(p.Params)
			update["edited_params"] = string(p.Params)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE approvals SET status = ?, decided_by = ?, decided_role = ?, reason = ?, decided_at = ?,
			params = ? WHERE id = ?`, a.Status, a.DecidedBy, a.DecidedRole, a.Reason, fmtTime(now), jsonArg(a.Params), a.ID); err != nil {
			return fmt.Errorf("decide approval %s: %w", a.ID, err)
		}
		out = a
		if err := auditDetail(ctx, tx, now, p.By, action, a.IncidentID, &audit.Detail{
			RequestedBy: a.RequestedBy, Approver: p.By, Reason: p.Reason, Update: update,
		}); err != nil {
			return err
		}
		if p.Approve {
			if _, err := s.jobs.InsertTx(ctx, tx, store.ActionJobArgs{IncidentID: a.IncidentID, ApprovalID: a.ID},
				&river.InsertOpts{UniqueOpts: river.UniqueOpts{ByArgs: true}}); err != nil {
				return fmt.Errorf("enqueue the approved action %s: %w", a.ID, err)
			}
			return s.transitionTx(ctx, tx, a.IncidentID, incident.StateAwaitingApproval, incident.StateRemediating, now, p.By,
				"the proposed "+a.Action+" was approved")
		}
		return s.transitionTx(ctx, tx, a.IncidentID, incident.StateAwaitingApproval, incident.StateEscalated, now, p.By,
			"the proposed "+a.Action+" was rejected")
	})
	if err != nil {
		return nil, err
	}
	if refusal != nil {
		return nil, refusal
	}
	return out, nil
}

func orUnknown(s string) string {
	if s == "" {
		return "medic"
	}
	return s
}

func fmtDecided(t *time.Time) string {
	if t == nil {
		return "an unknown time"
	}
	return t.UTC().Format(time.RFC3339)
}

// ApprovalGet implements store.Store.
func (s *Store) ApprovalGet(ctx context.Context, id string) (*incident.Approval, error) {
	a, err := scanApproval(s.reader.QueryRowContext(ctx, `SELECT `+approvalColumns+` FROM approvals WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("approval %s: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("read approval %s: %w", id, err)
	}
	return a, nil
}

// ApprovalList implements store.Store, newest first.
func (s *Store) ApprovalList(ctx context.Context, p *store.ApprovalListParams) ([]*incident.Approval, error) {
	q := `SELECT ` + approvalColumns + ` FROM approvals WHERE 1 = 1`
	var args []any
	if p.Status != "" {
		q += ` AND status = ?`
		args = append(args, p.Status)
	}
	if p.IncidentID != "" {
		q += ` AND incident_id = ?`
		args = append(args, p.IncidentID)
	}
	rows, err := s.reader.QueryContext(ctx, q+` ORDER BY created_at DESC, id DESC LIMIT ?`, append(args, store.ClampLimit(p.Limit))...)
	if err != nil {
		return nil, fmt.Errorf("list approvals: %w", err)
	}
	defer rows.Close()
	out := []*incident.Approval{}
	for rows.Next() {
		a, err := scanApproval(rows)
		if err != nil {
			return nil, fmt.Errorf("list approvals: %w", err)
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list approvals: %w", err)
	}
	return out, nil
}

// ApprovalExpire implements store.Store.
func (s *Store) ApprovalExpire(ctx context.Context, id string, now time.Time) (*incident.Approval, bool, error) {
	if now.IsZero() {
		now = s.now()
	}
	now = now.UTC()
	var (
		out     *incident.Approval
		expired bool
	)
	err := s.tx(ctx, func(tx *sql.Tx) error {
		a, err := scanApproval(tx.QueryRowContext(ctx, `SELECT `+approvalColumns+` FROM approvals WHERE id = ?`, id))
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("approval %s: %w", id, store.ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("read approval %s: %w", id, err)
		}
		out = a
		if a.Status != incident.ApprovalPending || now.Before(a.ExpiresAt) {
			return nil
		}
		if err := expireApproval(ctx, tx, a, now); err != nil {
			return err
		}
		expired = true
		return s.transitionTx(ctx, tx, a.IncidentID, incident.StateAwaitingApproval, incident.StateEscalated, now, "medic",
			"the proposed "+a.Action+" expired unapproved at "+a.ExpiresAt.Format(time.RFC3339))
	})
	if err != nil {
		return nil, false, err
	}
	return out, expired, nil
}
