package postgres

import (
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/medic-sh/medic/internal/warehouse/sqlguard"
)

func TestQueriesPassTheGuard(t *testing.T) {
	t.Parallel()
	cases := map[string]string{
		"server":     serverSQL,
		"settings":   settingsSQL,
		"activity":   activitySQL,
		"locks":      locksSQL,
		"tables":     tablesSQL,
		"statements": fmt.Sprintf(statementsSQL, pgx.Identifier{"public"}.Sanitize()),
		"odd schema": fmt.Sprintf(statementsSQL, pgx.Identifier{`we"ird`}.Sanitize()),
	}
	for name, sql := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			require.NoError(t, sqlguard.Check(sql, sqlguard.Options{}))
			require.NoError(t, sqlguard.Check(capSQL(sql, DefaultMaxRows), sqlguard.Options{}))
		})
	}
}

func TestCapSQL(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, in string
	}{
		{"plain", "SELECT 1"},
		{"trailing semicolon", "SELECT 1;\n"},
		{"trailing comment", "SELECT 1 -- note"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			out := capSQL(c.in, 5)
			require.Contains(t, out, "LIMIT 6")
			require.NoError(t, sqlguard.Check(out, sqlguard.Options{}))
		})
	}
}

func TestEscapeLike(t *testing.T) {
	t.Parallel()
	cases := map[string]string{
		"orders":    "orders",
		"my_table":  `my\_table`,
		"100%":      `100\%`,
		`back\path`: `back\\path`,
	}
	for in, want := range cases {
		require.Equal(t, want, escapeLike(in))
	}
}
