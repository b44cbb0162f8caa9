package postgres

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/medic-sh/medic/internal/warehouse"
)

func (r *profileRun) statements(ctx context.Context) error {
	if r.pgss == "" {
		r.p.AddNote("pg_stat_statements is not installed in database %s: no statement statistics "+
			"(CREATE EXTENSION pg_stat_statements, with it in shared_preload_libraries)", r.database())
		return nil
	}
	patterns := make([]string, 0, len(r.p.Targets))
	for _, t := range r.p.Targets {
		patterns = append(patterns, "%"+escapeLike(t.Name)+"%")
	}
	sql := fmt.Sprintf(statementsSQL, pgx.Identifier{r.pgss}.Sanitize())
	cut, err := r.c.read(ctx, sql, []any{patterns}, func(rows pgx.Rows) error {
		var (
			s                  warehouse.StatementStat
			query              string
			total, mean, maxMS float64
		)
		if err := rows.Scan(&s.QueryID, &query, &s.Calls, &total, &mean, &maxMS, &s.Rows,
			&s.SharedBlksRead, &s.SharedBlksHit, &s.TempBlksWritten); err != nil {
			return err
		}
		s.TotalSec, s.MeanSec, s.MaxSec = total/1000, mean/1000, maxMS/1000
		s.Query = warehouse.Clean(query, r.c.opts.MaxText)
		s.Table = mentions(query, r.p.Targets)
		s.Evidence = warehouse.Clean(fmt.Sprintf("%d calls, %.3fs total, %.3fs mean, %.3fs max, %d rows, %d blocks read, %d temp blocks written: %s",
			s.Calls, s.TotalSec, s.MeanSec, s.MaxSec, s.Rows, s.SharedBlksRead, s.TempBlksWritten, oneLine(s.Query, 300)), 800)
		r.p.Statements = append(r.p.Statements, s)
		return nil
	})
	r.truncated("statements", cut)
	if err != nil && pgCode(err) == codeNotInPrerequisite {
		r.p.AddNote("pg_stat_statements is installed in database %s but not loaded (add it to shared_preload_libraries and restart): no statement statistics", r.database())
		return nil
	}
	return err
}

// escapeLike quotes LIKE's wildcards and its escape character.
func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}
