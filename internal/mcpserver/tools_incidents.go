package mcpserver

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/medic-sh/medic/internal/airflow"
	"github.com/medic-sh/medic/internal/classify"
	"github.com/medic-sh/medic/internal/config"
	"github.com/medic-sh/medic/internal/incident"
	"github.com/medic-sh/medic/internal/logscan/extract"
	"github.com/medic-sh/medic/internal/logscan/signature"
	"github.com/medic-sh/medic/internal/report"
	"github.com/medic-sh/medic/internal/store"
	"github.com/medic-sh/medic/internal/triage"
)

const (
	toolFindSimilar   = "find_similar_failures"
	toolGetIncident   = "get_incident"
	toolListIncidents = "list_incidents"
)

type similarIn struct {
	IncidentID string `json:"incident_id,omitempty" jsonschema:"an incident: its failure is looked up; or name the task instead"`
	taskRefOpt
	Limit int `json:"limit,omitempty" jsonschema:"how many past failures (default 5, at most 20)"`
}

// taskRefOpt is a task try named without an incident; every field is
// optional so that an incident can be named instead.
type taskRefOpt struct {
	Instance  string `json:"instance,omitempty" jsonschema:"a configured Airflow instance name; the default instance when left out"`
	DagID     string `json:"dag_id,omitempty" jsonschema:"the DAG id (with run_id and task_id, when no incident_id)"`
	RunID     string `json:"run_id,omitempty" jsonschema:"the DAG run id"`
	TaskID    string `json:"task_id,omitempty" jsonschema:"the task id"`
	TryNumber int    `json:"try_number,omitempty" jsonschema:"the try; the latest when left out"`
}

type similarOut struct {
	// Signature is the failure's signature the lookup used.
	Signature string                  `json:"signature,omitempty"`
	Similar   []triage.SimilarFailure `json:"similar"`
	// Source says where the list comes from: "triage" (what medic recorded
	// when it triaged the incident) or "memory" (a lookup now).
	Source string `json:"source"`
	// Degraded says why the lookup was signature-only, when it was.
	Degraded string `json:"degraded,omitempty"`
	page
}

type incidentIn struct {
	IncidentID string `json:"incident_id" jsonschema:"the incident id"`
}

type incidentOut struct {
	Incident incidentView `json:"incident"`
	Events   []eventView  `json:"events"`
	// EventsTruncated is true when the incident has more events than shown.
	EventsTruncated bool `json:"events_truncated"`
	// Diagnosis is the final diagnosis (the log's, as memory changed it).
	Diagnosis *classify.Diagnosis `json:"diagnosis,omitempty"`
	// RootCause is the investigation's composed root cause, when composed.
	RootCause  *rootCauseView `json:"root_cause,omitempty"`
	NextAction string         `json:"next_action,omitempty"`
	Owner      string         `json:"owner"`
	// Headline is the line of the log naming the error.
	Headline string `json:"headline,omitempty"`
	// Decision is the remediation policy's decision, when it decided.
	Decision  *report.Decision `json:"decision,omitempty"`
	Approvals []approvalView   `json:"approvals"`
	// StepErrors are the triage steps that failed, with why.
	StepErrors map[string]string `json:"step_errors,omitempty"`
}

type rootCauseView struct {
	Label       string   `json:"label"`
	Confidence  float64  `json:"confidence"`
	RetrySafe   bool     `json:"retry_safe"`
	Remediation string   `json:"remediation"`
	Summary     string   `json:"summary,omitempty"`
	Reason      string   `json:"reason,omitempty"`
	Evidence    []string `json:"evidence"`
	Source      string   `json:"source"`
}

type listIncidentsIn struct {
	State    string  `json:"state,omitempty" jsonschema:"only incidents in these states, comma-separated (open, investigating, awaiting_approval, remediating, verifying, resolved, escalated)"`
	DagID    string  `json:"dag_id,omitempty" jsonschema:"only incidents of this DAG"`
	Instance string  `json:"instance,omitempty" jsonschema:"only incidents of this configured Airflow instance"`
	Hours    float64 `json:"hours,omitempty" jsonschema:"only incidents opened in the last this many hours (no bound when left out)"`
	Limit    int     `json:"limit,omitempty" jsonschema:"how many incidents (default 20, at most 100)"`
	Cursor   string  `json:"cursor,omitempty" jsonschema:"next_cursor of a previous answer, for the next page"`
}

type listIncidentsOut struct {
	Incidents  []incidentView `json:"incidents"`
	Total      int            `json:"total"`
	NextCursor string         `json:"next_cursor,omitempty"`
	page
}

// maxEvents bounds the events get_incident shows.
const maxEvents = 50

func (t *toolset) addMemory() {
	s := t.s
	add(t, spec{
		name: toolFindSimilar, title: "Find similar past failures", need: config.RoleViewer,
		desc: "Past failures medic remembers that look like this one (same signature first, then by similarity), with " +
			"what was done about each, whether it worked and how much medic trusts it. Name an incident, or a task try.",
	}, func(ctx context.Context, c *call, in similarIn) (*similarOut, error) {
		n, lc, err := limit("limit", in.Limit, 5, 20)
		if err != nil {
			return nil, err
		}
		if in.IncidentID != "" {
			inc, rep, err := s.incidentReport(ctx, c, in.IncidentID)
			if err != nil {
				return nil, err
			}
			if m := rep.Triage.Memory; m != nil {
				out := &similarOut{Signature: inc.Signature, Similar: m.Similar, Source: "triage", Degraded: m.Degraded}
				if len(out.Similar) > n {
					out.Similar = out.Similar[:n]
				}
				out.page = page{Returned: len(out.Similar), Truncated: len(m.Similar) > n, LimitClamped: lc, Limit: n}
				return out, nil
			}
			task, try := rep.FocusTask(), 0
			if rep.Triage.Log != nil {
				try = rep.Triage.Log.TryNumber
			}
			in.taskRefOpt = taskRefOpt{Instance: inc.Instance, DagID: inc.DagID, RunID: inc.RunID, TaskID: task, TryNumber: try}
		}
		if s.deps.Memory == nil {
			return nil, userErrorf("medic's failure memory is off in this deployment (memory in medic's configuration), so there are no past failures to compare")
		}
		ref := taskRef(in.taskRefOpt)
		if err := ref.check(); err != nil {
			return nil, userErrorf("%s (or pass incident_id)", err)
		}
		_, _, lg, err := s.readLog(ctx, ref, airflow.LogOptions{MaxLines: s.limits.MaxLogLines, MaxBytes: s.limits.MaxLogBytes})
		if err != nil {
			return nil, err
		}
		root := extract.Extract(lg.Lines).Root
		if root == nil {
			return nil, userErrorf("the log of %s has no error block to compare: read it with task_log", ref.TaskID)
		}
		sig := signature.Of(root)
		res, err := s.deps.Memory.Lookup(ctx, triage.MemoryQuery(&sig, root), n)
		if err != nil {
			return nil, fmt.Errorf("look up similar failures: %w", err)
		}
		list, err := triage.SimilarFailures(ctx, s.deps.Store, res, n)
		if err != nil {
			return nil, err
		}
		return &similarOut{
			Signature: sig.ID, Similar: list, Source: "memory", Degraded: res.Degraded,
			page: page{Returned: len(list), Truncated: len(res.Exact)+len(res.Similar) > len(list), LimitClamped: lc, Limit: n},
		}, nil
	})
}

func (t *toolset) addIncidents() {
	s := t.s
	add(t, spec{
		name: toolGetIncident, title: "Get an incident", need: config.RoleViewer,
		desc: "Everything medic found about one incident: its failure reports, the diagnosis with evidence, the " +
			"investigation's root cause and next action, the owner, the remediation decision and its approvals.",
	}, func(ctx context.Context, c *call, in incidentIn) (*incidentOut, error) {
		inc, rep, err := s.incidentReport(ctx, c, in.IncidentID)
		if err != nil {
			return nil, err
		}
		out := &incidentOut{
			Incident: viewIncident(inc), Events: []eventView{}, Diagnosis: rep.Triage.Diagnosis(), Owner: rep.Owner(),
			Decision: rep.Decision(), Approvals: []approvalView{}, StepErrors: rep.Triage.Errors,
		}
		for i, ev := range rep.Events {
			if i == maxEvents {
				out.EventsTruncated = true
				break
			}
			out.Events = append(out.Events, viewEvent(ev))
		}
		if rep.Triage.Log != nil {
			out.Headline = rep.Triage.Log.Headline
		}
		if inv := rep.Investigation; inv != nil {
			out.NextAction = inv.NextAction
			if rc := inv.RootCause; rc != nil {
				out.RootCause = viewRootCause(rc.Label, rc.Confidence, rc.RetrySafe, string(rc.Remediation), rc.Summary, rc.Reason, rc.Source, rc.Evidence)
			}
		}
		aps, err := s.deps.Store.ApprovalList(ctx, &store.ApprovalListParams{IncidentID: inc.ID, Limit: maxListLimit})
		if err != nil {
			return nil, fmt.Errorf("list approvals of %s: %w", inc.ID, err)
		}
		for _, a := range aps {
			out.Approvals = append(out.Approvals, viewApproval(a))
		}
		return out, nil
	})

	add(t, spec{
		name: toolListIncidents, title: "List incidents", need: config.RoleViewer,
		desc: "medic's incidents, newest first, filtered by state, DAG, instance and age, a page at a time (pass " +
			"next_cursor back as cursor for the next page).",
	}, func(ctx context.Context, _ *call, in listIncidentsIn) (*listIncidentsOut, error) {
		if err := checkIDs(opt("instance", in.Instance), opt("dag_id", in.DagID)); err != nil {
			return nil, err
		}
		if in.Instance != "" {
			if _, _, err := s.instance(in.Instance); err != nil {
				return nil, err
			}
		}
		if len(in.Cursor) > 1024 {
			return nil, userErrorf("cursor is not one medic issued: start again without it")
		}
		n, lc, err := limit("limit", in.Limit, defaultListLimit, maxListLimit)
		if err != nil {
			return nil, err
		}
		p := &store.IncidentListParams{DagID: in.DagID, Instance: in.Instance, Limit: n, Cursor: in.Cursor}
		for part := range strings.SplitSeq(in.State, ",") {
			st := incident.State(strings.TrimSpace(part))
			switch {
			case st == "":
			case !st.Valid():
				return nil, userErrorf("state %q is not an incident state: want one of %s", clip(string(st), 40), stateNames())
			case !slices.Contains(p.States, st):
				p.States = append(p.States, st)
			}
		}
		if in.Hours != 0 {
			win, _, err := window("hours", in.Hours, 0, 10*365*24*time.Hour)
			if err != nil {
				return nil, err
			}
			p.Since = s.now().UTC().Add(-win)
		}
		res, err := s.deps.Store.IncidentList(ctx, p)
		if errors.Is(err, store.ErrInvalidCursor) {
			return nil, userErrorf("cursor is not one medic issued: start again without it")
		}
		if err != nil {
			return nil, fmt.Errorf("list incidents: %w", err)
		}
		out := &listIncidentsOut{Incidents: []incidentView{}, Total: res.Total, NextCursor: res.NextCursor}
		for _, inc := range res.Incidents {
			out.Incidents = append(out.Incidents, viewIncident(inc))
		}
		out.page = page{Returned: len(out.Incidents), Truncated: res.NextCursor != "", LimitClamped: lc, Limit: n}
		return out, nil
	})
}

func viewRootCause(label classify.Label, conf float64, retrySafe bool, remediation, summary, reason, source string, ev []incident.Evidence) *rootCauseView {
	rc := &rootCauseView{
		Label: string(label), Confidence: conf, RetrySafe: retrySafe, Remediation: remediation, Summary: clip(summary, 500),
		Reason: clip(reason, 1000), Source: source, Evidence: []string{},
	}
	for i, e := range ev {
		if i == 10 {
			break
		}
		where := e.Source
		if e.Ref != "" {
			where += " " + e.Ref
		}
		if e.Line > 0 {
			where += fmt.Sprintf(" line %d", e.Line)
		}
		rc.Evidence = append(rc.Evidence, where+": "+clip(e.Text, 300))
	}
	return rc
}

func stateNames() string {
	names := make([]string, len(incident.States))
	for i, st := range incident.States {
		names[i] = string(st)
	}
	return strings.Join(names, ", ")
}
