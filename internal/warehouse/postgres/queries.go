package postgres

// The SQL the connector sends. Every text here passes sqlguard (a test
// checks each one, and each is checked again before it runs), reads only
// statistics and catalog views, and takes no lock on a user table. The
// connector pins search_path to pg_catalog, so these names resolve to the
// system views. Query text is cut server-side with left() to bound what
// crosses the wire; Clean caps it again.

// serverSQL reads the server's identity and the database's deadlock count,
// and finds pg_stat_statements' schema (NULL when not installed).
const serverSQL = `
SELECT current_database(),
       current_user,
       now(),
       pg_postmaster_start_time(),
       (SELECT setting FROM pg_settings WHERE name = 'server_version'),
       (SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
         WHERE e.extname = 'pg_stat_statements'),
       coalesce(d.deadlocks, 0),
       d.stats_reset
  FROM (SELECT 1) AS one
  LEFT JOIN pg_stat_database d ON d.datname = current_database()`

// settingsSQL reads the defaults that govern waits. reset_val is the value a
// session of the profiler's role starts with: the connector's own SET LOCAL
// values do not show in it.
const settingsSQL = `
SELECT name, reset_val, coalesce(unit, '')
  FROM pg_settings
 WHERE name = ANY($1::text[])
 ORDER BY name`

var waitSettings = []string{
	"deadlock_timeout", "idle_in_transaction_session_timeout", "lock_timeout",
	"max_connections", "statement_timeout",
}

// activitySQL lists this database's client sessions that are busy or hold a
// transaction open, plus any session some waiter is blocked by.
const activitySQL = `
SELECT a.pid,
       coalesce(a.usename, ''),
       coalesce(a.application_name, ''),
       coalesce(a.client_addr::text, ''),
       coalesce(a.state, ''),
       coalesce(a.wait_event_type, ''),
       coalesce(a.wait_event, ''),
       a.backend_start,
       a.xact_start,
       a.query_start,
       left(coalesce(a.query, ''), 8192),
       pg_blocking_pids(a.pid)
  FROM pg_stat_activity a
 WHERE a.backend_type = 'client backend'
   AND a.pid <> pg_backend_pid()
   AND (a.datname = current_database()
        AND (a.state IS DISTINCT FROM 'idle' OR a.xact_start IS NOT NULL)
        OR a.pid IN (SELECT unnest(pg_blocking_pids(w.pid)) FROM pg_locks w WHERE NOT w.granted))
 ORDER BY a.xact_start NULLS LAST, a.query_start NULLS LAST, a.pid`

// locksSQL lists every lock request not granted, and every lock held by a
// blocked session or by a session some waiter is blocked by (a row-lock
// waiter's tuple lock names the table), with relation names for this
// database.
const locksSQL = `
WITH waiting AS (
  SELECT w.pid, unnest(pg_blocking_pids(w.pid)) AS blocker FROM pg_locks w WHERE NOT w.granted
)
SELECT l.pid,
       l.locktype,
       l.mode,
       l.granted,
       l.waitstart,
       coalesce(n.nspname, ''),
       coalesce(c.relname, ''),
       CASE WHEN l.granted THEN NULL ELSE pg_blocking_pids(l.pid) END
  FROM pg_locks l
  LEFT JOIN pg_class c
    ON c.oid = l.relation
   AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
  LEFT JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE l.pid IS NOT NULL
   AND l.pid <> pg_backend_pid()
   AND (NOT l.granted OR l.pid IN (SELECT blocker FROM waiting UNION SELECT pid FROM waiting))
 ORDER BY l.granted, l.pid, l.locktype, l.mode`

// tablesSQL reads the statistics of the target tables: $1 holds schemas
// (an empty string for any schema) and $2 the table names, pairwise.
const tablesSQL = `
SELECT s.schemaname,
       s.relname,
       coalesce(s.n_live_tup, 0),
       coalesce(s.n_dead_tup, 0),
       coalesce(s.n_mod_since_analyze, 0),
       coalesce(s.seq_scan, 0),
       s.idx_scan,
       s.last_vacuum,
       s.last_autovacuum,
       s.last_analyze,
       s.last_autoanalyze
  FROM pg_stat_user_tables s
  JOIN unnest($1::text[], $2::text[]) AS t(schema_name, table_name)
    ON t.table_name = s.relname
   AND (t.schema_name = '' OR t.schema_name = s.schemaname)
 ORDER BY s.schemaname, s.relname`

// statementsSQL reads pg_stat_statements for this database. %s is the
// extension's schema, quoted; $1 holds ILIKE patterns for the target tables
// (empty: no filter, heaviest first).
const statementsSQL = `
SELECT coalesce(s.queryid, 0),
       left(s.query, 8192),
       s.calls,
       s.total_exec_time,
       s.mean_exec_time,
       s.max_exec_time,
       s.rows,
       s.shared_blks_read,
       s.shared_blks_hit,
       s.temp_blks_written
  FROM %s.pg_stat_statements s
 WHERE s.dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
   AND (cardinality($1::text[]) = 0 OR s.query ILIKE ANY($1::text[]))
 ORDER BY s.total_exec_time DESC`
