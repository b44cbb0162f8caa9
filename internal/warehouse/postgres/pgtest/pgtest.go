// Package pgtest gives the warehouse tests a real PostgreSQL server: a
// superuser pool, a uniquely named schema and a uniquely named profiler role
// (created with postgres.RoleSQL), all dropped when the test ends. The
// server comes from $MEDIC_TEST_POSTGRES_URL; when it is unset a test skips
// with a message, except under CI=true, where it fails: CI must never pass
// by silently skipping the warehouse tests.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/medic-sh/medic/internal/warehouse/postgres"
)

// EnvURL names the variable holding a superuser URL of the test server,
// e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable.
const EnvURL = "MEDIC_TEST_POSTGRES_URL"

// URL returns the test server's superuser URL, skipping the test when it is
// not configured (failing it when CI=true).
func URL(tb testing.TB) string {
	tb.Helper()
	u := os.Getenv(EnvURL)
	if u == "" {
		msg := EnvURL + " is not set (e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable)"
		if os.Getenv("CI") == "true" {
			tb.Fatal(msg + "; CI=true requires a PostgreSQL server for the warehouse tests")
		}
		tb.Skip(msg)
	}
	return u
}

// Env is one test's corner of the server.
type Env struct {
	AdminURL string
	Admin    *pgxpool.Pool
	// Schema is created empty and dropped with everything in it.
	Schema string
	// Role is the profiler role, RoleURL the admin URL logged in as it.
	Role    string
	RoleURL string
}

// New prepares an Env; everything is dropped at the end of the test.
func New(tb testing.TB) *Env {
	tb.Helper()
	admin := URL(tb)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	pool, err := pgxpool.New(ctx, admin)
	if err != nil {
		tb.Fatalf("pgtest: connect to %s: %v", EnvURL, err)
	}
	tb.Cleanup(pool.Close)
	if err := pool.Ping(ctx); err != nil {
		tb.Fatalf("pgtest: %s is set but the server does not answer: %v", EnvURL, err)
	}
	e := &Env{AdminURL: admin, Admin: pool, Schema: Name("medic_wh_s"), Role: Name("medic_wh_r")}
	e.RoleURL = e.URLAs(tb, e.Role)
	e.CreateRole(tb, e.Role, postgres.RoleSQL(e.Role)...)
	e.Exec(tb, "CREATE SCHEMA "+pgx.Identifier{e.Schema}.Sanitize())
	tb.Cleanup(func() { e.cleanupExec(tb, "DROP SCHEMA IF EXISTS "+pgx.Identifier{e.Schema}.Sanitize()+" CASCADE") })
	return e
}

// Name returns prefix with a random suffix: unique across concurrent tests
// and runs sharing one server.
func Name(prefix string) string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return prefix + "_" + hex.EncodeToString(b)
}

// Exec runs statements as the superuser, failing the test on error.
func (e *Env) Exec(tb testing.TB, sql string, args ...any) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := e.Admin.Exec(ctx, sql, args...); err != nil {
		tb.Fatalf("pgtest: %s: %v", sql, err)
	}
}

// cleanupExec is Exec for cleanups: it reports instead of stopping others.
func (e *Env) cleanupExec(tb testing.TB, sql string, args ...any) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := e.Admin.Exec(ctx, sql, args...); err != nil {
		tb.Errorf("pgtest cleanup: %s: %v", sql, err)
	}
}

// CreateRole runs the statements creating role and drops it at the end,
// first ending its sessions.
func (e *Env) CreateRole(tb testing.TB, role string, stmts ...string) {
	tb.Helper()
	tb.Cleanup(func() {
		e.cleanupExec(tb, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1", role)
		e.cleanupExec(tb, "DROP ROLE IF EXISTS "+pgx.Identifier{role}.Sanitize())
	})
	for _, s := range stmts {
		e.Exec(tb, s)
	}
}

// URLAs returns the admin URL with the user replaced by role (trust auth).
func (e *Env) URLAs(tb testing.TB, role string) string {
	tb.Helper()
	return WithUser(tb, e.AdminURL, role)
}

// WithUser returns the postgres:// URL raw logged in as role instead.
func WithUser(tb testing.TB, raw, role string) string {
	tb.Helper()
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		tb.Fatalf("pgtest: %s must be a postgres:// URL", EnvURL)
	}
	u.User = url.User(role)
	return u.String()
}

// Conn opens a dedicated connection, closed at the end of the test.
func (e *Env) Conn(tb testing.TB, connURL string) *pgx.Conn {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, connURL)
	if err != nil {
		tb.Fatalf("pgtest: connect: %v", err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = c.Close(ctx)
	})
	return c
}

// Database creates an empty database and returns its superuser URL; it is
// dropped (WITH FORCE) at the end of the test.
func (e *Env) Database(tb testing.TB) string {
	tb.Helper()
	name := Name("medic_wh_db")
	e.Exec(tb, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize())
	tb.Cleanup(func() { e.cleanupExec(tb, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)") })
	u, err := url.Parse(e.AdminURL)
	if err != nil {
		tb.Fatalf("pgtest: parse %s: %v", EnvURL, err)
	}
	u.Path = "/" + name
	return u.String()
}

func listen() (net.Listener, error) {
	var lc net.ListenConfig
	return lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
}

// ClosedURL is a postgres URL on a local port nothing listens on.
func ClosedURL(tb testing.TB) string {
	tb.Helper()
	l, err := listen()
	if err != nil {
		tb.Fatalf("pgtest: listen: %v", err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	_ = l.Close()
	return "postgres://medic@127.0.0.1:" + strconv.Itoa(port) + "/none?sslmode=disable"
}

// BlackholeURL is a postgres URL on a local port that accepts connections
// and never answers: a warehouse that hangs.
func BlackholeURL(tb testing.TB) string {
	tb.Helper()
	l, err := listen()
	if err != nil {
		tb.Fatalf("pgtest: listen: %v", err)
	}
	var (
		mu    sync.Mutex
		conns []net.Conn
		wg    sync.WaitGroup
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	tb.Cleanup(func() {
		_ = l.Close()
		wg.Wait()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			_ = c.Close()
		}
	})
	return "postgres://medic@" + strings.Replace(l.Addr().String(), "[::1]", "127.0.0.1", 1) + "/none?sslmode=disable"
}
