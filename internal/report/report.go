// Package report turns an incident and its findings into what people read:
// the diagnostic report every notifier renders. Everything in a report is
// already redacted; report never fetches anything itself.
package report

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/medic-sh/medic/internal/incident"
	"github.com/medic-sh/medic/internal/investigate"
	"github.com/medic-sh/medic/internal/store"
	"github.com/medic-sh/medic/internal/triage"
)

// Report is one incident's diagnostic report.
type Report struct {
	Incident *incident.Incident
	Events   []*incident.FailureEvent
	Triage   *triage.Summary
	// Investigation is the commander's composed report: root cause,
	// impact, owner, next action and the diagnostic report. Nil for an
	// incident not composed yet (or triaged before investigations).
	Investigation *investigate.Report
	// Link points at the incident in medic's API or dashboard.
	Link string
	// TriageDuration is the time from the first report to finished triage.
	TriageDuration time.Duration

	findings []*incident.Finding
}

// Reader is the part of the store a report is built from.
type Reader interface {
	IncidentGetByID(ctx context.Context, id string) (*incident.Incident, error)
	EventListByIncident(ctx context.Context, incidentID string) ([]*incident.FailureEvent, error)
	FindingListBySession(ctx context.Context, sessionID string) ([]*incident.Finding, error)
	SessionGetByID(ctx context.Context, id string) (*incident.Session, error)
	SessionListChildren(ctx context.Context, parentID string) ([]*incident.Session, error)
}

var _ Reader = store.Store(nil)

// Load builds the report of an incident: its events, the findings of every
// session of its investigation (the commander's, then each specialist's)
// and the commander's composed report. baseURL, when set, is medic's public
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
	if inc.TriageSessionID == "" {
		return New(inc, events, nil, baseURL), nil
	}
	findings, err := st.FindingListBySession(ctx, inc.TriageSessionID)
	if err != nil {
		return nil, fmt.Errorf("load report: %w", err)
	}
	kids, err := st.SessionListChildren(ctx, inc.TriageSessionID)
	if err != nil {
		return nil, fmt.Errorf("load report: %w", err)
	}
	for _, k := range kids {
		fs, err := st.FindingListBySession(ctx, k.ID)
		if err != nil {
			return nil, fmt.Errorf("load report: %w", err)
		}
		findings = append(findings, fs...)
	}
	r := New(inc, events, findings, baseURL)
	root, err := st.SessionGetByID(ctx, inc.TriageSessionID)
	if err != nil {
		return nil, fmt.Errorf("load report: %w", err)
	}
	// An unreadable composed report leaves the findings' report: the
	// findings are what the composition was made from.
	_ = r.SetInvestigation(root)
	return r, nil
}

// Decision is the remediation policy's recorded decision about the
// incident (the root session's remediate.decision finding).
type Decision struct {
	Outcome string `json:"outcome"`
	Action  string `json:"action,omitempty"`
	// Why is the last rule that failed or capped the decision, as "rule:
	// detail"; empty when none did.
	Why string `json:"why,omitempty"`
	// Proposed is the diagnosis' remediation the policy was asked about.
	Proposed string `json:"proposed,omitempty"`
}

// Decision returns the policy's decision, nil before there is one.
func (r *Report) Decision() *Decision {
	for _, f := range r.findings {
		if f.Step != incident.StepRemediationDecision {
			continue
		}
		var rec struct {
			Proposed string `json:"proposed"`
			Decision struct {
				Outcome string `json:"outcome"`
				Action  string `json:"action"`
				Reasons []struct {
					Rule, Result, Detail string
				} `json:"reasons"`
			} `json:"decision"`
		}
		if json.Unmarshal(f.Data, &rec) != nil {
			return nil
		}
		d := &Decision{Outcome: rec.Decision.Outcome, Action: rec.Decision.Action, Proposed: rec.Proposed}
		for _, rs := range rec.Decision.Reasons {
			if rs.Result == "fail" || rs.Result == "cap" {
				d.Why = rs.Rule + ": " + rs.Detail
			}
		}
		return d
	}
	return nil
}

// setRemediation fills the diagnostic report's remediation lines from the
// policy's decision and where the incident stands now.
func (r *Report) setRemediation() {
	dec := r.Decision()
	if r.Investigation == nil || dec == nil {
		return
	}
	what := dec.Outcome + " " + dec.Action
	if dec.Action == "" || dec.Action == dec.Outcome {
		what = dec.Outcome
	}
	d := &r.Investigation.Diagnostic
	d.RemediationAttempted = "the policy decided: " + strings.TrimSpace(what)
	d.RemediationOutcome = stateOutcome(r.Incident.State)
}

func stateOutcome(s incident.State) string {
	switch s {
	case incident.StateAwaitingApproval:
		return "awaiting a person's approval"
	case incident.StateRemediating:
		return "running"
	case incident.StateVerifying:
		return "verifying"
	case incident.StateResolved:
		return "resolved"
	case incident.StateEscalated:
		return "escalated to a person"
	}
	return string(s)
}

// SetInvestigation takes the commander's composed report from the
// incident's root session (as the store or the API returns it). A session
// without one leaves the report as it is; one that cannot be read is an
// error, and leaves it too.
func (r *Report) SetInvestigation(root *incident.Session) error {
	if root == nil {
		return nil
	}
	inv, err := investigate.ParseReport(root.Result)
	if err != nil {
		return fmt.Errorf("report of %s: %w", r.Incident.ID, err)
	}
	if inv != nil {
		r.Investigation = inv
		r.setRemediation()
	}
	return nil
}

// New assembles a report from an incident's parts.
func New(inc *incident.Incident, events []*incident.FailureEvent, findings []*incident.Finding, baseURL string) *Report {
	r := &Report{Incident: inc, Events: events, Triage: triage.Decode(findings), findings: findings}
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

// Owner is who owns the failed work: the investigation's owner, else the
// event's or the DAG's.
func (r *Report) Owner() string {
	if inv := r.Investigation; inv != nil && inv.Owner != nil && inv.Owner.Name != "" {
		return inv.Owner.Name
	}
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
