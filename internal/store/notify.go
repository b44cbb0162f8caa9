package store

import "time"

// NotifyMessage is the one living message a notifier keeps for an
// incident: where it was posted and its id there (Slack's channel and ts).
type NotifyMessage struct {
	IncidentID string    `json:"incident_id"`
	Notifier   string    `json:"notifier"`
	Channel    string    `json:"channel"`
	TS         string    `json:"ts"`
	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`
	// Updates counts the edits made to it since it was posted.
	Updates int `json:"updates"`
}

// NotifyDelivery names one update of an incident delivered by one
// notifier: Reason is the notify job's reason ("triaged",
// "state:resolved", ...).
type NotifyDelivery struct {
	IncidentID string
	Notifier   string
	Reason     string
}
