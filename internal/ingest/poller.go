package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/medic-sh/medic/internal/airflow"
	"github.com/medic-sh/medic/internal/incident"
	"github.com/medic-sh/medic/internal/store"
)

// PollSource is what the poller reads from one Airflow instance.
type PollSource interface {
	ListFailedDagRuns(ctx context.Context, since time.Time) ([]airflow.DagRun, error)
	ListTaskInstances(ctx context.Context, dagID, runID string) ([]airflow.TaskInstance, error)
}

// Recorder records a failure (the Service).
type Recorder interface {
	RecordEvent(ctx context.Context, ev *incident.FailureEvent) (*store.EventRecordResult, error)
}

// MarkStore keeps the poller's high-water mark.
type MarkStore interface {
	PollerMarkGet(ctx context.Context, instance string) (time.Time, bool, error)
	PollerMarkSet(ctx context.Context, instance string, mark time.Time) error
}

// PollerOptions configures a Poller.
type PollerOptions struct {
	Instance string
	Interval time.Duration
	// Lookback is how far back the first poll reaches.
	Lookback time.Duration
	// Overlap re-reads a little before the mark, so clock skew between
	// Airflow and medic never hides a failure; identity dedup makes the
	// re-read harmless.
	Overlap time.Duration
	Logger  *slog.Logger
	Now     func() time.Time
}

// Poller is the REST backstop: callbacks miss tasks that were SIGKILLed or
// OOM-killed, so every interval it lists failed runs since its persisted mark
// and records their failed tasks.
type Poller struct {
	src   PollSource
	rec   Recorder
	marks MarkStore
	opts  PollerOptions
	log   *slog.Logger

	// seen remembers the failures this poller already recorded, so the
	// overlap it re-reads on every poll is not counted as new deliveries.
	seenMu sync.Mutex
	seen   map[incident.Key]time.Time

	mu     sync.Mutex
	cancel context.CancelFunc
	done   chan struct{}

	stateMu sync.Mutex
	state   PollerState
}

// PollerState is how polling one Airflow instance goes, for people asking
// whether medic is watching it.
type PollerState struct {
	Instance string `json:"instance"`
	// LastPoll and LastSuccess are when the last poll ended, and the last
	// one that read every failed run; zero before the first.
	LastPoll    time.Time `json:"last_poll"`
	LastSuccess time.Time `json:"last_success"`
	// LastError is the last poll's error, "" when it went well.
	LastError string `json:"last_error,omitempty"`
	// Recorded counts the failures polls found that no callback had
	// reported, since medic started.
	Recorded int `json:"recorded"`
}

// State returns the poller's state.
func (p *Poller) State() PollerState {
	p.stateMu.Lock()
	defer p.stateMu.Unlock()
	return p.state
}

func (p *Poller) setState(recorded int, err error) {
	p.stateMu.Lock()
	defer p.stateMu.Unlock()
	p.state.LastPoll = p.opts.Now().UTC()
	p.state.Recorded += recorded
	if err != nil {
		p.state.LastError = err.Error()
		return
	}
	p.state.LastError, p.state.LastSuccess = "", p.state.LastPoll
}

// NewPoller returns a Poller; Start runs it.
func NewPoller(src PollSource, rec Recorder, marks MarkStore, opts PollerOptions) *Poller {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Overlap == 0 {
		opts.Overlap = 2 * time.Minute
	}
	return &Poller{
		src: src, rec: rec, marks: marks, opts: opts, seen: map[incident.Key]time.Time{},
		log:   opts.Logger.With("component", "poller", "instance", opts.Instance),
		state: PollerState{Instance: opts.Instance},
	}
}

// PollOnce polls one time and returns how many failed task tries it recorded
// as new events.
func (p *Poller) PollOnce(ctx context.Context) (int, error) {
	n, err := p.pollOnce(ctx)
	p.setState(n, err)
	return n, err
}

func (p *Poller) pollOnce(ctx context.Context) (int, error) {
	mark, ok, err := p.marks.PollerMarkGet(ctx, p.opts.Instance)
	if err != nil {
		return 0, err
	}
	if !ok {
		mark = p.opts.Now().Add(-p.opts.Lookback)
	}
	runs, err := p.src.ListFailedDagRuns(ctx, mark.Add(-p.opts.Overlap))
	if err != nil {
		return 0, fmt.Errorf("poll %s: %w", p.opts.Instance, err)
	}
	recorded := 0
	next := mark
	var errs []error
	for _, run := range runs {
		n, err := p.recordRun(ctx, run)
		recorded += n
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if run.EndDate != nil && run.EndDate.After(next) {
			next = *run.EndDate
		}
	}
	if err := errors.Join(errs...); err != nil {
		// Keep the mark where it was so the next poll retries these runs.
		return recorded, fmt.Errorf("poll %s: %w", p.opts.Instance, err)
	}
	if next.After(mark) || !ok {
		if err := p.marks.PollerMarkSet(ctx, p.opts.Instance, next); err != nil {
			return recorded, err
		}
	}
	p.forget(next.Add(-2 * p.opts.Overlap))
	return recorded, nil
}

// forget drops remembered failures whose runs ended before the re-read
// window: only those are never listed again.
func (p *Poller) forget(before time.Time) {
	p.seenMu.Lock()
	defer p.seenMu.Unlock()
	for k, at := range p.seen {
		if at.Before(before) {
			delete(p.seen, k)
		}
	}
}

func (p *Poller) known(k incident.Key) bool {
	p.seenMu.Lock()
	defer p.seenMu.Unlock()
	_, ok := p.seen[k]
	return ok
}

func (p *Poller) remember(k incident.Key, at time.Time) {
	p.seenMu.Lock()
	defer p.seenMu.Unlock()
	p.seen[k] = at
}

func (p *Poller) recordRun(ctx context.Context, run airflow.DagRun) (int, error) {
	tis, err := p.src.ListTaskInstances(ctx, run.DagID, run.RunID)
	if err != nil {
		return 0, fmt.Errorf("list task instances of %s/%s: %w", run.DagID, run.RunID, err)
	}
	// A failure is re-listed for as long as its run ends inside the re-read
	// window, so remember it until then, not until the task itself ended (a
	// task can fail long before its run does).
	seenUntil := time.Time{}
	if run.EndDate != nil {
		seenUntil = *run.EndDate
	}
	n := 0
	for _, ti := range tis {
		if ti.State != "failed" {
			continue
		}
		ev := &incident.FailureEvent{
			Key:         incident.Key{Instance: p.opts.Instance, DagID: ti.DagID, RunID: ti.RunID, TaskID: ti.TaskID, TryNumber: max(1, ti.TryNumber)},
			MapIndex:    ti.MapIndex,
			Source:      incident.SourcePoller,
			LogicalDate: run.LogicalDate,
		}
		if ti.EndDate != nil {
			ev.OccurredAt = *ti.EndDate
		}
		if p.known(ev.Key) {
			continue
		}
		res, err := p.rec.RecordEvent(ctx, ev)
		if err != nil {
			return n, err
		}
		p.remember(ev.Key, latest(seenUntil, ev.OccurredAt))
		if !res.Duplicate {
			n++
		}
	}
	return n, nil
}

func latest(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// Start polls every interval until Stop. A failed poll is logged and retried
// on the next tick; the pipeline is never affected.
func (p *Poller) Start(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cancel != nil {
		return errors.New("poller already started")
	}
	if p.opts.Interval <= 0 {
		// time.NewTicker would panic inside the polling goroutine.
		return fmt.Errorf("poller %s: interval must be positive, got %s", p.opts.Instance, p.opts.Interval)
	}
	ctx, p.cancel = context.WithCancel(context.WithoutCancel(ctx))
	p.done = make(chan struct{})
	go func() {
		defer close(p.done)
		t := time.NewTicker(p.opts.Interval)
		defer t.Stop()
		for {
			if n, err := p.PollOnce(ctx); err != nil {
				if ctx.Err() == nil {
					p.log.WarnContext(ctx, "poll failed", "error", err)
				}
			} else if n > 0 {
				p.log.InfoContext(ctx, "poll found failures callbacks did not report", "events", n)
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return nil
}

// Stop stops polling and waits for the current poll to end. It is idempotent.
func (p *Poller) Stop() {
	p.mu.Lock()
	cancel, done := p.cancel, p.done
	p.mu.Unlock()
	if cancel == nil {
		return
	}
	cancel()
	<-done
}
