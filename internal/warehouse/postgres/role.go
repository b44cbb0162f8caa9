package postgres

import "github.com/jackc/pgx/v5"

// RoleSQL returns the statements, run as a superuser or a role with
// CREATEROLE, that create the profiler's login role: membership of
// pg_read_all_stats (to see every session's query and wait in
// pg_stat_activity and pg_stat_statements) and nothing else. No table
// grants, no pg_signal_backend (so pg_terminate_backend and
// pg_cancel_backend fail on any other role's backend), no pg_monitor (whose
// pg_stat_scan_tables lets functions lock tables). Read-only is also the
// role's default, for sessions that do not come through medic. Set a
// password (or use certificate auth) separately; docs/warehouse.md explains
// each line.
func RoleSQL(role string) []string {
	id := pgx.Identifier{role}.Sanitize()
	return []string{
		"CREATE ROLE " + id + " LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS CONNECTION LIMIT 4",
		"GRANT pg_read_all_stats TO " + id,
		"ALTER ROLE " + id + " SET default_transaction_read_only = on",
	}
}
