package sqlguard

import (
	"errors"
	"fmt"
)

// Reason is the machine-readable cause of a rejection. Callers branch on it
// (errors.As to *RejectError), never on the message.
type Reason string

// Rejection reasons. Each names one rule of the guard.
const (
	ReasonEmpty              Reason = "empty"               // no statement at all
	ReasonTooLong            Reason = "too_long"            // longer than Options.MaxLen
	ReasonEncoding           Reason = "encoding"            // invalid UTF-8 or a NUL byte
	ReasonParse              Reason = "parse"               // not valid PostgreSQL
	ReasonMultipleStatements Reason = "multiple_statements" // more than one statement
	ReasonNotSelect          Reason = "not_select"          // INSERT, DDL, COPY, CALL, DO, SET, EXPLAIN ...
	ReasonDataModifyingCTE   Reason = "data_modifying_cte"  // WITH x AS (DELETE ...)
	ReasonLockingClause      Reason = "locking_clause"      // FOR UPDATE / NO KEY UPDATE / SHARE / KEY SHARE
	ReasonSelectInto         Reason = "select_into"         // SELECT ... INTO creates a table
	ReasonFunction           Reason = "function_not_allowed"
	ReasonQualifiedName      Reason = "qualified_name" // a function, operator or type outside pg_catalog
	ReasonConstruct          Reason = "construct_not_allowed"
	ReasonTooDeep            Reason = "too_deep" // the parse tree nests beyond the walk limit
)

// ErrRejected matches every *RejectError with errors.Is.
var ErrRejected = errors.New("sqlguard: statement rejected")

// RejectError says why a statement was refused. The statement itself is not
// included: it may hold literals with secrets, and the caller has it anyway.
type RejectError struct {
	Reason Reason
	// Detail names the offending part: the statement type, the function, the
	// locking strength. It is derived from the parse tree and short.
	Detail string
}

func (e *RejectError) Error() string {
	if e.Detail == "" {
		return fmt.Sprintf("sqlguard: rejected (%s)", e.Reason)
	}
	return fmt.Sprintf("sqlguard: rejected (%s): %s", e.Reason, e.Detail)
}

// Is makes errors.Is(err, ErrRejected) true for every rejection.
func (e *RejectError) Is(target error) bool { return target == ErrRejected }

func reject(r Reason, format string, args ...any) *RejectError {
	return &RejectError{Reason: r, Detail: fmt.Sprintf(format, args...)}
}
