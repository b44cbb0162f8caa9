package mcpserver

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

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

type timelineEntry struct {
	At time.Time `json:"at"`
	// Kind is failure, incident, finding, audit, approval or action.
	Kind  string `json:"kind"`
	What  string `json:"what"`
	Actor string `json:"actor,omitempty"`
}

type timelineOut struct {
	IncidentID string          `json:"incident_id"`
	Entries    []timelineEntry `json:"entries"`
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
		entries, err := s.timeline(ctx, inc)
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

func summarizeRoot(inc *incident.Incident, rep *report.Report) *rootCauseOut {
	out := &rootCauseOut{IncidentID: inc.ID, Signature: inc.Signature}
	task := rep.FocusTask()
	if l := rep.Triage.Log; l != nil {
		out.Headline = l.Headline
		if l.Signature != nil && out.Signature == "" {
			out.Signature = l.Signature.ID
		}
	}
	if inv := rep.Investigation; inv != nil {
		out.NextAction = inv.NextAction
		if rc := inv.RootCause; rc != nil {
			out.RootCause = viewRootCause(rc.Label, rc.Confidence, rc.RetrySafe, string(rc.Remediation), rc.Summary, rc.Reason, rc.Source, rc.Evidence)
			out.Precedent = rc.Precedent
		}
	}
	if out.RootCause == nil {
		if d := rep.Triage.Diagnosis(); d != nil {
			var ev []incident.Evidence
			for _, e := range d.Evidence {
				ev = append(ev, incident.Evidence{Source: "log", Line: e.Line, Text: e.Text})
			}
			out.RootCause = viewRootCause(d.Label, d.Confidence, d.RetrySafe, string(d.Remediation), out.Headline, d.Reason, "triage", ev)
		}
	}
	if m := rep.Triage.Memory; m != nil && out.Precedent == nil {
		out.Precedent = m.Precedent
	}
	if fq := rep.Triage.Frequency; fq != nil {
		out.Recurring, out.FailedRuns = fq.Recurring, fq.FailedRuns
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s.%s failed in run %s", inc.DagID, orText(task, "(unknown task)"), inc.RunID)
	if out.Headline != "" {
		fmt.Fprintf(&b, ": %s", clip(out.Headline, 300))
	}
	b.WriteString(".")
	if rc := out.RootCause; rc != nil {
		fmt.Fprintf(&b, " medic classifies it as %s with %.0f%% confidence", rc.Label, 100*rc.Confidence)
		if rc.Reason != "" {
			fmt.Fprintf(&b, " (%s)", clip(rc.Reason, 300))
		}
		safe := "safe"
		if !rc.RetrySafe {
			safe = "not safe"
		}
		fmt.Fprintf(&b, "; a retry is %s, and the recommended remediation is %s.", safe, rc.Remediation)
	} else {
		b.WriteString(" medic has no diagnosis yet.")
	}
	if out.Recurring {
		fmt.Fprintf(&b, " It is recurring: it failed in %d runs recently.", out.FailedRuns)
	}
	if p := out.Precedent; p != nil {
		fmt.Fprintf(&b, " A past failure (%s) supports the diagnosis", p.RecordID)
		if p.Action != "" {
			fmt.Fprintf(&b, "; %s was done then, with outcome %s", p.Action, orText(string(p.Outcome), "unknown"))
		}
		b.WriteString(".")
	}
	out.Summary = b.String()
	return out
}

// timeline gathers the incident's dated facts, oldest first.
func (s *Server) timeline(ctx context.Context, inc *incident.Incident) ([]timelineEntry, error) {
	st := s.deps.Store
	out := []timelineEntry{{At: inc.CreatedAt, Kind: "incident", What: fmt.Sprintf("incident opened for %s run %s", inc.DagID, inc.RunID)}}
	events, err := st.EventListByIncident(ctx, inc.ID)
	if err != nil {
		return nil, fmt.Errorf("list events of %s: %w", inc.ID, err)
	}
	for _, ev := range events {
		what := fmt.Sprintf("%s try %d failed (reported by %s)", ev.TaskID, ev.TryNumber, ev.Source)
		if ev.Exception != "" {
			what += ": " + clip(firstLine(ev.Exception), 200)
		}
		out = append(out, timelineEntry{At: orTime(ev.OccurredAt, ev.ReceivedAt), Kind: "failure", What: what})
	}
	if inc.TriageSessionID != "" {
		sessions := []string{inc.TriageSessionID}
		kids, err := st.SessionListChildren(ctx, inc.TriageSessionID)
		if err != nil {
			return nil, fmt.Errorf("list sessions of %s: %w", inc.ID, err)
		}
		for _, k := range kids {
			sessions = append(sessions, k.ID)
		}
		for _, sid := range sessions {
			fs, err := st.FindingListBySession(ctx, sid)
			if err != nil {
				return nil, fmt.Errorf("list findings of %s: %w", sid, err)
			}
			for _, f := range fs {
				what := f.Step + ": " + clip(f.Summary, 300)
				if f.Error != "" {
					what = f.Step + " failed: " + clip(f.Error, 300)
				}
				out = append(out, timelineEntry{At: f.CreatedAt, Kind: "finding", What: what})
			}
		}
	}
	entries, err := st.AuditList(ctx, &store.AuditListParams{IncidentID: inc.ID, Limit: store.MaxListLimit})
	if err != nil {
		return nil, fmt.Errorf("list audit entries of %s: %w", inc.ID, err)
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Action, "mcp.") {
			continue // the assistant's own reads are not the incident's story
		}
		out = append(out, timelineEntry{At: e.At, Kind: "audit", What: e.Action, Actor: e.Actor})
	}
	runs, err := st.ActionListByIncident(ctx, inc.ID)
	if err != nil {
		return nil, fmt.Errorf("list action runs of %s: %w", inc.ID, err)
	}
	for _, r := range runs {
		out = append(out, timelineEntry{At: r.StartedAt, Kind: "action", What: fmt.Sprintf("%s started", r.Action)})
		if r.FinishedAt != nil {
			out = append(out, timelineEntry{At: *r.FinishedAt, Kind: "action", What: fmt.Sprintf("%s %s", r.Action, r.Status)})
		}
	}
	if inc.TriagedAt != nil {
		out = append(out, timelineEntry{At: *inc.TriagedAt, Kind: "incident", What: "triage completed: " + clip(inc.Summary, 300)})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].At.Before(out[j].At) })
	return out, nil
}

func orText(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func orTime(t, def time.Time) time.Time {
	if t.IsZero() {
		return def
	}
	return t
}
