// Package postgres is the query profiler's PostgreSQL connector. It reads
// pg_stat_activity, pg_locks with pg_blocking_pids, pg_stat_user_tables and,
// when installed, pg_stat_statements, to describe what a failed task's
// tables and queries were doing and waiting for.
//
// It must never write or signal. Every query passes sqlguard, then runs in a
// READ ONLY transaction with SET LOCAL statement_timeout, lock_timeout and
// search_path = pg_catalog, over the extended protocol (one statement per
// message), and at most MaxRows rows are read. Connect it as the documented
// low-privilege role (docs/warehouse.md): membership of pg_read_all_stats
// and nothing else, so even a query that got past the guard could neither
// write nor terminate a backend.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/medic-sh/medic/internal/warehouse"
)

// Defaults for Options.
const (
	DefaultName             = "postgres"
	DefaultConnectTimeout   = 3 * time.Second
	DefaultStatementTimeout = 2 * time.Second
	DefaultLockTimeout      = 500 * time.Millisecond
	DefaultProfileTimeout   = 15 * time.Second
	DefaultMaxRows          = 200
	DefaultMaxConns         = 2
	DefaultLongRunning      = time.Minute
)

// Options configure a Connector. URL is required; every other zero field
// takes its default.
type Options struct {
	// Name identifies the warehouse in findings.
	Name string
	// URL is a libpq connection string or postgres:// URL for the
	// low-privilege profiler role. It is a secret: it is never logged.
	URL string
	// ConnectTimeout bounds establishing one connection.
	ConnectTimeout time.Duration
	// StatementTimeout and LockTimeout are set (SET LOCAL) for every query.
	StatementTimeout time.Duration
	LockTimeout      time.Duration
	// ProfileTimeout bounds one Profile call as a whole.
	ProfileTimeout time.Duration
	// MaxRows caps the rows read per query.
	MaxRows int
	// MaxConns caps the pool: the profiler must stay a light load on a
	// warehouse that may already be struggling.
	MaxConns int32
	// LongRunning is the age from which a query or open transaction is
	// reported as long-running.
	LongRunning time.Duration
	// MaxText caps each query text in a profile (warehouse.MaxText if 0).
	MaxText int
	Logger  *slog.Logger
}

func (o *Options) setDefaults() {
	if o.Name == "" {
		o.Name = DefaultName
	}
	if o.ConnectTimeout <= 0 {
		o.ConnectTimeout = DefaultConnectTimeout
	}
	if o.StatementTimeout <= 0 {
		o.StatementTimeout = DefaultStatementTimeout
	}
	if o.LockTimeout <= 0 {
		o.LockTimeout = DefaultLockTimeout
	}
	if o.ProfileTimeout <= 0 {
		o.ProfileTimeout = DefaultProfileTimeout
	}
	if o.MaxRows <= 0 {
		o.MaxRows = DefaultMaxRows
	}
	if o.MaxConns <= 0 {
		o.MaxConns = DefaultMaxConns
	}
	if o.LongRunning <= 0 {
		o.LongRunning = DefaultLongRunning
	}
	if o.MaxText <= 0 {
		o.MaxText = warehouse.MaxText
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}

// Connector profiles one PostgreSQL database. It is safe for concurrent use.
type Connector struct {
	opts   Options
	pool   *pgxpool.Pool
	logger *slog.Logger
}

var (
	_ warehouse.Connector = (*Connector)(nil)
	_ warehouse.Querier   = (*Connector)(nil)
)

// ErrNoURL is returned by New when Options.URL is empty.
var ErrNoURL = errors.New("postgres warehouse: no connection URL (set the profiler role's URL)")

// New builds a Connector. It does not connect: a warehouse that is down
// shows up in the first Profile as an unavailable error, not here.
func New(opts Options) (*Connector, error) {
	opts.setDefaults()
	if opts.URL == "" {
		return nil, ErrNoURL
	}
	cfg, err := pgxpool.ParseConfig(opts.URL)
	if err != nil {
		// pgx removes the password from parse errors; Clean catches the rest.
		return nil, fmt.Errorf("postgres warehouse %s: parse connection URL: %s", opts.Name, warehouse.Clean(err.Error(), 300))
	}
	cfg.MaxConns = opts.MaxConns
	cfg.MinConns = 0
	cfg.MaxConnIdleTime = time.Minute
	cfg.MaxConnLifetime = 30 * time.Minute
	cfg.HealthCheckPeriod = 30 * time.Second
	cc := cfg.ConnConfig
	cc.ConnectTimeout = opts.ConnectTimeout
	// Extended protocol, unnamed statements: the server itself refuses a
	// second statement in one message, and nothing is cached per connection.
	cc.DefaultQueryExecMode = pgx.QueryExecModeDescribeExec
	if cc.RuntimeParams == nil {
		cc.RuntimeParams = map[string]string{}
	}
	cc.RuntimeParams["application_name"] = "medic-profiler"
	cc.RuntimeParams["default_transaction_read_only"] = "on"
	// The guard parses with standard_conforming_strings on; the server must
	// read string literals the same way.
	cc.RuntimeParams["standard_conforming_strings"] = "on"
	cc.RuntimeParams["search_path"] = "pg_catalog"
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres warehouse %s: %s", opts.Name, warehouse.Clean(err.Error(), 300))
	}
	return &Connector{
		opts:   opts,
		pool:   pool,
		logger: opts.Logger.With("component", "warehouse", "warehouse", opts.Name),
	}, nil
}

// Name returns the configured name.
func (c *Connector) Name() string { return c.opts.Name }

// Kind returns warehouse.KindPostgres.
func (c *Connector) Kind() warehouse.Kind { return warehouse.KindPostgres }

// Close closes the pool's connections. It is safe to call more than once.
func (c *Connector) Close() { c.pool.Close() }
