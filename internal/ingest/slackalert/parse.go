package slackalert

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	slackapi "github.com/slack-go/slack"
)

// Built-in formats, by the names configuration uses.
const (
	// FormatAirflowEmail is Airflow's default failure email (2.x and 3.x)
	// as forwarded into Slack: "Airflow alert: <TaskInstance: ...>",
	// "Try N out of M", "Exception:", "Log: Link", "Host: ...",
	// "Mark success: Link".
	FormatAirflowEmail = "airflow_email"
	// FormatAirflowSlack is the common on_failure_callback message posted
	// with SlackNotifier or SlackWebhookHook: "Task Failed", "*Dag*:",
	// "*Task*:", "*Execution Time*:", "*Log Url*:".
	FormatAirflowSlack = "airflow_slack"
	// FormatAstronomer is an Astro alert: "[Astro Alerts] Pipeline failure
	// detected on DAG ...", with its start and failure times. It names no
	// task; the watcher asks Airflow for the failed tasks of the run.
	FormatAstronomer = "astronomer"
	// FormatCustom stands for the configured custom patterns.
	FormatCustom = "custom"
)

// BuiltinFormats are the built-in formats, in the order they are tried.
var BuiltinFormats = []string{FormatAirflowEmail, FormatAirflowSlack, FormatAstronomer}

// CustomGroups are the named groups a custom pattern may have; dag_id and
// task_id are required.
var CustomGroups = []string{"dag_id", "task_id", "run_id", "try_number", "logical_date", "exception", "instance", "log_url"}

// RequiredGroups are the groups every custom pattern must have.
var RequiredGroups = []string{"dag_id", "task_id"}

// Pattern is a custom alert pattern: a regular expression over the
// message's plain text with named groups from CustomGroups.
type Pattern struct {
	Name   string
	Regexp *regexp.Regexp
}

// ErrNoMatch is matched by every error of a message that no pattern
// matched.
var ErrNoMatch = errors.New("no alert pattern matched")

// Miss is a format that recognised a message but found fields missing.
type Miss struct {
	Format  string
	Missing []string
}

// MatchError says why a message is not an alert medic can record: the
// formats that recognised it and what each lacked, or, when none did,
// which were tried.
type MatchError struct {
	Near  []Miss
	Tried []string
}

func (e *MatchError) Error() string { return "slack alert: " + e.Reason() }

// Unwrap makes the error match ErrNoMatch.
func (e *MatchError) Unwrap() error { return ErrNoMatch }

// Reason is the error in a few words, as an unmatched alert's row keeps
// it: "airflow_slack: no task_id" or "matches no pattern (tried ...)".
func (e *MatchError) Reason() string {
	if len(e.Near) == 0 {
		return "matches no pattern (tried " + strings.Join(e.Tried, ", ") + ")"
	}
	parts := make([]string, 0, len(e.Near))
	for _, m := range e.Near {
		parts = append(parts, m.Format+": no "+strings.Join(m.Missing, ", no "))
	}
	return strings.Join(parts, "; ")
}

// Alert is what an alert message says about a failed task try. Fields
// the message did not give are zero.
type Alert struct {
	// Format is the format that matched: a built-in name or
	// "custom:<name>".
	Format string
	DagID  string
	TaskID string
	// RunID is "" when the alert gives only a logical date (Airflow
	// before 2.2, most Slack callbacks) or a failure time (Astro); the
	// watcher then asks Airflow for the run.
	RunID string
	// TryNumber is 0 when the alert does not say. The event is then
	// recorded as try 1, so identity dedup merges it with the callback's
	// or the poller's report of try 1; a later try's alert that says
	// nothing is merged with try 1 too, which is the price of a message
	// that does not say.
	TryNumber int
	// MapIndex is -1 unless the alert names a mapped task's index.
	MapIndex    int
	LogicalDate *time.Time
	// FailedAt is when the run failed, as Astro alerts say.
	FailedAt  *time.Time
	Exception string
	LogURL    string
	Host      string
	// Instance is the Airflow instance the alert names (custom patterns),
	// "" for the watcher's default.
	Instance string
}

// format is one way of reading an alert. recognised says the message is
// of this format, even when fields are missing.
type format struct {
	name  string
	parse func(d *doc) (a *Alert, missing []string, recognised bool)
}

// Parser reads alerts out of messages with its formats, tried in order.
// It is safe for concurrent use.
type Parser struct {
	formats []format
}

// NewParser returns a parser with the named formats in order (nil for
// every built-in one, preceded by the custom patterns when there are
// some); FormatCustom in names places the custom patterns. An unknown
// name, or a custom pattern without the required groups, is an error.
func NewParser(names []string, custom []Pattern) (*Parser, error) {
	if names == nil {
		names = BuiltinFormats
		if len(custom) > 0 {
			names = append([]string{FormatCustom}, names...)
		}
	}
	p := &Parser{}
	for _, name := range names {
		switch name {
		case FormatAirflowEmail:
			p.formats = append(p.formats, format{name, parseEmail})
		case FormatAirflowSlack:
			p.formats = append(p.formats, format{name, parseSlackCallback})
		case FormatAstronomer:
			p.formats = append(p.formats, format{name, parseAstronomer})
		case FormatCustom:
			for _, c := range custom {
				if missing := MissingGroups(c.Regexp); len(missing) > 0 {
					return nil, fmt.Errorf("slack alert pattern %q: missing named groups %s", c.Name, strings.Join(missing, ", "))
				}
				p.formats = append(p.formats, format{"custom:" + c.Name, customParser(c.Regexp)})
			}
		default:
			return nil, fmt.Errorf("slack alert format %q is unknown: want one of %s, %s", name, strings.Join(BuiltinFormats, ", "), FormatCustom)
		}
	}
	return p, nil
}

// MissingGroups lists the required named groups re lacks.
func MissingGroups(re *regexp.Regexp) []string {
	var missing []string
	for _, g := range RequiredGroups {
		if re.SubexpIndex(g) < 0 {
			missing = append(missing, g)
		}
	}
	return missing
}

// Parse reads the alert in a message.
func (p *Parser) Parse(msg *slackapi.Message) (*Alert, error) {
	return p.ParseText(MessageText(msg))
}

// ParseText reads the alert in a message's text (mrkdwn, as MessageText
// gives it). An error matches ErrNoMatch and is a *MatchError.
func (p *Parser) ParseText(mrkdwn string) (*Alert, error) {
	d := newDoc(mrkdwn)
	me := &MatchError{}
	for _, f := range p.formats {
		me.Tried = append(me.Tried, f.name)
		a, missing, ok := f.parse(d)
		if !ok {
			continue
		}
		if len(missing) == 0 {
			a.Format = f.name
			return a, nil
		}
		me.Near = append(me.Near, Miss{Format: f.name, Missing: missing})
	}
	return nil, me
}

// doc is a message's text prepared once for every format.
type doc struct {
	lines []line
	plain string
	urls  []string
}

func newDoc(mrkdwn string) *doc {
	d := &doc{lines: plainLines(mrkdwn)}
	texts := make([]string, len(d.lines))
	for i, l := range d.lines {
		texts[i] = l.text
		d.urls = append(d.urls, l.urls...)
	}
	d.plain = strings.Join(texts, "\n")
	return d
}

// label names the field a "Label: value" line gives, by its normalised
// label.
var labels = map[string]string{
	"dag": "dag", "dag id": "dag", "dag name": "dag",
	"task": "task", "task id": "task", "task name": "task", "failed task": "task",
	"run": "run", "run id": "run", "dag run": "run", "dag run id": "run",
	"execution time": "date", "execution date": "date", "logical date": "date", "exec date": "date",
	"log": "log", "log url": "log", "logs": "log", "log link": "log",
	"exception": "exception", "error": "exception",
	"host": "host", "hostname": "host",
	"try": "try", "try number": "try", "attempt": "try",
	"instance": "instance", "airflow instance": "instance",
	"failed at": "failed", "start time": "start",
}

var labelLine = regexp.MustCompile(`^[\s>*_~•-]*([A-Za-z][A-Za-z0-9 _]{0,30}?)[*_~\s]*:[*_~\s]*(.*)$`)

// field is the value of the first line labelled as name, with the urls of
// that line.
func (d *doc) field(name string) (string, []string, bool) {
	for _, l := range d.lines {
		if k, v, ok := labelOf(l.text); ok && k == name {
			return cleanValue(v), l.urls, true
		}
	}
	return "", nil, false
}

func labelOf(text string) (string, string, bool) {
	m := labelLine.FindStringSubmatch(text)
	if m == nil {
		return "", "", false
	}
	k := strings.Join(strings.Fields(strings.ToLower(strings.ReplaceAll(m[1], "_", " "))), " ")
	name, ok := labels[k]
	return name, m[2], ok
}

// cleanValue drops the emphasis and quoting mrkdwn wraps values in.
func cleanValue(v string) string {
	return strings.Trim(strings.TrimSpace(v), "*_~`'\" ")
}

// id checks an Airflow id: one token, no separator medic forbids, not too
// long; "" when it is not one.
func id(v string) string {
	v = cleanValue(v)
	if v == "" || len(v) > 250 || strings.ContainsAny(v, " \t|\x00") {
		return ""
	}
	return v
}

// applyURL fills what an Airflow UI link says and the alert does not.
func (a *Alert) applyURL(raw string) {
	f, ok := airflowURL(raw)
	if !ok {
		return
	}
	if a.LogURL == "" {
		a.LogURL = raw
	}
	if a.DagID == "" {
		a.DagID = f.dag
	}
	if a.TaskID == "" {
		a.TaskID = f.task
	}
	if a.RunID == "" {
		a.RunID = f.run
	}
	if a.TryNumber == 0 {
		a.TryNumber = f.try
	}
	if a.MapIndex < 0 && f.mapIndex >= 0 {
		a.MapIndex = f.mapIndex
	}
	if a.LogicalDate == nil {
		a.LogicalDate = f.logical
	}
}

// missing lists what the alert lacks to become an event: a DAG, a task
// (unless taskOptional) and a run or a date to find the run by.
func (a *Alert) missing(taskOptional bool) []string {
	var m []string
	if a.DagID == "" {
		m = append(m, "dag_id")
	}
	if a.TaskID == "" && !taskOptional {
		m = append(m, "task_id")
	}
	if a.RunID == "" && a.LogicalDate == nil && a.FailedAt == nil {
		m = append(m, "run_id")
	}
	return m
}

func newAlert() *Alert { return &Alert{MapIndex: -1} }
