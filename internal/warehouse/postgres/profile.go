package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/medic-sh/medic/internal/warehouse"
)

var errProfileDeadline = errors.New("warehouse profile exceeded its time budget")

// profileRun holds one Profile call's state while its sections run.
type profileRun struct {
	c        *Connector
	t        warehouse.Target
	p        *warehouse.Profile
	sessions map[int32]*warehouse.Session
	order    []int32 // pids in the activity query's order
	pgss     string  // pg_stat_statements' schema, "" when not installed
}

// Profile reads the server, the sessions and locks of this database, the
// target tables' statistics and, when installed, pg_stat_statements. Each
// section fails on its own into Profile.Errors; when the server cannot be
// reached at all the rest is skipped and the error is returned too. The
// call returns within Options.ProfileTimeout.
func (c *Connector) Profile(ctx context.Context, t warehouse.Target) (*warehouse.Profile, error) {
	parent := ctx
	ctx, cancel := context.WithTimeoutCause(ctx, c.opts.ProfileTimeout, errProfileDeadline)
	defer cancel()

	now := time.Now()
	t = t.Normalize(now)
	targets := t.Tables
	if len(targets) == 0 {
		targets = warehouse.Targets(t.SQL, t.ErrorText)
	}
	r := &profileRun{
		c: c,
		t: t,
		p: &warehouse.Profile{
			Warehouse:  c.Name(),
			Kind:       c.Kind(),
			Targets:    targets,
			FailedAt:   t.FailedAt,
			ObservedAt: now,
			Timeouts:   warehouse.TimeoutsIn(t.ErrorText),
		},
		sessions: map[int32]*warehouse.Session{},
	}

	if err := r.server(ctx); err != nil {
		e := classify("server", err)
		r.p.AddError(e)
		if e.Kind != warehouse.ErrorQuery {
			r.p.AddNote("skipped activity, locks, tables and statements: the warehouse could not be read")
			c.logger.WarnContext(ctx, "warehouse unreachable", "kind", string(e.Kind), "error", e.Message)
			if parent.Err() != nil {
				return r.p, parent.Err()
			}
			return r.p, e
		}
	}
	sections := []struct {
		name string
		run  func(context.Context) error
	}{
		{"activity", r.activity},
		{"locks", r.locks},
		{"tables", r.tables},
		{"statements", r.statements},
	}
	for i, s := range sections {
		if ctx.Err() != nil {
			for _, rest := range sections[i:] {
				r.p.AddError(warehouse.NewError(rest.name, kindOf(context.Cause(ctx)), context.Cause(ctx)))
			}
			break
		}
		if err := s.run(ctx); err != nil {
			e := classify(s.name, err)
			r.p.AddError(e)
			c.logger.WarnContext(ctx, "warehouse section failed", "section", s.name, "kind", string(e.Kind), "error", e.Message)
		}
	}
	r.finish()
	if parent.Err() != nil {
		return r.p, parent.Err()
	}
	return r.p, nil
}

// truncated records that the row cap cut a section.
func (r *profileRun) truncated(section string, cut bool) {
	if cut {
		r.p.Truncated = append(r.p.Truncated, section)
	}
}

func (r *profileRun) server(ctx context.Context) error {
	var (
		srv         warehouse.Server
		observed    time.Time
		pgss        *string
		version     *string
		deadlocks   int64
		statsReset  *time.Time
		startedAt   *time.Time
		dbName, usr string
	)
	_, err := r.c.read(ctx, serverSQL, nil, func(rows pgx.Rows) error {
		return rows.Scan(&dbName, &usr, &observed, &startedAt, &version, &pgss, &deadlocks, &statsReset)
	})
	if err != nil {
		return err
	}
	srv.Database, srv.User = warehouse.Clean(dbName, 200), warehouse.Clean(usr, 200)
	if version != nil {
		srv.Version = warehouse.Clean(*version, 200)
	}
	srv.StartedAt, srv.Deadlocks, srv.StatsReset = startedAt, deadlocks, statsReset
	if pgss != nil {
		r.pgss = *pgss
	}
	if !observed.IsZero() {
		r.p.ObservedAt = observed
	}
	r.p.Server = &srv
	if late := r.p.ObservedAt.Sub(r.t.FailedAt); late > r.t.Window {
		r.p.AddNote("profile read %s after the failure: sessions and locks show the present, not the failure time", late.Round(time.Second))
	}

	_, err = r.c.read(ctx, settingsSQL, []any{waitSettings}, func(rows pgx.Rows) error {
		var s warehouse.Setting
		if err := rows.Scan(&s.Name, &s.Value, &s.Unit); err != nil {
			return err
		}
		srv.Settings = append(srv.Settings, s)
		return nil
	})
	if err != nil {
		// The server answered; only the settings are missing.
		r.p.AddError(classify("settings", err))
	}
	r.p.Server.Settings = srv.Settings
	return nil
}

// secs is the time from start to end in seconds, 0 when start is unknown.
func secs(start *time.Time, end time.Time) float64 {
	if start == nil || start.IsZero() {
		return 0
	}
	d := end.Sub(*start)
	if d < 0 {
		return 0
	}
	return d.Seconds()
}
