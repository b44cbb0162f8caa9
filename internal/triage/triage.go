// Package triage is the first pass over every incident: what the run looks
// like, which tasks failed, whether this task fails often, what its log
// says, and which past failures it resembles, with what was done about them
// and whether it worked. Each step's result is persisted as a finding
// before the next starts, so a restarted medic resumes where it stopped and
// never records a step twice. Triage only reads from Airflow; it must never
// write to it. The failure memory only ever degrades triage: a memory that
// fails leaves a warning in the finding, never a failed triage.
package triage

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/medic-sh/medic/internal/airflow"
	"github.com/medic-sh/medic/internal/incident"
	"github.com/medic-sh/medic/internal/logscan/template"
	"github.com/medic-sh/medic/internal/memory"
	"github.com/medic-sh/medic/internal/store"
)

// Airflow is what triage reads from one Airflow instance.
type Airflow interface {
	GetDagRun(ctx context.Context, dagID, runID string) (*airflow.DagRun, error)
	ListTaskInstances(ctx context.Context, dagID, runID string) ([]airflow.TaskInstance, error)
	ListTaskFailures(ctx context.Context, dagID, taskID string, since time.Time) ([]airflow.TaskInstance, error)
	TaskLog(ctx context.Context, dagID, runID, taskID string, try int, opts airflow.LogOptions) (*airflow.Log, error)
	GetDag(ctx context.Context, dagID string) (*airflow.Dag, error)
}

// Instances finds the client of an Airflow instance by name.
type Instances interface {
	Instance(name string) (Airflow, bool)
}

// EventRecorder records failures that triage discovers (a person asked to
// triage a run without naming the task).
type EventRecorder interface {
	RecordEvent(ctx context.Context, ev *incident.FailureEvent) (*store.EventRecordResult, error)
}

// Options tunes triage.
type Options struct {
	FrequencyLookback  time.Duration
	RecurringThreshold int
	LogTailLines       int
	LogMaxBytes        int64
	StepTimeout        time.Duration
	// ExcerptLines caps how many log lines the excerpt keeps.
	ExcerptLines int
	// Metrics, when set, counts completed triage and its duration.
	Metrics *Metrics
	// Miner, when set, mines the redacted lines of every log read into
	// templates, and the excerpt records the templates of its error lines.
	Miner *template.Miner
	// Memory, when set, is consulted for similar past failures and fed a
	// record of every triaged failure.
	Memory Recall
	// Recall tunes how past failures change the diagnosis.
	Recall memory.RecallOptions
	// SimilarK is how many similar past failures to list (5 when zero).
	SimilarK int
	// MemoryTimeout bounds each memory call (StepTimeout/3 when zero), so a
	// hanging embedder leaves time for a signature-only lookup.
	MemoryTimeout time.Duration
}

// Recall is the failure memory triage consults and feeds.
type Recall interface {
	Lookup(ctx context.Context, q memory.Query, k int) (*memory.Result, error)
	Remember(ctx context.Context, r memory.Record) (*memory.Record, error)
}

// Runner runs triage sessions.
type Runner struct {
	store     store.Store
	instances Instances
	events    EventRecorder
	opts      Options
	log       *slog.Logger
	now       func() time.Time
}

// NewRunner returns a Runner.
func NewRunner(st store.Store, instances Instances, events EventRecorder, opts Options, logger *slog.Logger, now func() time.Time) *Runner {
	if opts.ExcerptLines <= 0 {
		opts.ExcerptLines = 40
	}
	if opts.RecurringThreshold <= 0 {
		opts.RecurringThreshold = 2
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if now == nil {
		now = time.Now
	}
	return &Runner{store: st, instances: instances, events: events, opts: opts, log: logger.With("component", "triage"), now: now}
}

// ErrRetryLater marks a step failure worth retrying (Airflow unreachable);
// the job system retries the whole session, which skips finished steps.
var ErrRetryLater = errors.New("retry later")

// Run triages one incident's session. finalAttempt tells it to record
// retryable failures as failed steps and finish with a partial report
// instead of asking to be retried.
func (r *Runner) Run(ctx context.Context, incidentID, sessionID string, finalAttempt bool) error {
	inc, err := r.store.IncidentGetByID(ctx, incidentID)
	if err != nil {
		return fmt.Errorf("triage %s: %w", incidentID, err)
	}
	if inc.TriagedAt != nil {
		return nil // already done: a redelivered job
	}
	if _, err := r.store.IncidentTransition(ctx, &store.IncidentTransitionParams{
		ID: inc.ID, To: incident.StateInvestigating,
		Actor: "medic", Reason: "triage started",
	}); err != nil && !errors.Is(err, incident.ErrTransition) {
		return fmt.Errorf("triage %s: %w", incidentID, err)
	}
	if _, err := r.store.SessionSetStatus(ctx, &store.SessionSetStatusParams{ID: sessionID, Status: incident.SessionRunning}); err != nil {
		return fmt.Errorf("triage %s: %w", incidentID, err)
	}
	af, ok := r.instances.Instance(inc.Instance)
	if !ok {
		return r.finish(ctx, inc, sessionID, fmt.Errorf("airflow instance %q is not configured", inc.Instance))
	}
	done, err := r.store.FindingListBySession(ctx, sessionID)
	if err != nil {
		return fmt.Errorf("triage %s: %w", incidentID, err)
	}
	st := &state{inc: inc, sessionID: sessionID, af: af, done: map[string]*incident.Finding{}}
	for _, f := range done {
		st.done[f.Step] = f
	}
	for _, step := range r.steps() {
		if _, ok := st.done[step.name]; ok {
			continue
		}
		if err := r.runStep(ctx, st, step, finalAttempt); err != nil {
			return err
		}
	}
	return r.finish(ctx, inc, sessionID, nil)
}

type stepFunc func(ctx context.Context, st *state) (*incident.Finding, error)

type step struct {
	name string
	kind incident.FindingKind
	fn   stepFunc
}

func (r *Runner) steps() []step {
	steps := []step{
		{StepResolve, "resolve", r.resolve},
		{StepRunSummary, incident.FindingRunSummary, r.runSummary},
		{StepFailedTasks, incident.FindingFailedTasks, r.failedTasks},
		{StepFrequency, incident.FindingFrequency, r.frequency},
		{StepLogExcerpt, incident.FindingLogExcerpt, r.logExcerpt},
		{StepHistory, incident.FindingHistory, r.history},
	}
	// Without a memory the step is left out rather than recorded as off, so
	// a session resumed once memory is configured still consults it.
	if r.opts.Memory != nil {
		steps = append(steps, step{StepMemory, FindingMemory, r.recallMemory})
	}
	return steps
}

// state is what one triage run has learned so far.
type state struct {
	inc       *incident.Incident
	sessionID string
	af        Airflow
	done      map[string]*incident.Finding
	// focus is the failing task the later steps look at, and its try.
	focusTask string
	focusTry  int
}

func (r *Runner) runStep(ctx context.Context, st *state, s step, finalAttempt bool) error {
	sctx, cancel := context.WithTimeoutCause(ctx, r.opts.StepTimeout, fmt.Errorf("triage step %s took longer than %s", s.name, r.opts.StepTimeout))
	defer cancel()
	start := r.now()
	f, err := s.fn(sctx, st)
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("triage %s step %s: %w", st.inc.ID, s.name, context.Cause(ctx))
		}
		if sctx.Err() != nil {
			// Say that the step ran out of time, not only "context deadline
			// exceeded"; err still wraps the deadline, so it stays retryable.
			err = fmt.Errorf("%w: %w", context.Cause(sctx), err)
		}
		if retryable(err) && !finalAttempt {
			return fmt.Errorf("triage %s step %s: %w: %w", st.inc.ID, s.name, ErrRetryLater, err)
		}
		r.log.WarnContext(ctx, "triage step failed", "incident_id", st.inc.ID, "step", s.name, "error", err)
		f = &incident.Finding{Summary: s.name + " unavailable", Error: err.Error()}
	}
	f.SessionID, f.IncidentID, f.Kind, f.Step = st.sessionID, st.inc.ID, s.kind, s.name
	f.CreatedAt = r.now().UTC()
	if _, err := r.store.FindingInsert(ctx, f); err != nil {
		return fmt.Errorf("triage %s step %s: %w", st.inc.ID, s.name, err)
	}
	st.done[s.name] = f
	r.log.DebugContext(ctx, "triage step done", "incident_id", st.inc.ID, "step", s.name, "duration_ms", r.now().Sub(start).Milliseconds())
	return nil
}

func retryable(err error) bool {
	return airflow.IsRetryable(err) || errors.Is(err, context.DeadlineExceeded)
}

// finish completes the session. Triage v1 hands every incident to a person,
// so the incident moves to escalated with its report.
func (r *Runner) finish(ctx context.Context, inc *incident.Incident, sessionID string, cause error) error {
	findings, err := r.store.FindingListBySession(ctx, sessionID)
	if err != nil {
		return fmt.Errorf("triage %s: %w", inc.ID, err)
	}
	status := incident.SessionCompleted
	summary := Summarize(inc, findings)
	if cause != nil {
		status = incident.SessionFailed
		summary = "triage failed: " + cause.Error()
		// TriageComplete records the status only; keep the reason on the
		// session too, where a reader of the investigation looks for it.
		if _, err := r.store.SessionSetStatus(ctx, &store.SessionSetStatusParams{
			ID: sessionID, Status: incident.SessionFailed, Error: cause.Error(),
		}); err != nil {
			return fmt.Errorf("triage %s: %w", inc.ID, err)
		}
	} else {
		for _, f := range findings {
			if f.Error != "" {
				status = incident.SessionPartial
			}
		}
	}
	res, err := r.store.TriageComplete(ctx, &store.TriageCompleteParams{
		IncidentID: inc.ID, SessionID: sessionID, Status: status, Summary: summary,
		Severity: severity(findings), State: incident.StateEscalated,
	})
	if err != nil {
		return fmt.Errorf("triage %s: %w", inc.ID, err)
	}
	if res.Done && r.opts.Metrics != nil && res.Incident.TriagedAt != nil {
		r.opts.Metrics.Completed.WithLabelValues(string(status)).Inc()
		r.opts.Metrics.Duration.Observe(res.Incident.TriagedAt.Sub(res.Incident.CreatedAt).Seconds())
	}
	return nil
}

// Metrics are triage's Prometheus metrics.
type Metrics struct {
	Completed *prometheus.CounterVec
	Duration  prometheus.Histogram
}

// NewMetrics registers triage's metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Completed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "medic_triage_completed_total",
			Help: "Triage sessions completed, by final status (completed, partial, failed).",
		}, []string{"status"}),
		Duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "medic_triage_duration_seconds",
			Help:    "Time from an incident's first failure report to its completed triage.",
			Buckets: []float64{0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300},
		}),
	}
	reg.MustRegister(m.Completed, m.Duration)
	return m
}

func decode[T any](f *incident.Finding) (*T, bool) {
	if f == nil || f.Error != "" || len(f.Data) == 0 {
		return nil, false
	}
	var v T
	if err := json.Unmarshal(f.Data, &v); err != nil {
		return nil, false
	}
	return &v, true
}

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	return b
}
