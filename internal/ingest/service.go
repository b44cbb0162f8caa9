package ingest

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/medic-sh/medic/internal/config"
	"github.com/medic-sh/medic/internal/incident"
	"github.com/medic-sh/medic/internal/logscan"
	"github.com/medic-sh/medic/internal/store"
)

// Service is the single door through which every source records a failure:
// it redacts, deduplicates on identity and groups into incidents (through the
// store, in one transaction), and counts what it saw.
type Service struct {
	store    store.Store
	window   time.Duration
	coalesce config.Coalesce
	log      *slog.Logger
	events   *prometheus.CounterVec
}

// Option configures a Service.
type Option func(*Service)

// WithCoalesce turns on storm coalescing as configured (when c.Enabled):
// an event also joins an open incident sharing its failure signature,
// upstream host or dataset, and the incident's investigation is held back
// until events stop joining. Without it an incident groups one DAG run and
// its investigation starts at once.
// Zero limits take their defaults (config.DefaultCoalesce), and so does a
// nil key list.
func WithCoalesce(c config.Coalesce) Option {
	d := config.DefaultCoalesce()
	if c.Debounce <= 0 {
		c.Debounce = d.Debounce
	}
	if c.MaxWait <= 0 {
		c.MaxWait = d.MaxWait
	}
	if c.MaxAge <= 0 {
		c.MaxAge = d.MaxAge
	}
	if c.MaxBatch <= 0 {
		c.MaxBatch = d.MaxBatch
	}
	if c.Keys == nil {
		c.Keys = d.Keys
	}
	return func(s *Service) { s.coalesce = c }
}

// NewService returns a Service. window is how long an incident keeps
// collecting failures of its DAG run. reg may be nil.
func NewService(st store.Store, window time.Duration, logger *slog.Logger, reg prometheus.Registerer, opts ...Option) *Service {
	s := &Service{
		store: st, window: window, log: logger.With("component", "ingest"),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "medic_failure_events_total",
			Help: "Failure reports received, by source and whether they were new, duplicates or rejected.",
		}, []string{"source", "result"}),
	}
	for _, o := range opts {
		o(s)
	}
	if reg != nil {
		reg.MustRegister(s.events)
	}
	return s
}

// RecordEvent redacts and records one failure report.
func (s *Service) RecordEvent(ctx context.Context, ev *incident.FailureEvent) (*store.EventRecordResult, error) {
	clean := *ev
	clean.Exception = logscan.Redact(ev.Exception)
	clean.LogURL = logscan.Redact(ev.LogURL)
	res, err := s.store.EventRecord(ctx, s.recordParams(&clean))
	if err != nil {
		s.events.WithLabelValues(string(ev.Source), "rejected").Inc()
		return nil, fmt.Errorf("record failure %s: %w", ev.Key, err)
	}
	result := "new"
	if res.Duplicate {
		result = "duplicate"
	}
	s.events.WithLabelValues(string(ev.Source), result).Inc()
	log := s.log.InfoContext
	if res.Duplicate {
		log = s.log.DebugContext
	}
	log(ctx, "failure recorded", "source", ev.Source, "dag_id", ev.DagID, "run_id", ev.RunID,
		"task_id", ev.TaskID, "try_number", ev.TryNumber, "duplicate", res.Duplicate,
		"incident_id", res.Incident.ID, "incident_created", res.IncidentCreated, "joined_on", res.JoinedOn)
	return res, nil
}

// recordParams says how a redacted event is grouped.
func (s *Service) recordParams(ev *incident.FailureEvent) *store.EventRecordParams {
	p := &store.EventRecordParams{Event: ev, Window: s.window}
	if !s.coalesce.Enabled {
		return p
	}
	c := s.coalesce
	p.Coalesce = true
	p.Keys, p.Cause = coalesceKeys(ev, c.Keys)
	p.Debounce, p.MaxWait, p.MaxAge, p.MaxBatch = c.Debounce, c.MaxWait, c.MaxAge, c.MaxBatch
	return p
}

// RequestTriage opens or finds the incident of a run a person asked about.
func (s *Service) RequestTriage(ctx context.Context, p *store.TriageRequestParams) (*store.TriageRequestResult, error) {
	q := *p
	if q.Window == 0 {
		q.Window = s.window
	}
	res, err := s.store.TriageRequest(ctx, &q)
	if err != nil {
		return nil, fmt.Errorf("request triage of %s/%s: %w", p.DagID, p.RunID, err)
	}
	s.log.InfoContext(ctx, "triage requested", "actor", p.Actor, "dag_id", p.DagID, "run_id", p.RunID,
		"incident_id", res.Incident.ID, "session_id", res.Session.ID, "created", res.Created)
	return res, nil
}
