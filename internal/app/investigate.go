package app

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/medic-sh/medic/internal/config"
	"github.com/medic-sh/medic/internal/investigate"
	"github.com/medic-sh/medic/internal/investigate/agents"
	"github.com/medic-sh/medic/internal/llm"
	"github.com/medic-sh/medic/internal/owners"
	"github.com/medic-sh/medic/internal/store"
	"github.com/medic-sh/medic/internal/triage"
	"github.com/medic-sh/medic/internal/warehouse"
	"github.com/medic-sh/medic/internal/warehouse/postgres"
)

// newInvestigator loads the agent definitions (the built-ins and
// investigate.agents_dir; a definition that does not load stops medic here,
// naming its file and line), builds the warehouse connectors and the
// ownership resolver, and wires the investigation.
func newInvestigator(ctx context.Context, cfg *config.Config, st store.Store, runner *triage.Runner, in *instances, mem triage.Recall,
	opts Options, reg prometheus.Registerer, onStop func(func(context.Context) error),
) (*investigate.Investigator, error) {
	// The warehouse connectors connect lazily, on their first profile: no
	// request context applies to building them.
	connectors, err := newConnectors(cfg.Warehouse, opts) //nolint:contextcheck // see above
	if err != nil {
		return nil, err
	}
	for _, c := range connectors {
		onStop(func(context.Context) error { c.Close(); return nil })
	}
	wh := make([]warehouse.Connector, len(connectors))
	for i, c := range connectors {
		wh[i] = c
	}
	own := newOwners(ctx, cfg.Owners, in, opts.Logger)
	engines := investigate.BuiltinEngines(runner, in, wh, own)
	models, err := newModels(cfg, engines, investigate.ToolDeps{
		Instances: in, Store: st, Memory: mem, Owners: own,
		LogTailLines: cfg.Triage.LogTailLines, LogMaxBytes: cfg.Triage.LogMaxBytes,
		FrequencyLookback: cfg.Triage.FrequencyLookback, RecurringThreshold: cfg.Triage.RecurringThreshold,
		SimilarK: cfg.Memory.TopK, Now: opts.Now,
	}, st, opts.Logger)
	if err != nil {
		return nil, err
	}
	set, err := agents.Load(agents.Options{Dir: cfg.Investigate.AgentsDir, Engines: investigate.Specs(engines), Models: models != nil})
	if err != nil {
		return nil, fmt.Errorf("app: investigate agents: %w", err)
	}
	deps := investigate.Deps{
		Store: st, Triage: runner, Agents: set, Engines: engines,
		Options: investigate.Options{
			Deadline: cfg.Investigate.Deadline, SpecialistTimeout: cfg.Investigate.SpecialistTimeout,
			Runbook: cfg.Investigate.Runbook, Metrics: triage.NewMetrics(reg), Remediate: true,
		},
		Logger: opts.Logger, Now: opts.Now,
	}
	if models != nil {
		deps.Models = models // a nil *Models would be a non-nil interface
	}
	inv, err := investigate.New(deps)
	if err != nil {
		return nil, fmt.Errorf("app: %w", err)
	}
	return inv, nil
}

// newModels builds the model-driven engines when llm.provider is set: the
// client for the configured server, and each agent that names a model runs
// its tool loop over tools, falling back on its deterministic engine. Nil
// without a provider: every agent then runs its deterministic engine.
func newModels(cfg *config.Config, engines map[string]investigate.Engine, tools investigate.ToolDeps, st store.Store,
	logger *slog.Logger,
) (*investigate.Models, error) {
	l := cfg.LLM
	if !l.Enabled() {
		return nil, nil
	}
	client, err := llm.New(llm.ClientConfig{
		Provider: llm.Provider(l.Provider), BaseURL: l.BaseURL, APIKey: l.APIKey, Timeout: l.Timeout,
		MaxAttempts: l.MaxAttempts, RetryBaseDelay: l.RetryBaseDelay, RetryMaxDelay: l.RetryMaxDelay,
		MaxResponseBytes: l.MaxResponseBytes,
	})
	if err != nil {
		return nil, fmt.Errorf("app: llm: %w", err)
	}
	pricing := llm.Pricing{}
	for name, p := range l.Pricing {
		pricing[name] = llm.Price{InputPerMTok: p.InputPerMTok, OutputPerMTok: p.OutputPerMTok}
	}
	models, err := investigate.NewModels(investigate.ModelOptions{
		Client: client, Engines: engines, Tools: tools, Store: st,
		MaxTokens: l.MaxTokens, Temperature: l.Temperature, MaxToolOutputBytes: l.MaxToolOutputBytes,
		Pricing: pricing, Logger: logger,
	})
	if err != nil {
		return nil, fmt.Errorf("app: %w", err)
	}
	return models, nil
}

// newOwners opens the ownership file and dbt manifest (docs/ownership.md)
// for the owner-notifier; nil, so that it answers from Airflow alone, when
// none is configured. A file that cannot be used never stops medic: each
// problem is logged here, and noted on every owner-notifier result.
func newOwners(ctx context.Context, cfg config.Owners, in *instances, logger *slog.Logger) investigate.Owners {
	if !cfg.Configured() {
		return nil
	}
	r := owners.Open(ctx, owners.Config{
		RulesFile: cfg.File, Manifest: cfg.DbtManifest, ManifestSchema: cfg.DbtManifestSchema,
		ManifestMaxBytes: cfg.ManifestMaxBytes, ManifestValidateMaxBytes: cfg.ManifestValidateMaxBytes,
		ManifestWarnOnly: cfg.ManifestWarnOnly, MaxDownstream: cfg.MaxDownstream, BroadImpact: cfg.BroadImpact,
	})
	log := logger.With("component", "owners")
	for _, n := range r.Notes() {
		log.WarnContext(ctx, "ownership data degraded", "kind", string(n.Kind), "note", n.Message)
	}
	return investigate.NewResolverOwners(r, in)
}

// newConnectors builds one profiler connector per configured warehouse. It
// connects to none: a warehouse that is down shows in the first profile.
func newConnectors(cfg config.Warehouse, opts Options) ([]*postgres.Connector, error) {
	var out []*postgres.Connector
	for _, w := range cfg.List() {
		c, err := postgres.New(postgres.Options{
			Name: w.Name, URL: w.URL.Reveal(), ConnectTimeout: w.ConnectTimeout, StatementTimeout: w.StatementTimeout,
			LockTimeout: w.LockTimeout, ProfileTimeout: w.ProfileTimeout, MaxRows: w.MaxRows, MaxConns: int32(min(w.MaxConns, config.MaxWarehouseConns)),
			LongRunning: w.LongRunning, Logger: opts.Logger,
		})
		if err != nil {
			for _, done := range out {
				done.Close()
			}
			return nil, fmt.Errorf("app: warehouse.connections %s: %w", w.Name, err)
		}
		out = append(out, c)
	}
	return out, nil
}

// resume settles investigations whose jobs are gone; live jobs resume the
// rest themselves. A failure is logged: it must not keep medic from
// serving.
func (a *App) resume(ctx context.Context) {
	rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	n, err := a.investigator.Resume(rctx)
	if err != nil {
		a.log.WarnContext(ctx, "some investigations could not be resumed", "component", "investigate", "error", err)
	}
	if n > 0 {
		a.log.InfoContext(ctx, "investigations settled at start", "component", "investigate", "sessions", n)
	}
}

// Investigator exposes the investigation, for tests.
func (a *App) Investigator() *investigate.Investigator { return a.investigator }
