package postgres

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/medic-sh/medic/internal/warehouse"
	"github.com/medic-sh/medic/internal/warehouse/sqlguard"
)

// SQLSTATE codes the connector tells apart.
const (
	codeQueryCanceled      = "57014" // statement_timeout, or a cancel request
	codeLockNotAvailable   = "55P03" // lock_timeout, NOWAIT
	codeInsufficientPriv   = "42501"
	codeNotInPrerequisite  = "55000" // pg_stat_statements not in shared_preload_libraries
	codeInvalidAuthSpec    = "28000"
	codeInvalidPassword    = "28P01"
	codeTooManyConnections = "53300"
)

// classify turns a failure of one section into a warehouse.Error.
func classify(section string, err error) *warehouse.Error {
	return warehouse.NewError(section, kindOf(err), err)
}

func kindOf(err error) warehouse.ErrorKind {
	if errors.Is(err, sqlguard.ErrRejected) {
		return warehouse.ErrorRejected
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgKind(pgErr.Code)
	}
	switch {
	case errors.Is(err, context.Canceled):
		return warehouse.ErrorCanceled
	case errors.Is(err, context.DeadlineExceeded), pgconn.Timeout(err):
		var ce *pgconn.ConnectError
		if errors.As(err, &ce) {
			return warehouse.ErrorUnavailable // could not connect in time
		}
		return warehouse.ErrorTimeout
	}
	var (
		ce     *pgconn.ConnectError
		netErr net.Error
	)
	if errors.As(err, &ce) || errors.As(err, &netErr) || errors.Is(err, io.EOF) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) || pgconn.SafeToRetry(err) {
		return warehouse.ErrorUnavailable
	}
	return warehouse.ErrorQuery
}

func pgKind(code string) warehouse.ErrorKind {
	switch {
	case code == codeQueryCanceled, code == codeLockNotAvailable:
		return warehouse.ErrorTimeout
	case code == codeInsufficientPriv, code == codeInvalidAuthSpec, code == codeInvalidPassword:
		return warehouse.ErrorPermission
	case code == codeTooManyConnections, strings.HasPrefix(code, "08"), strings.HasPrefix(code, "53"),
		code == "57P01", code == "57P02", code == "57P03":
		// connection exceptions, insufficient resources, admin/crash
		// shutdown, cannot connect now
		return warehouse.ErrorUnavailable
	}
	return warehouse.ErrorQuery
}

// pgCode is err's SQLSTATE, or "".
func pgCode(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code
	}
	return ""
}
