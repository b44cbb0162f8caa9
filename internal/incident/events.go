package incident

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"
)

// SessionEventKind names what a session event reports.
type SessionEventKind string

// Session event kinds, in the order a session usually posts them.
const (
	// SessionEventStarted: the session began its work.
	SessionEventStarted SessionEventKind = "started"
	// SessionEventProgress: a step of the work, for a person following it.
	SessionEventProgress SessionEventKind = "progress"
	// SessionEventFinding: the session learnt something (Data holds it).
	SessionEventFinding SessionEventKind = "finding"
	// SessionEventSpawned: the session started a child (posted on the parent).
	SessionEventSpawned SessionEventKind = "spawned"
	// SessionEventFinished: the session reached a final status.
	SessionEventFinished SessionEventKind = "finished"
)

// SessionEventKinds lists every kind.
var SessionEventKinds = []SessionEventKind{
	SessionEventStarted, SessionEventProgress, SessionEventFinding, SessionEventSpawned, SessionEventFinished,
}

// Valid reports whether k is a known kind.
func (k SessionEventKind) Valid() bool {
	switch k {
	case SessionEventStarted, SessionEventProgress, SessionEventFinding, SessionEventSpawned, SessionEventFinished:
		return true
	}
	return false
}

// MaxSessionEventMessage bounds an event's message, in bytes.
const MaxSessionEventMessage = 4096

// SessionEvent is one entry of a session's progress log, which the API
// streams to people following an investigation. Its ID orders the events of
// a whole investigation tree.
type SessionEvent struct {
	ID         int64            `json:"id"`
	SessionID  string           `json:"session_id"`
	IncidentID string           `json:"incident_id"`
	Agent      string           `json:"agent"`
	Kind       SessionEventKind `json:"kind"`
	// Message is one line of plain text for a person. It is shown as is,
	// so the caller redacts it first.
	Message string          `json:"message"`
	Data    json.RawMessage `json:"data,omitempty"`
	At      time.Time       `json:"at"`
}

// Event returns an event of s, ready to append.
func (s *Session) Event(kind SessionEventKind, message string, data json.RawMessage) *SessionEvent {
	return &SessionEvent{SessionID: s.ID, IncidentID: s.IncidentID, Agent: s.Agent, Kind: kind, Message: message, Data: data}
}

// Validate checks what a store cannot repair: a session, a known kind, a
// bounded UTF-8 message and JSON data. Every problem matches ErrInvalid.
func (e *SessionEvent) Validate() error {
	var errs []error
	if e.SessionID == "" {
		errs = append(errs, fmt.Errorf("session_id is required: %w", ErrInvalid))
	}
	if !e.Kind.Valid() {
		errs = append(errs, fmt.Errorf("unknown session event kind %q: %w", e.Kind, ErrInvalid))
	}
	if len(e.Message) > MaxSessionEventMessage {
		errs = append(errs, fmt.Errorf("message is longer than %d bytes: %w", MaxSessionEventMessage, ErrInvalid))
	}
	if !utf8.ValidString(e.Message) {
		errs = append(errs, fmt.Errorf("message is not valid UTF-8: %w", ErrInvalid))
	}
	if len(e.Data) > 0 && !json.Valid(e.Data) {
		errs = append(errs, fmt.Errorf("data is not valid JSON: %w", ErrInvalid))
	}
	return errors.Join(errs...)
}
