package remediate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/medic-sh/medic/internal/airflow"
	"github.com/medic-sh/medic/internal/incident"
)

// Airflow is what executing and verifying an action needs from one Airflow
// instance. *airflow.Client satisfies it.
type Airflow interface {
	ClearTaskInstances(ctx context.Context, dagID string, req airflow.ClearRequest) ([]airflow.TaskInstanceRef, error)
	TriggerDagRun(ctx context.Context, dagID string, req airflow.TriggerRequest) (*airflow.DagRun, error)
	SetDagPaused(ctx context.Context, dagID string, paused bool) (*airflow.Dag, error)
	GetTaskInstance(ctx context.Context, dagID, runID, taskID string) (*airflow.TaskInstance, error)
	GetDagRun(ctx context.Context, dagID, runID string) (*airflow.DagRun, error)
	GetDag(ctx context.Context, dagID string) (*airflow.Dag, error)
	SetVariable(ctx context.Context, key, value, description string) error
	ListTaskInstances(ctx context.Context, dagID, runID string) ([]airflow.TaskInstance, error)
	ListDagRuns(ctx context.Context, dagID string, q airflow.RunQuery) ([]airflow.DagRun, error)
}

// ResourcesVariable is the Airflow Variable retry_with_more_resources
// writes its override to before clearing: Airflow's clear takes no pool,
// queue or executor_config, so medic's cluster policy
// (integrations/airflow/medic_policy.py) applies the Variable to the
// task's next try, and verification checks that it did.
func ResourcesVariable(dagID, taskID string) string {
	return "medic_resources." + dagID + "." + taskID
}

// RunStatus is how far an action run got.
type RunStatus string

// Run statuses. A run left RunStarted is one whose outcome is unknown: the
// process may have died between acting and recording.
const (
	RunStarted   RunStatus = "started"
	RunSucceeded RunStatus = "succeeded"
	RunFailed    RunStatus = "failed"
)

// Run is the ledger's record of one action, keyed by its idempotency key.
type Run struct {
	Key    string    `json:"idempotency_key"`
	Action Name      `json:"action"`
	Target Target    `json:"target"`
	Status RunStatus `json:"status"`
	// Summary says what was sent and what came back, for people and the
	// audit log; it holds no secrets (ids, states and counts only).
	Summary string `json:"summary,omitempty"`
	// NewRunID is the run a trigger created.
	NewRunID string `json:"new_run_id,omitempty"`
	// Params are the action's parameters, as recorded.
	Params json.RawMessage `json:"params,omitempty"`
	// Limits are checked by the ledger as the run begins.
	Limits *incident.ActionLimits `json:"-"`
}

// Ledger records action runs so that no action is done twice: Begin
// inserts a run by its key, or returns the one already there with
// begun=false (a retry, a redelivery, a restart after a crash).
type Ledger interface {
	Begin(ctx context.Context, r *Run) (existing *Run, begun bool, err error)
	Finish(ctx context.Context, key string, status RunStatus, summary, newRunID string) error
}

// Executor carries out decisions. It acts only on a Decision whose outcome
// is OutcomeExecute (the policy's auto path) or on an approved proposal;
// whether a decision may run is the caller's and the policy's, never the
// executor's, to decide.
type Executor struct {
	Airflow Airflow
	Ledger  Ledger
	// Limits, when set, are the budgets and rate limit the ledger enforces
	// as each run begins (Policy.Limits).
	Limits *incident.ActionLimits
}

// ErrNotExecutable is returned for a decision that does not act on Airflow
// (suggest, refuse, escalate) or an action the executor does not know.
var ErrNotExecutable = errors.New("remediate: decision is not an Airflow action")

// Preview is a dry run of a clear: the task instances it would reset.
func (x *Executor) Preview(ctx context.Context, d Decision, t Target) ([]airflow.TaskInstanceRef, error) {
	switch d.Action {
	case ClearFailedTasks, RetryWithBackoff, WaitForUpstreamThenRetry, RetryWithMoreResources:
		return x.Airflow.ClearTaskInstances(ctx, t.DagID, clearRequest(d, t, true))
	}
	return nil, nil
}

func clearRequest(d Decision, t Target, dry bool) airflow.ClearRequest {
	return airflow.ClearRequest{
		RunID: t.RunID, TaskIDs: []string{t.TaskID}, OnlyFailed: true,
		IncludeDownstream: d.Params.IncludeDownstream, DryRun: dry,
	}
}

// Execute does d's action once. If the ledger already holds the key, it
// does not act again: a finished run is returned as is, and a run left
// started (a crash between acting and recording) is settled by asking
// Airflow whether the action already happened. Delays and waits (backoff,
// upstream conditions) are the caller's to schedule before calling.
func (x *Executor) Execute(ctx context.Context, d Decision, t Target) (*Run, error) {
	switch d.Action {
	case ClearFailedTasks, RetryWithBackoff, WaitForUpstreamThenRetry, RetryWithMoreResources, TriggerDagRun, PauseDag:
	default:
		return nil, fmt.Errorf("%w: %s", ErrNotExecutable, d.Action)
	}
	if d.IdempotencyKey == "" {
		return nil, errors.New("remediate: decision has no idempotency key")
	}
	params, _ := json.Marshal(d.Params) // a NaN conf records no params
	r := &Run{Key: d.IdempotencyKey, Action: d.Action, Target: t, Status: RunStarted, Params: params, Limits: x.Limits}
	existing, begun, err := x.Ledger.Begin(ctx, r)
	if err != nil {
		return nil, fmt.Errorf("execute %s: %w", d.Action, err)
	}
	if !begun {
		if existing.Status != RunStarted {
			return existing, nil
		}
		done, summary, err := x.alreadyDone(ctx, d, t)
		if err != nil {
			return nil, fmt.Errorf("execute %s: settle an unfinished run: %w", d.Action, err)
		}
		if done {
			existing.Status, existing.Summary = RunSucceeded, summary
			if err := x.Ledger.Finish(ctx, existing.Key, RunSucceeded, summary, existing.NewRunID); err != nil {
				return nil, fmt.Errorf("execute %s: %w", d.Action, err)
			}
			return existing, nil
		}
		r = existing
	}
	summary, newRun, actErr := x.act(ctx, d, t)
	status := RunSucceeded
	if actErr != nil {
		status, summary = RunFailed, actErr.Error()
		if outcomeUnknown(actErr) {
			// The request may have reached Airflow: leave it started so
			// the next attempt asks Airflow instead of acting again.
			return nil, fmt.Errorf("execute %s: outcome unknown: %w", d.Action, actErr)
		}
	}
	if err := x.Ledger.Finish(ctx, r.Key, status, summary, newRun); err != nil {
		return nil, fmt.Errorf("execute %s: record the outcome: %w", d.Action, err)
	}
	r.Status, r.Summary, r.NewRunID = status, summary, newRun
	if actErr != nil {
		return r, fmt.Errorf("execute %s: %w", d.Action, actErr)
	}
	return r, nil
}

// outcomeUnknown reports whether a failed write may still have happened:
// no response came back after the request could have been sent.
func outcomeUnknown(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return true
	}
	var ae *airflow.APIError
	return errors.As(err, &ae) && ae.Status == 0 && !ae.Retryable
}

func (x *Executor) act(ctx context.Context, d Decision, t Target) (summary, newRunID string, err error) {
	switch d.Action {
	case TriggerDagRun:
		dr, err := x.Airflow.TriggerDagRun(ctx, t.DagID, airflow.TriggerRequest{Conf: d.Params.Conf, Note: "triggered by medic for " + t.IncidentID})
		if err != nil {
			return "", "", err
		}
		return fmt.Sprintf("triggered run %s of %s", dr.RunID, t.DagID), dr.RunID, nil
	case PauseDag:
		if _, err := x.Airflow.SetDagPaused(ctx, t.DagID, true); err != nil {
			return "", "", err
		}
		return "paused " + t.DagID, "", nil
	}
	if d.Action == RetryWithMoreResources {
		if d.Params.Resources == nil {
			return "", "", errors.New("retry_with_more_resources has no resources configured")
		}
		raw, err := json.Marshal(d.Params.Resources)
		if err != nil {
			return "", "", fmt.Errorf("resources override: %w", err)
		}
		if err := x.Airflow.SetVariable(ctx, ResourcesVariable(t.DagID, t.TaskID), string(raw),
			"set by medic for "+t.IncidentID+": the next try's resources (integrations/airflow/medic_policy.py applies it)"); err != nil {
			return "", "", fmt.Errorf("write the resources override: %w", err)
		}
	}
	refs, err := x.Airflow.ClearTaskInstances(ctx, t.DagID, clearRequest(d, t, false))
	if err != nil {
		return "", "", err
	}
	return fmt.Sprintf("cleared %d task instance(s) of run %s", len(refs), t.RunID), "", nil
}

// alreadyDone asks Airflow whether an action whose outcome went unrecorded
// happened: a cleared task has a higher try number or is no longer failed,
// a paused DAG is paused. A trigger cannot be told apart from another run,
// so it is treated as done rather than risk a second run.
func (x *Executor) alreadyDone(ctx context.Context, d Decision, t Target) (bool, string, error) {
	switch d.Action {
	case TriggerDagRun:
		return true, "outcome of an earlier attempt unknown; not triggered again", nil
	case PauseDag:
		return false, "", nil // pausing twice is harmless
	}
	ti, err := x.Airflow.GetTaskInstance(ctx, t.DagID, t.RunID, t.TaskID)
	if err != nil {
		return false, "", err
	}
	if ti.TryNumber > t.TryNumber || (ti.State != "failed" && ti.State != "upstream_failed") {
		return true, fmt.Sprintf("already cleared by an earlier attempt: %s is %q at try %d", t.TaskID, ti.State, ti.TryNumber), nil
	}
	return false, "", nil
}

// VerifyOutcome is what a verification concluded.
type VerifyOutcome string

// Verification outcomes.
const (
	Verified    VerifyOutcome = "verified"
	NotVerified VerifyOutcome = "failed"
	Undecided   VerifyOutcome = "undecided" // the window passed with the task still running
)

// VerifyResult says what the poll saw.
type VerifyResult struct {
	Outcome VerifyOutcome `json:"outcome"`
	Detail  string        `json:"detail"`
}

// Verify polls Airflow after an action until the cleared task (or the new
// run) succeeded, failed again, or the window passed. A failure is final:
// the caller escalates and never repeats the action without a person.
func (x *Executor) Verify(ctx context.Context, d Decision, t Target, r *Run, every time.Duration) (VerifyResult, error) {
	if every <= 0 {
		every = 10 * time.Second
	}
	window := d.Verify.Window
	if window <= 0 {
		window = time.Hour
	}
	wctx, cancel := context.WithTimeout(ctx, window)
	defer cancel()
	for {
		res, done, err := x.Check(wctx, d, t, r)
		switch {
		case err != nil && wctx.Err() != nil && ctx.Err() == nil:
			return VerifyResult{Outcome: Undecided, Detail: "verification window of " + window.String() + " passed"}, nil
		case err != nil:
			return VerifyResult{}, fmt.Errorf("verify %s: %w", d.Action, err)
		case done:
			return res, nil
		}
		select {
		case <-ctx.Done():
			return VerifyResult{}, fmt.Errorf("verify %s: %w", d.Action, ctx.Err())
		case <-wctx.Done():
			return VerifyResult{Outcome: Undecided, Detail: "verification window of " + window.String() + " passed: " + res.Detail}, nil
		case <-time.After(every):
		}
	}
}

// Check looks at Airflow once: done reports that the outcome is settled
// (verified or failed); otherwise the caller polls again, up to the
// action's window.
func (x *Executor) Check(ctx context.Context, d Decision, t Target, r *Run) (VerifyResult, bool, error) {
	switch d.Verify.Kind {
	case VerifyRunSuccess:
		runID := t.RunID
		if r != nil && r.NewRunID != "" {
			runID = r.NewRunID
		}
		dr, err := x.Airflow.GetDagRun(ctx, t.DagID, runID)
		if err != nil {
			return VerifyResult{}, false, err
		}
		return settle("run "+runID, dr.State)
	case VerifyTaskSuccess:
		ti, err := x.Airflow.GetTaskInstance(ctx, t.DagID, t.RunID, t.TaskID)
		if err != nil {
			return VerifyResult{}, false, err
		}
		if ti.TryNumber <= t.TryNumber && ti.State == "failed" {
			return VerifyResult{Detail: "task not re-run yet"}, false, nil
		}
		if res := d.Params.Resources; d.Action == RetryWithMoreResources && res != nil && ti.TryNumber > t.TryNumber {
			if (res.Pool != "" && ti.Pool != res.Pool) || (res.Queue != "" && ti.Queue != res.Queue) {
				return VerifyResult{Outcome: NotVerified, Detail: fmt.Sprintf(
					"%s try %d ran on pool %q, queue %q, not the override (pool %q, queue %q): is medic's cluster policy installed?",
					t.TaskID, ti.TryNumber, ti.Pool, ti.Queue, res.Pool, res.Queue)}, true, nil
			}
		}
		return settle(fmt.Sprintf("%s try %d", t.TaskID, ti.TryNumber), ti.State)
	case VerifyDagPaused:
		dag, err := x.Airflow.GetDag(ctx, t.DagID)
		if err != nil {
			return VerifyResult{}, false, err
		}
		if dag.Paused {
			return VerifyResult{Outcome: Verified, Detail: t.DagID + " is paused"}, true, nil
		}
		return VerifyResult{Detail: t.DagID + " is not paused yet"}, false, nil
	}
	return VerifyResult{Outcome: Verified, Detail: "nothing to poll for " + string(d.Verify.Kind)}, true, nil
}

func settle(what, state string) (VerifyResult, bool, error) {
	switch state {
	case "success":
		return VerifyResult{Outcome: Verified, Detail: what + " succeeded"}, true, nil
	case "failed", "upstream_failed":
		return VerifyResult{Outcome: NotVerified, Detail: what + " failed again"}, true, nil
	}
	return VerifyResult{Detail: what + " is " + state}, false, nil
}

// ConditionMet asks Airflow whether wait_for_upstream_then_retry's
// condition holds: the failed task's upstream tasks in its run succeeded
// (upstream_tasks), the latest run of another DAG succeeded
// (dag_run_success), or a task in that run did (task_success, a sensor).
// The detail says what was seen.
func (x *Executor) ConditionMet(ctx context.Context, c Condition, t Target) (bool, string, error) {
	switch c.Kind {
	case "upstream_tasks":
		dag, err := x.Airflow.GetDag(ctx, t.DagID)
		if err != nil {
			return false, "", err
		}
		var ups []string
		for _, task := range dag.Tasks {
			if slices.Contains(task.Downstream, t.TaskID) {
				ups = append(ups, task.ID)
			}
		}
		if len(ups) == 0 {
			return true, t.TaskID + " has no upstream tasks", nil
		}
		tis, err := x.Airflow.ListTaskInstances(ctx, t.DagID, t.RunID)
		if err != nil {
			return false, "", err
		}
		state := map[string]string{}
		for _, ti := range tis {
			state[ti.TaskID] = ti.State
		}
		for _, u := range ups {
			if state[u] != "success" {
				return false, fmt.Sprintf("upstream task %s is %q", u, orNone(state[u])), nil
			}
		}
		return true, fmt.Sprintf("upstream tasks %v succeeded", ups), nil
	case "dag_run_success", "task_success":
		runs, err := x.Airflow.ListDagRuns(ctx, c.DagID, airflow.RunQuery{Limit: 1})
		if err != nil {
			return false, "", err
		}
		if len(runs) == 0 {
			return false, "DAG " + c.DagID + " has no run yet", nil
		}
		latest := runs[0]
		if c.Kind == "dag_run_success" {
			return latest.State == "success", fmt.Sprintf("latest run %s of %s is %q", latest.RunID, c.DagID, latest.State), nil
		}
		ti, err := x.Airflow.GetTaskInstance(ctx, c.DagID, latest.RunID, c.TaskID)
		if err != nil {
			return false, "", err
		}
		return ti.State == "success", fmt.Sprintf("%s in run %s of %s is %q", c.TaskID, latest.RunID, c.DagID, orNone(ti.State)), nil
	}
	return false, "", fmt.Errorf("condition kind %q is unknown", c.Kind)
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
