package postgres_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/medic-sh/medic/internal/warehouse"
	"github.com/medic-sh/medic/internal/warehouse/postgres"
	"github.com/medic-sh/medic/internal/warehouse/postgres/pgtest"
)

func TestProfileTables(t *testing.T) {
	t.Parallel()
	b := setup(t, postgres.Options{})
	s := b.env.Schema
	analyzed := pgx.Identifier{s, "analyzed"}.Sanitize()
	fresh := pgx.Identifier{s, "fresh"}.Sanitize()
	b.env.Exec(t, "CREATE TABLE "+analyzed+" (a int)")
	b.env.Exec(t, "INSERT INTO "+analyzed+" SELECT generate_series(1, 3)")
	b.env.Exec(t, "ANALYZE "+analyzed)
	b.env.Exec(t, "CREATE TABLE "+fresh+" (a int)")

	cases := []struct {
		name   string
		target warehouse.Target
		tables []warehouse.TableName
		note   string
	}{
		{
			name:   "from SQL",
			target: warehouse.Target{SQL: "INSERT INTO " + fresh + " SELECT a FROM " + analyzed},
			tables: []warehouse.TableName{{Schema: s, Name: "analyzed"}, {Schema: s, Name: "fresh"}},
		},
		{
			name:   "missing table from error text",
			target: warehouse.Target{ErrorText: `relation "` + s + `.gone" does not exist`},
			note:   "table " + s + ".gone has no row in pg_stat_user_tables",
		},
		{
			name:   "no targets",
			target: warehouse.Target{},
			note:   "no target tables known",
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			var p *warehouse.Profile
			require.Eventually(t, func() bool {
				var err error
				p, err = b.conn.Profile(ctxWithin(t, 20*time.Second), c.target)
				require.NoError(t, err)
				// Table statistics reach the shared view asynchronously.
				return len(c.tables) == 0 || len(p.Tables) == len(c.tables) && p.Tables[0].LiveRows == 3
			}, 10*time.Second, 100*time.Millisecond)
			require.Empty(t, p.Errors)
			got := make([]warehouse.TableName, 0, len(p.Tables))
			for _, ts := range p.Tables {
				got = append(got, ts.Table)
				require.NotEmpty(t, ts.Evidence)
			}
			if len(c.tables) > 0 {
				require.Equal(t, c.tables, got)
				require.False(t, p.Tables[0].NeverAnalyzed)
				require.NotNil(t, p.Tables[0].LastAnalyze)
				require.True(t, p.Tables[1].NeverAnalyzed)
				require.Contains(t, p.Tables[0].Evidence, "3 live rows")
			}
			if c.note != "" {
				require.True(t, hasNote(p, c.note), "notes: %v", p.Notes)
			}
		})
	}
}

// TestProfileStatements: without pg_stat_statements, and with it installed
// but not preloaded, the profile degrades to a note, never an error. Each
// state is checked in a database of its own.
func TestProfileStatements(t *testing.T) {
	t.Parallel()
	env := pgtest.New(t)
	ctx := ctxWithin(t, 60*time.Second)
	var available bool
	require.NoError(t, env.Admin.QueryRow(ctx,
		"SELECT count(*) > 0 FROM pg_available_extensions WHERE name = 'pg_stat_statements'").Scan(&available))
	var preload string
	require.NoError(t, env.Admin.QueryRow(ctx, "SHOW shared_preload_libraries").Scan(&preload))
	loaded := strings.Contains(preload, "pg_stat_statements")

	dbURL := env.Database(t)
	roleConn := newConnector(t, postgres.Options{URL: pgtest.WithUser(t, dbURL, env.Role)})
	target := warehouse.Target{Tables: []warehouse.TableName{{Name: "orders"}}}

	steps := []struct {
		name    string
		prepare func(t *testing.T)
		note    string
	}{
		{name: "not installed", note: "pg_stat_statements is not installed"},
		{
			name: "installed",
			prepare: func(t *testing.T) {
				if !available {
					t.Skip("pg_stat_statements is not available on this server (postgresql-contrib)")
				}
				admin, err := pgx.Connect(ctx, dbURL)
				require.NoError(t, err)
				defer func() { require.NoError(t, admin.Close(context.WithoutCancel(ctx))) }()
				_, err = admin.Exec(ctx, "CREATE EXTENSION pg_stat_statements")
				require.NoError(t, err)
			},
			note: "installed in database",
		},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			if s.prepare != nil {
				s.prepare(t)
			}
			p, err := roleConn.Profile(ctx, target)
			require.NoError(t, err)
			require.Empty(t, p.Errors, "errors: %+v", p.Errors)
			if s.name == "installed" && loaded {
				require.False(t, hasNote(p, "pg_stat_statements"), "notes: %v", p.Notes)
				return
			}
			require.True(t, hasNote(p, s.note), "notes: %v", p.Notes)
			require.Empty(t, p.Statements)
		})
	}
}

// TestProfileLateNote: a profile read long after the failure says that
// sessions and locks show the present.
func TestProfileLateNote(t *testing.T) {
	t.Parallel()
	b := setup(t, postgres.Options{})
	cases := []struct {
		name     string
		failedAt time.Time
		late     bool
	}{
		{"just failed", time.Now(), false},
		{"an hour ago", time.Now().Add(-time.Hour), true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			p, err := b.conn.Profile(ctxWithin(t, 20*time.Second), warehouse.Target{FailedAt: c.failedAt, Window: 10 * time.Minute})
			require.NoError(t, err)
			require.Equal(t, c.late, hasNote(p, "after the failure"), "notes: %v", p.Notes)
			require.False(t, p.ObservedAt.IsZero())
		})
	}
}

func hasNote(p *warehouse.Profile, sub string) bool {
	for _, n := range p.Notes {
		if strings.Contains(n, sub) {
			return true
		}
	}
	return false
}
