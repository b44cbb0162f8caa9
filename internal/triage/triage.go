// Package triage is the first pass over every incident: what the run looks
// like, which tasks failed, whether this task fails often, what its log
// says, and which past failures it resembles, with what was done about them
// and whether it worked. Its steps come in two phases: orientation
// (resolve, run_summary, failed_tasks), which the investigation's commander
// runs in the root session, and diagnosis (frequency, log_excerpt, history,
// memory), which the log-analyzer runs in its own (internal/investigate).
// Each step's result is persisted as a finding before the next starts, so a
// restarted medic resumes where it stopped and never records a step twice
// in a session. Triage only reads from Airflow; it must never write to it.
// The failure memory only ever degrades triage: a memory that fails leaves a
// warning in the finding, never a failed triage.
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

// ErrNoInstance matches a NoInstanceError.
var ErrNoInstance = errors.New("airflow instance is not configured")

// NoInstanceError is returned when an incident's Airflow instance is not
// configured: no step can run, and retrying does not help.
type NoInstanceError struct{ Instance string }

func (e *NoInstanceError) Error() string {
	return fmt.Sprintf("airflow instance %q is not configured", e.Instance)
}

// Is makes a NoInstanceError match ErrNoInstance.
func (e *NoInstanceError) Is(target error) bool { return target == ErrNoInstance }

// Phase is a group of steps that one session runs. The investigation splits
// triage in two: the commander orients itself, the log-analyzer diagnoses.
type Phase string

// Phases, in the order they run.
const (
	// PhaseOrient finds out what failed in the run: resolve, run_summary
	// and failed_tasks. It is what a commander needs to decide what to
	// delegate, and what every specialist's brief is made of.
	PhaseOrient Phase = "orient"
	// PhaseDiagnose works out why the focus task failed: frequency,
	// log_excerpt, history and, with a failure memory, memory.
	PhaseDiagnose Phase = "diagnose"
)

// Scope is where a phase runs and what it may read.
type Scope struct {
	Incident *incident.Incident
	// SessionID is the session the phase records its findings in; steps it
	// already holds are skipped.
	SessionID string
	// Known are findings other sessions of the investigation recorded (the
	// commander's, for the log-analyzer). Steps read them, never record
	// them again.
	Known []*incident.Finding
	// Task and Try fix the task the diagnosis examines; empty means the
	// focus is derived from the findings and the incident's events.
	Task string
	Try  int
	// MaxSteps, when positive, bounds how many steps this call records;
	// the rest are left for a later call and listed in PhaseResult.Left.
	MaxSteps int
	// OnStep, when set, is told of each step recorded, for progress.
	OnStep func(ctx context.Context, f *incident.Finding)
}

// PhaseResult is what RunPhase did.
type PhaseResult struct {
	// Findings are the session's own findings of the phase, in step order.
	Findings []*incident.Finding
	// Left names the steps not run because of Scope.MaxSteps.
	Left []string
}

// Run triages one incident in one session: both phases, then the
// completion of the incident. The investigation (internal/investigate)
// splits the phases between the commander and the log-analyzer; Run is the
// whole triage in one place. finalAttempt tells it to record retryable
// failures as failed steps and finish with a partial report instead of
// asking to be retried.
func (r *Runner) Run(ctx context.Context, incidentID, sessionID string, finalAttempt bool) error {
	inc, err := r.store.IncidentGetByID(ctx, incidentID)
	if err != nil {
		return fmt.Errorf("triage %s: %w", incidentID, err)
	}
	if inc.TriagedAt != nil {
		return nil // already done: a redelivered job
	}
	if err := r.Begin(ctx, inc, sessionID); err != nil {
		return err
	}
	sc := Scope{Incident: inc, SessionID: sessionID}
	for _, ph := range []Phase{PhaseOrient, PhaseDiagnose} {
		_, err := r.RunPhase(ctx, ph, sc, finalAttempt)
		if errors.Is(err, ErrNoInstance) {
			return r.finish(ctx, inc, sessionID, err)
		}
		if err != nil {
			return err
		}
	}
	return r.finish(ctx, inc, sessionID, nil)
}

// Begin marks the incident as being investigated and its session as
// running; both are no-ops when already so.
func (r *Runner) Begin(ctx context.Context, inc *incident.Incident, sessionID string) error {
	if _, err := r.store.IncidentTransition(ctx, &store.IncidentTransitionParams{
		ID: inc.ID, To: incident.StateInvestigating,
		Actor: "medic", Reason: "triage started",
	}); err != nil && !errors.Is(err, incident.ErrTransition) {
		return fmt.Errorf("triage %s: %w", inc.ID, err)
	}
	if _, err := r.store.SessionSetStatus(ctx, &store.SessionSetStatusParams{ID: sessionID, Status: incident.SessionRunning}); err != nil {
		return fmt.Errorf("triage %s: %w", inc.ID, err)
	}
	return nil
}

// RunPhase runs the steps of phase that sc's session has not recorded yet,
// each recorded as a finding before the next starts, so that a resumed
// phase never records a step twice. A retryable failure returns an error
// matching ErrRetryLater unless finalAttempt, when it is recorded as a
// failed step instead. An unconfigured Airflow instance returns an error
// matching ErrNoInstance.
func (r *Runner) RunPhase(ctx context.Context, phase Phase, sc Scope, finalAttempt bool) (*PhaseResult, error) {
	inc := sc.Incident
	af, ok := r.instances.Instance(inc.Instance)
	if !ok {
		return nil, &NoInstanceError{Instance: inc.Instance}
	}
	own, err := r.store.FindingListBySession(ctx, sc.SessionID)
	if err != nil {
		return nil, fmt.Errorf("triage %s: %w", inc.ID, err)
	}
	st := &state{
		inc: inc, sessionID: sc.SessionID, af: af, done: map[string]*incident.Finding{}, own: map[string]bool{},
		focusTask: sc.Task, focusTry: sc.Try,
	}
	for _, f := range sc.Known {
		st.done[f.Step] = f
	}
	for _, f := range own {
		st.done[f.Step], st.own[f.Step] = f, true
	}
	res := &PhaseResult{}
	recorded := 0
	for _, step := range r.steps(phase) {
		if !st.own[step.name] {
			if sc.MaxSteps > 0 && recorded == sc.MaxSteps {
				res.Left = append(res.Left, step.name)
				continue
			}
			if err := r.runStep(ctx, st, step, finalAttempt); err != nil {
				return nil, err
			}
			recorded++
			if sc.OnStep != nil {
				sc.OnStep(ctx, st.done[step.name])
			}
		}
		res.Findings = append(res.Findings, st.done[step.name])
	}
	return res, nil
}

// Focus returns the task the diagnosis examines and its try, from the
// findings recorded so far (the run's first failing task) or the
// incident's events.
func (r *Runner) Focus(ctx context.Context, inc *incident.Incident, findings []*incident.Finding) (string, int, error) {
	st := &state{inc: inc, done: map[string]*incident.Finding{}}
	for _, f := range findings {
		st.done[f.Step] = f
	}
	if err := r.focus(ctx, st); err != nil {
		return "", 0, err
	}
	return st.focusTask, st.focusTry, nil
}

type stepFunc func(ctx context.Context, st *state) (*incident.Finding, error)

type step struct {
	name string
	kind incident.FindingKind
	fn   stepFunc
}

func (r *Runner) steps(phase Phase) []step {
	if phase == PhaseOrient {
		return []step{
			{StepResolve, "resolve", r.resolve},
			{StepRunSummary, incident.FindingRunSummary, r.runSummary},
			{StepFailedTasks, incident.FindingFailedTasks, r.failedTasks},
		}
	}
	steps := []step{
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
	// done holds every finding the steps may read: the session's own and
	// the Known ones; own marks the session's own.
	done map[string]*incident.Finding
	own  map[string]bool
	// focusTask is the failing task the later steps look at, and its try.
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
	st.done[s.name], st.own[s.name] = f, true
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
		Severity: Severity(findings), State: incident.StateEscalated,
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
