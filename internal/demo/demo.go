// Package demo runs medic end to end on the embedded defaults: a built-in
// Airflow stand-in plays a scripted stream of realistic failures, its
// callbacks reach medic's real webhook over HTTP, the poller catches the
// failures no callback reported, and medic triages and reports each
// incident. It uses no external service and only the demo's own database
// file; it must never touch a real Airflow.
package demo

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/medic-sh/medic/internal/airflow/airflowsim"
	"github.com/medic-sh/medic/internal/app"
	"github.com/medic-sh/medic/internal/config"
)

// Options configures a demo run.
type Options struct {
	// Addr is where medic's API listens.
	Addr string
	// Once plays the whole scenario as fast as it can, waits for every
	// incident to be triaged, prints the summary and returns.
	Once bool
	// DatabasePath is the demo's SQLite file; it is recreated on each run.
	DatabasePath string
	// Pace is the pause between scripted runs in interactive mode.
	Pace time.Duration
	// Deadline bounds how long Once waits for triage to finish.
	Deadline time.Duration
	// Reports receives the console notifier's incident reports.
	Reports io.Writer
	// Status receives progress lines for a person.
	Status  io.Writer
	Logger  *slog.Logger
	Version string
}

// Run plays the demo. In Once mode it returns the summary; otherwise it
// keeps serving after the scenario until ctx is done, and returns nil, nil:
// in interactive mode cancelling ctx (Ctrl-C) is the normal way to stop, at
// any point.
func Run(ctx context.Context, opts Options) (*Result, error) {
	res, err := run(ctx, opts)
	if err != nil && !opts.Once && ctx.Err() != nil && errors.Is(err, context.Canceled) {
		return nil, nil
	}
	return res, err
}

func run(ctx context.Context, opts Options) (*Result, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Reports == nil {
		opts.Reports = io.Discard
	}
	if opts.Status == nil {
		opts.Status = io.Discard
	}
	if opts.Deadline == 0 {
		opts.Deadline = 60 * time.Second
	}
	if err := recreateDatabase(opts.DatabasePath); err != nil {
		return nil, err
	}

	password := randomHex(12)
	sim := airflowsim.New(airflowsim.Options{Version: 3, Username: "medic", Password: password, Logger: opts.Logger})
	scenario := airflowsim.Demo()
	if err := sim.Load(scenario); err != nil {
		return nil, fmt.Errorf("demo: load scenario: %w", err)
	}
	var lc net.ListenConfig
	simLn, err := lc.Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("demo: listen for the Airflow stand-in: %w", err)
	}
	simSrv := &http.Server{Handler: sim, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = simSrv.Serve(simLn) }()
	defer func() { _ = simSrv.Close() }()

	secret := randomHex(32)
	cfg := demoConfig(opts, "http://"+simLn.Addr().String(), password, secret)
	ln, err := lc.Listen(ctx, "tcp", cfg.Server.Addr)
	if err != nil {
		return nil, fmt.Errorf("demo: listen on %s: %w (pass --addr 127.0.0.1:0 for any free port)", cfg.Server.Addr, err)
	}
	cfg.Server.PublicURL = "http://" + ln.Addr().String()
	a, err := app.New(ctx, app.Options{Config: cfg, Logger: opts.Logger, Stdout: opts.Reports, Listener: ln, Version: opts.Version})
	if err != nil {
		_ = ln.Close()
		return nil, err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
		defer cancel()
		_ = a.Stop(sctx)
	}()
	if err := a.Start(ctx); err != nil {
		return nil, err
	}
	fmt.Fprintf(opts.Status, "medic demo: API on %s (try %s/api/v1/incidents), MCP on %s/mcp\n", cfg.Server.PublicURL, cfg.Server.PublicURL, cfg.Server.PublicURL)
	fmt.Fprintf(opts.Status, "medic demo: Airflow 3 stand-in on http://%s, database %s\n", simLn.Addr(), opts.DatabasePath)

	cb := newCallbackSender(cfg.Server.PublicURL+"/api/v1/events", []byte(secret), opts.Logger)
	sim.OnTaskFailed(cb.send)

	p := &player{sim: sim, status: opts.Status}
	if err := p.play(ctx, scenario, opts); err != nil {
		return nil, err
	}
	cb.wait()
	if !opts.Once {
		fmt.Fprintf(opts.Status, "medic demo: scenario played; medic keeps serving on %s until Ctrl-C\n", cfg.Server.PublicURL)
		fmt.Fprintf(opts.Status, "medic demo: proposals wait for you: MEDIC_SERVER=%s medic approvals list, then medic approve ID to run one on the stand-in\n",
			cfg.Server.PublicURL)
		<-ctx.Done()
		return nil, nil
	}
	wctx, cancel := context.WithTimeout(ctx, opts.Deadline)
	defer cancel()
	res, err := waitForTriage(wctx, a.Store(), p.failedRuns)
	if err != nil {
		return res, err
	}
	res.Callbacks, res.CallbackErrors = cb.counts()
	res.ScriptedRuns = len(scenario.Steps)
	return res, nil
}

func demoConfig(opts Options, simURL, password, secret string) *config.Config {
	cfg := config.Default()
	cfg.Database.URL = opts.DatabasePath
	cfg.Server.Addr = opts.Addr
	cfg.Log.Level = "warn"
	cfg.Ingest.Webhook.Secret = config.NewSecret(secret)
	inst := config.DefaultAirflowInstance()
	inst.Name = "demo"
	inst.URL = simURL
	inst.Version = "3"
	inst.Username, inst.Password = "medic", config.NewSecret(password)
	inst.Poll.Interval = time.Second
	// The stand-in is in-process: no need to protect it like a real Airflow.
	inst.RateLimit, inst.Burst, inst.MaxConcurrency = 500, 100, 16
	cfg.Airflow.Instances = []config.AirflowInstance{inst}
	// The demo plays days of runs in seconds: coalescing would read a
	// failure that recurs on a later day as part of the same storm.
	cfg.Ingest.Coalesce.Enabled = false
	// Every demo DAG may be remediated, and every action needs a person:
	// the demo shows proposals with their dry runs, and `medic approve`
	// runs one against the stand-in.
	cfg.Remediate.Allow = []string{"*"}
	cfg.Remediate.Autonomy = []config.AutonomyRule{{DAG: "*", Class: "*", Level: config.AutonomyApprove}}
	cfg.Remediate.Verify.PollInterval = time.Second
	return cfg
}

// DefaultDatabase is the demo's database file name in the working directory.
const DefaultDatabase = "medic-demo.db"

// recreateDatabase deletes the previous demo database so every run starts
// from the same state. It only ever deletes a database an earlier demo made
// (named medic-demo.db, or marked by a "<db>.demo" file beside it) and that no medic is using, so a
// MEDIC_DATABASE_URL left pointing at a real database is never wiped.
func recreateDatabase(url string) error {
	path, err := app.SQLitePath(url)
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	marker := path + ".demo"
	if _, err := os.Stat(path); err == nil {
		if _, err := os.Stat(marker); err != nil && filepath.Base(path) != DefaultDatabase {
			return fmt.Errorf("demo: %s exists and was not made by medic demo, so the demo will not delete it: "+
				"point MEDIC_DATABASE_URL at a new file (or unset it to use medic-demo.db)", path)
		}
		if err := checkUnlocked(path + ".lock"); err != nil {
			return err
		}
	}
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("demo: remove previous demo database %s: %w", p, err)
		}
	}
	if err := os.WriteFile(marker, []byte("created by medic demo; the demo recreates this database on each run\n"), 0o600); err != nil {
		return fmt.Errorf("demo: mark %s as a demo database: %w", path, err)
	}
	return nil
}

// checkUnlocked fails when a running medic holds the database's lock.
func checkUnlocked(lockPath string) error {
	f, err := os.OpenFile(lockPath, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return fmt.Errorf("demo: open %s: %w", lockPath, err)
	}
	defer func() { _ = f.Close() }()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		return fmt.Errorf("demo: another medic is using %s: stop it first", strings.TrimSuffix(lockPath, ".lock"))
	}
	return syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// player plays the scenario's runs on the stand-in.
type player struct {
	sim    *airflowsim.Server
	status io.Writer

	mu         sync.Mutex
	failedRuns int
}

func (p *player) play(ctx context.Context, sc airflowsim.Scenario, opts Options) error {
	start := time.Now()
	for i, step := range sc.Steps {
		if !opts.Once {
			pace := opts.Pace
			if pace == 0 {
				pace = 2 * time.Second
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(time.Until(start.Add(time.Duration(i) * pace))):
			}
		}
		run, err := p.sim.StartRun(step.DagID, step.RunID, step.LogicalDate, step.Outcomes)
		if err != nil {
			return fmt.Errorf("demo: play %s/%s: %w", step.DagID, step.RunID, err)
		}
		if run.State == airflowsim.StateFailed {
			p.mu.Lock()
			p.failedRuns++
			p.mu.Unlock()
		}
		fmt.Fprintf(p.status, "medic demo: airflow ran %s %s → %s\n", step.DagID, step.RunID, run.State)
	}
	return nil
}
