package config

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Slack alert formats, as ingest.slack_alerts.formats names them (the
// parsers live in internal/ingest/slackalert).
const (
	SlackAlertFormatCustom       = "custom"
	SlackAlertFormatAirflowEmail = "airflow_email"
	SlackAlertFormatAirflowSlack = "airflow_slack"
	SlackAlertFormatAstronomer   = "astronomer"
)

// SlackAlertFormats are the formats in their default order: the
// operator's patterns first, so that a built-in one never shadows them.
var SlackAlertFormats = []string{SlackAlertFormatCustom, SlackAlertFormatAirflowEmail, SlackAlertFormatAirflowSlack, SlackAlertFormatAstronomer}

// SlackAlertGroups are the named groups a custom pattern may have, and
// SlackAlertRequiredGroups those it must.
var (
	SlackAlertGroups         = []string{"dag_id", "task_id", "run_id", "try_number", "logical_date", "exception", "instance", "log_url"}
	SlackAlertRequiredGroups = []string{"dag_id", "task_id"}
)

// SlackAlerts reads Slack channels where Airflow (or Astro, or a team's
// own bot) posts failure alerts, as one more failure source
// (docs/ingest-slack.md). The bot needs channels:history (groups:history
// for private channels) and chat:write.
type SlackAlerts struct {
	Enabled bool `yaml:"enabled"`
	// Token is the bot token; notify.slack.token when unset.
	Token Secret `yaml:"token"`
	// APIURL is Slack's Web API root; notify.slack.api_url when empty.
	APIURL string `yaml:"api_url"`
	// Channels are the alert channels' ids (C0123..., G0123...).
	Channels []string      `yaml:"channels"`
	Interval time.Duration `yaml:"interval"`
	// Lookback is how far back the first poll of a channel reads.
	Lookback time.Duration `yaml:"lookback"`
	// Formats are the alert formats tried, in order, of SlackAlertFormats.
	Formats []string `yaml:"formats"`
	// Patterns are the custom patterns (format "custom"). A pointer, so
	// that the list is one key of its own, as logscan.redact.rules.
	Patterns *[]SlackAlertPattern `yaml:"patterns"`
	// ReplyUnmatched also replies in the thread of an alert that matched
	// no pattern, saying what was missing.
	ReplyUnmatched bool `yaml:"reply_unmatched"`
	// Instance is the Airflow instance alerts are recorded for; the first
	// of airflow.instances when empty.
	Instance string `yaml:"instance"`
}

// SlackAlertPattern is a custom alert pattern: a Go (RE2) regular
// expression over an alert's plain text, with named groups of
// SlackAlertGroups; dag_id and task_id are required.
type SlackAlertPattern struct {
	Name  string `yaml:"name"`
	Regex string `yaml:"regex"`
}

// DefaultSlackAlerts returns the defaults of ingest.slack_alerts.
func DefaultSlackAlerts() SlackAlerts {
	return SlackAlerts{Interval: 30 * time.Second, Lookback: time.Hour, Formats: slices.Clone(SlackAlertFormats)}
}

// derive takes the token and API URL of notify.slack when unset.
func (s *SlackAlerts) derive(n Slack) {
	if !s.Token.IsSet() {
		s.Token = n.Token
	}
	if s.APIURL == "" {
		s.APIURL = n.APIURL
	}
}

// CustomPatterns returns the custom patterns, nil for none.
func (s SlackAlerts) CustomPatterns() []SlackAlertPattern {
	if s.Patterns == nil {
		return nil
	}
	return *s.Patterns
}

// Compile compiles the pattern and checks its named groups: the required
// ones present, no unknown one.
func (p SlackAlertPattern) Compile() (*regexp.Regexp, error) {
	re, err := regexp.Compile(p.Regex)
	if err != nil {
		return nil, fmt.Errorf("slack alert pattern %q: %w", p.Name, err)
	}
	var missing []string
	for _, g := range SlackAlertRequiredGroups {
		if re.SubexpIndex(g) < 0 {
			missing = append(missing, g)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("slack alert pattern %q lacks the named groups %s: write them as (?P<%s>...)",
			p.Name, strings.Join(missing, ", "), missing[0])
	}
	for _, g := range re.SubexpNames() {
		if g != "" && !slices.Contains(SlackAlertGroups, g) {
			return nil, fmt.Errorf("slack alert pattern %q: unknown named group %q: want some of %s", p.Name, g, strings.Join(SlackAlertGroups, ", "))
		}
	}
	return re, nil
}

var (
	slackChannelID = regexp.MustCompile(`^[CGD][A-Z0-9]{2,}$`)
	patternName    = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`)
)

func (s SlackAlerts) validate(v *validator, instances []AirflowInstance) {
	const p = "ingest.slack_alerts."
	v.positive(p+"interval", s.Interval)
	v.positive(p+"lookback", s.Lookback)
	seen := map[string]bool{}
	for _, f := range s.Formats {
		v.oneOf(p+"formats", f, SlackAlertFormats)
		if seen[f] {
			v.add(p+"formats", "format %q is listed twice", f)
		}
		seen[f] = true
	}
	names := map[string]int{}
	for i, pat := range s.CustomPatterns() {
		pp := fmt.Sprintf("%spatterns[%d]", p, i)
		switch first, dup := names[pat.Name]; {
		case !patternName.MatchString(pat.Name):
			v.add(pp+".name", "want lower-case letters, digits, _ and -, got %q", pat.Name)
		case dup:
			v.add(pp+".name", "%q is already the name of %spatterns[%d]", pat.Name, p, first)
		default:
			names[pat.Name] = i
		}
		if _, err := pat.Compile(); err != nil {
			v.add(pp+".regex", "%s", err.Error())
		}
	}
	if len(s.CustomPatterns()) > 0 && !seen[SlackAlertFormatCustom] {
		v.add(p+"formats", "lists no %q, so the patterns are never tried: add it", SlackAlertFormatCustom)
	}
	if s.Instance != "" && !slices.ContainsFunc(instances, func(in AirflowInstance) bool { return in.Name == s.Instance }) {
		v.add(p+"instance", "%q is not the name of one of airflow.instances", s.Instance)
	}
	if !s.Enabled {
		return
	}
	if !s.Token.IsSet() {
		v.add(p+"token", "is required when ingest.slack_alerts.enabled is true (token, token_file, token_env, or notify.slack.token)")
	}
	if msg := httpURLProblem(s.APIURL); msg != "" {
		v.add(p+"api_url", "%s", msg)
	}
	if len(s.Channels) == 0 {
		v.add(p+"channels", "is empty: list the alert channels' ids, such as [C0123ABC]")
	}
	dup := map[string]bool{}
	for i, ch := range s.Channels {
		if !slackChannelID.MatchString(ch) {
			v.add(fmt.Sprintf("%schannels[%d]", p, i), "want a channel id such as C0123ABC (channel names change; ids do not), got %q", ch)
		} else if dup[ch] {
			v.add(fmt.Sprintf("%schannels[%d]", p, i), "%q is listed twice", ch)
		}
		dup[ch] = true
	}
}
