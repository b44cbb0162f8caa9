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
	"strconv"
	"sync"
	"time"

	"github.com/riverqueue/river"

	"github.com/medic-sh/medic/internal/audit"
	"github.com/medic-sh/medic/internal/incident"
	"github.com/medic-sh/medic/internal/logscan"
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
	// AuditAppend puts a delivery that fails, recovers or is given up in
	// the incident's audit trail, beside its moves.
	AuditAppend(ctx context.Context, e *incident.AuditEntry) (*incident.AuditEntry, error)
}

// silenceRecheck is how often a notification held by a silence looks
// again: a silence expired early releases it within this.
const silenceRecheck = 5 * time.Minute

// An update that cannot be delivered is retried with the job runner's
// backoff for its attempts, then every outageRetry, so that an outage of
// Slack or a revoked token delays messages, never loses them; after
// giveUpAfter it is given up, in the audit trail and the log.
const (
	outageRetry = 10 * time.Minute
	giveUpAfter = 24 * time.Hour
)

// ErrNotYet is what a notifier's error wraps when what it must tell is not
// stored yet (another process is about to store it): the update is tried
// again in notYetRetry, without counting as a failure, for up to
// notYetFor.
var ErrNotYet = errors.New("not ready to be told yet")

const (
	notYetRetry = 2 * time.Second
	notYetFor   = 10 * time.Minute
)

// Audit actions of deliveries.
const (
	AuditFailed    = "notify.failed"
	AuditRecovered = "notify.recovered"
	AuditAbandoned = "notify.abandoned"
)

// Worker runs notify jobs.
type Worker struct {
	river.WorkerDefaults[store.NotifyJobArgs]
	Store     Store
	Notifiers []Notifier
	BaseURL   string
	Logger    *slog.Logger
	// Now is the clock silences are judged at; time.Now when nil.
	Now func() time.Time

	// locks serializes the updates of one incident: two at once would
	// each find no message yet and post one each.
	locks keyedLock
}

// keyedLock is a mutex per key that a context can give up waiting for;
// its zero value is ready to use, and it keeps no entry for a key nobody
// holds or waits for.
type keyedLock struct {
	mu   sync.Mutex
	keys map[string]*keyLock
}

type keyLock struct {
	held chan struct{}
	refs int
}

// lock waits for key, or for ctx to end.
func (k *keyedLock) lock(ctx context.Context, key string) (unlock func(), err error) {
	k.mu.Lock()
	if k.keys == nil {
		k.keys = map[string]*keyLock{}
	}
	l := k.keys[key]
	if l == nil {
		l = &keyLock{held: make(chan struct{}, 1)}
		k.keys[key] = l
	}
	l.refs++
	k.mu.Unlock()
	select {
	case l.held <- struct{}{}:
		return func() { <-l.held; k.release(key, l) }, nil
	case <-ctx.Done():
		k.release(key, l)
		return nil, ctx.Err()
	}
}

func (k *keyedLock) release(key string, l *keyLock) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if l.refs--; l.refs == 0 {
		delete(k.keys, key)
	}
}

func (w *Worker) log() *slog.Logger {
	if w.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return w.Logger
}

func (w *Worker) now() time.Time {
	if w.Now != nil {
		return w.Now()
	}
	return time.Now()
}

var _ river.Worker[store.NotifyJobArgs] = (*Worker)(nil)

// Work implements river.Worker. Each notifier's delivery of each update is
// recorded, so a redelivered job (or one retried because another notifier
// failed) sends nothing twice; a failing notifier fails the job, which
// retries it later: an outage delays a message, never loses it.
func (w *Worker) Work(ctx context.Context, job *river.Job[store.NotifyJobArgs]) error {
	// One update of an incident at a time, and its report read once the
	// previous one is delivered: this process is the store's only writer
	// (SQLite's lock), so this serializes every delivery of the incident.
	unlock, err := w.locks.lock(ctx, job.Args.IncidentID)
	if err != nil {
		return fmt.Errorf("notify %s: %w", job.Args.IncidentID, err)
	}
	defer unlock()
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
	now := w.now()
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
	failed := map[string]string{}
	notYet := true
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
			failed[n.Name()] = logscan.Redact(err.Error())
			notYet = notYet && errors.Is(err, ErrNotYet)
			continue
		}
		if err := w.Store.NotifyRecordDelivery(ctx, d); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		if notYet && len(failed) == len(errs) && (job.CreatedAt.IsZero() || now.Sub(job.CreatedAt) < notYetFor) {
			w.log().DebugContext(ctx, "notification not ready yet; trying again shortly", "incident_id", r.Incident.ID, "reason", reason, "error", err)
			return river.JobSnooze(notYetRetry)
		}
		return w.retry(ctx, job, r.Incident.ID, reason, failed, err, now)
	}
	if job.Attempt > 1 {
		w.audit(ctx, r.Incident.ID, AuditRecovered, reason, map[string]string{"attempts": strconv.Itoa(job.Attempt)})
	}
	if u.First() {
		if _, err := w.Store.IncidentMarkNotified(ctx, &store.IncidentMarkNotifiedParams{IncidentID: r.Incident.ID, Channel: channels(w.Notifiers)}); err != nil {
			return fmt.Errorf("notify %s: %w", r.Incident.ID, err)
		}
	}
	return nil
}

// retry decides what becomes of an update some notifier failed to
// deliver: the job runner retries it with its backoff while attempts
// remain, then it is snoozed every outageRetry (which uses no attempt),
// until giveUpAfter has passed since the update was made. The first
// failure and the giving up are audited: an incident's trail says when
// people were not told, and why.
func (w *Worker) retry(ctx context.Context, job *river.Job[store.NotifyJobArgs], incidentID, reason string, failed map[string]string, err error, now time.Time) error {
	if job.Attempt <= 1 {
		w.audit(ctx, incidentID, AuditFailed, reason, failed)
	}
	if age := now.Sub(job.CreatedAt); !job.CreatedAt.IsZero() && age > giveUpAfter {
		w.log().ErrorContext(ctx, "notification given up", "incident_id", incidentID, "reason", reason,
			"age", age.Round(time.Minute), "error", err)
		w.audit(ctx, incidentID, AuditAbandoned, reason, failed)
		return river.JobCancel(err)
	}
	if job.MaxAttempts > 0 && job.Attempt >= job.MaxAttempts {
		w.log().WarnContext(ctx, "notification still failing; retrying later", "incident_id", incidentID, "reason", reason,
			"retry_in", outageRetry, "error", err)
		return river.JobSnooze(outageRetry)
	}
	return err
}

// audit records a delivery event; a failure to record it is logged, since
// it must not stop the delivery itself.
func (w *Worker) audit(ctx context.Context, incidentID, action, reason string, detail map[string]string) {
	upd := map[string]string{"update": reason}
	for k, v := range detail {
		upd[k] = v
	}
	raw, err := (&audit.Detail{RequestedBy: "notify", Update: upd}).JSON()
	if err == nil {
		_, err = w.Store.AuditAppend(ctx, &incident.AuditEntry{At: w.now().UTC(), Actor: "medic", Action: action, IncidentID: incidentID, Detail: raw})
	}
	if err != nil {
		w.log().ErrorContext(ctx, "could not audit a notification", "incident_id", incidentID, "action", action, "error", err)
	}
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
