// Package sqlguard decides whether a SQL text is a plain, read-only SELECT
// that medic may send to a warehouse. It parses the text with the real
// PostgreSQL parser (pg_query_go) and walks the whole parse tree: exactly one
// statement, a SelectStmt, no data-modifying CTE, no locking clause, no
// SELECT INTO, only node types a catalog or statistics query needs, and only
// functions from an allowlist.
//
// The guard is the first line of defence, never the only one: a query that
// passes still runs in a READ ONLY transaction with timeouts and a row cap,
// as a role that holds no write grants and cannot signal other backends
// (see docs/warehouse.md). sqlguard never executes anything and never
// returns the statement text in an error, since literals may hold secrets.
package sqlguard

import (
	"slices"
	"strings"
	"unicode/utf8"

	pg_query "github.com/pganalyze/pg_query_go/v6"
)

// DefaultMaxLen bounds the text the guard parses when Options.MaxLen is 0.
const DefaultMaxLen = 64 << 10

// maxDepth bounds the walk; PostgreSQL's own parser gives up long before a
// legitimate statistics query gets near it.
const maxDepth = 1000

// Options tune Check. The zero value is the default policy.
type Options struct {
	// Functions replaces DefaultFunctions when non-nil. Names are compared
	// exactly against the parsed (lower-cased unless quoted) function name.
	Functions []string
	// MaxLen is the longest text accepted, in bytes; 0 means DefaultMaxLen.
	MaxLen int
}

// defaultFunctions are the functions a catalog or statistics query needs.
// Each is side-effect free and takes no lock on a user relation. Left out on
// purpose: anything that signals or sleeps (pg_terminate_backend,
// pg_cancel_backend, pg_sleep*), changes settings (set_config), reaches
// outside the database (dblink*, lo_*, pg_read_file, pg_ls_dir, COPY),
// takes advisory locks, touches sequences (nextval, setval, currval),
// assigns a transaction id (txid_current), runs SQL held in a string
// (query_to_xml and friends), resets statistics, and the relation size
// functions, which take an AccessShareLock and so would queue behind the
// very lock being investigated.
var defaultFunctions = []string{
	// aggregates and window functions
	"count", "sum", "min", "max", "avg", "array_agg", "string_agg", "bool_and", "bool_or",
	"row_number", "rank", "dense_rank",
	// time
	"now", "statement_timestamp", "transaction_timestamp", "clock_timestamp",
	"extract", "date_part", "date_trunc", "age", "to_char", "timezone",
	// text
	"left", "right", "substring", "substr", "lower", "upper", "length", "char_length",
	"btrim", "ltrim", "rtrim", "replace", "split_part", "position", "strpos", "concat", "concat_ws",
	// numbers
	"round", "floor", "ceil", "ceiling", "abs", "greatest", "least", "coalesce", "nullif",
	// arrays
	"unnest", "array_length", "cardinality", "array_position", "array_to_string",
	// session and lock introspection
	"pg_blocking_pids", "pg_backend_pid", "current_database", "pg_postmaster_start_time",
}

// DefaultFunctions returns a copy of the default function allowlist.
func DefaultFunctions() []string { return slices.Clone(defaultFunctions) }

// Check returns nil when sql is a single plain SELECT that uses only allowed
// constructs and functions, and a *RejectError saying why otherwise. It
// never panics on any input.
func Check(sql string, opts Options) error {
	maxLen := opts.MaxLen
	if maxLen <= 0 {
		maxLen = DefaultMaxLen
	}
	if err := checkText(sql, maxLen); err != nil {
		return err
	}
	tree, err := pg_query.Parse(sql)
	if err != nil {
		return &RejectError{Reason: ReasonParse, Detail: parseDetail(err)}
	}
	switch n := len(tree.GetStmts()); {
	case n == 0:
		return reject(ReasonEmpty, "no statement")
	case n > 1:
		return reject(ReasonMultipleStatements, "%d statements", n)
	}
	stmt := tree.GetStmts()[0].GetStmt()
	if stmt.GetSelectStmt() == nil {
		return reject(ReasonNotSelect, "%s", nodeName(stmt))
	}
	c := checker{allowed: opts.Functions}
	return c.walk(stmt.ProtoReflect(), 0)
}

// checkText refuses text the parser and the server might read differently.
func checkText(sql string, maxLen int) error {
	switch {
	case len(sql) > maxLen:
		return reject(ReasonTooLong, "%d bytes, limit %d", len(sql), maxLen)
	case !utf8.ValidString(sql):
		return reject(ReasonEncoding, "invalid UTF-8")
	case strings.IndexByte(sql, 0) >= 0:
		// The parser reads a C string and would stop at the NUL, while the
		// server might not: never let the two see different statements.
		return reject(ReasonEncoding, "NUL byte")
	}
	return nil
}

// parseDetail keeps the parser's message but drops the quoted text near the
// error, which is a piece of the statement.
func parseDetail(err error) string {
	msg := err.Error()
	if i := strings.Index(msg, " at or near"); i >= 0 {
		msg = msg[:i]
	}
	if i := strings.Index(msg, " at end of input"); i >= 0 {
		msg = msg[:i] + " at end of input"
	}
	if len(msg) > 120 {
		msg = msg[:120]
	}
	return strings.ToValidUTF8(msg, "?")
}
