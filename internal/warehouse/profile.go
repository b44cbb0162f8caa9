package warehouse

import (
	"fmt"
	"strings"
	"time"
)

// Profile is what a connector could read about a Target. Every text field
// has been through Clean. Sections that could not be read are empty and
// explained in Notes (expected gaps, such as pg_stat_statements not being
// installed) or Errors (failures).
type Profile struct {
	Warehouse string      `json:"warehouse"`
	Kind      Kind        `json:"kind"`
	Targets   []TableName `json:"targets,omitempty"`
	FailedAt  time.Time   `json:"failed_at"`
	// ObservedAt is the warehouse's clock when the profile was read (ours
	// if the warehouse could not be asked).
	ObservedAt time.Time `json:"observed_at"`
	Server     *Server   `json:"server,omitempty"`

	// Statements are recent statement statistics for the target tables
	// (or the heaviest statements when no table is known).
	Statements []StatementStat `json:"statements,omitempty"`
	// Activity lists the sessions busy at the failure time: started before
	// it and not idle when observed.
	Activity []Session `json:"activity,omitempty"`
	// Blocking pairs each blocked session with a session it waits for.
	Blocking []BlockingPair `json:"blocking,omitempty"`
	// LongRunning lists queries and transactions older than the connector's
	// threshold.
	LongRunning []Session   `json:"long_running,omitempty"`
	Tables      []TableStat `json:"tables,omitempty"`
	LockWaits   []LockWait  `json:"lock_waits,omitempty"`
	// Timeouts are the lock/statement timeouts and deadlocks the task's
	// error text reports.
	Timeouts []Timeout `json:"timeouts,omitempty"`

	Notes  []string `json:"notes,omitempty"`
	Errors []*Error `json:"errors,omitempty"`
	// Truncated names the sections the row cap cut short.
	Truncated []string `json:"truncated,omitempty"`
}

// Server describes the warehouse the profile was read from.
type Server struct {
	Version  string `json:"version"`
	Database string `json:"database"`
	// User is the role the profiler connected as.
	User      string     `json:"user"`
	StartedAt *time.Time `json:"started_at,omitempty"`
	// Settings are the server defaults that bear on waits and timeouts, as
	// the profiler's role sees them (a task's own role may override them).
	Settings []Setting `json:"settings,omitempty"`
	// Deadlocks is the database's cumulative deadlock count since
	// StatsReset.
	Deadlocks  int64      `json:"deadlocks"`
	StatsReset *time.Time `json:"stats_reset,omitempty"`
}

// Setting is one server setting.
type Setting struct {
	Name  string `json:"name"`
	Value string `json:"value"`
	Unit  string `json:"unit,omitempty"`
}

// Session is one backend as pg_stat_activity (or an engine's equivalent)
// showed it.
type Session struct {
	PID           int32      `json:"pid"`
	User          string     `json:"user,omitempty"`
	Application   string     `json:"application,omitempty"`
	ClientAddr    string     `json:"client_addr,omitempty"`
	State         string     `json:"state,omitempty"`
	WaitEventType string     `json:"wait_event_type,omitempty"`
	WaitEvent     string     `json:"wait_event,omitempty"`
	BackendStart  *time.Time `json:"backend_start,omitempty"`
	XactStart     *time.Time `json:"xact_start,omitempty"`
	QueryStart    *time.Time `json:"query_start,omitempty"`
	// QuerySec is how long the current (or, when idle, the last) query has
	// run; XactSec the age of the open transaction.
	QuerySec float64 `json:"query_sec,omitempty"`
	XactSec  float64 `json:"xact_sec,omitempty"`
	// Query is the session's current or last query, redacted and capped.
	Query     string  `json:"query,omitempty"`
	BlockedBy []int32 `json:"blocked_by,omitempty"`
	// RunningAtFailure is set when the session was busy before the failure
	// time and still is.
	RunningAtFailure bool `json:"running_at_failure,omitempty"`
	// TouchesTarget is set when the query or the session's locks name a
	// target table.
	TouchesTarget bool   `json:"touches_target,omitempty"`
	Evidence      string `json:"evidence"`
}

// BlockingPair is one blocked session and one session it waits for.
type BlockingPair struct {
	Blocked  Session `json:"blocked"`
	Blocking Session `json:"blocking"`
	// LockType and Mode are the lock the blocked session waits for, on
	// Relation when it is a relation (or tuple) lock.
	LockType string     `json:"lock_type,omitempty"`
	Mode     string     `json:"mode,omitempty"`
	Relation *TableName `json:"relation,omitempty"`
	// BlockerHolds are the lock modes the blocking session holds on the
	// relations the blocked session is locking or waiting for.
	BlockerHolds  []string `json:"blocker_holds,omitempty"`
	WaitedSec     float64  `json:"waited_sec"`
	TouchesTarget bool     `json:"touches_target,omitempty"`
	Evidence      string   `json:"evidence"`
}

// LockWait is one lock request not yet granted.
type LockWait struct {
	PID           int32      `json:"pid"`
	LockType      string     `json:"lock_type"`
	Mode          string     `json:"mode"`
	Relation      *TableName `json:"relation,omitempty"`
	WaitStart     *time.Time `json:"wait_start,omitempty"`
	WaitedSec     float64    `json:"waited_sec,omitempty"`
	BlockedBy     []int32    `json:"blocked_by,omitempty"`
	TouchesTarget bool       `json:"touches_target,omitempty"`
	Evidence      string     `json:"evidence"`
}

// TableStat is the statistics row of one target table.
type TableStat struct {
	Table           TableName  `json:"table"`
	LiveRows        int64      `json:"live_rows"`
	DeadRows        int64      `json:"dead_rows"`
	ModSinceAnalyze int64      `json:"mod_since_analyze"`
	SeqScans        int64      `json:"seq_scans"`
	IdxScans        *int64     `json:"idx_scans,omitempty"`
	LastVacuum      *time.Time `json:"last_vacuum,omitempty"`
	LastAutovacuum  *time.Time `json:"last_autovacuum,omitempty"`
	LastAnalyze     *time.Time `json:"last_analyze,omitempty"`
	LastAutoanalyze *time.Time `json:"last_autoanalyze,omitempty"`
	// DeadRatio is dead / (live + dead) rows, 0 for an empty table.
	DeadRatio float64 `json:"dead_ratio"`
	// NeverAnalyzed is set when neither ANALYZE nor autovacuum has
	// analysed the table: the planner is guessing.
	NeverAnalyzed bool   `json:"never_analyzed,omitempty"`
	Evidence      string `json:"evidence"`
}

// StatementStat is one normalised statement's cumulative statistics.
type StatementStat struct {
	QueryID  int64   `json:"query_id"`
	Query    string  `json:"query"`
	Calls    int64   `json:"calls"`
	TotalSec float64 `json:"total_sec"`
	MeanSec  float64 `json:"mean_sec"`
	MaxSec   float64 `json:"max_sec"`
	Rows     int64   `json:"rows"`
	// SharedBlksRead and TempBlksWritten hint at I/O and spills.
	SharedBlksRead  int64 `json:"shared_blks_read"`
	SharedBlksHit   int64 `json:"shared_blks_hit"`
	TempBlksWritten int64 `json:"temp_blks_written"`
	// Table is the target table the statement mentions, if any.
	Table    string `json:"table,omitempty"`
	Evidence string `json:"evidence"`
}

// TimeoutKind names a wait that ended a statement.
type TimeoutKind string

// Timeout kinds recognised in error text.
const (
	TimeoutLock             TimeoutKind = "lock_timeout"
	TimeoutStatement        TimeoutKind = "statement_timeout"
	TimeoutDeadlock         TimeoutKind = "deadlock"
	TimeoutLockNotAvailable TimeoutKind = "lock_not_available"
	TimeoutIdleInXact       TimeoutKind = "idle_in_transaction_timeout"
)

// Timeout is a lock or statement timeout, or a deadlock, that the failure
// reported.
type Timeout struct {
	Kind TimeoutKind `json:"kind"`
	// Source is where it was seen: "error_text".
	Source   string `json:"source"`
	Evidence string `json:"evidence"`
}

// Partial reports whether some section could not be read.
func (p *Profile) Partial() bool { return len(p.Errors) > 0 }

// AddError records a section failure.
func (p *Profile) AddError(e *Error) { p.Errors = append(p.Errors, e) }

// AddNote records an expected gap, cleaned.
func (p *Profile) AddNote(format string, args ...any) {
	p.Notes = append(p.Notes, Clean(fmt.Sprintf(format, args...), 500))
}

// Summary is one line for a finding's summary: what was found and what is
// missing.
func (p *Profile) Summary() string {
	var parts []string
	add := func(n int, one, many string) {
		switch {
		case n == 1:
			parts = append(parts, "1 "+one)
		case n > 1:
			parts = append(parts, fmt.Sprintf("%d %s", n, many))
		}
	}
	add(len(p.Blocking), "blocked session pair", "blocked session pairs")
	add(len(p.LockWaits), "lock wait", "lock waits")
	add(len(p.Timeouts), "timeout in the error", "timeouts in the error")
	add(len(p.LongRunning), "long-running query", "long-running queries")
	add(len(p.Activity), "session busy at the failure", "sessions busy at the failure")
	add(len(p.Tables), "table with statistics", "tables with statistics")
	add(len(p.Statements), "statement statistic", "statement statistics")
	if len(parts) == 0 {
		parts = append(parts, "nothing notable")
	}
	s := fmt.Sprintf("%s warehouse %s: %s", p.Kind, p.Warehouse, strings.Join(parts, ", "))
	if n := len(p.Errors); n > 0 {
		secs := make([]string, 0, n)
		for _, e := range p.Errors {
			secs = append(secs, e.Section+" ("+string(e.Kind)+")")
		}
		s += "; could not read " + strings.Join(secs, ", ")
	}
	return Clean(s, 500)
}
