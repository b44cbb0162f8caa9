package postgres_test

import (
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"

	"github.com/medic-sh/medic/internal/warehouse"
	"github.com/medic-sh/medic/internal/warehouse/postgres"
	"github.com/medic-sh/medic/internal/warehouse/postgres/pgtest"
	"github.com/medic-sh/medic/internal/warehouse/sqlguard"
)

// TestRoleIsTheSecondLineOfDefence sends what the guard rejects straight
// to the server over a raw connection as the profiler role, with
// read-only switched off: the role's missing privileges stop every attempt,
// and the victims' sessions survive. The guard and the connector refuse the
// same statements without sending them.
func TestRoleIsTheSecondLineOfDefence(t *testing.T) {
	t.Parallel()
	b := setup(t, postgres.Options{})
	ctx := ctxWithin(t, 60*time.Second)
	owned := pgx.Identifier{b.env.Schema, "owned"}.Sanitize()
	b.env.Exec(t, "CREATE TABLE "+owned+" (a int)")

	superVictim := b.env.Conn(t, b.env.AdminURL)
	appRole := pgtest.Name("medic_wh_app")
	b.env.CreateRole(t, appRole, "CREATE ROLE "+pgx.Identifier{appRole}.Sanitize()+" LOGIN")
	appVictim := b.env.Conn(t, b.env.URLAs(t, appRole))
	superPID, appPID := int32(superVictim.PgConn().PID()), int32(appVictim.PgConn().PID())

	// A raw session as the profiler role, past the guard, not read-only.
	rawCfg, err := pgx.ParseConfig(b.env.RoleURL)
	require.NoError(t, err)
	rawCfg.RuntimeParams["default_transaction_read_only"] = "off"
	raw, err := pgx.ConnectConfig(ctx, rawCfg)
	require.NoError(t, err)
	defer func() { require.NoError(t, raw.Close(ctx)) }()

	cases := []struct {
		name   string
		sql    string
		args   []any
		reason sqlguard.Reason
	}{
		{"terminate a superuser backend", "SELECT pg_terminate_backend($1)", []any{superPID}, sqlguard.ReasonFunction},
		{"terminate another role's backend", "SELECT pg_terminate_backend($1)", []any{appPID}, sqlguard.ReasonFunction},
		{"cancel another role's query", "SELECT pg_cancel_backend($1)", []any{appPID}, sqlguard.ReasonFunction},
		{"read a server file", "SELECT pg_read_file('/etc/hostname')", nil, sqlguard.ReasonFunction},
		{"reload the configuration", "SELECT pg_reload_conf()", nil, sqlguard.ReasonFunction},
		{"insert into a table", "INSERT INTO " + owned + " VALUES (1)", nil, sqlguard.ReasonNotSelect},
		{"create a table", "CREATE TABLE " + pgx.Identifier{b.env.Schema, "mine"}.Sanitize() + " (a int)", nil, sqlguard.ReasonNotSelect},
		{"delete through a CTE", "WITH d AS (DELETE FROM " + owned + " RETURNING 1) SELECT count(*) FROM d", nil, sqlguard.ReasonDataModifyingCTE},
		{"lock rows", "SELECT * FROM " + owned + " FOR UPDATE", nil, sqlguard.ReasonLockingClause},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := raw.Exec(ctx, c.sql, c.args...)
			var pgErr *pgconn.PgError
			require.ErrorAs(t, err, &pgErr, "the role must not be able to %s", c.name)
			require.Equal(t, "42501", pgErr.Code, "want insufficient_privilege, got %s", pgErr.Message)

			var rej *sqlguard.RejectError
			require.ErrorAs(t, sqlguard.Check(c.sql, sqlguard.Options{}), &rej)
			require.Equal(t, c.reason, rej.Reason)

			_, err = b.conn.Query(ctx, c.sql, c.args...)
			var werr *warehouse.Error
			require.ErrorAs(t, err, &werr)
			require.Equal(t, warehouse.ErrorRejected, werr.Kind)
		})
	}
	for _, victim := range []*pgx.Conn{superVictim, appVictim} {
		_, err := victim.Exec(ctx, "SELECT 1")
		require.NoError(t, err, "a victim session was terminated")
	}
}

// TestReadOnlyDoesNotStopTerminate shows why the role matters: a READ ONLY
// transaction, as a role that may signal, still ends another backend.
func TestReadOnlyDoesNotStopTerminate(t *testing.T) {
	t.Parallel()
	env := pgtest.New(t)
	ctx := ctxWithin(t, 30*time.Second)
	victim := env.Conn(t, env.AdminURL)
	pid := int32(victim.PgConn().PID())

	cases := []struct {
		name string
		mode pgx.TxAccessMode
	}{{"read only superuser", pgx.ReadOnly}}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tx, err := env.Admin.BeginTx(ctx, pgx.TxOptions{AccessMode: c.mode})
			require.NoError(t, err)
			defer func() { require.NoError(t, tx.Rollback(ctx)) }()
			var ok bool
			require.NoError(t, tx.QueryRow(ctx, "SELECT pg_terminate_backend($1)", pid).Scan(&ok))
			require.True(t, ok)
		})
	}
	require.Eventually(t, func() bool {
		_, err := victim.Exec(ctx, "SELECT 1")
		var pgErr *pgconn.PgError
		return err != nil && (errors.As(err, &pgErr) || victim.IsClosed())
	}, 10*time.Second, 20*time.Millisecond)
}
