// Package report turns an incident and its findings into what people read:
// the diagnostic report every notifier renders. Everything in a report is
// already redacted; report never fetches anything itself.
package report

import (
	"context"
	"fmt"
	"time"

	"github.com/medic-sh/medic/internal/incident"
	"github.com/medic-sh/medic/internal/store"
	"github.com/medic-sh/medic/internal/triage"
)

// Report is one incident's diagnostic report.
type Report struct {
	Incident *incident.Incident
	Events   []*incident.FailureEvent
	Triage   *triage.Summary
	// Link points at the incident in medic's API or dashboard.
	Link string
	// TriageDuration is the time from the first report to finished triage.
	TriageDuration time.Duration
}

// Reader is the part of the store a report is built from.
type Reader interface {
	IncidentGetByID(ctx context.Context, id string) (*incident.Incident, error)
	EventListByIncident(ctx context.Context, incidentID string) ([]*incident.FailureEvent, error)
	FindingListBySession(ctx context.Context, sessionID string) ([]*incident.Finding, error)
}

var _ Reader = store.Store(nil)

// Load builds the report of an incident. baseURL, when set, is medic's public
// URL for the link.
func Load(ctx context.Context, st Reader, incidentID, baseURL string) (*Report, error) {
	inc, err := st.IncidentGetByID(ctx, incidentID)
	if err != nil {
		return nil, fmt.Errorf("load report: %w", err)
	}
	events, err := st.EventListByIncident(ctx, incidentID)
	if err != nil {
		return nil, fmt.Errorf("load report: %w", err)
	}
	var findings []*incident.Finding
	if inc.TriageSessionID != "" {
		if findings, err = st.FindingListBySession(ctx, inc.TriageSessionID); err != nil {
			return nil, fmt.Errorf("load report: %w", err)
		}
	}
	return New(inc, events, findings, baseURL), nil
}

// New assembles a report from an incident's parts.
func New(inc *incident.Incident, events []*incident.FailureEvent, findings []*incident.Finding, baseURL string) *Report {
	r := &Report{Incident: inc, Events: events, Triage: triage.Decode(findings)}
	if baseURL != "" {
		r.Link = baseURL + "/api/v1/incidents/" + inc.ID
	}
	if inc.TriagedAt != nil {
		r.TriageDuration = inc.TriagedAt.Sub(inc.CreatedAt)
	}
	return r
}

// FocusTask is the task the report is about.
func (r *Report) FocusTask() string {
	if r.Triage.Run != nil && r.Triage.Run.FirstFailingTask != "" {
		return r.Triage.Run.FirstFailingTask
	}
	return r.Incident.FirstTaskID
}

// Owner is who owns the failed work, from the event or the DAG.
func (r *Report) Owner() string {
	if r.Incident.Owner != "" {
		return r.Incident.Owner
	}
	if r.Triage.Run != nil && len(r.Triage.Run.Owners) > 0 {
		return r.Triage.Run.Owners[0]
	}
	return "unknown"
}

// ReportedError is the error text the first failure report carried (a
// callback's exception), already redacted when it was stored.
func (r *Report) ReportedError() string {
	for _, ev := range r.Events {
		if ev.Exception != "" {
			return ev.Exception
		}
	}
	return ""
}
