package mcpserver

import (
	"context"

	"github.com/medic-sh/medic/internal/config"
	"github.com/medic-sh/medic/internal/incident"
	"github.com/medic-sh/medic/internal/memory"
	"github.com/medic-sh/medic/internal/report"
	"github.com/medic-sh/medic/internal/store"
)

const (
	toolBuildTimeline     = "build_timeline"
	toolSummarizeRoot     = "summarize_root_cause"
	toolSuggestPrevention = "suggest_prevention_actions"
)

type timelineIn struct {
	IncidentID string `json:"incident_id" jsonschema:"the incident id"`
	Limit      int    `json:"limit,omitempty" jsonschema:"how many entries (default 100, at most 500), the earliest kept"`
}

type timelineOut struct {
	IncidentID string                 `json:"incident_id"`
	Entries    []report.TimelineEntry `json:"entries"`
	// Total counts every entry, across the limit.
	Total int `json:"total"`
	page
}

type rootCauseOut struct {
	IncidentID string `json:"incident_id"`
	// Summary is one paragraph, built from the findings: what failed,
	// the class, why, and how sure medic is.
	Summary   string         `json:"summary"`
	RootCause *rootCauseView `json:"root_cause,omitempty"`
	Headline  string         `json:"headline,omitempty"`
	Signature string         `json:"signature,omitempty"`
	// Recurring says whether the task fails repeatedly (triage's rule).
	Recurring  bool              `json:"recurring"`
	FailedRuns int               `json:"failed_runs,omitempty"`
	Precedent  *memory.Precedent `json:"precedent,omitempty"`
	NextAction string            `json:"next_action,omitempty"`
}

type preventionOut struct {
	IncidentID string              `json:"incident_id"`
	Label      string              `json:"label"`
	Actions    []report.Prevention `json:"actions"`
}

func (t *toolset) addPostmortem() {
	s := t.s
	add(t, spec{
		name: toolBuildTimeline, title: "Build an incident's timeline", need: config.RoleViewer,
		desc: "The incident's timeline for a postmortem, oldest first: each failure report, the incident's state " +
			"changes and medic's decisions (from the audit log), each investigation step, approvals and actions.",
	}, func(ctx context.Context, c *call, in timelineIn) (*timelineOut, error) {
		inc, err := s.getIncident(ctx, c, in.IncidentID)
		if err != nil {
			return nil, err
		}
		n, lc, err := limit("limit", in.Limit, 100, store.MaxListLimit)
		if err != nil {
			return nil, err
		}
		entries, err := report.Timeline(ctx, s.deps.Store, inc)
		if err != nil {
			return nil, err
		}
		out := &timelineOut{IncidentID: inc.ID, Entries: entries, Total: len(entries)}
		if len(out.Entries) > n {
			out.Entries = out.Entries[:n]
		}
		out.page = page{Returned: len(out.Entries), Truncated: len(entries) > n, LimitClamped: lc, Limit: n}
		return out, nil
	})

	add(t, spec{
		name: toolSummarizeRoot, title: "Summarize an incident's root cause", need: config.RoleViewer,
		desc: "The incident's root cause in one paragraph with its class, confidence, evidence, signature, whether it " +
			"recurs and the past failure that supports it; deterministic, from medic's recorded findings.",
	}, func(ctx context.Context, c *call, in incidentIn) (*rootCauseOut, error) {
		inc, rep, err := s.incidentReport(ctx, c, in.IncidentID)
		if err != nil {
			return nil, err
		}
		return summarizeRoot(inc, rep), nil
	})

	add(t, spec{
		name: toolSuggestPrevention, title: "Suggest prevention actions", need: config.RoleViewer,
		desc: "What would keep this failure from happening again, for the postmortem: medic's advice for the failure's " +
			"class and recurrence, deterministic (no model), each with why and who would usually do it.",
	}, func(ctx context.Context, c *call, in incidentIn) (*preventionOut, error) {
		inc, rep, err := s.incidentReport(ctx, c, in.IncidentID)
		if err != nil {
			return nil, err
		}
		out := &preventionOut{IncidentID: inc.ID, Label: "UNKNOWN", Actions: report.Prevent(rep)}
		if rc := summarizeRoot(inc, rep).RootCause; rc != nil {
			out.Label = rc.Label
		}
		return out, nil
	})
}

// summarizeRoot is the report's root cause as the tool answers it.
func summarizeRoot(inc *incident.Incident, rep *report.Report) *rootCauseOut {
	rc := rep.RootCause()
	out := &rootCauseOut{
		IncidentID: inc.ID, Summary: rc.Summary, Headline: rc.Headline, Signature: rc.Signature,
		Recurring: rc.Recurring, FailedRuns: rc.FailedRuns, Precedent: rc.Precedent, NextAction: rc.NextAction,
	}
	if rc.Known {
		out.RootCause = viewRootCause(rc.Label, rc.Confidence, rc.RetrySafe, rc.Remediation, rc.Cause, rc.Reason, rc.Source, rc.Evidence)
	}
	return out
}
