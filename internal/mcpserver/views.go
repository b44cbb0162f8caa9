package mcpserver

import (
	"strings"
	"time"

	"github.com/medic-sh/medic/internal/airflow"
	"github.com/medic-sh/medic/internal/incident"
)

// incidentView is an incident as the tools show it.
type incidentView struct {
	ID          string     `json:"id"`
	State       string     `json:"state"`
	Severity    string     `json:"severity"`
	Title       string     `json:"title,omitempty"`
	Instance    string     `json:"instance"`
	DagID       string     `json:"dag_id"`
	RunID       string     `json:"run_id"`
	FirstTaskID string     `json:"first_task_id,omitempty"`
	EventCount  int        `json:"event_count"`
	Owner       string     `json:"owner,omitempty"`
	Summary     string     `json:"summary,omitempty"`
	Signature   string     `json:"signature,omitempty"`
	CreatedAt   time.Time  `json:"created_at"`
	UpdatedAt   time.Time  `json:"updated_at"`
	TriagedAt   *time.Time `json:"triaged_at,omitempty"`
}

func viewIncident(in *incident.Incident) incidentView {
	return incidentView{
		ID: in.ID, State: string(in.State), Severity: string(in.Severity), Title: in.Title, Instance: in.Instance,
		DagID: in.DagID, RunID: in.RunID, FirstTaskID: in.FirstTaskID, EventCount: in.EventCount, Owner: in.Owner,
		Summary: clip(in.Summary, 1000), Signature: in.Signature, CreatedAt: in.CreatedAt, UpdatedAt: in.UpdatedAt, TriagedAt: in.TriagedAt,
	}
}

// runView is a DAG run as the tools show it (its conf left out: it may
// hold anything).
type runView struct {
	DagID       string     `json:"dag_id"`
	RunID       string     `json:"run_id"`
	State       string     `json:"state"`
	RunType     string     `json:"run_type,omitempty"`
	LogicalDate *time.Time `json:"logical_date,omitempty"`
	StartDate   *time.Time `json:"start_date,omitempty"`
	EndDate     *time.Time `json:"end_date,omitempty"`
}

func viewRun(r *airflow.DagRun) runView {
	return runView{DagID: r.DagID, RunID: r.RunID, State: r.State, RunType: r.RunType, LogicalDate: r.LogicalDate, StartDate: r.StartDate, EndDate: r.EndDate}
}

// eventView is one failure report of an incident.
type eventView struct {
	DagID      string    `json:"dag_id"`
	RunID      string    `json:"run_id"`
	TaskID     string    `json:"task_id"`
	TryNumber  int       `json:"try_number"`
	Source     string    `json:"source"`
	Exception  string    `json:"exception,omitempty"`
	OccurredAt time.Time `json:"occurred_at"`
	ReceivedAt time.Time `json:"received_at"`
}

func viewEvent(ev *incident.FailureEvent) eventView {
	return eventView{
		DagID: ev.DagID, RunID: ev.RunID, TaskID: ev.TaskID, TryNumber: ev.TryNumber, Source: string(ev.Source),
		Exception: clip(ev.Exception, 500), OccurredAt: ev.OccurredAt, ReceivedAt: ev.ReceivedAt,
	}
}

// approvalView is an approval as the tools show it.
type approvalView struct {
	ID             string     `json:"id"`
	IncidentID     string     `json:"incident_id"`
	Action         string     `json:"action"`
	Status         string     `json:"status"`
	RequestedBy    string     `json:"requested_by"`
	IdempotencyKey string     `json:"idempotency_key"`
	DecidedBy      string     `json:"decided_by,omitempty"`
	Reason         string     `json:"reason,omitempty"`
	CreatedAt      time.Time  `json:"created_at"`
	ExpiresAt      time.Time  `json:"expires_at"`
	DecidedAt      *time.Time `json:"decided_at,omitempty"`
}

func viewApproval(a *incident.Approval) approvalView {
	return approvalView{
		ID: a.ID, IncidentID: a.IncidentID, Action: a.Action, Status: string(a.Status), RequestedBy: a.RequestedBy,
		IdempotencyKey: a.IdempotencyKey, DecidedBy: a.DecidedBy, Reason: a.Reason, CreatedAt: a.CreatedAt,
		ExpiresAt: a.ExpiresAt, DecidedAt: a.DecidedAt,
	}
}

// page says how a list was bounded.
type page struct {
	// Returned is how many items the answer holds.
	Returned int `json:"returned"`
	// Truncated is true when there were more than the limit.
	Truncated bool `json:"truncated"`
	// LimitClamped is true when the limit asked for was above the most
	// medic returns, and Limit is that most.
	LimitClamped bool `json:"limit_clamped,omitempty"`
	Limit        int  `json:"limit"`
}

type airflowRun = airflow.DagRun

// compareEnd orders runs by end (then start) date, unknown dates first.
func compareEnd(a, b airflowRun) int {
	ta, tb := a.EndDate, b.EndDate
	if ta == nil {
		ta = a.StartDate
	}
	if tb == nil {
		tb = b.StartDate
	}
	switch {
	case ta == nil && tb == nil:
		return strings.Compare(a.RunID, b.RunID)
	case ta == nil:
		return -1
	case tb == nil:
		return 1
	}
	return ta.Compare(*tb)
}
