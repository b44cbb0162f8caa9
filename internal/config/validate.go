package config

import (
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"time"

	"github.com/medic-sh/medic/internal/logscan"
)

// Limits that Validate enforces.
const (
	// MinTokenLength is the shortest API token accepted; shorter ones are
	// guessable.
	MinTokenLength = 16
	// MinWebhookBodyBytes and MaxWebhookBodyBytes bound
	// ingest.webhook.max_body_bytes.
	MinWebhookBodyBytes = 1 << 10
	MaxWebhookBodyBytes = 64 << 20
)

var (
	logLevels   = []string{"debug", "info", "warn", "error"}
	logFormats  = []string{"text", "json"}
	roles       = []Role{RoleViewer, RoleOperator, RoleAdmin}
	versions    = []string{"auto", "2", "3"}
	instanceRE  = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`)
	hostPortMsg = "want host:port, such as 127.0.0.1:8080 or :8080"
)

// Validate checks what decoding cannot: allowed values, ranges, uniqueness
// and combinations. It returns every problem joined with errors.Join, each a
// *FieldError naming the key; nil means the configuration is usable. Load
// calls it and adds file positions to the problems.
func (c *Config) Validate() error {
	return joinFieldErrors(c.problems())
}

// validator collects problems by YAML path.
type validator struct{ errs []*FieldError }

func (v *validator) add(path, format string, args ...any) {
	v.errs = append(v.errs, &FieldError{Path: path, Err: newProblem(ErrInvalid, format, args...)})
}

func (v *validator) oneOf(path, got string, allowed []string) {
	if !slices.Contains(allowed, got) {
		v.add(path, "want one of %v, got %q", allowed, got)
	}
}

func (v *validator) positive(path string, d time.Duration) {
	if d <= 0 {
		v.add(path, "want a positive duration, got %s", d)
	}
}

func (v *validator) atLeast(path string, got, lowest int64) {
	if got < lowest {
		v.add(path, "want at least %d, got %d", lowest, got)
	}
}

func (c *Config) problems() []*FieldError {
	v := &validator{}
	if c.Environment == "" {
		v.add("environment", "must not be empty (dev, staging, production, ...)")
	}
	v.oneOf("log.level", c.Log.Level, logLevels)
	v.oneOf("log.format", c.Log.Format, logFormats)
	c.Server.validate(v)
	if c.Database.URL == "" {
		v.add("database.url", `must not be empty: a SQLite file path such as "medic.db" or a postgres:// URL`)
	}
	c.Auth.validate(v)
	c.Jobs.validate(v)
	c.Airflow.validate(v)
	mb := c.Ingest.Webhook.MaxBodyBytes
	if mb < MinWebhookBodyBytes || mb > MaxWebhookBodyBytes {
		v.add("ingest.webhook.max_body_bytes", "want between %d (1 KiB) and %d (64 MiB), got %d",
			MinWebhookBodyBytes, MaxWebhookBodyBytes, mb)
	}
	c.Logscan.Redact.validate(v)
	t := c.Triage
	v.positive("triage.frequency_lookback", t.FrequencyLookback)
	v.atLeast("triage.recurring_threshold", int64(t.RecurringThreshold), 1)
	v.atLeast("triage.log_tail_lines", int64(t.LogTailLines), 1)
	v.atLeast("triage.log_max_bytes", t.LogMaxBytes, 1)
	v.positive("triage.step_timeout", t.StepTimeout)
	c.Memory.validate(v)
	c.Investigate.validate(v, c.Jobs)
	c.Warehouse.validate(v)
	c.Owners.validate(v)
	c.LLM.validate(v)
	c.Remediate.validate(v)
	c.Notify.Slack.validate(v)
	validateWebhooks(v, c.Notify.Webhooks)
	c.Ingest.Coalesce.validate(v)
	c.Ingest.SlackAlerts.validate(v, c.Airflow.Instances)
	return v.errs
}

func (s Server) validate(v *validator) {
	addrOK := true
	if _, port, err := net.SplitHostPort(s.Addr); err != nil {
		addrOK = false
		v.add("server.addr", "%s, got %q", hostPortMsg, s.Addr)
	} else if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		addrOK = false
		v.add("server.addr", "port must be a number from 0 to 65535, got %q", port)
	}
	switch {
	case s.PublicURL != "":
		if msg := httpURLProblem(s.PublicURL); msg != "" {
			v.add("server.public_url", "%s", msg)
		}
	case addrOK:
		v.add("server.public_url", "must not be empty")
	}
	v.positive("server.shutdown_timeout", s.ShutdownTimeout)
}

// httpURLProblem says what is wrong with an absolute http(s) URL, or "".
func httpURLProblem(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Sprintf("want an absolute http:// or https:// URL, got %q", raw)
	}
	return ""
}

func (a Auth) validate(v *validator) {
	names := map[string]int{}
	values := map[[sha256.Size]byte]int{}
	for i, t := range a.Tokens {
		p := fmt.Sprintf("auth.tokens[%d]", i)
		switch first, dup := names[t.Name]; {
		case t.Name == "":
			v.add(p+".name", "must not be empty")
		case dup:
			v.add(p+".name", "%q is already the name of auth.tokens[%d]", t.Name, first)
		default:
			names[t.Name] = i
		}
		if !slices.Contains(roles, t.Role) {
			v.add(p+".role", "want one of %v, got %q", roles, t.Role)
		}
		if t.MCPWrites && t.Role == RoleViewer {
			v.add(p+".mcp_writes", "a viewer token cannot ask for writes: give it role operator or admin, or drop mcp_writes")
		}
		secret := t.Token.Reveal()
		if len(secret) < MinTokenLength {
			// The length of a secret is not the secret; say how short it is
			// only when it is empty, to keep messages bland.
			if secret == "" {
				v.add(p+".token", "must be set (token, token_file or token_env)")
			} else {
				v.add(p+".token", "must be at least %d characters", MinTokenLength)
			}
			continue
		}
		sum := sha256.Sum256([]byte(secret))
		if first, dup := values[sum]; dup {
			v.add(p+".token", "has the same value as auth.tokens[%d].token; each token must be unique", first)
			continue
		}
		values[sum] = i
	}
}

func (j Jobs) validate(v *validator) {
	v.atLeast("jobs.workers", int64(j.Workers), 1)
	v.positive("jobs.rescue_after", j.RescueAfter)
	v.positive("jobs.job_timeout", j.JobTimeout)
	v.atLeast("jobs.max_attempts", int64(j.MaxAttempts), 1)
	v.positive("jobs.poll_interval", j.PollInterval)
	if j.PollInterval > 10*time.Second {
		v.add("jobs.poll_interval", "must be at most 10s (every step of an investigation waits up to it), got %s", j.PollInterval)
	}
	if j.RescueAfter > 0 && j.RescueAfter < j.JobTimeout {
		v.add("jobs.rescue_after", "must be at least jobs.job_timeout (%s), or running jobs are rescued and run twice; got %s",
			j.JobTimeout, j.RescueAfter)
	}
}

func (a Airflow) validate(v *validator) {
	names := map[string]int{}
	for i, in := range a.Instances {
		p := fmt.Sprintf("airflow.instances[%d]", i)
		switch first, dup := names[in.Name]; {
		case in.Name == "":
			v.add(p+".name", "must not be empty")
		case !instanceRE.MatchString(in.Name):
			v.add(p+".name", "want lower-case letters, digits, _ and -, starting with a letter or digit; got %q", in.Name)
		case dup:
			v.add(p+".name", "%q is already the name of airflow.instances[%d]", in.Name, first)
		default:
			names[in.Name] = i
		}
		if msg := httpURLProblem(in.URL); msg != "" {
			v.add(p+".url", "%s", msg)
		}
		v.oneOf(p+".version", in.Version, versions)
		basic := in.Username != "" || in.Password.IsSet()
		switch {
		case in.Token.IsSet() && basic:
			v.add(p+".token", "set either token or username and password, not both")
		case in.Username != "" && !in.Password.IsSet():
			v.add(p+".password", "must be set when username is (password, password_file or password_env)")
		case in.Username == "" && in.Password.IsSet():
			v.add(p+".username", "must be set when password is")
		}
		v.positive(p+".timeout", in.Timeout)
		if !(in.RateLimit > 0) { // also catches NaN
			v.add(p+".rate_limit", "want a positive number of requests per second, got %v", in.RateLimit)
		}
		v.atLeast(p+".burst", int64(in.Burst), 1)
		v.atLeast(p+".max_concurrency", int64(in.MaxConcurrency), 1)
		v.atLeast(p+".max_retries", int64(in.MaxRetries), 0)
		v.positive(p+".poll.interval", in.Poll.Interval)
		v.positive(p+".poll.lookback", in.Poll.Lookback)
	}
}

// validate checks each operator rule as logscan.NewRedactor would: a
// unique name that is not a built-in rule's, keywords, a pattern that
// compiles and does not match the empty string, and a capture group the
// pattern has.
func (r Redact) validate(v *validator) {
	names := map[string]int{}
	for i, rule := range r.RedactRules() {
		p := fmt.Sprintf("logscan.redact.rules[%d]", i)
		if first, dup := names[rule.Name]; dup {
			v.add(p+".name", "%q is already the name of logscan.redact.rules[%d]", rule.Name, first)
		} else {
			names[rule.Name] = i
		}
		for _, e := range logscan.CheckRule(rule) {
			v.add(p+"."+e.Field, "%s", e.Msg)
		}
	}
}

// RedactRules returns the operator rules in the form logscan.NewRedactor
// takes. At start-up the application builds the redactor from them:
//
//	r, err := logscan.NewRedactor(cfg.Logscan.Redact.RedactRules())
//	...
//	logscan.SetDefault(r)
func (r Redact) RedactRules() []logscan.RedactRule {
	if r.Rules == nil {
		return nil
	}
	out := make([]logscan.RedactRule, len(*r.Rules))
	for i, rule := range *r.Rules {
		out[i] = logscan.RedactRule{
			Name:        rule.Name,
			Keywords:    append([]string(nil), rule.Keywords...),
			Pattern:     rule.Pattern,
			SecretGroup: rule.SecretGroup,
		}
	}
	return out
}

// LoopbackOnly reports whether no API tokens are configured, in which case
// medic must listen on loopback only: anyone who can connect is trusted.
func (c *Config) LoopbackOnly() bool { return len(c.Auth.Tokens) == 0 }

// Token finds the API token whose value is value. It compares SHA-256
// digests in constant time and checks every token, so neither the position
// of a match nor a shared prefix shows in the timing.
func (c *Config) Token(value string) (Token, bool) {
	if value == "" {
		return Token{}, false
	}
	want := sha256.Sum256([]byte(value))
	var found Token
	ok := 0
	for _, t := range c.Auth.Tokens {
		got := sha256.Sum256([]byte(t.Token.Reveal()))
		match := subtle.ConstantTimeCompare(want[:], got[:]) & (1 - ok)
		if match == 1 {
			found = t
		}
		ok |= match
	}
	return found, ok == 1
}
