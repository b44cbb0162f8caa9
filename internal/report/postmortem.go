package report

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/medic-sh/medic/internal/classify"
	"github.com/medic-sh/medic/internal/incident"
	"github.com/medic-sh/medic/internal/memory"
	"github.com/medic-sh/medic/internal/store"
)

// TimelineEntry is one dated fact of an incident.
type TimelineEntry struct {
	At time.Time `json:"at"`
	// Kind is failure, incident, finding, audit or action.
	Kind  string `json:"kind"`
	What  string `json:"what"`
	Actor string `json:"actor,omitempty"`
	// To is the state an incident.transition moved the incident to.
	To incident.State `json:"to,omitempty"`
}

// TimelineReader is what a timeline is read from.
type TimelineReader interface {
	EventListByIncident(ctx context.Context, incidentID string) ([]*incident.FailureEvent, error)
	SessionListChildren(ctx context.Context, parentID string) ([]*incident.Session, error)
	FindingListBySession(ctx context.Context, sessionID string) ([]*incident.Finding, error)
	AuditList(ctx context.Context, p *store.AuditListParams) ([]*incident.AuditEntry, error)
	ActionListByIncident(ctx context.Context, incidentID string) ([]*incident.ActionRun, error)
}

var _ TimelineReader = store.Store(nil)

// Timeline gathers the incident's dated facts, oldest first: its opening
// and triage, each failure report, each investigation step, the audit
// trail (moves, decisions, approvals, notifications) and each action run.
// Calls of assistants' MCP tools are left out: they are reads, not the
// incident's story. Every text is the stored, redacted one.
func Timeline(ctx context.Context, st TimelineReader, inc *incident.Incident) ([]TimelineEntry, error) {
	out := []TimelineEntry{{At: inc.CreatedAt, Kind: "incident", What: fmt.Sprintf("incident opened for %s run %s", inc.DagID, inc.RunID)}}
	events, err := st.EventListByIncident(ctx, inc.ID)
	if err != nil {
		return nil, fmt.Errorf("timeline of %s: list events: %w", inc.ID, err)
	}
	for _, ev := range events {
		what := fmt.Sprintf("%s try %d failed (reported by %s)", ev.TaskID, ev.TryNumber, ev.Source)
		if ev.Exception != "" {
			what += ": " + clip(firstLine(ev.Exception), 200)
		}
		at := ev.OccurredAt
		if at.IsZero() {
			at = ev.ReceivedAt
		}
		out = append(out, TimelineEntry{At: at, Kind: "failure", What: what})
	}
	if inc.TriageSessionID != "" {
		sessions := []string{inc.TriageSessionID}
		kids, err := st.SessionListChildren(ctx, inc.TriageSessionID)
		if err != nil {
			return nil, fmt.Errorf("timeline of %s: list sessions: %w", inc.ID, err)
		}
		for _, k := range kids {
			sessions = append(sessions, k.ID)
		}
		for _, sid := range sessions {
			fs, err := st.FindingListBySession(ctx, sid)
			if err != nil {
				return nil, fmt.Errorf("timeline of %s: list findings of %s: %w", inc.ID, sid, err)
			}
			for _, f := range fs {
				what := f.Step + ": " + clip(f.Summary, 300)
				if f.Error != "" {
					what = f.Step + " failed: " + clip(f.Error, 300)
				}
				out = append(out, TimelineEntry{At: f.CreatedAt, Kind: "finding", What: what})
			}
		}
	}
	entries, err := st.AuditList(ctx, &store.AuditListParams{IncidentID: inc.ID, Limit: store.MaxListLimit})
	if err != nil {
		return nil, fmt.Errorf("timeline of %s: list audit entries: %w", inc.ID, err)
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Action, "mcp.") {
			continue
		}
		te := TimelineEntry{At: e.At, Kind: "audit", What: e.Action, Actor: e.Actor}
		if e.Action == "incident.transition" {
			var d struct {
				From   incident.State `json:"from"`
				To     incident.State `json:"to"`
				Reason string         `json:"reason"`
			}
			if json.Unmarshal(e.Detail, &d) == nil && d.To != "" {
				te.To = d.To
				te.What = fmt.Sprintf("incident %s → %s", d.From, d.To)
				if d.Reason != "" {
					te.What += ": " + clip(firstLine(d.Reason), 300)
				}
			}
		}
		out = append(out, te)
	}
	runs, err := st.ActionListByIncident(ctx, inc.ID)
	if err != nil {
		return nil, fmt.Errorf("timeline of %s: list action runs: %w", inc.ID, err)
	}
	for _, r := range runs {
		out = append(out, TimelineEntry{At: r.StartedAt, Kind: "action", What: fmt.Sprintf("%s started", r.Action)})
		if r.FinishedAt != nil {
			out = append(out, TimelineEntry{At: *r.FinishedAt, Kind: "action", What: fmt.Sprintf("%s %s", r.Action, r.Status)})
		}
	}
	if inc.TriagedAt != nil {
		out = append(out, TimelineEntry{At: *inc.TriagedAt, Kind: "incident", What: "triage completed: " + clip(inc.Summary, 300)})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].At.Before(out[j].At) })
	return out, nil
}

// RootCause is an incident's root cause as a postmortem states it: the
// investigation's when it composed one, else triage's diagnosis.
type RootCause struct {
	// Known is false when neither gave a diagnosis.
	Known       bool
	Label       classify.Label
	Confidence  float64
	RetrySafe   bool
	Remediation string
	// Cause is the line naming the error.
	Cause string
	// Reason says why the class fits.
	Reason string
	// Source is who diagnosed it: a specialist, or "triage".
	Source   string
	Evidence []incident.Evidence
	// Headline is the log's root error line; Signature its failure
	// signature.
	Headline, Signature string
	// Recurring and FailedRuns are triage's frequency rule.
	Recurring  bool
	FailedRuns int
	Precedent  *memory.Precedent
	NextAction string
	// Summary is all of it in one deterministic paragraph.
	Summary string
}

// RootCause states the incident's root cause from its recorded findings.
func (r *Report) RootCause() RootCause {
	inc := r.Incident
	out := RootCause{Signature: inc.Signature}
	if l := r.Triage.Log; l != nil {
		out.Headline = l.Headline
		if l.Signature != nil && out.Signature == "" {
			out.Signature = l.Signature.ID
		}
	}
	if inv := r.Investigation; inv != nil {
		out.NextAction = inv.NextAction
		if rc := inv.RootCause; rc != nil {
			out.Known, out.Label, out.Confidence, out.RetrySafe = true, rc.Label, rc.Confidence, rc.RetrySafe
			out.Remediation, out.Cause, out.Reason, out.Source = string(rc.Remediation), rc.Summary, rc.Reason, rc.Source
			out.Evidence, out.Precedent = rc.Evidence, rc.Precedent
		}
	}
	if !out.Known {
		if d := r.Triage.Diagnosis(); d != nil {
			out.Known, out.Label, out.Confidence, out.RetrySafe = true, d.Label, d.Confidence, d.RetrySafe
			out.Remediation, out.Cause, out.Reason, out.Source = string(d.Remediation), out.Headline, d.Reason, "triage"
			for _, e := range d.Evidence {
				out.Evidence = append(out.Evidence, incident.Evidence{Source: "log", Line: e.Line, Text: e.Text})
			}
		}
	}
	if m := r.Triage.Memory; m != nil && out.Precedent == nil {
		out.Precedent = m.Precedent
	}
	if fq := r.Triage.Frequency; fq != nil {
		out.Recurring, out.FailedRuns = fq.Recurring, fq.FailedRuns
	}
	out.Summary = out.paragraph(inc, r.FocusTask())
	return out
}

func (rc RootCause) paragraph(inc *incident.Incident, task string) string {
	var b strings.Builder
	if task == "" {
		task = "(unknown task)"
	}
	fmt.Fprintf(&b, "%s.%s failed in run %s", inc.DagID, task, inc.RunID)
	if rc.Headline != "" {
		fmt.Fprintf(&b, ": %s", clip(rc.Headline, 300))
	}
	b.WriteString(".")
	if rc.Known {
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
	if rc.Recurring {
		fmt.Fprintf(&b, " It is recurring: it failed in %d runs recently.", rc.FailedRuns)
	}
	if p := rc.Precedent; p != nil {
		fmt.Fprintf(&b, " A past failure (%s) supports the diagnosis", p.RecordID)
		if p.Action != "" {
			outcome := string(p.Outcome)
			if outcome == "" {
				outcome = "unknown"
			}
			fmt.Fprintf(&b, "; %s was done then, with outcome %s", p.Action, outcome)
		}
		b.WriteString(".")
	}
	return b.String()
}
