package sqlguard_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/medic-sh/medic/internal/warehouse/sqlguard"
)

func TestCheckAccepts(t *testing.T) {
	t.Parallel()
	cases := map[string]string{
		"constant":           `SELECT 1`,
		"trailing semicolon": `SELECT 1;`,
		"activity":           `SELECT pid, state FROM pg_stat_activity WHERE state <> 'idle' ORDER BY query_start DESC LIMIT 10`,
		"join":               `SELECT count(*) FROM pg_locks l LEFT JOIN pg_class c ON c.oid = l.relation WHERE NOT l.granted`,
		"cte":                `WITH w AS (SELECT pid, unnest(pg_blocking_pids(pid)) AS blocker FROM pg_locks WHERE NOT granted) SELECT * FROM w`,
		"recursive cte":      `WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 3) SELECT n FROM r`,
		"extract":            `SELECT extract(epoch FROM now() - query_start) FROM pg_stat_activity`,
		"time functions":     `SELECT date_trunc('hour', now()), age(now(), backend_start), to_char(now(), 'YYYY') FROM pg_stat_activity`,
		"special forms":      `SELECT coalesce(a, 1), greatest(1, 2), least(1, 2), nullif(1, 2) FROM (VALUES (1)) v(a)`,
		"text functions":     `SELECT substring(query FROM 1 FOR 10), left(query, 5), lower(state), upper(state) FROM pg_stat_activity`,
		"parameters":         `SELECT relname FROM pg_stat_user_tables WHERE schemaname || '.' || relname = ANY($1::text[])`,
		"ilike any":          `SELECT query FROM pg_stat_activity WHERE query ILIKE ANY($1)`,
		"union":              `SELECT 1 UNION ALL SELECT 2 EXCEPT SELECT 3`,
		"function in from":   `SELECT x FROM unnest(ARRAY[1, 2]) AS u(x)`,
		"at time zone":       `SELECT now() AT TIME ZONE 'UTC'`,
		"pg_catalog":         `SELECT pg_catalog.count(*) FROM pg_catalog.pg_class`,
		"exists":             `SELECT EXISTS (SELECT 1 FROM pg_class WHERE relname = 'x')`,
		"sql value funcs":    `SELECT CASE WHEN true THEN 1 ELSE 0 END, current_user, CURRENT_TIMESTAMP, current_database()`,
		"window":             `SELECT row_number() OVER (PARTITION BY state ORDER BY pid) FROM pg_stat_activity`,
		"aggregate filter":   `SELECT count(*) FILTER (WHERE state = 'active'), array_agg(pid ORDER BY pid) FROM pg_stat_activity`,
		"table":              `TABLE pg_class`,
		"values":             `VALUES (1, 'a'), (2, 'b')`,
		"casts":              `SELECT '1'::int, CAST('x' AS text), interval '5 minutes', relation::regclass FROM pg_locks`,
		"grouping":           `SELECT state, count(*) FROM pg_stat_activity GROUP BY ROLLUP (state) HAVING count(*) > 0`,
		"null tests":         `SELECT pid FROM pg_stat_activity WHERE query_start IS NOT NULL AND (wait_event IS NULL) IS NOT TRUE`,
		"between in":         `SELECT pid FROM pg_stat_activity WHERE pid BETWEEN 1 AND 100 OR pid IN (1, 2, 3)`,
		"lateral":            `SELECT a.pid, b.x FROM pg_stat_activity a, LATERAL (SELECT a.pid + 1 AS x) b`,
		"comment":            "-- stats\nSELECT 1 /* ok */",
	}
	for name, sql := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			require.NoError(t, sqlguard.Check(sql, sqlguard.Options{}))
		})
	}
}

func TestCheckRejects(t *testing.T) {
	t.Parallel()
	type tc struct {
		sql    string
		reason sqlguard.Reason
		detail string // a substring of the detail, when it matters
	}
	cases := map[string]tc{
		// text and shape
		"empty":           {sql: ``, reason: sqlguard.ReasonEmpty},
		"only semicolons": {sql: ` ; ;`, reason: sqlguard.ReasonEmpty},
		"only comment":    {sql: `-- nothing`, reason: sqlguard.ReasonEmpty},
		"too long":        {sql: `SELECT '` + strings.Repeat("x", sqlguard.DefaultMaxLen) + `'`, reason: sqlguard.ReasonTooLong},
		"nul byte":        {sql: "SELECT 1\x00; DROP TABLE t", reason: sqlguard.ReasonEncoding, detail: "NUL"},
		"invalid utf8":    {sql: "SELECT '\xff'", reason: sqlguard.ReasonEncoding},
		"syntax":          {sql: `SELEC 1`, reason: sqlguard.ReasonParse, detail: "syntax error"},
		"two selects":     {sql: `SELECT 1; SELECT 2`, reason: sqlguard.ReasonMultipleStatements, detail: "2 statements"},
		"select and drop": {sql: `SELECT 1; DROP TABLE t`, reason: sqlguard.ReasonMultipleStatements},

		// statements other than SELECT
		"insert":          {sql: `INSERT INTO t VALUES (1)`, reason: sqlguard.ReasonNotSelect, detail: "InsertStmt"},
		"update":          {sql: `UPDATE t SET a = 1`, reason: sqlguard.ReasonNotSelect, detail: "UpdateStmt"},
		"delete":          {sql: `DELETE FROM t`, reason: sqlguard.ReasonNotSelect, detail: "DeleteStmt"},
		"merge":           {sql: `MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN DELETE`, reason: sqlguard.ReasonNotSelect, detail: "MergeStmt"},
		"create table":    {sql: `CREATE TABLE t (a int)`, reason: sqlguard.ReasonNotSelect},
		"create as":       {sql: `CREATE TABLE t AS SELECT 1`, reason: sqlguard.ReasonNotSelect},
		"drop":            {sql: `DROP TABLE t`, reason: sqlguard.ReasonNotSelect},
		"alter":           {sql: `ALTER TABLE t ADD COLUMN b int`, reason: sqlguard.ReasonNotSelect},
		"truncate":        {sql: `TRUNCATE t`, reason: sqlguard.ReasonNotSelect},
		"copy to":         {sql: `COPY t TO STDOUT`, reason: sqlguard.ReasonNotSelect, detail: "CopyStmt"},
		"copy program":    {sql: `COPY (SELECT 1) TO PROGRAM 'sh'`, reason: sqlguard.ReasonNotSelect, detail: "CopyStmt"},
		"call":            {sql: `CALL p()`, reason: sqlguard.ReasonNotSelect, detail: "CallStmt"},
		"do":              {sql: `DO $$ BEGIN PERFORM 1; END $$`, reason: sqlguard.ReasonNotSelect, detail: "DoStmt"},
		"set":             {sql: `SET statement_timeout = 0`, reason: sqlguard.ReasonNotSelect, detail: "VariableSetStmt"},
		"reset":           {sql: `RESET ALL`, reason: sqlguard.ReasonNotSelect},
		"show":            {sql: `SHOW ALL`, reason: sqlguard.ReasonNotSelect},
		"explain analyze": {sql: `EXPLAIN ANALYZE DELETE FROM t`, reason: sqlguard.ReasonNotSelect, detail: "ExplainStmt"},
		"begin":           {sql: `BEGIN`, reason: sqlguard.ReasonNotSelect},
		"commit":          {sql: `COMMIT`, reason: sqlguard.ReasonNotSelect},
		"lock":            {sql: `LOCK TABLE t IN ACCESS EXCLUSIVE MODE`, reason: sqlguard.ReasonNotSelect},
		"vacuum":          {sql: `VACUUM t`, reason: sqlguard.ReasonNotSelect},
		"grant":           {sql: `GRANT ALL ON t TO public`, reason: sqlguard.ReasonNotSelect},
		"create role":     {sql: `CREATE ROLE x SUPERUSER`, reason: sqlguard.ReasonNotSelect},
		"notify":          {sql: `NOTIFY c`, reason: sqlguard.ReasonNotSelect},
		"prepare":         {sql: `PREPARE p AS DELETE FROM t`, reason: sqlguard.ReasonNotSelect},
		"execute":         {sql: `EXECUTE p`, reason: sqlguard.ReasonNotSelect},
		"declare cursor":  {sql: `DECLARE c CURSOR FOR SELECT 1`, reason: sqlguard.ReasonNotSelect},
		"refresh":         {sql: `REFRESH MATERIALIZED VIEW v`, reason: sqlguard.ReasonNotSelect},
		"checkpoint":      {sql: `CHECKPOINT`, reason: sqlguard.ReasonNotSelect},
		"load":            {sql: `LOAD 'x'`, reason: sqlguard.ReasonNotSelect},

		// data-modifying CTEs, at any depth
		"cte delete":        {sql: `WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d`, reason: sqlguard.ReasonDataModifyingCTE, detail: "DeleteStmt"},
		"cte insert":        {sql: `WITH i AS (INSERT INTO t VALUES (1) RETURNING a) SELECT * FROM i`, reason: sqlguard.ReasonDataModifyingCTE, detail: "InsertStmt"},
		"cte update":        {sql: `WITH u AS (UPDATE t SET a = 1 RETURNING a) SELECT 1`, reason: sqlguard.ReasonDataModifyingCTE, detail: "UpdateStmt"},
		"cte in subquery":   {sql: `SELECT * FROM (WITH u AS (UPDATE t SET a = 1 RETURNING a) SELECT * FROM u) s`, reason: sqlguard.ReasonDataModifyingCTE},
		"cte in sublink":    {sql: `SELECT EXISTS (WITH d AS (DELETE FROM t RETURNING 1) SELECT 1 FROM d)`, reason: sqlguard.ReasonDataModifyingCTE},
		"cte after cte":     {sql: `WITH a AS (SELECT 1), d AS (DELETE FROM t RETURNING 1) SELECT * FROM a`, reason: sqlguard.ReasonDataModifyingCTE},
		"cte merge":         {sql: `WITH m AS (MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN DELETE RETURNING t.id) SELECT * FROM m`, reason: sqlguard.ReasonDataModifyingCTE, detail: "MergeStmt"},
		"cte in union side": {sql: `SELECT 1 UNION SELECT * FROM (WITH d AS (DELETE FROM t RETURNING 1) SELECT * FROM d) x`, reason: sqlguard.ReasonDataModifyingCTE},

		// locking clauses, at any depth
		"for update":        {sql: `SELECT * FROM t FOR UPDATE`, reason: sqlguard.ReasonLockingClause, detail: "FOR UPDATE"},
		"for no key update": {sql: `SELECT * FROM t FOR NO KEY UPDATE`, reason: sqlguard.ReasonLockingClause, detail: "FOR NO KEY UPDATE"},
		"for share":         {sql: `SELECT * FROM t FOR SHARE`, reason: sqlguard.ReasonLockingClause, detail: "FOR SHARE"},
		"for key share":     {sql: `SELECT * FROM t FOR KEY SHARE`, reason: sqlguard.ReasonLockingClause, detail: "FOR KEY SHARE"},
		"skip locked":       {sql: `SELECT * FROM t FOR UPDATE SKIP LOCKED`, reason: sqlguard.ReasonLockingClause},
		"nowait of":         {sql: `SELECT * FROM t, u FOR SHARE OF t NOWAIT`, reason: sqlguard.ReasonLockingClause},
		"locking subquery":  {sql: `SELECT * FROM (SELECT * FROM t FOR UPDATE) s`, reason: sqlguard.ReasonLockingClause},
		"locking in cte":    {sql: `WITH l AS (SELECT * FROM t FOR UPDATE) SELECT * FROM l`, reason: sqlguard.ReasonLockingClause},
		"locking in where":  {sql: `SELECT 1 WHERE EXISTS (SELECT 1 FROM t FOR KEY SHARE)`, reason: sqlguard.ReasonLockingClause},

		// SELECT INTO
		"select into":      {sql: `SELECT * INTO newt FROM t`, reason: sqlguard.ReasonSelectInto},
		"select into temp": {sql: `SELECT 1 AS a INTO TEMP x`, reason: sqlguard.ReasonSelectInto},

		// functions outside the allowlist, wherever they appear
		"terminate":          {sql: `SELECT pg_terminate_backend(42)`, reason: sqlguard.ReasonFunction, detail: "pg_terminate_backend"},
		"terminate catalog":  {sql: `SELECT pg_catalog.pg_terminate_backend(pid) FROM pg_stat_activity`, reason: sqlguard.ReasonFunction, detail: "pg_catalog.pg_terminate_backend"},
		"cancel":             {sql: `SELECT pg_cancel_backend(42)`, reason: sqlguard.ReasonFunction, detail: "pg_cancel_backend"},
		"sleep":              {sql: `SELECT pg_sleep(10)`, reason: sqlguard.ReasonFunction, detail: "pg_sleep"},
		"sleep for":          {sql: `SELECT pg_sleep_for('1 minute')`, reason: sqlguard.ReasonFunction},
		"set_config":         {sql: `SELECT set_config('default_transaction_read_only', 'off', false)`, reason: sqlguard.ReasonFunction, detail: "set_config"},
		"dblink":             {sql: `SELECT * FROM dblink('host=x', 'DELETE FROM t') AS r(a int)`, reason: sqlguard.ReasonFunction, detail: "dblink"},
		"dblink_exec":        {sql: `SELECT dblink_exec('host=x', 'DROP TABLE t')`, reason: sqlguard.ReasonFunction, detail: "dblink_exec"},
		"lo_import":          {sql: `SELECT lo_import('/etc/passwd')`, reason: sqlguard.ReasonFunction, detail: "lo_import"},
		"lo_export":          {sql: `SELECT lo_export(1, '/tmp/x')`, reason: sqlguard.ReasonFunction, detail: "lo_export"},
		"read file":          {sql: `SELECT pg_read_file('/etc/passwd')`, reason: sqlguard.ReasonFunction, detail: "pg_read_file"},
		"read binary file":   {sql: `SELECT pg_read_binary_file('/etc/passwd')`, reason: sqlguard.ReasonFunction},
		"ls dir":             {sql: `SELECT pg_ls_dir('.')`, reason: sqlguard.ReasonFunction},
		"advisory lock":      {sql: `SELECT pg_advisory_lock(1)`, reason: sqlguard.ReasonFunction, detail: "pg_advisory_lock"},
		"advisory xact lock": {sql: `SELECT pg_advisory_xact_lock(1)`, reason: sqlguard.ReasonFunction},
		"try advisory lock":  {sql: `SELECT pg_try_advisory_lock(1)`, reason: sqlguard.ReasonFunction},
		"nextval":            {sql: `SELECT nextval('s')`, reason: sqlguard.ReasonFunction, detail: "nextval"},
		"setval":             {sql: `SELECT setval('s', 1)`, reason: sqlguard.ReasonFunction, detail: "setval"},
		"txid_current":       {sql: `SELECT txid_current()`, reason: sqlguard.ReasonFunction},
		"query_to_xml":       {sql: `SELECT query_to_xml('DELETE FROM t RETURNING 1', true, true, '')`, reason: sqlguard.ReasonFunction},
		"reload conf":        {sql: `SELECT pg_reload_conf()`, reason: sqlguard.ReasonFunction},
		"stat reset":         {sql: `SELECT pg_stat_reset()`, reason: sqlguard.ReasonFunction},
		"quoted upper count": {sql: `SELECT "COUNT"(*) FROM t`, reason: sqlguard.ReasonFunction, detail: "COUNT"},
		"in where":           {sql: `SELECT 1 FROM t WHERE pg_sleep(1) IS NULL`, reason: sqlguard.ReasonFunction},
		"in from":            {sql: `SELECT * FROM pg_sleep(1)`, reason: sqlguard.ReasonFunction},
		"in order by":        {sql: `SELECT 1 ORDER BY pg_sleep(1)`, reason: sqlguard.ReasonFunction},
		"in cte":             {sql: `WITH s AS (SELECT pg_sleep(1)) SELECT * FROM s`, reason: sqlguard.ReasonFunction},
		"in lateral":         {sql: `SELECT * FROM t, LATERAL (SELECT pg_cancel_backend(t.a)) x`, reason: sqlguard.ReasonFunction},
		"in values":          {sql: `VALUES (nextval('s'))`, reason: sqlguard.ReasonFunction},
		"in filter":          {sql: `SELECT count(*) FILTER (WHERE pg_sleep(1) IS NULL) FROM t`, reason: sqlguard.ReasonFunction},
		"in window":          {sql: `SELECT count(*) OVER (ORDER BY pg_sleep(1)) FROM t`, reason: sqlguard.ReasonFunction},
		"in case":            {sql: `SELECT CASE WHEN a > 0 THEN pg_terminate_backend(a) END FROM t`, reason: sqlguard.ReasonFunction},
		"in argument":        {sql: `SELECT coalesce(1, pg_cancel_backend(1)::int)`, reason: sqlguard.ReasonFunction},
		"in limit":           {sql: `SELECT 1 LIMIT nextval('s')`, reason: sqlguard.ReasonFunction},
		"in union arm":       {sql: `SELECT 1 UNION SELECT pg_sleep(1)::int`, reason: sqlguard.ReasonFunction},

		// names resolved outside pg_catalog
		"schema function": {sql: `SELECT public.count(*) FROM t`, reason: sqlguard.ReasonQualifiedName, detail: "function public.count"},
		"three parts":     {sql: `SELECT db.pg_catalog.count(*) FROM t`, reason: sqlguard.ReasonQualifiedName},
		"operator":        {sql: `SELECT 1 OPERATOR(public.+) 1`, reason: sqlguard.ReasonQualifiedName, detail: "operator public.+"},
		"type":            {sql: `SELECT '1'::public.mytype`, reason: sqlguard.ReasonQualifiedName, detail: "type public.mytype"},

		// constructs a statistics query does not need
		"tablesample": {sql: `SELECT * FROM t TABLESAMPLE system (10)`, reason: sqlguard.ReasonConstruct, detail: "RangeTableSample"},
		"xml":         {sql: `SELECT xmlelement(name a, 'x')`, reason: sqlguard.ReasonConstruct, detail: "XmlExpr"},
		"xmltable":    {sql: `SELECT * FROM XMLTABLE('/a' PASSING '<a/>' COLUMNS x int PATH 'x')`, reason: sqlguard.ReasonConstruct},
		"json":        {sql: `SELECT JSON_OBJECT('a' VALUE 1)`, reason: sqlguard.ReasonConstruct},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			err := sqlguard.Check(c.sql, sqlguard.Options{})
			require.Error(t, err)
			require.ErrorIs(t, err, sqlguard.ErrRejected)
			var rej *sqlguard.RejectError
			require.ErrorAs(t, err, &rej)
			require.Equal(t, c.reason, rej.Reason, "detail: %s", rej.Detail)
			require.Contains(t, rej.Detail, c.detail)
			require.Contains(t, err.Error(), string(c.reason))
		})
	}
}

func TestCheckCustomAllowlist(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name      string
		functions []string
		sql       string
		ok        bool
	}{
		{"listed", []string{"version"}, `SELECT version()`, true},
		{"default not kept", []string{"version"}, `SELECT count(*) FROM t`, false},
		{"empty list allows none", []string{}, `SELECT now()`, false},
		{"empty list still plain select", []string{}, `SELECT 1`, true},
		{"default by nil", nil, `SELECT now()`, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			err := sqlguard.Check(c.sql, sqlguard.Options{Functions: c.functions})
			if c.ok {
				require.NoError(t, err)
				return
			}
			var rej *sqlguard.RejectError
			require.ErrorAs(t, err, &rej)
			require.Equal(t, sqlguard.ReasonFunction, rej.Reason)
		})
	}
}

func TestCheckMaxLen(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		maxLen int
		sql    string
		ok     bool
	}{
		{"under", 20, `SELECT 1`, true},
		{"over", 5, `SELECT 1`, false},
		{"default", 0, `SELECT 1`, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			err := sqlguard.Check(c.sql, sqlguard.Options{MaxLen: c.maxLen})
			if c.ok {
				require.NoError(t, err)
				return
			}
			var rej *sqlguard.RejectError
			require.ErrorAs(t, err, &rej)
			require.Equal(t, sqlguard.ReasonTooLong, rej.Reason)
		})
	}
}

func TestRejectionHidesLiterals(t *testing.T) {
	t.Parallel()
	cases := map[string]string{
		"parse error":   `SELECT 'hunter2-secret' FORM t`,
		"function":      `SELECT pg_sleep(1), 'hunter2-secret'`,
		"not a select":  `UPDATE t SET pw = 'hunter2-secret'`,
		"many":          `SELECT 'hunter2-secret'; SELECT 1`,
		"unterminated":  `SELECT 'hunter2-secret`,
		"locking":       `SELECT 'hunter2-secret' FROM t FOR UPDATE`,
		"cte":           `WITH d AS (DELETE FROM t WHERE pw = 'hunter2-secret' RETURNING 1) SELECT 1`,
		"deep garbage":  `SELECT ((((('hunter2-secret'`,
		"select into":   `SELECT 'hunter2-secret' INTO x`,
		"operator":      `SELECT 'hunter2-secret' OPERATOR(public.=) 'x'`,
		"xml construct": `SELECT xmlelement(name a, 'hunter2-secret')`,
	}
	for name, sql := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			err := sqlguard.Check(sql, sqlguard.Options{})
			require.Error(t, err)
			require.NotContains(t, err.Error(), "hunter2")
			require.True(t, errors.Is(err, sqlguard.ErrRejected))
		})
	}
}

func TestDefaultFunctionsIsACopy(t *testing.T) {
	t.Parallel()
	fns := sqlguard.DefaultFunctions()
	require.Contains(t, fns, "pg_blocking_pids")
	for _, banned := range []string{"pg_terminate_backend", "pg_cancel_backend", "pg_sleep", "set_config", "nextval", "setval", "pg_read_file"} {
		require.NotContains(t, fns, banned)
	}
	fns[0] = "pg_sleep"
	require.Error(t, sqlguard.Check(`SELECT pg_sleep(1)`, sqlguard.Options{}))
}
