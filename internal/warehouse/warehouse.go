// Package warehouse is the query profiler's domain: what a connector is asked
// (a Target: the tables and SQL a failed task touched, and when it failed)
// and what it answers (a Profile: statement statistics, sessions running and
// blocking at the failure time, long-running queries, table statistics, lock
// waits and timeouts, each with evidence text).
//
// A connector only reads. Every query it sends passes sqlguard, runs in a
// READ ONLY transaction with a statement timeout and a row cap, as a
// low-privilege role (docs/warehouse.md). A warehouse that is down or slow,
// or a query the guard rejects, becomes an Error in the Profile, never a
// panic, a hang or an action. All text that leaves this package tree (query
// text, server messages) is redacted and capped with Clean first.
package warehouse

import (
	"context"
	"strings"
	"time"
)

// Kind names a warehouse engine.
type Kind string

// Warehouse kinds. Only PostgreSQL has a connector so far; the others name
// the engines the Connector interface is shaped for.
const (
	KindPostgres  Kind = "postgres"
	KindSnowflake Kind = "snowflake"
	KindBigQuery  Kind = "bigquery"
)

// Connector profiles one warehouse. Implementations must return within the
// context's deadline and must never write.
type Connector interface {
	// Name is the warehouse's configured name, for findings and logs.
	Name() string
	// Kind is the engine.
	Kind() Kind
	// Profile reads what the warehouse can tell about t. It always returns a
	// non-nil Profile; sections that could not be read are listed in
	// Profile.Errors and Profile.Notes. The error is non-nil only when
	// nothing could be read (the warehouse is unreachable, or ctx ended):
	// it is then a *Error, also recorded in Profile.Errors, or ctx's error.
	Profile(ctx context.Context, t Target) (*Profile, error)
}

// Querier runs one guarded, read-only, row-capped query, for a specialist
// that needs a figure the Profile does not hold. A query the guard rejects
// returns a *Error of kind ErrorRejected without reaching the warehouse.
type Querier interface {
	Query(ctx context.Context, sql string, args ...any) (*Result, error)
}

// Result is the output of Querier.Query: every value rendered as text,
// redacted and capped.
type Result struct {
	Columns []string   `json:"columns"`
	Rows    [][]string `json:"rows"`
	// Truncated is set when the row cap cut the result short.
	Truncated bool `json:"truncated,omitempty"`
}

// TableName is a relation as a task named it. Schema is empty when the task
// left it to the search path; connectors then match the name in any schema.
type TableName struct {
	Schema string `json:"schema,omitempty"`
	Name   string `json:"name"`
}

// String returns schema.name, or the name alone.
func (t TableName) String() string {
	if t.Schema == "" {
		return t.Name
	}
	return t.Schema + "." + t.Name
}

// ParseTableName splits "schema.table" (or "db.schema.table", keeping the
// last two parts) into a TableName; double quotes around a part are removed.
func ParseTableName(s string) TableName {
	parts := splitQualified(strings.TrimSpace(s))
	switch len(parts) {
	case 0:
		return TableName{}
	case 1:
		return TableName{Name: parts[0]}
	}
	return TableName{Schema: parts[len(parts)-2], Name: parts[len(parts)-1]}
}

// splitQualified splits on dots outside double quotes.
func splitQualified(s string) []string {
	var (
		parts  []string
		cur    strings.Builder
		quoted bool
	)
	for _, r := range s {
		switch {
		case r == '"':
			quoted = !quoted
		case r == '.' && !quoted:
			parts = append(parts, cur.String())
			cur.Reset()
		default:
			cur.WriteRune(r)
		}
	}
	parts = append(parts, cur.String())
	out := parts[:0]
	for _, p := range parts {
		if p != "" {
			out = append(out, p)
		}
	}
	return out
}

// Target says what to profile: the failed task's tables and SQL, and when it
// failed.
type Target struct {
	// Tables are the relations the task touched (see Targets).
	Tables []TableName
	// SQL is the task's SQL when known. It is never executed; connectors use
	// it to match statement statistics and for evidence.
	SQL string
	// ErrorText is the task's error, for recognising lock and statement
	// timeouts and deadlocks.
	ErrorText string
	// FailedAt is when the task failed; zero means now.
	FailedAt time.Time
	// Window is how long after FailedAt the warehouse's present state (which
	// is all pg_stat_activity and pg_locks show) still stands for the
	// failure time; a profile taken later says so in a note. Zero means
	// DefaultWindow.
	Window time.Duration
}

// DefaultWindow is Target.Window when unset.
const DefaultWindow = 15 * time.Minute

// Normalize fills the defaults of a Target: FailedAt from now and Window.
func (t Target) Normalize(now time.Time) Target {
	if t.FailedAt.IsZero() {
		t.FailedAt = now
	}
	if t.Window <= 0 {
		t.Window = DefaultWindow
	}
	return t
}
