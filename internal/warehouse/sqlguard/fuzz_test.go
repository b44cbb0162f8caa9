package sqlguard_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	pg_query "github.com/pganalyze/pg_query_go/v6"
	"github.com/stretchr/testify/require"

	"github.com/medic-sh/medic/internal/warehouse/sqlguard"
)

// FuzzCheck holds the guard to its promise: it never panics, it answers the
// same twice, and whatever it accepts is, by an independent reading of the
// parser's JSON output, one SELECT with no write, lock, INTO or function
// outside the allowlist.
func FuzzCheck(f *testing.F) {
	for _, s := range []string{
		`SELECT 1`,
		`SELECT pid, pg_blocking_pids(pid) FROM pg_stat_activity WHERE state <> 'idle'`,
		`WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d`,
		`SELECT * FROM t FOR UPDATE`,
		`SELECT * INTO x FROM t`,
		`SELECT pg_terminate_backend(1)`,
		`SELECT 1; DROP TABLE t`,
		`SELECT "pg_sleep"(1)`,
		`SELECT pg_catalog.pg_sleep(1)`,
		`SELECT 1 OPERATOR(public.+) 1`,
		"SELECT 1\x00; DELETE FROM t",
		`SELECT (SELECT count(*) FROM (SELECT * FROM t FOR SHARE) s)`,
		`VALUES (nextval('s'))`,
		`SELECT E'\'' ; DELETE FROM t`,
		`SELECT $$;$$; DELETE FROM t`,
		`COPY (SELECT 1) TO STDOUT`,
		`EXPLAIN ANALYZE DELETE FROM t`,
		`SELECT x FROM unnest(ARRAY[1]) x`,
	} {
		f.Add(s)
	}
	allowed := sqlguard.DefaultFunctions()
	f.Fuzz(func(t *testing.T, sql string) {
		err := sqlguard.Check(sql, sqlguard.Options{})
		again := sqlguard.Check(sql, sqlguard.Options{})
		require.Equal(t, err == nil, again == nil, "Check is not deterministic")
		if err != nil {
			var rej *sqlguard.RejectError
			require.ErrorAs(t, err, &rej)
			require.NotEmpty(t, rej.Reason)
			return
		}
		require.True(t, utf8.ValidString(sql))
		require.NotContains(t, sql, "\x00")
		out, perr := pg_query.ParseToJSON(sql)
		require.NoError(t, perr)
		var tree struct {
			Stmts []struct {
				Stmt map[string]json.RawMessage `json:"stmt"`
			} `json:"stmts"`
		}
		require.NoError(t, json.Unmarshal([]byte(out), &tree))
		require.Len(t, tree.Stmts, 1)
		require.Len(t, tree.Stmts[0].Stmt, 1)
		require.Contains(t, tree.Stmts[0].Stmt, "SelectStmt")
		var generic any
		require.NoError(t, json.Unmarshal([]byte(out), &generic))
		requirePlain(t, generic, allowed)
	})
}

// requirePlain walks the parser's JSON rendering, independently of the
// protobuf walk the guard uses.
func requirePlain(t *testing.T, v any, allowed []string) {
	t.Helper()
	switch x := v.(type) {
	case map[string]any:
		for k, child := range x {
			switch k {
			case "InsertStmt", "UpdateStmt", "DeleteStmt", "MergeStmt", "intoClause", "IntoClause", "lockingClause", "LockingClause":
				t.Fatalf("accepted a statement containing %s", k)
			case "FuncCall":
				name := funcName(t, child)
				require.Truef(t, slices.Contains(allowed, name[len(name)-1]), "accepted function %v", name)
				require.True(t, len(name) == 1 || len(name) == 2 && name[0] == "pg_catalog", "accepted qualified function %v", name)
			}
			requirePlain(t, child, allowed)
		}
	case []any:
		for _, child := range x {
			requirePlain(t, child, allowed)
		}
	}
}

func funcName(t *testing.T, fc any) []string {
	t.Helper()
	m, ok := fc.(map[string]any)
	require.True(t, ok)
	parts, ok := m["funcname"].([]any)
	require.True(t, ok)
	var name []string
	for _, p := range parts {
		s, _ := p.(map[string]any)["String"].(map[string]any)
		sval, _ := s["sval"].(string)
		name = append(name, sval)
	}
	require.NotEmpty(t, name)
	require.NotEmpty(t, strings.Join(name, ""))
	return name
}
