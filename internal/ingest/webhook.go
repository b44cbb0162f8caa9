// Package ingest turns outside reports of failures (Airflow callbacks and
// listeners, the REST poller, OpenLineage events, Slack alerts) into
// incident.FailureEvents.
//
// Everything it reads is untrusted: a report may be malformed, oversized,
// hostile or replayed. Ingest must never trust the input (every field is
// type-checked, bounded and validated before it becomes an event, and errors
// say exactly which field is wrong) and never block the reporter: decoding is
// pure and bounded, and anything slow happens later, in durable jobs.
package ingest

import (
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/medic-sh/medic/internal/incident"
)

// Bounds on the descriptive fields of a callback. Identity fields are bounded
// by incident.Key.Validate; these are truncated instead of refused, because
// losing a failure report over a long tag is worse than shortening the tag.
const (
	MaxTags      = 50
	MaxTagLen    = 100 // characters
	MaxOwnerLen  = 250 // characters
	MaxLogURLLen = 4096
	// TruncatedMarker ends an exception text that was cut to
	// incident.MaxExceptionLen bytes.
	TruncatedMarker = "…[truncated]"
)

// EventTaskFailed is the only callback event this version understands, and
// the default when a payload names none.
const EventTaskFailed = "task_failed"

// failureStates are the Airflow task states a failure report may carry. A
// report in any other state (success, running, ...) is not a failure.
var failureStates = []string{"failed", "up_for_retry", "upstream_failed"}

// CallbackPayload is the JSON body medic's Airflow callback and listener
// plugin posts to POST /api/v1/events. Unknown fields are accepted, since the
// plugin evolves with Airflow, but a known field of the wrong type is an
// error. Airflow 2.x's execution_date is accepted as logical_date.
type CallbackPayload struct {
	// Instance names the Airflow deployment; the server's default when empty.
	Instance  string `json:"instance,omitempty"`
	DagID     string `json:"dag_id"`
	RunID     string `json:"run_id"`
	TaskID    string `json:"task_id"`
	TryNumber int    `json:"try_number"`
	// MapIndex is the index of a mapped task instance; -1 (the default) for
	// an unmapped one.
	MapIndex *int `json:"map_index,omitempty"`
	// LogicalDate is null for runs without one (Airflow 3 asset-triggered
	// runs).
	LogicalDate *time.Time `json:"logical_date,omitempty"`
	Exception   string     `json:"exception,omitempty"`
	LogURL      string     `json:"log_url,omitempty"`
	Owner       string     `json:"owner,omitempty"`
	Tags        []string   `json:"tags,omitempty"`
	// State is the task instance state: failed, up_for_retry or
	// upstream_failed.
	State string `json:"state,omitempty"`
	// OccurredAt is when the try failed; the time medic received it when
	// empty.
	OccurredAt *time.Time `json:"occurred_at,omitempty"`
	// Event is the kind of report; EventTaskFailed when empty.
	Event string `json:"event,omitempty"`
}

// DecodeCallback parses a callback body into a validated FailureEvent.
// defaultInstance names the Airflow instance for payloads that carry none;
// now is the receipt time. Every error is a *DecodeError (errors.As) and
// matches incident.ErrInvalid (errors.Is).
func DecodeCallback(body []byte, defaultInstance string, now time.Time) (*incident.FailureEvent, error) {
	p, err := parseCallback(body)
	if err != nil {
		return nil, err
	}
	return p.event(defaultInstance, now)
}

// parseCallback type-checks every known field of the body. Identity fields
// come first so that the first error reported is the most important one.
func parseCallback(body []byte) (*CallbackPayload, error) {
	obj, err := decodeObject(body)
	if err != nil {
		return nil, err
	}
	f := &fields{obj: obj}
	p := &CallbackPayload{
		Instance: f.str("instance"),
		DagID:    f.str("dag_id"),
		RunID:    f.str("run_id"),
		TaskID:   f.str("task_id"),
	}
	for _, req := range []struct{ name, v string }{{"dag_id", p.DagID}, {"run_id", p.RunID}, {"task_id", p.TaskID}} {
		if f.err == nil && strings.TrimSpace(req.v) == "" {
			f.fail(req.name, "is required", nil)
		}
	}
	if f.err == nil && !f.has("try_number") {
		f.fail("try_number", "is required", nil)
	}
	p.TryNumber, _ = f.integer("try_number", 1, "an integer >= 1")
	if n, ok := f.integer("map_index", -1, "an integer >= -1 (-1 for an unmapped task)"); ok {
		p.MapIndex = &n
	}
	p.LogicalDate = f.timestamp("logical_date")
	if p.LogicalDate == nil {
		p.LogicalDate = f.timestamp("execution_date") // Airflow 2.x
	}
	p.OccurredAt = f.timestamp("occurred_at")
	p.Exception = f.str("exception")
	p.LogURL = f.str("log_url")
	p.Owner = f.str("owner")
	p.Tags = f.strings("tags")
	p.State = f.str("state")
	p.Event = f.str("event")
	if f.err != nil {
		return nil, f.err
	}
	return p, nil
}

// event maps a type-checked payload to a FailureEvent, applying defaults and
// bounds, and validates the result.
func (p *CallbackPayload) event(defaultInstance string, now time.Time) (*incident.FailureEvent, error) {
	switch p.Event {
	case "", EventTaskFailed:
	default:
		return nil, &DecodeError{Field: "event", Reason: fmt.Sprintf("%q is not supported: this medic understands %q", p.Event, EventTaskFailed)}
	}
	if p.State != "" && !slices.Contains(failureStates, p.State) {
		return nil, &DecodeError{Field: "state", Reason: fmt.Sprintf("%q is not a failure state: want one of %s",
			p.State, strings.Join(failureStates, ", "))}
	}
	if p.LogURL != "" {
		if err := checkLogURL(p.LogURL); err != nil {
			return nil, err
		}
	}
	now = now.UTC()
	ev := &incident.FailureEvent{
		Key: incident.Key{
			Instance: p.Instance, DagID: p.DagID, RunID: p.RunID, TaskID: p.TaskID, TryNumber: p.TryNumber,
		},
		MapIndex:    -1,
		Source:      incident.SourceCallback,
		LogicalDate: p.LogicalDate,
		Exception:   truncateUTF8(p.Exception, incident.MaxExceptionLen, TruncatedMarker),
		LogURL:      p.LogURL,
		Owner:       truncateRunes(strings.TrimSpace(p.Owner), MaxOwnerLen),
		Tags:        capTags(p.Tags),
		OccurredAt:  now,
		ReceivedAt:  now,
	}
	if ev.Instance == "" {
		ev.Instance = defaultInstance
	}
	if strings.TrimSpace(ev.Instance) == "" {
		return nil, &DecodeError{Field: "instance", Reason: "is required: this server has no default Airflow instance"}
	}
	if p.MapIndex != nil {
		ev.MapIndex = *p.MapIndex
	}
	// A clock ahead of medic's cannot move a failure into the future.
	if p.OccurredAt != nil && !p.OccurredAt.After(now) {
		ev.OccurredAt = *p.OccurredAt
	}
	if err := ev.Validate(); err != nil {
		return nil, &DecodeError{Reason: "event is invalid: " + err.Error(), Err: err}
	}
	return ev, nil
}

// checkLogURL admits only absolute http(s) URLs: the link is shown in Slack
// and the dashboard, where a javascript: or data: URL would be an attack.
func checkLogURL(s string) error {
	if len(s) > MaxLogURLLen {
		return &DecodeError{Field: "log_url", Reason: fmt.Sprintf("is longer than %d bytes", MaxLogURLLen)}
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return &DecodeError{Field: "log_url", Reason: "must be an absolute http or https URL, got " + preview([]byte(strconv.Quote(s)))}
	}
	return nil
}

// capTags trims, deduplicates and bounds tags, keeping their order.
func capTags(tags []string) []string {
	var out []string
	for _, t := range tags {
		t = truncateRunes(strings.TrimSpace(t), MaxTagLen)
		if t == "" || slices.Contains(out, t) {
			continue
		}
		if len(out) == MaxTags {
			break
		}
		out = append(out, t)
	}
	return out
}
