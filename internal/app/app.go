// Package app wires medic together: configuration in, a running daemon out.
// New builds every part from the configuration, Start starts them, Stop stops
// them in reverse order. It is the only package that knows every other one;
// nothing here holds domain logic.
package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/riverqueue/river"

	"github.com/medic-sh/medic/internal/act"
	"github.com/medic-sh/medic/internal/config"
	"github.com/medic-sh/medic/internal/httpapi"
	"github.com/medic-sh/medic/internal/incident"
	"github.com/medic-sh/medic/internal/ingest"
	"github.com/medic-sh/medic/internal/ingest/slackalert"
	"github.com/medic-sh/medic/internal/investigate"
	"github.com/medic-sh/medic/internal/logscan"
	"github.com/medic-sh/medic/internal/logscan/template"
	"github.com/medic-sh/medic/internal/memory"
	"github.com/medic-sh/medic/internal/notify"
	"github.com/medic-sh/medic/internal/notify/console"
	"github.com/medic-sh/medic/internal/notify/slack"
	"github.com/medic-sh/medic/internal/notify/webhook"
	"github.com/medic-sh/medic/internal/store"
	"github.com/medic-sh/medic/internal/store/sqlite"
	"github.com/medic-sh/medic/internal/triage"
)

// Options are what the caller provides besides the configuration.
type Options struct {
	Config *config.Config
	Logger *slog.Logger
	// Stdout receives console reports.
	Stdout io.Writer
	// Listener, when set, is used instead of listening on Config.Server.Addr
	// (tests and the demo bind port 0 first).
	Listener net.Listener
	// HTTPClient is used for Airflow calls; nil means a default client.
	HTTPClient *http.Client
	Version    string
	Now        func() time.Time
}

// App is a wired medic daemon.
type App struct {
	cfg       *config.Config
	log       *slog.Logger
	store     *sqlite.Store
	ingest    *ingest.Service
	templates *minerKeeper
	memory    *memory.Keeper
	memSync   *memorySync
	instances *instances
	// investigator runs the commander, the specialists and the composer.
	investigator *investigate.Investigator
	pollers      []*ingest.Poller
	slackAlerts  *slackalert.Watcher
	// remediator decides, proposes and runs actions; MCP's requests for
	// approval go through it too.
	remediator *act.Remediator
	server     *http.Server
	listener   net.Listener

	mu      sync.Mutex
	cleanup []func(ctx context.Context) error
	stopped bool
}

// groupWindow is how long after it opened an incident keeps collecting the
// failures of its DAG run; later failures open a new incident.
const groupWindow = 24 * time.Hour

// New builds the daemon without starting anything.
func New(ctx context.Context, opts Options) (*App, error) {
	cfg := opts.Config
	if cfg == nil {
		return nil, errors.New("app: no configuration")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Stdout == nil {
		opts.Stdout = io.Discard
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	a := &App{cfg: cfg, log: opts.Logger}
	if err := checkListen(cfg, opts.Listener); err != nil {
		return nil, err
	}

	// Operator rules join the built-in ones in the process-wide redactor that
	// every sink's text passes through before it is stored or shown.
	redactor, err := logscan.NewRedactor(cfg.Logscan.Redact.RedactRules())
	if err != nil {
		return nil, fmt.Errorf("app: logscan.redact.rules: %w", err)
	}
	logscan.SetDefault(redactor)

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	a.instances, err = newInstances(cfg.Airflow.Instances, opts.HTTPClient, opts.Logger)
	if err != nil {
		return nil, err
	}

	workers := river.NewWorkers()
	path, err := SQLitePath(cfg.Database.URL)
	if err != nil {
		return nil, err
	}
	a.store, err = sqlite.Open(ctx, sqlite.Options{
		Path: path, Logger: opts.Logger, Now: opts.Now, Workers: workers,
		Jobs: sqlite.JobOptions{
			MaxWorkers: cfg.Jobs.Workers, JobTimeout: cfg.Jobs.JobTimeout,
			RescueAfter: cfg.Jobs.RescueAfter, MaxAttempts: cfg.Jobs.MaxAttempts, PollInterval: cfg.Jobs.PollInterval,
		},
	})
	if err != nil {
		return nil, err
	}
	a.onStop(func(context.Context) error { return a.store.Close() })

	a.templates, err = newMinerKeeper(ctx, a.store, 30*time.Second, opts.Logger)
	if err != nil {
		_ = a.Stop(ctx)
		return nil, fmt.Errorf("app: %w", err)
	}
	a.memory, err = newMemoryKeeper(ctx, cfg.Memory, a.store, opts.Logger, opts.Now)
	if err != nil {
		_ = a.Stop(ctx)
		return nil, err
	}
	a.memSync = &memorySync{keeper: a.memory, every: cfg.Memory.SyncInterval}
	a.ingest = ingest.NewService(a.store, groupWindow, opts.Logger, reg, ingest.WithCoalesce(cfg.Ingest.Coalesce))
	runner := triage.NewRunner(a.store, a.instances, a.ingest, triage.Options{
		FrequencyLookback: cfg.Triage.FrequencyLookback, RecurringThreshold: cfg.Triage.RecurringThreshold,
		LogTailLines: cfg.Triage.LogTailLines, LogMaxBytes: cfg.Triage.LogMaxBytes, StepTimeout: cfg.Triage.StepTimeout,
		Miner: a.templates.miner, Memory: a.memory, SimilarK: cfg.Memory.TopK,
		Recall: memory.RecallOptions{MinSimilarity: float32(cfg.Memory.MinSimilarity), MinTrust: cfg.Memory.MinTrust},
	}, opts.Logger, opts.Now)
	if a.investigator, err = newInvestigator(ctx, cfg, a.store, runner, a.instances, a.memory, opts, reg, a.onStop); err != nil {
		_ = a.Stop(ctx)
		return nil, err
	}
	investigate.AddWorkers(workers, a.investigator)
	if err := a.addRemediation(cfg, workers, opts); err != nil {
		_ = a.Stop(ctx)
		return nil, err
	}
	var notifiers []notify.Notifier
	if cfg.Notify.Console.Enabled {
		notifiers = append(notifiers, console.New(opts.Stdout))
	}
	for _, h := range cfg.Notify.Webhooks {
		var secret []byte
		if h.Secret.IsSet() {
			secret = []byte(h.Secret.Reveal())
		}
		notifiers = append(notifiers, webhook.New(webhook.Config{Name: h.Name, URL: h.URL, Secret: secret, Timeout: h.Timeout, Client: opts.HTTPClient}))
	}
	if s := cfg.Notify.Slack; s.Enabled {
		uis := map[string]string{}
		for _, inst := range cfg.Airflow.Instances {
			uis[inst.Name] = strings.TrimSuffix(inst.URL, "/")
		}
		routes := make([]slack.Route, 0, len(s.Routes))
		for _, r := range s.Routes {
			routes = append(routes, slack.Route{Owner: r.Owner, Tier: r.Tier, DAG: r.DAG, MinSeverity: incident.Severity(r.MinSeverity), Channel: r.Channel})
		}
		notifiers = append(notifiers, slack.New(slack.Config{
			Token: s.Token.Reveal(), APIURL: s.APIURL, Channel: s.Channel, Mentions: s.Mentions,
			Routes: routes, MinSeverity: incident.Severity(s.MinSeverity),
			AirflowURL: func(instance string) string { return uis[instance] }, HTTPClient: opts.HTTPClient,
		}, a.store, opts.Logger))
	}
	slackAlerts, alertThreads, err := newSlackAlerts(cfg, a.ingest, a.store, a.instances, reg, opts)
	if err != nil {
		_ = a.Stop(ctx)
		return nil, err
	}
	a.slackAlerts = slackAlerts
	if alertThreads != nil {
		notifiers = append(notifiers, alertThreads)
	}
	river.AddWorker(workers, &notify.Worker{Store: a.store, Notifiers: notifiers, BaseURL: cfg.Server.PublicURL, Logger: opts.Logger, Now: opts.Now})

	for _, inst := range cfg.Airflow.Instances {
		if !inst.Poll.Enabled {
			continue
		}
		c, _ := a.instances.client(inst.Name)
		a.pollers = append(a.pollers, ingest.NewPoller(c, a.ingest, a.store, ingest.PollerOptions{
			Instance: inst.Name, Interval: inst.Poll.Interval, Lookback: inst.Poll.Lookback, Logger: opts.Logger, Now: opts.Now,
		}))
	}

	reg.MustRegister(ingest.NewPollerCollector(a.pollers))

	// Closed when the server starts shutting down, so open event streams
	// end (clients resume with Last-Event-ID) instead of holding up a
	// graceful stop until its timeout.
	closing := make(chan struct{})
	handler, err := httpapi.New(httpapi.Deps{
		Streams: httpapi.StreamOptions{Closing: closing},
		Store:   a.store, Events: a.ingest, Triage: a.ingest, Memory: a.memory, Tokens: cfg.Auth.Tokens,
		WebhookSecret: cfg.Ingest.Webhook.Secret, MaxBodyBytes: cfg.Ingest.Webhook.MaxBodyBytes,
		DefaultInstance: a.instances.defaultName(), Instances: a.instances.names(),
		Logger: opts.Logger, Registry: reg, Ready: a.ready, Now: opts.Now, Version: opts.Version,
		Environment: cfg.Environment,
		Slack:       httpapi.SlackInteractions{SigningSecret: cfg.Notify.Slack.SigningSecret, Approvers: cfg.Notify.Slack.Approvers},
		Sources:     a.sources,
	})
	if err != nil {
		_ = a.Stop(ctx)
		return nil, fmt.Errorf("app: http api: %w", err)
	}
	mcpHandler, mcpSrv, err := a.mcpHandler(cfg, opts)
	if err != nil {
		_ = a.Stop(ctx)
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("/mcp", mcpHandler)
	mux.Handle("/", handler)
	a.listener = opts.Listener
	a.server = &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(opts.Logger.Handler(), slog.LevelWarn),
	}
	a.server.RegisterOnShutdown(sync.OnceFunc(func() { close(closing); mcpSrv.Close() }))
	return a, nil
}

// SQLitePath maps database.url to a SQLite file path.
func SQLitePath(url string) (string, error) {
	switch {
	case strings.HasPrefix(url, "postgres://"), strings.HasPrefix(url, "postgresql://"):
		return "", errors.New("app: database.url is a PostgreSQL URL, but this build of medic only has the SQLite store; use a file path")
	case strings.HasPrefix(url, "sqlite://"):
		return strings.TrimPrefix(url, "sqlite://"), nil
	case strings.HasPrefix(url, "file:"):
		return strings.TrimPrefix(url, "file:"), nil
	}
	return url, nil
}

// checkListen refuses to serve an unauthenticated API beyond loopback.
func checkListen(cfg *config.Config, ln net.Listener) error {
	if !cfg.LoopbackOnly() {
		return nil
	}
	addr := cfg.Server.Addr
	if ln != nil {
		addr = ln.Addr().String()
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("app: server.addr %q: %w", addr, err)
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("app: no API tokens are configured, so medic only listens on loopback, but server.addr is %q: "+
		"set server.addr to 127.0.0.1:PORT or add auth.tokens", addr)
}

// Start starts the job runner, the pollers and the HTTP server.
func (a *App) Start(ctx context.Context) error {
	a.instances.detect(ctx, a.log)
	if err := a.store.StartJobs(ctx); err != nil {
		return err
	}
	a.templates.start(ctx)
	a.onStop(a.templates.stop) // after the workers stop: their last lines are saved too
	a.memSync.start(ctx)
	a.onStop(a.memSync.stop)
	a.onStop(a.store.StopJobs)
	a.resume(ctx)
	for _, p := range a.pollers {
		if err := p.Start(ctx); err != nil {
			return err
		}
		a.onStop(func(context.Context) error { p.Stop(); return nil })
	}
	if a.slackAlerts != nil {
		if err := a.slackAlerts.Start(ctx); err != nil {
			return err
		}
		a.onStop(func(context.Context) error { a.slackAlerts.Stop(); return nil })
	}
	if a.listener == nil {
		var lc net.ListenConfig
		ln, err := lc.Listen(ctx, "tcp", a.cfg.Server.Addr)
		if err != nil {
			return fmt.Errorf("app: listen on %s: %w", a.cfg.Server.Addr, err)
		}
		a.listener = ln
	}
	go func() {
		if err := a.server.Serve(a.listener); err != nil && !errors.Is(err, http.ErrServerClosed) {
			a.log.ErrorContext(ctx, "http server stopped", "error", err)
		}
	}()
	a.onStop(a.server.Shutdown)
	if a.cfg.LoopbackOnly() {
		a.log.InfoContext(ctx, "no API tokens configured: the API accepts unauthenticated requests from this machine only", "addr", a.Addr())
	}
	a.log.InfoContext(ctx, "medic is serving", "addr", a.Addr(), "airflow_instances", a.instances.names())
	return nil
}

// Addr is the address the API listens on, once started.
func (a *App) Addr() string {
	if a.listener == nil {
		return a.cfg.Server.Addr
	}
	return a.listener.Addr().String()
}

// Store exposes the store, for the demo's summary and for tests.
func (a *App) Store() store.Store { return a.store }

// Ingest exposes the ingest service (medic triage in-process, tests).
func (a *App) Ingest() *ingest.Service { return a.ingest }

// Pollers exposes the pollers, for tests that poll on demand.
func (a *App) Pollers() []*ingest.Poller { return a.pollers }

// Stop stops everything in reverse order of starting. It is idempotent.
func (a *App) Stop(ctx context.Context) error {
	a.mu.Lock()
	if a.stopped {
		a.mu.Unlock()
		return nil
	}
	a.stopped = true
	fns := a.cleanup
	a.cleanup = nil
	a.mu.Unlock()
	var errs []error
	for i := len(fns) - 1; i >= 0; i-- {
		if err := fns[i](ctx); err != nil && !errors.Is(err, context.Canceled) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (a *App) onStop(fn func(ctx context.Context) error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.cleanup = append(a.cleanup, fn)
}

func (a *App) ready(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	return a.store.Ping(ctx)
}

// Memory exposes the failure memory, for tests and in-process callers.
func (a *App) Memory() *memory.Keeper { return a.memory }

// Templates exposes the task-log template miner, for tests.
func (a *App) Templates() *template.Miner { return a.templates.miner }
