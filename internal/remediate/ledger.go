package remediate

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/medic-sh/medic/internal/incident"
	"github.com/medic-sh/medic/internal/store"
)

// ActionStore is the part of the store a StoreLedger records runs in.
type ActionStore interface {
	ActionBegin(ctx context.Context, r *incident.ActionRun) (*incident.ActionRun, bool, error)
	ActionFinish(ctx context.Context, p *store.ActionFinishParams) (*incident.ActionRun, error)
}

// StoreLedger is the Ledger of a running medic: action runs live in the
// store, so the never-twice guarantee holds across restarts and replicas.
type StoreLedger struct {
	Store ActionStore
	// ApprovalID, when set, is the approval the runs execute.
	ApprovalID string
}

var _ Ledger = StoreLedger{}

// response is how a run's outcome is kept in ActionRun.Response.
type response struct {
	Summary  string `json:"summary"`
	NewRunID string `json:"new_run_id,omitempty"`
}

// Begin records r, or returns the run already recorded under its key.
func (l StoreLedger) Begin(ctx context.Context, r *Run) (*Run, bool, error) {
	got, begun, err := l.Store.ActionBegin(ctx, &incident.ActionRun{
		IdempotencyKey: r.Key, IncidentID: r.Target.IncidentID, ApprovalID: l.ApprovalID, Action: string(r.Action),
		DagID: r.Target.DagID, RunID: r.Target.RunID, TaskID: r.Target.TaskID, TryNumber: r.Target.TryNumber,
		Status: incident.RunStatus(RunStarted), Params: r.Params, Limits: r.Limits,
		Request: fmt.Sprintf("%s on %s/%s/%s try %d with %s", r.Action, r.Target.DagID, r.Target.RunID, r.Target.TaskID,
			r.Target.TryNumber, orEmpty(r.Params)),
	})
	if err != nil {
		return nil, false, fmt.Errorf("begin action run %s: %w", r.Key, err)
	}
	return RunOf(got), begun, nil
}

// Finish records how the run ended.
func (l StoreLedger) Finish(ctx context.Context, key string, status RunStatus, summary, newRunID string) error {
	raw, err := json.Marshal(response{Summary: summary, NewRunID: newRunID})
	if err != nil {
		return fmt.Errorf("finish action run %s: %w", key, err)
	}
	if _, err := l.Store.ActionFinish(ctx, &store.ActionFinishParams{
		IdempotencyKey: key, Status: incident.RunStatus(status), Response: string(raw),
	}); err != nil {
		return fmt.Errorf("finish action run %s: %w", key, err)
	}
	return nil
}

// RunOf maps a stored run back. A stored "unknown" outcome reads as
// started: the executor then asks Airflow before doing anything.
func RunOf(a *incident.ActionRun) *Run {
	r := &Run{
		Key: a.IdempotencyKey, Action: Name(a.Action), Status: RunStatus(a.Status),
		Target: Target{IncidentID: a.IncidentID, DagID: a.DagID, RunID: a.RunID, TaskID: a.TaskID, TryNumber: a.TryNumber},
	}
	switch r.Status {
	case RunStarted, RunSucceeded, RunFailed:
	default:
		r.Status = RunStarted
	}
	var resp response
	if a.Response != "" && json.Unmarshal([]byte(a.Response), &resp) == nil {
		r.Summary, r.NewRunID = resp.Summary, resp.NewRunID
	} else {
		r.Summary = a.Response
	}
	return r
}

func orEmpty(params []byte) string {
	if len(params) == 0 {
		return "{}"
	}
	return string(params)
}
