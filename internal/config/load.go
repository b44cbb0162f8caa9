// Package config loads, checks and documents medic's configuration: one YAML
// file (medic.yaml), defaults for every key, a few MEDIC_* environment
// overrides, and secrets that may come inline, from a file (KEY_file) or
// from an environment variable (KEY_env).
//
// Loading is strict: unknown keys, wrong types and bad durations are errors
// that name the file, line and YAML path, all reported at once. Validate adds
// the cross-field checks.
//
// This package must never print a secret (Secret renders as "[redacted]"
// everywhere), never read global state (the environment comes in as a func,
// files only from the paths it is given) and never exit the process.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Default returns the configuration medic runs with when no file is given.
// It validates, and serves on loopback only because it has no tokens.
func Default() *Config {
	c := defaults()
	c.derive()
	return c
}

// defaults is Default before derived values (server.public_url) are filled,
// which must wait until the file and the environment have had their say.
func defaults() *Config {
	return &Config{
		Environment: "dev",
		Log:         Log{Level: "info", Format: "text"},
		Server: Server{
			Addr:            "127.0.0.1:8080",
			ShutdownTimeout: 10 * time.Second,
		},
		Database: Database{URL: "medic.db"},
		Jobs: Jobs{
			// An investigation holds a commander, three specialists and a
			// compose job, mostly waiting on Airflow: four workers made a
			// storm of incidents queue behind each other.
			Workers:      16,
			PollInterval: 20 * time.Millisecond,
			// River refuses a rescue delay shorter than the job timeout: a
			// job would be rescued, and so run twice, while still running.
			RescueAfter: 5 * time.Minute,
			JobTimeout:  2 * time.Minute,
			MaxAttempts: 5,
		},
		Ingest: Ingest{Webhook: Webhook{MaxBodyBytes: 1 << 20}, Coalesce: DefaultCoalesce(), SlackAlerts: DefaultSlackAlerts()},
		Triage: Triage{
			FrequencyLookback:  168 * time.Hour,
			RecurringThreshold: 2,
			LogTailLines:       200,
			LogMaxBytes:        256 << 10,
			StepTimeout:        30 * time.Second,
		},
		Memory:      defaultMemory(),
		Investigate: defaultInvestigate(),
		Owners:      defaultOwners(),
		LLM:         defaultLLM(),
		Remediate:   defaultRemediate(),
		Notify:      Notify{Console: Console{Enabled: true}, Slack: Slack{APIURL: DefaultSlackAPIURL}},
	}
}

// DefaultAirflowInstance returns the defaults every entry of
// airflow.instances starts from; only Name and URL have none.
func DefaultAirflowInstance() AirflowInstance {
	return AirflowInstance{
		Version:        "auto",
		Timeout:        10 * time.Second,
		RateLimit:      10,
		Burst:          10,
		MaxConcurrency: 4,
		MaxRetries:     3,
		Poll: Poll{
			Enabled:  true,
			Interval: 60 * time.Second,
			Lookback: 24 * time.Hour,
		},
	}
}

var _ defaulter = (*AirflowInstance)(nil)

func (i *AirflowInstance) setDefaults() { *i = DefaultAirflowInstance() }

// derive fills values computed from others when the file left them empty.
func (c *Config) derive() {
	if c.Server.PublicURL == "" {
		c.Server.PublicURL = publicURLFor(c.Server.Addr)
	}
	c.Ingest.SlackAlerts.derive(c.Notify.Slack)
}

// publicURLFor is the URL a listener on addr is reached at from the same
// machine: a wildcard host becomes localhost. A malformed addr gives "", and
// Validate reports the addr.
func publicURLFor(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return ""
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, port)
}

// Parse decodes a configuration file's contents strictly over the defaults.
// name is used in error messages and as the directory that relative *_file
// paths are read from. An empty document gives the defaults. KEY_env secrets
// see an empty environment, so they fail: use ParseEnv or Load for those.
// Parse neither applies MEDIC_* overrides nor validates.
func Parse(data []byte, name string) (*Config, error) {
	return ParseEnv(data, name, nil)
}

// ParseEnv is Parse with env (nil for none) answering KEY_env secrets. It
// does not apply MEDIC_* overrides; Load does.
func ParseEnv(data []byte, name string, env func(string) string) (*Config, error) {
	c, _, err := parse(data, name, osSources(env))
	if err != nil {
		return nil, err
	}
	c.derive()
	return c, nil
}

// Load reads the file at path (none when path is ""), applies the MEDIC_*
// overrides from env (nil for none) and validates. Every problem is reported
// at once, one per line of the error's message, each with the file, line and
// key it concerns.
func Load(path string, env func(string) string) (*Config, error) {
	src := osSources(env)
	c, pos := defaults(), positions{}
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("read config file: %w", err)
		}
		c, pos, err = parse(data, path, src)
		if err != nil {
			return nil, err
		}
	}
	applyEnv(c, src.lookup, pos)
	c.derive()
	problems := c.problems()
	for _, p := range problems {
		pos.locate(p, path)
	}
	if err := joinFieldErrors(problems); err != nil {
		return nil, err
	}
	return c, nil
}

// parse decodes data over the defaults, returning where each key was set.
// yamlLine finds the line number in the YAML parser's messages
// ("yaml: line 3: found character that cannot start any token").
var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// syntaxError turns the YAML parser's error into a FieldError that reads
// "medic.yaml:3: found character that cannot start any token".
func syntaxError(name string, err error) error {
	fe := &FieldError{File: name, Err: newProblem(ErrSyntax, "%s", strings.TrimPrefix(err.Error(), "yaml: "))}
	if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
		fe.Line, _ = strconv.Atoi(m[1])
		fe.Err = newProblem(ErrSyntax, "%s", m[2])
	}
	if name == "" {
		fe.File = label(name)
	}
	return fe
}

func parse(data []byte, name string, src sources) (*Config, positions, error) {
	c, pos := defaults(), positions{}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); errors.Is(err, io.EOF) {
		return c, pos, nil
	} else if err != nil {
		return nil, nil, syntaxError(name, err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return nil, nil, &FieldError{File: name, Line: extra.Line, Err: newProblem(ErrMultipleDocuments,
			"a second YAML document starts here; medic reads exactly one (remove the ---)")}
	} else if !errors.Is(err, io.EOF) {
		return nil, nil, syntaxError(name, err)
	}
	d := &decoder{file: name, src: src, pos: pos, merging: map[*yaml.Node]bool{}}
	if name != "" {
		d.dir = filepath.Dir(name)
	}
	if len(doc.Content) == 1 {
		d.value(doc.Content[0], reflect.ValueOf(c).Elem(), "")
	}
	if err := joinFieldErrors(d.errs); err != nil {
		return nil, nil, err
	}
	// Like a *_file path, a relative agents directory is the file's
	// neighbour, wherever medic was started.
	if dir := c.Investigate.AgentsDir; dir != "" && d.dir != "" && !filepath.IsAbs(dir) {
		c.Investigate.AgentsDir = filepath.Join(d.dir, dir)
	}
	c.Owners.resolvePaths(d.dir)
	c.Remediate.resolvePaths(d.dir)
	return c, pos, nil
}

func label(name string) string {
	if name == "" {
		return "config"
	}
	return name
}

// envOverride is one MEDIC_* variable and the key it replaces.
type envOverride struct {
	Name string // variable, such as MEDIC_ADDR
	Path string // YAML path, such as server.addr
	set  func(c *Config, v string)
}

// envOverrides lists every variable Load reads, in the order it applies
// them. Keep docs/configuration.md in step (a test checks).
var envOverrides = []envOverride{
	{"MEDIC_DATABASE_URL", "database.url", func(c *Config, v string) { c.Database.URL = v }},
	{"MEDIC_ADDR", "server.addr", func(c *Config, v string) { c.Server.Addr = v }},
	{"MEDIC_PUBLIC_URL", "server.public_url", func(c *Config, v string) { c.Server.PublicURL = v }},
	{"MEDIC_LOG_LEVEL", "log.level", func(c *Config, v string) { c.Log.Level = v }},
	{"MEDIC_LOG_FORMAT", "log.format", func(c *Config, v string) { c.Log.Format = v }},
	{"MEDIC_ENVIRONMENT", "environment", func(c *Config, v string) { c.Environment = v }},
	{"MEDIC_WEBHOOK_SECRET", "ingest.webhook.secret", func(c *Config, v string) { c.Ingest.Webhook.Secret = NewSecret(v) }},
}

// applyEnv applies the MEDIC_* overrides; an empty variable counts as unset.
func applyEnv(c *Config, lookup func(string) string, pos positions) {
	for _, o := range envOverrides {
		if v := lookup(o.Name); v != "" {
			o.set(c, v)
			pos[o.Path] = position{env: o.Name}
		}
	}
}
