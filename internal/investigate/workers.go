package investigate

import (
	"context"
	"errors"
	"time"

	"github.com/riverqueue/river"

	"github.com/medic-sh/medic/internal/store"
)

// AddWorkers registers the three investigation workers: the commander on
// the triage job, the specialists and the composer.
func AddWorkers(workers *river.Workers, inv *Investigator) {
	river.AddWorker(workers, &CommanderWorker{Investigator: inv})
	river.AddWorker(workers, &SpecialistWorker{Investigator: inv})
	river.AddWorker(workers, &ComposeWorker{Investigator: inv})
}

// CommanderWorker runs the commander on the triage job. A job that fails
// because Airflow is unreachable is retried with backoff; the last attempt
// delegates with whatever the orientation has, marked partial.
type CommanderWorker struct {
	river.WorkerDefaults[store.TriageJobArgs]
	Investigator *Investigator
}

var _ river.Worker[store.TriageJobArgs] = (*CommanderWorker)(nil)

// Work implements river.Worker.
func (w *CommanderWorker) Work(ctx context.Context, job *river.Job[store.TriageJobArgs]) error {
	err := w.Investigator.Command(ctx, job.Args.IncidentID, job.Args.SessionID, job.Attempt >= job.MaxAttempts)
	if errors.Is(err, store.ErrNotFound) {
		return river.JobCancel(err)
	}
	return err
}

// NextRetry backs off quickly at first: most Airflow blips are short.
func (w *CommanderWorker) NextRetry(job *river.Job[store.TriageJobArgs]) time.Time {
	return time.Now().Add(backoff(job.Attempt))
}

// SpecialistWorker runs one specialist's session.
type SpecialistWorker struct {
	river.WorkerDefaults[store.SpecialistJobArgs]
	Investigator *Investigator
}

var _ river.Worker[store.SpecialistJobArgs] = (*SpecialistWorker)(nil)

// Work implements river.Worker.
func (w *SpecialistWorker) Work(ctx context.Context, job *river.Job[store.SpecialistJobArgs]) error {
	err := w.Investigator.Specialist(ctx, job.Args, job.Attempt, job.MaxAttempts, w.NextRetry(job))
	if errors.Is(err, store.ErrNotFound) {
		return river.JobCancel(err)
	}
	return err
}

// NextRetry backs off quickly: a specialist has a deadline.
func (w *SpecialistWorker) NextRetry(job *river.Job[store.SpecialistJobArgs]) time.Time {
	return time.Now().Add(backoff(job.Attempt) / 2)
}

// ComposeWorker composes an investigation's report.
type ComposeWorker struct {
	river.WorkerDefaults[store.ComposeJobArgs]
	Investigator *Investigator
}

var _ river.Worker[store.ComposeJobArgs] = (*ComposeWorker)(nil)

// Work implements river.Worker. A compose that comes before the deadline
// while specialists still work waits for the deadline.
func (w *ComposeWorker) Work(ctx context.Context, job *river.Job[store.ComposeJobArgs]) error {
	err := w.Investigator.Compose(ctx, job.Args.IncidentID, job.Args.SessionID)
	var early *EarlyError
	switch {
	case errors.As(err, &early):
		return river.JobSnooze(max(10*time.Millisecond, time.Until(early.Until)))
	case errors.Is(err, store.ErrNotFound):
		return river.JobCancel(err)
	}
	return err
}

// NextRetry retries a failed compose soon: the report is late already.
func (w *ComposeWorker) NextRetry(job *river.Job[store.ComposeJobArgs]) time.Time {
	return time.Now().Add(backoff(job.Attempt) / 2)
}

func backoff(attempt int) time.Duration {
	return time.Duration(1<<min(attempt, 8)) * time.Second
}
