// Package sqlite is the embedded Store: one SQLite file in WAL mode, with a
// single writer connection (SQLite allows one writer at a time, and River's
// SQLite driver wants it so) and a pool of read-only connections. Durable jobs
// run on River over the same file, so a job is enqueued in the transaction of
// the state change that causes it.
//
// A SQLite database belongs to one process at a time: Open takes an exclusive
// lock on a file beside the database and fails fast if another medic holds it.
// The package must never be used for several replicas; that is PostgreSQL's
// job.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/google/uuid"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"

	"github.com/medic-sh/medic/internal/store"

	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver
)

// Options configures Open.
type Options struct {
	// Path is the database file. It is created with its directory if missing.
	Path   string
	Logger *slog.Logger
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Workers, when set, makes this store run jobs (a daemon). Without it the
	// store only enqueues (a CLI or a test).
	Workers *river.Workers
	Jobs    JobOptions
	// ReadOnly opens without the process lock and without running jobs, for
	// inspection while a daemon runs.
	ReadOnly bool
}

// JobOptions tunes the job runner.
type JobOptions struct {
	MaxWorkers  int
	JobTimeout  time.Duration
	RescueAfter time.Duration
	MaxAttempts int
	// PollInterval is how often idle workers look for new jobs.
	PollInterval time.Duration
}

// Store implements store.Store on SQLite.
type Store struct {
	writer *sql.DB
	reader *sql.DB
	jobs   *river.Client[*sql.Tx]
	log    *slog.Logger
	now    func() time.Time
	lock   *os.File

	stopOnce sync.Once
}

var _ store.Store = (*Store)(nil)

// Open opens (creating and migrating as needed) the database at opts.Path.
func Open(ctx context.Context, opts Options) (*Store, error) {
	if opts.Path == "" {
		return nil, errors.New("sqlite: database path is empty")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Store{log: opts.Logger.With("component", "store"), now: opts.Now}
	if dir := filepath.Dir(opts.Path); dir != "" {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return nil, fmt.Errorf("sqlite: create directory for %s: %w", opts.Path, err)
		}
	}
	if !opts.ReadOnly {
		lock, err := lockFile(opts.Path + ".lock")
		if err != nil {
			return nil, err
		}
		s.lock = lock
	}
	var err error
	s.writer, err = sql.Open("sqlite", dsn(opts.Path, false))
	if err != nil {
		_ = s.closeAll()
		return nil, fmt.Errorf("sqlite: open %s: %w", opts.Path, err)
	}
	s.writer.SetMaxOpenConns(1)
	s.writer.SetConnMaxIdleTime(0)
	s.reader, err = sql.Open("sqlite", dsn(opts.Path, true))
	if err != nil {
		_ = s.closeAll()
		return nil, fmt.Errorf("sqlite: open readers for %s: %w", opts.Path, err)
	}
	s.reader.SetMaxOpenConns(4)

	if !opts.ReadOnly {
		if err := s.migrate(ctx); err != nil {
			_ = s.closeAll()
			return nil, err
		}
	}
	if err := s.newJobClient(opts); err != nil {
		_ = s.closeAll()
		return nil, err
	}
	return s, nil
}

func dsn(path string, readOnly bool) string {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "synchronous(NORMAL)")
	if readOnly {
		q.Add("_pragma", "query_only(1)")
	} else {
		q.Set("_txlock", "immediate")
	}
	return "file:" + path + "?" + q.Encode()
}

// lockFile takes an exclusive, non-blocking lock that the kernel releases when
// the process dies, so a crashed medic never leaves the database locked.
func lockFile(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("sqlite: open lock file %s: %w", path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("sqlite: database %s is in use by another medic process (lock %s): stop it, or point MEDIC_DATABASE_URL elsewhere: %w",
			strings.TrimSuffix(path, ".lock"), path, err)
	}
	return f, nil
}

func (s *Store) newJobClient(opts Options) error {
	cfg := &river.Config{
		Logger:            opts.Logger.With("component", "jobs"),
		PollOnly:          true, // SQLite has no LISTEN/NOTIFY
		FetchPollInterval: opts.Jobs.PollInterval,
		FetchCooldown:     10 * time.Millisecond,
		JobTimeout:        opts.Jobs.JobTimeout,
		MaxAttempts:       opts.Jobs.MaxAttempts,
	}
	if cfg.FetchPollInterval == 0 {
		cfg.FetchPollInterval = 50 * time.Millisecond
	}
	if cfg.FetchCooldown > cfg.FetchPollInterval {
		cfg.FetchCooldown = cfg.FetchPollInterval
	}
	if opts.Jobs.RescueAfter > 0 {
		cfg.RescueStuckJobsAfter = opts.Jobs.RescueAfter
	}
	if opts.Workers != nil && !opts.ReadOnly {
		cfg.Workers = opts.Workers
		cfg.Queues = map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: max(1, opts.Jobs.MaxWorkers)}}
	}
	client, err := river.NewClient(riversqlite.New(s.writer), cfg)
	if err != nil {
		return fmt.Errorf("sqlite: create job client: %w", err)
	}
	s.jobs = client
	return nil
}

// StartJobs starts working jobs. Jobs that were running when a previous medic
// process died are made available again first: the process lock proves their
// worker is gone.
func (s *Store) StartJobs(ctx context.Context) error {
	res, err := s.writer.ExecContext(ctx,
		`UPDATE river_job SET state = 'available', scheduled_at = datetime('now', 'subsec') WHERE state = 'running'`)
	if err != nil {
		return fmt.Errorf("sqlite: recover orphaned jobs: %w", err)
	}
	if n, _ := res.RowsAffected(); n > 0 {
		s.log.InfoContext(ctx, "resuming jobs left running by a stopped process", "jobs", n)
	}
	if err := s.jobs.Start(ctx); err != nil {
		return fmt.Errorf("sqlite: start jobs: %w", err)
	}
	return nil
}

// StopJobs stops working jobs, waiting for running ones until ctx is done and
// then cancelling them. It is safe to call when jobs never started.
func (s *Store) StopJobs(ctx context.Context) error {
	var err error
	s.stopOnce.Do(func() {
		err = s.jobs.Stop(ctx)
		if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
			cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			err = s.jobs.StopAndCancel(cctx)
		}
		if err != nil && strings.Contains(err.Error(), "not started") {
			err = nil
		}
	})
	return err
}

// Jobs exposes the job client, for workers that enqueue follow-up work.
func (s *Store) Jobs() *river.Client[*sql.Tx] { return s.jobs }

// Ping implements store.Store.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.reader.PingContext(ctx); err != nil {
		return fmt.Errorf("sqlite: ping: %w", err)
	}
	return nil
}

// Close implements store.Store. Stop jobs first.
func (s *Store) Close() error {
	return s.closeAll()
}

func (s *Store) closeAll() error {
	var errs []error
	if s.reader != nil {
		errs = append(errs, s.reader.Close())
	}
	if s.writer != nil {
		errs = append(errs, s.writer.Close())
	}
	if s.lock != nil {
		errs = append(errs, s.lock.Close())
		s.lock = nil
	}
	return errors.Join(errs...)
}

func (s *Store) migrate(ctx context.Context) error {
	if err := applyMigrations(ctx, s.writer); err != nil {
		return err
	}
	if err := s.chainAudit(ctx); err != nil {
		return err
	}
	m, err := rivermigrate.New(riversqlite.New(s.writer), nil)
	if err != nil {
		return fmt.Errorf("sqlite: job migrations: %w", err)
	}
	if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return fmt.Errorf("sqlite: apply job migrations: %w", err)
	}
	return nil
}

// tx runs fn in a write transaction.
func (s *Store) tx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.writer.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: begin: %w", err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlite: commit: %w", err)
	}
	return nil
}

func newID(prefix string) string {
	id, err := uuid.NewV7()
	if err != nil {
		id = uuid.New()
	}
	return prefix + "_" + strings.ReplaceAll(id.String(), "-", "")
}

// PendingJobs counts jobs of a kind that have not finished, for tests and
// diagnostics.
func (s *Store) PendingJobs(ctx context.Context, kind string) (int, error) {
	var n int
	err := s.reader.QueryRowContext(ctx, `SELECT count(*) FROM river_job WHERE kind = ?
		AND state IN ('available', 'scheduled', 'running', 'retryable', 'pending')`, kind).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count %s jobs: %w", kind, err)
	}
	return n, nil
}
