package postgres

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/medic-sh/medic/internal/warehouse"
	"github.com/medic-sh/medic/internal/warehouse/sqlguard"
)

var errQueryDeadline = errors.New("warehouse query exceeded its client-side deadline")

// capSQL wraps a checked SELECT so the server stops after limit+1 rows; the
// extra row tells a cut result from one that fits.
func capSQL(sql string, limit int) string {
	sql = strings.TrimRight(sql, "; \t\r\n")
	return "SELECT * FROM (" + sql + "\n) AS medic_capped LIMIT " + strconv.Itoa(limit+1)
}

// read runs one query the only way this package runs queries: guard both
// the query and its capped form, begin a READ ONLY transaction, set its
// timeouts and search path, read at most MaxRows rows through scan, and roll
// back. It reports whether the row cap cut the result.
func (c *Connector) read(ctx context.Context, sql string, args []any, scan func(pgx.Rows) error) (truncated bool, err error) {
	for _, a := range args {
		switch a.(type) {
		case pgx.QueryExecMode, pgx.QueryRewriter, pgx.QueryResultFormats, pgx.QueryResultFormatsByOID:
			// pgx reads these as options, and a rewriter could change the
			// SQL after the guard saw it.
			return false, &sqlguard.RejectError{Reason: sqlguard.ReasonConstruct, Detail: fmt.Sprintf("query option %T as an argument", a)}
		}
	}
	if err := sqlguard.Check(sql, sqlguard.Options{}); err != nil {
		return false, err
	}
	capped := capSQL(sql, c.opts.MaxRows)
	if err := sqlguard.Check(capped, sqlguard.Options{}); err != nil {
		return false, err
	}
	// The server enforces statement_timeout; the client-side deadline also
	// covers a connection that hangs before or after the statement.
	budget := c.opts.ConnectTimeout + c.opts.StatementTimeout + time.Second
	ctx, cancel := context.WithTimeoutCause(ctx, budget, errQueryDeadline)
	defer cancel()

	tx, err := c.pool.BeginTx(ctx, pgx.TxOptions{AccessMode: pgx.ReadOnly})
	if err != nil {
		return false, err
	}
	// Read-only: there is nothing to commit. Rollback's own error (a
	// broken connection) adds nothing to the query's. It gets its own short
	// deadline so an expired ctx still ends the transaction, and a hung
	// server cannot hold us here.
	defer func() {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
		defer cancel()
		_ = tx.Rollback(rctx)
	}()
	setup := fmt.Sprintf("SET LOCAL statement_timeout = %d; SET LOCAL lock_timeout = %d; "+
		"SET LOCAL idle_in_transaction_session_timeout = %d; SET LOCAL search_path = pg_catalog",
		c.opts.StatementTimeout.Milliseconds(), c.opts.LockTimeout.Milliseconds(), budget.Milliseconds())
	if _, err := tx.Exec(ctx, setup); err != nil {
		return false, err
	}
	rows, err := tx.Query(ctx, capped, args...)
	if err != nil {
		return false, err
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		if n == c.opts.MaxRows {
			truncated = true
			break
		}
		n++
		if err := scan(rows); err != nil {
			return truncated, fmt.Errorf("scan row %d: %w", n, err)
		}
	}
	rows.Close()
	return truncated, rows.Err()
}

// Query runs one ad-hoc guarded query and returns its rows as cleaned text.
// A query the guard rejects is never sent; its error is a *warehouse.Error
// of kind ErrorRejected wrapping the *sqlguard.RejectError.
func (c *Connector) Query(ctx context.Context, sql string, args ...any) (*warehouse.Result, error) {
	res := &warehouse.Result{}
	truncated, err := c.read(ctx, sql, args, func(rows pgx.Rows) error {
		if res.Columns == nil {
			for _, fd := range rows.FieldDescriptions() {
				res.Columns = append(res.Columns, warehouse.Clean(fd.Name, 200))
			}
		}
		vals, err := rows.Values()
		if err != nil {
			return err
		}
		row := make([]string, len(vals))
		for i, v := range vals {
			row[i] = warehouse.Clean(render(v), 500)
		}
		res.Rows = append(res.Rows, row)
		return nil
	})
	if err != nil {
		werr := classify("query", err)
		c.logger.WarnContext(ctx, "warehouse query failed", "kind", string(werr.Kind), "error", werr.Message)
		return nil, werr
	}
	res.Truncated = truncated
	return res, nil
}

func render(v any) string {
	switch x := v.(type) {
	case nil:
		return "NULL"
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano)
	case []byte:
		return fmt.Sprintf("\\x%x", x)
	case fmt.Stringer:
		return x.String()
	case driver.Valuer:
		// pgtype's numeric, interval and friends render through Value.
		if dv, err := x.Value(); err == nil && dv != v {
			return render(dv)
		}
	}
	return fmt.Sprint(v)
}
