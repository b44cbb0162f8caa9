package postgres

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/medic-sh/medic/internal/warehouse"
)

func (r *profileRun) tables(ctx context.Context) error {
	if len(r.p.Targets) == 0 {
		r.p.AddNote("no target tables known: table statistics skipped")
		return nil
	}
	schemas := make([]string, len(r.p.Targets))
	names := make([]string, len(r.p.Targets))
	for i, t := range r.p.Targets {
		schemas[i], names[i] = t.Schema, t.Name
	}
	found := map[warehouse.TableName]bool{}
	cut, err := r.c.read(ctx, tablesSQL, []any{schemas, names}, func(rows pgx.Rows) error {
		var s warehouse.TableStat
		if err := rows.Scan(&s.Table.Schema, &s.Table.Name, &s.LiveRows, &s.DeadRows, &s.ModSinceAnalyze,
			&s.SeqScans, &s.IdxScans, &s.LastVacuum, &s.LastAutovacuum, &s.LastAnalyze, &s.LastAutoanalyze); err != nil {
			return err
		}
		if total := s.LiveRows + s.DeadRows; total > 0 {
			s.DeadRatio = float64(s.DeadRows) / float64(total)
		}
		s.NeverAnalyzed = s.LastAnalyze == nil && s.LastAutoanalyze == nil
		s.Evidence = tableEvidence(&s)
		found[s.Table] = true
		r.p.Tables = append(r.p.Tables, s)
		return nil
	})
	r.truncated("tables", cut)
	if err != nil {
		return err
	}
	for _, t := range r.p.Targets {
		if !foundTarget(found, t) {
			r.p.AddNote("table %s has no row in pg_stat_user_tables: it does not exist in database %s, or is not a plain table", t, r.database())
		}
	}
	return nil
}

func (r *profileRun) database() string {
	if r.p.Server != nil {
		return r.p.Server.Database
	}
	return "?"
}

func foundTarget(found map[warehouse.TableName]bool, t warehouse.TableName) bool {
	if t.Schema != "" {
		return found[t]
	}
	for f := range found {
		if f.Name == t.Name {
			return true
		}
	}
	return false
}

func tableEvidence(s *warehouse.TableStat) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %d live rows, %d dead (%.0f%%), %d modified since analyze",
		s.Table, s.LiveRows, s.DeadRows, 100*s.DeadRatio, s.ModSinceAnalyze)
	fmt.Fprintf(&b, "; last analyze %s, last vacuum %s", latest(s.LastAnalyze, s.LastAutoanalyze), latest(s.LastVacuum, s.LastAutovacuum))
	return warehouse.Clean(b.String(), 500)
}

// latest formats the later of a manual and an automatic run.
func latest(manual, auto *time.Time) string {
	var t *time.Time
	kind := ""
	switch {
	case manual != nil && (auto == nil || !auto.After(*manual)):
		t, kind = manual, "manual"
	case auto != nil:
		t, kind = auto, "auto"
	}
	if t == nil {
		return "never"
	}
	return t.UTC().Format(time.RFC3339) + " (" + kind + ")"
}
