package triage

import (
	"context"
	"errors"
	"time"

	"github.com/riverqueue/river"

	"github.com/medic-sh/medic/internal/store"
)

// Worker runs triage jobs. A job that fails because Airflow is unreachable is
// retried by the job system with backoff; the last attempt finishes the
// session with whatever it has, marked partial.
type Worker struct {
	river.WorkerDefaults[store.TriageJobArgs]
	Runner *Runner
}

var _ river.Worker[store.TriageJobArgs] = (*Worker)(nil)

// Work implements river.Worker.
func (w *Worker) Work(ctx context.Context, job *river.Job[store.TriageJobArgs]) error {
	final := job.Attempt >= job.MaxAttempts
	err := w.Runner.Run(ctx, job.Args.IncidentID, job.Args.SessionID, final)
	if errors.Is(err, store.ErrNotFound) {
		return river.JobCancel(err)
	}
	return err
}

// NextRetry backs off quickly at first: most Airflow blips are short.
func (w *Worker) NextRetry(job *river.Job[store.TriageJobArgs]) time.Time {
	d := time.Duration(1<<min(job.Attempt, 8)) * time.Second
	return time.Now().Add(d)
}
