package store

import "time"

// SlackAlertStatus says what became of a message of a Slack alert channel.
type SlackAlertStatus string

// Slack alert statuses.
const (
	// SlackAlertMatched is an alert a new failure event was recorded from.
	SlackAlertMatched SlackAlertStatus = "matched"
	// SlackAlertDuplicate is an alert whose failure medic already knew (a
	// callback or the poller reported it first).
	SlackAlertDuplicate SlackAlertStatus = "duplicate"
	// SlackAlertUnmatched is a message no pattern matched; Reason says
	// what was missing.
	SlackAlertUnmatched SlackAlertStatus = "unmatched"
)

// Valid reports whether s is a known status.
func (s SlackAlertStatus) Valid() bool {
	switch s {
	case SlackAlertMatched, SlackAlertDuplicate, SlackAlertUnmatched:
		return true
	}
	return false
}

// SlackAlert is one message of a Slack alert channel as medic handled it,
// keyed by its channel and ts.
type SlackAlert struct {
	Channel string           `json:"channel"`
	TS      string           `json:"ts"`
	Status  SlackAlertStatus `json:"status"`
	// Format is the pattern that matched ("airflow_email",
	// "custom:<name>", ...), "" for an unmatched message.
	Format string `json:"format,omitempty"`
	// Reason says why a message is unmatched; for a recorded one, whether
	// it opened its incident ("new") or joined one ("joined").
	Reason     string `json:"reason,omitempty"`
	EventID    string `json:"event_id,omitempty"`
	IncidentID string `json:"incident_id,omitempty"`
	// ReplyTS is medic's acknowledgement in the alert's thread, "" until
	// it was posted.
	ReplyTS   string    `json:"reply_ts,omitempty"`
	CreatedAt time.Time `json:"created_at"`
}
