package sqlguard_test

import (
	"testing"

	"github.com/medic-sh/medic/internal/warehouse/sqlguard"
)

// BenchmarkCheck measures the guard on the kind of catalog query the
// profiler runs, and on a statement it must reject.
func BenchmarkCheck(b *testing.B) {
	cases := map[string]string{
		"blocking pairs": `SELECT a.pid, a.usename, a.state, a.wait_event_type, a.wait_event, a.query,
			b.pid AS blocking_pid, b.query AS blocking_query
			FROM pg_stat_activity a
			JOIN LATERAL unnest(pg_blocking_pids(a.pid)) AS bp(pid) ON true
			JOIN pg_stat_activity b ON b.pid = bp.pid
			WHERE a.wait_event_type = 'Lock' ORDER BY a.query_start LIMIT 200`,
		"rejected cte": `WITH gone AS (DELETE FROM orders RETURNING *) SELECT count(*) FROM gone`,
	}
	for name, sql := range cases {
		if accepted := sqlguard.Check(sql, sqlguard.Options{}) == nil; accepted != (name == "blocking pairs") {
			b.Fatalf("%s: accepted=%v: %v", name, accepted, sqlguard.Check(sql, sqlguard.Options{}))
		}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_ = sqlguard.Check(sql, sqlguard.Options{})
			}
		})
	}
}
