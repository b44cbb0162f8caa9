package investigate

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/medic-sh/medic/internal/incident"
	"github.com/medic-sh/medic/internal/investigate/agents"
	"github.com/medic-sh/medic/internal/logscan"
	"github.com/medic-sh/medic/internal/store"
	"github.com/medic-sh/medic/internal/triage"
)

// Options tune an investigation.
type Options struct {
	// Deadline bounds an investigation when the commander's definition
	// sets no timeout.
	Deadline time.Duration
	// SpecialistTimeout bounds a specialist's run when its definition sets
	// no timeout.
	SpecialistTimeout time.Duration
	// Grace is how long a specialist whose time ran out may take to return
	// before it is abandoned (1s when zero): an engine that ignores its
	// context must not hold the report back.
	Grace time.Duration
	// Runbook, when set, gives the runbook link of a report from its
	// label, remediation, dag_id and task_id.
	Runbook func(values map[string]string) string
	// Metrics, when set, counts completed triage and its duration.
	Metrics *triage.Metrics
	// Remediate hands each composed report to the remediation policy (a
	// RemediateJobArgs job) instead of escalating it at once; the
	// incident stays investigating until the policy decides.
	Remediate bool
}

// Deps are what an Investigator is built from.
type Deps struct {
	Store store.Store
	// Triage runs the commander's orientation (and the log-analyzer's
	// diagnosis, through its engine).
	Triage *triage.Runner
	Agents *agents.Set
	// Engines are the deterministic engines by name (BuiltinEngines).
	Engines map[string]Engine
	// Models, when set, builds the engines of agents with a model.
	Models  ModelEngines
	Options Options
	Logger  *slog.Logger
	Now     func() time.Time
}

// Investigator runs investigations: the commander, the specialists and the
// composition, each as a durable job (see the workers).
type Investigator struct {
	store   store.Store
	triage  *triage.Runner
	agents  *agents.Set
	engines map[string]Engine
	models  ModelEngines
	opts    Options
	log     *slog.Logger
	now     func() time.Time
}

// New checks deps and returns an Investigator. Every agent must have an
// engine to run.
func New(deps Deps) (*Investigator, error) {
	switch {
	case deps.Store == nil:
		return nil, errors.New("investigate: no store")
	case deps.Triage == nil:
		return nil, errors.New("investigate: no triage runner")
	case deps.Agents == nil:
		return nil, errors.New("investigate: no agent definitions")
	}
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.DiscardHandler)
	}
	if deps.Now == nil {
		deps.Now = time.Now
	}
	if deps.Options.Deadline <= 0 {
		deps.Options.Deadline = time.Minute
	}
	if deps.Options.SpecialistTimeout <= 0 {
		deps.Options.SpecialistTimeout = deps.Options.Deadline
	}
	if deps.Options.Grace <= 0 {
		deps.Options.Grace = time.Second
	}
	inv := &Investigator{
		store: deps.Store, triage: deps.Triage, agents: deps.Agents, engines: deps.Engines, models: deps.Models,
		opts: deps.Options, log: deps.Logger.With("component", "investigate"), now: deps.Now,
	}
	for _, d := range deps.Agents.Delegates() {
		if _, err := inv.engineFor(d); err != nil {
			return nil, fmt.Errorf("investigate: %w", err)
		}
	}
	return inv, nil
}

// deadline is how long an investigation may take.
func (inv *Investigator) deadline() time.Duration {
	if t := inv.agents.Commander().Timeout; t > 0 {
		return t
	}
	return inv.opts.Deadline
}

// timeout is how long one run of the specialist def may take.
func (inv *Investigator) timeout(def *agents.Definition) time.Duration {
	if def.Timeout > 0 {
		return def.Timeout
	}
	return inv.opts.SpecialistTimeout
}

// progress posts one progress line on a session. Progress is for people:
// a failure to post it is logged, never a failed investigation.
func (inv *Investigator) progress(ctx context.Context, s *incident.Session, msg string) {
	inv.event(ctx, s.Event(incident.SessionEventProgress, msg, nil))
}

func (inv *Investigator) event(ctx context.Context, ev *incident.SessionEvent) {
	ev.Message = clipMessage(logscan.Redact(ev.Message))
	if _, err := inv.store.SessionEventAppend(ctx, ev); err != nil && ctx.Err() == nil {
		inv.log.WarnContext(ctx, "session event not recorded", "session_id", ev.SessionID, "kind", string(ev.Kind), "error", err)
	}
}

// clipMessage keeps a message within incident.MaxSessionEventMessage bytes,
// on a UTF-8 boundary.
func clipMessage(s string) string {
	if len(s) <= incident.MaxSessionEventMessage {
		return s
	}
	cut := incident.MaxSessionEventMessage - len("…")
	for cut > 0 && s[cut]&0xC0 == 0x80 {
		cut--
	}
	return s[:cut] + "…"
}
