package config

import (
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Investigate configures the investigation of each incident: the
// incident-commander opens a session and runs its specialists
// (log-analyzer, query-profiler, owner-notifier and any added in
// AgentsDir) in parallel as child sessions, then composes their findings.
type Investigate struct {
	// AgentsDir is a directory of agent definitions (*.yaml) that add
	// specialists or replace built-in agents by name; empty means the
	// built-ins alone. A relative path is relative to the configuration
	// file.
	AgentsDir string `yaml:"agents_dir"`
	// Deadline bounds one investigation, from the commander starting its
	// specialists to the composed report: a specialist still running then
	// is marked timed out and the report says it is partial. An agent
	// definition's timeout overrides it for the commander.
	Deadline time.Duration `yaml:"deadline"`
	// SpecialistTimeout bounds one specialist's run when its definition
	// sets no timeout. A run never outlives the deadline either.
	SpecialistTimeout time.Duration `yaml:"specialist_timeout"`
	// RunbookURL, when set, is the runbook link of every report, with
	// {label}, {remediation}, {dag_id} and {task_id} replaced.
	RunbookURL string `yaml:"runbook_url"`
}

// MaxInvestigationDeadline bounds investigate.deadline.
const MaxInvestigationDeadline = 30 * time.Minute

// RunbookPlaceholders are the names investigate.runbook_url may use.
var RunbookPlaceholders = []string{"label", "remediation", "dag_id", "task_id"}

var placeholderRE = regexp.MustCompile(`\{([^{}]*)\}`)

func defaultInvestigate() Investigate {
	return Investigate{Deadline: 60 * time.Second, SpecialistTimeout: 45 * time.Second}
}

func (in Investigate) validate(v *validator, jobs Jobs) {
	v.positive("investigate.deadline", in.Deadline)
	v.positive("investigate.specialist_timeout", in.SpecialistTimeout)
	if in.Deadline > MaxInvestigationDeadline {
		v.add("investigate.deadline", "want at most %s, got %s", MaxInvestigationDeadline, in.Deadline)
	}
	switch {
	case in.SpecialistTimeout > in.Deadline && in.Deadline > 0:
		v.add("investigate.specialist_timeout", "must be at most investigate.deadline (%s): a specialist cannot outlive its investigation; got %s",
			in.Deadline, in.SpecialistTimeout)
	case in.SpecialistTimeout >= jobs.JobTimeout && jobs.JobTimeout > 0:
		v.add("investigate.specialist_timeout", "must be less than jobs.job_timeout (%s), or a specialist's job is cancelled before its own timeout; got %s",
			jobs.JobTimeout, in.SpecialistTimeout)
	}
	if in.RunbookURL == "" {
		return
	}
	for _, m := range placeholderRE.FindAllStringSubmatch(in.RunbookURL, -1) {
		if !slices.Contains(RunbookPlaceholders, m[1]) {
			v.add("investigate.runbook_url", "unknown placeholder {%s}; want one of {%s}", m[1], strings.Join(RunbookPlaceholders, "}, {"))
			return
		}
	}
	filled := placeholderRE.ReplaceAllString(in.RunbookURL, "x")
	if msg := httpURLProblem(filled); msg != "" {
		v.add("investigate.runbook_url", "%s", msg)
	}
}

// Runbook fills the runbook URL's placeholders; "" when none is configured.
func (in Investigate) Runbook(values map[string]string) string {
	if in.RunbookURL == "" {
		return ""
	}
	return placeholderRE.ReplaceAllStringFunc(in.RunbookURL, func(m string) string {
		return url.PathEscape(values[m[1:len(m)-1]])
	})
}

// Warehouse lists the warehouses the query-profiler may read. Every
// connection is read-only by construction (docs/warehouse.md).
type Warehouse struct {
	// Connections is a pointer so that the list is one key of its own:
	// none by default, and an empty list is the same as none.
	Connections *[]WarehouseConnection `yaml:"connections"`
}

// WarehouseKindPostgres is the PostgreSQL warehouse kind, the only one so
// far.
const WarehouseKindPostgres = "postgres"

var warehouseKinds = []string{WarehouseKindPostgres}

// Limits that Validate enforces on warehouse connections.
const (
	MaxWarehouseRows  = 10_000
	MaxWarehouseConns = 16
)

// WarehouseConnection is one warehouse and how the profiler reaches it.
type WarehouseConnection struct {
	Name string `yaml:"name"`
	Kind string `yaml:"kind"`
	// URL is the connection URL of the low-privilege profiler role.
	URL              Secret        `yaml:"url"`
	ConnectTimeout   time.Duration `yaml:"connect_timeout"`
	StatementTimeout time.Duration `yaml:"statement_timeout"`
	LockTimeout      time.Duration `yaml:"lock_timeout"`
	// ProfileTimeout bounds one profile as a whole.
	ProfileTimeout time.Duration `yaml:"profile_timeout"`
	MaxRows        int           `yaml:"max_rows"`
	MaxConns       int           `yaml:"max_conns"`
	// LongRunning is the age from which a query or open transaction is
	// reported as long-running.
	LongRunning time.Duration `yaml:"long_running"`
}

// DefaultWarehouseConnection returns the defaults every entry of
// warehouse.connections starts from (those of the PostgreSQL profiler).
func DefaultWarehouseConnection() WarehouseConnection {
	return WarehouseConnection{
		Kind:             WarehouseKindPostgres,
		ConnectTimeout:   3 * time.Second,
		StatementTimeout: 2 * time.Second,
		LockTimeout:      500 * time.Millisecond,
		ProfileTimeout:   15 * time.Second,
		MaxRows:          200,
		MaxConns:         2,
		LongRunning:      time.Minute,
	}
}

var _ defaulter = (*WarehouseConnection)(nil)

func (w *WarehouseConnection) setDefaults() { *w = DefaultWarehouseConnection() }

// List returns the configured connections, none when the key is absent.
func (w Warehouse) List() []WarehouseConnection {
	if w.Connections == nil {
		return nil
	}
	return *w.Connections
}

func (w Warehouse) validate(v *validator) {
	names := map[string]int{}
	for i, c := range w.List() {
		p := fmt.Sprintf("warehouse.connections[%d]", i)
		switch first, dup := names[c.Name]; {
		case c.Name == "":
			v.add(p+".name", "must not be empty")
		case !instanceRE.MatchString(c.Name):
			v.add(p+".name", "want lower-case letters, digits, _ and -, starting with a letter or digit; got %q", c.Name)
		case dup:
			v.add(p+".name", "%q is already the name of warehouse.connections[%d]", c.Name, first)
		default:
			names[c.Name] = i
		}
		v.oneOf(p+".kind", c.Kind, warehouseKinds)
		if !c.URL.IsSet() {
			v.add(p+".url", "must be set to the profiler role's postgres:// URL (url, url_file or url_env)")
		}
		v.positive(p+".connect_timeout", c.ConnectTimeout)
		v.positive(p+".statement_timeout", c.StatementTimeout)
		v.positive(p+".lock_timeout", c.LockTimeout)
		v.positive(p+".profile_timeout", c.ProfileTimeout)
		v.positive(p+".long_running", c.LongRunning)
		if c.StatementTimeout > c.ProfileTimeout {
			v.add(p+".statement_timeout", "must be at most profile_timeout (%s), or one query could use up the whole profile; got %s",
				c.ProfileTimeout, c.StatementTimeout)
		}
		if c.MaxRows < 1 || c.MaxRows > MaxWarehouseRows {
			v.add(p+".max_rows", "want from 1 to %d, got %d", MaxWarehouseRows, c.MaxRows)
		}
		if c.MaxConns < 1 || c.MaxConns > MaxWarehouseConns {
			v.add(p+".max_conns", "want from 1 to %d: the profiler must stay a light load; got %d", MaxWarehouseConns, c.MaxConns)
		}
	}
}
