package act

import (
	"context"
	"errors"
	"time"

	"github.com/riverqueue/river"

	"github.com/medic-sh/medic/internal/store"
)

// AddWorkers registers the remediation workers: decide, act and verify.
func AddWorkers(workers *river.Workers, r *Remediator) {
	river.AddWorker(workers, &DecideWorker{Remediator: r})
	river.AddWorker(workers, &ActionWorker{Remediator: r})
	river.AddWorker(workers, &VerifyWorker{Remediator: r})
	river.AddWorker(workers, &ExpiryWorker{Remediator: r})
}

// ExpiryWorker lapses an approval nobody decided in time.
type ExpiryWorker struct {
	river.WorkerDefaults[store.ApprovalExpiryJobArgs]
	Remediator *Remediator
}

var _ river.Worker[store.ApprovalExpiryJobArgs] = (*ExpiryWorker)(nil)

// Work implements river.Worker.
func (w *ExpiryWorker) Work(ctx context.Context, job *river.Job[store.ApprovalExpiryJobArgs]) error {
	return cancelGone(w.Remediator.Expire(ctx, job.Args.ApprovalID))
}

// DecideWorker runs the policy on a triaged incident.
type DecideWorker struct {
	river.WorkerDefaults[store.RemediateJobArgs]
	Remediator *Remediator
}

var _ river.Worker[store.RemediateJobArgs] = (*DecideWorker)(nil)

// Work implements river.Worker.
func (w *DecideWorker) Work(ctx context.Context, job *river.Job[store.RemediateJobArgs]) error {
	return cancelGone(w.Remediator.Decide(ctx, job.Args.IncidentID, job.Args.SessionID, job.Attempt >= job.MaxAttempts))
}

// NextRetry backs off quickly at first: most Airflow blips are short.
func (w *DecideWorker) NextRetry(job *river.Job[store.RemediateJobArgs]) time.Time {
	return time.Now().Add(retryDelay(job.Attempt))
}

// ActionWorker runs one decided action.
type ActionWorker struct {
	river.WorkerDefaults[store.ActionJobArgs]
	Remediator *Remediator
}

var _ river.Worker[store.ActionJobArgs] = (*ActionWorker)(nil)

// Work implements river.Worker.
func (w *ActionWorker) Work(ctx context.Context, job *river.Job[store.ActionJobArgs]) error {
	step, err := w.Remediator.Act(ctx, job.Args, Job{Created: job.CreatedAt, Last: job.Attempt >= job.MaxAttempts})
	return result(step, err)
}

// NextRetry backs off quickly at first.
func (w *ActionWorker) NextRetry(job *river.Job[store.ActionJobArgs]) time.Time {
	return time.Now().Add(retryDelay(job.Attempt))
}

// VerifyWorker checks an executed action's outcome.
type VerifyWorker struct {
	river.WorkerDefaults[store.VerifyJobArgs]
	Remediator *Remediator
}

var _ river.Worker[store.VerifyJobArgs] = (*VerifyWorker)(nil)

// Work implements river.Worker.
func (w *VerifyWorker) Work(ctx context.Context, job *river.Job[store.VerifyJobArgs]) error {
	step, err := w.Remediator.Verify(ctx, job.Args)
	return result(step, err)
}

func result(step Step, err error) error {
	if err != nil {
		return cancelGone(err)
	}
	if step.Snooze > 0 {
		return river.JobSnooze(step.Snooze)
	}
	return nil
}

// cancelGone ends a job whose incident or record is gone: no retry brings
// it back.
func cancelGone(err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return river.JobCancel(err)
	}
	return err
}

func retryDelay(attempt int) time.Duration {
	d := time.Second << min(max(attempt-1, 0), 6)
	return min(d, time.Minute)
}
