package config

import "time"

// Config is medic's whole configuration. The zero value is not valid; use
// Default, Load or Parse, which fill every default.
type Config struct {
	// Environment names the deployment (dev, staging, production). Later
	// policy rules key on it.
	Environment string `yaml:"environment"`

	Log      Log      `yaml:"log"`
	Server   Server   `yaml:"server"`
	Auth     Auth     `yaml:"auth"`
	Database Database `yaml:"database"`
	Jobs     Jobs     `yaml:"jobs"`
	Airflow  Airflow  `yaml:"airflow"`
	Ingest   Ingest   `yaml:"ingest"`
	Logscan  Logscan  `yaml:"logscan"`
	Triage   Triage   `yaml:"triage"`
	Memory   Memory   `yaml:"memory"`
	// Investigate configures the commander and its specialists.
	Investigate Investigate `yaml:"investigate"`
	// Warehouse lists the warehouses the query-profiler reads.
	Warehouse Warehouse `yaml:"warehouse"`
	// Owners says where the owner-notifier finds ownership data.
	Owners Owners `yaml:"owners"`
	// LLM configures the optional model of specialists that name one.
	LLM LLM `yaml:"llm"`
	// Remediate is the policy envelope around medic's actions.
	Remediate Remediate `yaml:"remediate"`
	Notify    Notify    `yaml:"notify"`
}

// Log configures medic's own logging (to stderr).
type Log struct {
	Level  string `yaml:"level"`  // debug, info, warn, error
	Format string `yaml:"format"` // text or json
}

// Server configures the HTTP listener that serves the API, webhooks and
// metrics.
type Server struct {
	Addr            string        `yaml:"addr"`
	PublicURL       string        `yaml:"public_url"`
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout"`
}

// Auth holds the API bearer tokens. With none configured medic serves on
// loopback only.
type Auth struct {
	Tokens []Token `yaml:"tokens"`
}

// Role is an API permission level.
type Role string

// Roles, from least to most privileged.
const (
	RoleViewer   Role = "viewer"
	RoleOperator Role = "operator"
	RoleAdmin    Role = "admin"
)

// Token is one API bearer token with its role. Like every Secret field, the
// token may be given in YAML as token, token_file or token_env.
type Token struct {
	Name  string `yaml:"name"`
	Role  Role   `yaml:"role"`
	Token Secret `yaml:"token"`
	// MCPWrites offers the token MCP's write tools (trigger_dag,
	// clear_failed_tasks), which still only ask for approvals; off, MCP is
	// read-only for it.
	MCPWrites bool `yaml:"mcp_writes"`
}

// Database selects the store. URL is a SQLite file path (the default,
// "medic.db") or a postgres:// URL.
type Database struct {
	URL string `yaml:"url"`
}

// Jobs configures the durable job runner.
type Jobs struct {
	Workers int `yaml:"workers"`
	// RescueAfter is how long a job may stay running before another worker
	// takes it over, which is how work survives a crashed process. It must be
	// at least JobTimeout (River refuses less), or a job still running would
	// be rescued and run twice.
	RescueAfter time.Duration `yaml:"rescue_after"`
	// JobTimeout bounds one attempt of one job.
	JobTimeout  time.Duration `yaml:"job_timeout"`
	MaxAttempts int           `yaml:"max_attempts"`
	// PollInterval is how often an idle worker asks for new jobs (SQLite
	// has no notifications); every hop of an investigation waits up to it.
	PollInterval time.Duration `yaml:"poll_interval"`
}

// Airflow lists the Airflow instances medic watches.
type Airflow struct {
	Instances []AirflowInstance `yaml:"instances"`
}

// AirflowInstance is one Airflow deployment and how to reach it.
type AirflowInstance struct {
	Name string `yaml:"name"`
	URL  string `yaml:"url"`
	// Version is "auto" (detected at start), "2" (/api/v1, basic auth) or
	// "3" (/api/v2, JWT from /auth/token).
	Version  string `yaml:"version"`
	Username string `yaml:"username"`
	Password Secret `yaml:"password"`
	// Token is a static bearer token (Astronomer, a proxy); it replaces
	// username/password when set.
	Token          Secret        `yaml:"token"`
	Timeout        time.Duration `yaml:"timeout"`
	RateLimit      float64       `yaml:"rate_limit"` // requests per second
	Burst          int           `yaml:"burst"`
	MaxConcurrency int           `yaml:"max_concurrency"`
	MaxRetries     int           `yaml:"max_retries"`
	Poll           Poll          `yaml:"poll"`
}

// Poll configures the REST poller, the backstop for callbacks that never
// fire (OOM kills, SIGKILL).
type Poll struct {
	Enabled  bool          `yaml:"enabled"`
	Interval time.Duration `yaml:"interval"`
	// Lookback is how far back the first poll reaches when no high-water mark
	// is stored yet.
	Lookback time.Duration `yaml:"lookback"`
}

// Ingest configures the event sources.
type Ingest struct {
	Webhook  Webhook  `yaml:"webhook"`
	Coalesce Coalesce `yaml:"coalesce"`
	// SlackAlerts reads Slack alert channels as a failure source.
	SlackAlerts SlackAlerts `yaml:"slack_alerts"`
}

// Webhook configures POST /api/v1/events.
type Webhook struct {
	// Secret is the HMAC-SHA256 key for the X-Medic-Signature header. When
	// empty the endpoint only accepts API tokens with role operator or above.
	Secret       Secret `yaml:"secret"`
	MaxBodyBytes int64  `yaml:"max_body_bytes"`
}

// Logscan configures how task logs are read.
type Logscan struct {
	Redact Redact `yaml:"redact"`
}

// Redact configures secret redaction, which runs on every log line and
// exception before medic stores, shows, posts or forwards it. The built-in
// rules (logscan.BuiltinRules) always apply; Rules adds the operator's own.
type Redact struct {
	// Rules are operator rules, applied after the built-in ones; nil means
	// none. It is a pointer so that the list is one key of its own: an
	// empty list and an absent one are the same, and no entry has defaults.
	Rules *[]RedactRule `yaml:"rules"`
}

// RedactRule is one operator redaction rule; see logscan.RedactRule for the
// meaning of each field.
type RedactRule struct {
	Name        string   `yaml:"name"`
	Pattern     string   `yaml:"pattern"`
	Keywords    []string `yaml:"keywords"`
	SecretGroup int      `yaml:"secret_group"`
}

// Triage configures the first-pass investigation of each incident.
type Triage struct {
	FrequencyLookback time.Duration `yaml:"frequency_lookback"`
	// RecurringThreshold is in how many DAG runs (the failing one included)
	// a task must have failed within the lookback to count as "recurring"
	// rather than "one-off".
	RecurringThreshold int           `yaml:"recurring_threshold"`
	LogTailLines       int           `yaml:"log_tail_lines"`
	LogMaxBytes        int64         `yaml:"log_max_bytes"`
	StepTimeout        time.Duration `yaml:"step_timeout"`
}

// Notify configures where incident reports go.
type Notify struct {
	Console  Console         `yaml:"console"`
	Slack    Slack           `yaml:"slack"`
	Webhooks []NotifyWebhook `yaml:"webhooks"`
}

// Console prints a readable incident summary to stdout.
type Console struct {
	Enabled bool `yaml:"enabled"`
}
