package postgres_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/medic-sh/medic/internal/warehouse"
	"github.com/medic-sh/medic/internal/warehouse/postgres"
	"github.com/medic-sh/medic/internal/warehouse/postgres/pgtest"
	"github.com/medic-sh/medic/internal/warehouse/sqlguard"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type testBundle struct {
	env  *pgtest.Env
	conn *postgres.Connector // connected as env.Role
}

// setup prepares a schema, a profiler role and a connector logged in as it.
func setup(t *testing.T, opts postgres.Options) *testBundle {
	t.Helper()
	env := pgtest.New(t)
	opts.URL = env.RoleURL
	return &testBundle{env: env, conn: newConnector(t, opts)}
}

func newConnector(t *testing.T, opts postgres.Options) *postgres.Connector {
	t.Helper()
	c, err := postgres.New(opts)
	require.NoError(t, err)
	t.Cleanup(c.Close)
	return c
}

func ctxWithin(t *testing.T, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func TestNew(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		opts    postgres.Options
		wantErr error
		errText string
	}{
		{name: "no url", opts: postgres.Options{}, wantErr: postgres.ErrNoURL},
		{name: "bad url", opts: postgres.Options{URL: "postgres://u:hunter2hunter2@host:notaport/db"}, errText: "parse connection URL"},
		{name: "ok, lazy", opts: postgres.Options{URL: "postgres://u@127.0.0.1:1/db", Name: "wh1"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			conn, err := postgres.New(c.opts)
			switch {
			case c.wantErr != nil:
				require.ErrorIs(t, err, c.wantErr)
			case c.errText != "":
				require.ErrorContains(t, err, c.errText)
				require.NotContains(t, err.Error(), "hunter2")
			default:
				require.NoError(t, err)
				defer conn.Close()
				require.Equal(t, c.opts.Name, conn.Name())
				require.Equal(t, warehouse.KindPostgres, conn.Kind())
			}
		})
	}
}

// TestProfileWarehouseDown: a warehouse that refuses or hangs becomes a
// marked, retryable error within the deadline, never a hang.
func TestProfileWarehouseDown(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		url    func(testing.TB) string
		within time.Duration
	}{
		{"closed port", pgtest.ClosedURL, 3 * time.Second},
		{"accepts and never answers", pgtest.BlackholeURL, 3 * time.Second},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			conn := newConnector(t, postgres.Options{URL: c.url(t), ConnectTimeout: 500 * time.Millisecond})
			start := time.Now()
			p, err := conn.Profile(ctxWithin(t, 10*time.Second), warehouse.Target{SQL: "SELECT * FROM s.t"})
			require.Less(t, time.Since(start), c.within)

			var werr *warehouse.Error
			require.ErrorAs(t, err, &werr)
			require.Equal(t, warehouse.ErrorUnavailable, werr.Kind)
			require.True(t, werr.Retryable)
			require.NotNil(t, p)
			require.True(t, p.Partial())
			require.Equal(t, []warehouse.TableName{{Schema: "s", Name: "t"}}, p.Targets)
			require.Len(t, p.Errors, 1)
			require.Equal(t, "server", p.Errors[0].Section)
			require.NotEmpty(t, p.Notes)
			require.Contains(t, p.Summary(), "could not read server (unavailable)")
		})
	}
}

// TestProfileCallerDeadline: the caller's own deadline wins over the
// connector's timeouts.
func TestProfileCallerDeadline(t *testing.T) {
	t.Parallel()
	conn := newConnector(t, postgres.Options{URL: pgtest.BlackholeURL(t), ConnectTimeout: 10 * time.Second})
	start := time.Now()
	p, err := conn.Profile(ctxWithin(t, 300*time.Millisecond), warehouse.Target{})
	require.Less(t, time.Since(start), 2*time.Second)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.NotNil(t, p)
	require.True(t, p.Partial())
}

// TestQueryRejectedIsNeverSent: the guard refuses before any connection is
// tried, so even an unreachable warehouse reports a rejection.
func TestQueryRejectedIsNeverSent(t *testing.T) {
	t.Parallel()
	conn := newConnector(t, postgres.Options{URL: pgtest.ClosedURL(t)})
	cases := []struct {
		name   string
		sql    string
		args   []any
		reason sqlguard.Reason
	}{
		{"terminate", "SELECT pg_terminate_backend(1)", nil, sqlguard.ReasonFunction},
		{"delete", "DELETE FROM t", nil, sqlguard.ReasonNotSelect},
		{"two statements", "SELECT 1; SELECT 2", nil, sqlguard.ReasonMultipleStatements},
		{"cte", "WITH d AS (DELETE FROM t RETURNING 1) SELECT * FROM d", nil, sqlguard.ReasonDataModifyingCTE},
		{"for update", "SELECT * FROM t FOR UPDATE", nil, sqlguard.ReasonLockingClause},
		{"into", "SELECT 1 INTO x", nil, sqlguard.ReasonSelectInto},
		{"rewriter argument", "SELECT @a::int", []any{pgx.NamedArgs{"a": 1}}, sqlguard.ReasonConstruct},
		{"exec mode argument", "SELECT $1::int", []any{pgx.QueryExecModeSimpleProtocol, 1}, sqlguard.ReasonConstruct},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			res, err := conn.Query(ctxWithin(t, 5*time.Second), c.sql, c.args...)
			require.Nil(t, res)
			var werr *warehouse.Error
			require.ErrorAs(t, err, &werr)
			require.Equal(t, warehouse.ErrorRejected, werr.Kind)
			require.False(t, werr.Retryable)
			var rej *sqlguard.RejectError
			require.ErrorAs(t, err, &rej)
			require.Equal(t, c.reason, rej.Reason)
		})
	}
}

func TestQuery(t *testing.T) {
	t.Parallel()
	b := setup(t, postgres.Options{MaxRows: 3})
	cases := []struct {
		name      string
		sql       string
		args      []any
		rows      [][]string
		truncated bool
	}{
		{"values", "SELECT x, x * 2 AS y FROM (VALUES (1), (2)) AS v(x) ORDER BY x", nil, [][]string{{"1", "2"}, {"2", "4"}}, false},
		{"row cap", "SELECT x FROM (VALUES (1), (2), (3), (4), (5)) AS v(x) ORDER BY x;", nil, [][]string{{"1"}, {"2"}, {"3"}}, true},
		{"parameters", "SELECT $1::text || '!' AS s", []any{"hi"}, [][]string{{"hi!"}}, false},
		{"null", "SELECT NULL::text AS n", nil, [][]string{{"NULL"}}, false},
		{"numeric and interval", "SELECT 1.50::numeric AS n, interval '90 seconds' AS i", nil, [][]string{{"1.50", "00:01:30"}}, false},
		{"timestamp", "SELECT '2026-01-02 03:04:05+00'::timestamptz AS t", nil, [][]string{{"2026-01-02T03:04:05Z"}}, false},
		{"secret redacted", "SELECT 'password=hunter2hunter2hunter2' AS s", nil, nil, false},
		{"as the profiler role", "SELECT current_user AS u", nil, [][]string{{b.env.Role}}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			res, err := b.conn.Query(ctxWithin(t, 10*time.Second), c.sql, c.args...)
			require.NoError(t, err)
			require.Equal(t, c.truncated, res.Truncated)
			require.NotEmpty(t, res.Columns)
			if c.rows == nil {
				require.Len(t, res.Rows, 1)
				require.NotContains(t, res.Rows[0][0], "hunter2")
				require.Contains(t, res.Rows[0][0], "[REDACTED")
				return
			}
			require.Equal(t, c.rows, res.Rows)
		})
	}
}

// TestQuerySlowWarehouse: a statement that runs too long and one that
// queues behind a lock both end as marked timeouts within the deadline.
func TestQuerySlowWarehouse(t *testing.T) {
	t.Parallel()
	b := setup(t, postgres.Options{})
	locked := pgx.Identifier{b.env.Schema, "locked"}.Sanitize()
	b.env.Exec(t, "CREATE TABLE "+locked+" (a int)")
	// Only for this test: the profiler role reads a user table, so that a
	// lock can make it wait.
	b.env.Exec(t, "GRANT USAGE ON SCHEMA "+pgx.Identifier{b.env.Schema}.Sanitize()+" TO "+pgx.Identifier{b.env.Role}.Sanitize())
	b.env.Exec(t, "GRANT SELECT ON "+locked+" TO "+pgx.Identifier{b.env.Role}.Sanitize())

	holder := b.env.Conn(t, b.env.AdminURL)
	ctx := ctxWithin(t, 30*time.Second)
	tx, err := holder.Begin(ctx)
	require.NoError(t, err)
	defer func() { require.NoError(t, tx.Rollback(ctx)) }()
	_, err = tx.Exec(ctx, "LOCK TABLE "+locked+" IN ACCESS EXCLUSIVE MODE")
	require.NoError(t, err)

	cases := []struct {
		name              string
		sql               string
		statement, locked time.Duration
		code              string
	}{
		{"statement timeout", "SELECT count(*) FROM pg_attribute a, pg_attribute b, pg_attribute c", 200 * time.Millisecond, time.Second, "57014"},
		{"lock timeout", "SELECT count(*) FROM " + locked, 3 * time.Second, 100 * time.Millisecond, "55P03"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			conn := newConnector(t, postgres.Options{URL: b.env.RoleURL, StatementTimeout: c.statement, LockTimeout: c.locked})
			start := time.Now()
			_, err := conn.Query(ctxWithin(t, 10*time.Second), c.sql)
			require.Less(t, time.Since(start), 5*time.Second)
			var werr *warehouse.Error
			require.ErrorAs(t, err, &werr)
			require.Equal(t, warehouse.ErrorTimeout, werr.Kind)
			require.True(t, werr.Retryable)
			require.Equal(t, "query", werr.Section)
			require.Contains(t, werr.Message, c.code)
		})
	}
}

func TestErrorsAreTyped(t *testing.T) {
	t.Parallel()
	b := setup(t, postgres.Options{})
	cases := []struct {
		name string
		sql  string
		kind warehouse.ErrorKind
	}{
		{"no such table", "SELECT * FROM no_such_table_here", warehouse.ErrorQuery},
		{"table without grant", "SELECT * FROM pg_authid", warehouse.ErrorPermission},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			_, err := b.conn.Query(ctxWithin(t, 10*time.Second), c.sql)
			var werr *warehouse.Error
			require.ErrorAs(t, err, &werr)
			require.Equal(t, c.kind, werr.Kind)
			require.False(t, errors.Is(err, sqlguard.ErrRejected))
		})
	}
}
