// Package notify delivers incident reports to people. A Notifier renders a
// report for one channel (console today; Slack and webhooks next). Delivery
// runs as a durable job after the state change that warrants it, so a
// notifier outage delays a message and never loses it, and the store records
// each delivery so a redelivered job does not post twice.
package notify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/riverqueue/river"

	"github.com/medic-sh/medic/internal/report"
	"github.com/medic-sh/medic/internal/store"
)

// Notifier sends one incident report to one channel.
type Notifier interface {
	Name() string
	Notify(ctx context.Context, r *report.Report) error
}

// Worker runs notify jobs.
type Worker struct {
	river.WorkerDefaults[store.NotifyJobArgs]
	Store     store.Store
	Notifiers []Notifier
	BaseURL   string
	Logger    *slog.Logger
}

var _ river.Worker[store.NotifyJobArgs] = (*Worker)(nil)

// Work implements river.Worker.
func (w *Worker) Work(ctx context.Context, job *river.Job[store.NotifyJobArgs]) error {
	r, err := report.Load(ctx, w.Store, job.Args.IncidentID, w.BaseURL)
	if errors.Is(err, store.ErrNotFound) {
		return river.JobCancel(err)
	}
	if err != nil {
		return err
	}
	if r.Incident.NotifiedAt != nil {
		return nil // a redelivered job: the report already went out
	}
	var errs []error
	for _, n := range w.Notifiers {
		if err := n.Notify(ctx, r); err != nil {
			errs = append(errs, fmt.Errorf("notify %s via %s: %w", r.Incident.ID, n.Name(), err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	if _, err := w.Store.IncidentMarkNotified(ctx, &store.IncidentMarkNotifiedParams{IncidentID: r.Incident.ID, Channel: channels(w.Notifiers)}); err != nil {
		return fmt.Errorf("notify %s: %w", r.Incident.ID, err)
	}
	return nil
}

func channels(ns []Notifier) string {
	s := ""
	for i, n := range ns {
		if i > 0 {
			s += ","
		}
		s += n.Name()
	}
	return s
}
