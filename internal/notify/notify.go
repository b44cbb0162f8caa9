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
	"time"

	"github.com/riverqueue/river"

	"github.com/medic-sh/medic/internal/incident"
	"github.com/medic-sh/medic/internal/report"
	"github.com/medic-sh/medic/internal/store"
)

// ReasonTriaged is the update that first tells people of an incident,
// with its report; every later update is a move ("state:<state>").
const ReasonTriaged = "triaged"

// Update is one thing to tell people about an incident: its report as it
// stands now, and what just happened.
type Update struct {
	Report *report.Report
	// Reason is ReasonTriaged, "state:<state>" for a move, or
	// "approval:<id>" for a proposal awaiting a person.
	Reason string
	// Detail says why, for a move.
	Detail string
}

// First reports whether the update is the incident's first.
func (u Update) First() bool { return u.Reason == ReasonTriaged }

// Notifier tells one channel about incidents. A notifier with one living
// message per incident (Slack) posts it on the first update and edits it
// on later ones; others send each update.
type Notifier interface {
	Name() string
	Notify(ctx context.Context, u Update) error
}

// Store is what the worker records deliveries in.
type Store interface {
	report.Reader
	NotifyDelivered(ctx context.Context, d *store.NotifyDelivery) (bool, error)
	NotifyRecordDelivery(ctx context.Context, d *store.NotifyDelivery) error
	IncidentMarkNotified(ctx context.Context, p *store.IncidentMarkNotifiedParams) (bool, error)
	SilenceMatch(ctx context.Context, inc *incident.Incident, at time.Time) (*incident.Silence, error)
}

// silenceRecheck is how often a notification held by a silence looks
// again: a silence expired early releases it within this.
const silenceRecheck = 5 * time.Minute

// Worker runs notify jobs.
type Worker struct {
	river.WorkerDefaults[store.NotifyJobArgs]
	Store     Store
	Notifiers []Notifier
	BaseURL   string
	Logger    *slog.Logger
	// Now is the clock silences are judged at; time.Now when nil.
	Now func() time.Time
}

func (w *Worker) log() *slog.Logger {
	if w.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return w.Logger
}

var _ river.Worker[store.NotifyJobArgs] = (*Worker)(nil)

// Work implements river.Worker. Each notifier's delivery of each update is
// recorded, so a redelivered job (or one retried because another notifier
// failed) sends nothing twice; a failing notifier fails the job, which
// retries it later: an outage delays a message, never loses it.
func (w *Worker) Work(ctx context.Context, job *river.Job[store.NotifyJobArgs]) error {
	r, err := report.Load(ctx, w.Store, job.Args.IncidentID, w.BaseURL)
	if errors.Is(err, store.ErrNotFound) {
		return river.JobCancel(err)
	}
	if err != nil {
		return err
	}
	reason := job.Args.Reason
	if reason == "" {
		reason = ReasonTriaged
	}
	now := time.Now()
	if w.Now != nil {
		now = w.Now()
	}
	sil, err := w.Store.SilenceMatch(ctx, r.Incident, now)
	if err != nil {
		return err
	}
	if sil != nil {
		// The incident is recorded and worked on as usual; only telling
		// people waits for the silence to end.
		wait := min(sil.EndsAt.Sub(now), silenceRecheck)
		w.log().InfoContext(ctx, "notification held by a silence", "incident_id", r.Incident.ID, "reason", reason,
			"silence_id", sil.ID, "ends_at", sil.EndsAt, "recheck_in", wait)
		return river.JobSnooze(max(wait, time.Second))
	}
	u := Update{Report: r, Reason: reason, Detail: job.Args.Detail}
	var errs []error
	for _, n := range w.Notifiers {
		d := &store.NotifyDelivery{IncidentID: r.Incident.ID, Notifier: n.Name(), Reason: reason}
		done, err := w.Store.NotifyDelivered(ctx, d)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if done {
			continue
		}
		if err := n.Notify(ctx, u); err != nil {
			errs = append(errs, fmt.Errorf("notify %s via %s: %w", r.Incident.ID, n.Name(), err))
			continue
		}
		if err := w.Store.NotifyRecordDelivery(ctx, d); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	if u.First() {
		if _, err := w.Store.IncidentMarkNotified(ctx, &store.IncidentMarkNotifiedParams{IncidentID: r.Incident.ID, Channel: channels(w.Notifiers)}); err != nil {
			return fmt.Errorf("notify %s: %w", r.Incident.ID, err)
		}
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
