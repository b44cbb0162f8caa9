package demo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/medic-sh/medic/internal/incident"
	"github.com/medic-sh/medic/internal/report"
	"github.com/medic-sh/medic/internal/store"
)

// Result is what a demo --once run measured.
type Result struct {
	ScriptedRuns   int     `json:"scripted_runs"`
	Incidents      int     `json:"incidents"`
	Triaged        int     `json:"triaged"`
	Notified       int     `json:"notified"`
	Events         int     `json:"events"`
	Deliveries     int     `json:"deliveries"`
	Callbacks      int     `json:"callbacks_accepted"`
	CallbackErrors int     `json:"callback_errors"`
	FromPoller     int     `json:"events_from_poller"`
	MedianTriageMS float64 `json:"median_triage_ms"`
	MaxTriageMS    float64 `json:"max_triage_ms"`
	Rows           []Row   `json:"rows"`
}

// Row is one incident of the summary table.
type Row struct {
	IncidentID string `json:"incident_id"`
	DagID      string `json:"dag_id"`
	Task       string `json:"task"`
	State      string `json:"state"`
	Severity   string `json:"severity"`
	Failures   int    `json:"failures"`
	Sources    string `json:"sources"`
	Pattern    string `json:"pattern"`
	Class      string `json:"class"`
	RetrySafe  bool   `json:"retry_safe"`
	Tasks      string `json:"tasks"`
	Headline   string `json:"headline"`
	LogLines   int    `json:"log_lines"`
	TriageMS   int64  `json:"triage_ms"`
	// Commander and Specialists are the investigation's sessions: the
	// commander and each specialist it ran, with how long each took.
	Commander   string       `json:"commander,omitempty"`
	Specialists []Specialist `json:"specialists,omitempty"`
	Partial     bool         `json:"partial,omitempty"`
	// Remediation is what the policy decided: outcome, action and, for a
	// proposal, the approval waiting for a person.
	Remediation *Remediation `json:"remediation,omitempty"`
}

// Remediation is one incident's policy decision.
type Remediation struct {
	Outcome    string `json:"outcome"`
	Action     string `json:"action,omitempty"`
	ApprovalID string `json:"approval_id,omitempty"`
	// Why is the rule that capped or stopped the decision, if one did.
	Why string `json:"why,omitempty"`
}

// Specialist is one specialist's session of an incident's investigation.
type Specialist struct {
	Agent  string `json:"agent"`
	Status string `json:"status"`
	MS     int64  `json:"ms"`
	// Note is the specialist's one-line answer, when it is short.
	Note string `json:"note,omitempty"`
}

// maxNote is the longest specialist summary the table shows.
const maxNote = 32

func (s Specialist) String() string {
	out := s.Agent
	if s.Note != "" {
		out += " (" + s.Note + ")"
	}
	if s.Status != string(incident.SessionCompleted) {
		out += " " + s.Status
	}
	return fmt.Sprintf("%s %dms", out, s.MS)
}

// waitForTriage waits until want incidents exist and all are triaged and
// reported, then reads the summary.
func waitForTriage(ctx context.Context, st store.Store, want int) (*Result, error) {
	var last *Result
	for {
		res, done, err := summarize(ctx, st, want)
		if err != nil && ctx.Err() == nil {
			return nil, err
		}
		if err == nil {
			if done {
				return res, nil
			}
			last = res
		}
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
			continue
		}
		triaged := 0
		if last != nil {
			triaged = last.Triaged
		}
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return last, fmt.Errorf("demo: %d of %d incident(s) triaged when the deadline passed; run with -v to see what medic was doing", triaged, want)
		}
		return last, fmt.Errorf("demo: stopped with %d of %d incident(s) triaged: %w", triaged, want, ctx.Err())
	}
}

func summarize(ctx context.Context, st store.Store, want int) (*Result, bool, error) {
	page, err := st.IncidentList(ctx, &store.IncidentListParams{Limit: store.MaxListLimit})
	if err != nil {
		return nil, false, err
	}
	res := &Result{Incidents: page.Total}
	var durations []float64
	undecided := 0
	for i := len(page.Incidents) - 1; i >= 0; i-- {
		r, err := report.Load(ctx, st, page.Incidents[i].ID, "")
		if err != nil {
			return nil, false, err
		}
		inc := r.Incident
		if !inc.Decided() {
			undecided++
		}
		if inc.TriagedAt != nil {
			res.Triaged++
			durations = append(durations, float64(r.TriageDuration.Microseconds())/1000)
		}
		if inc.NotifiedAt != nil {
			res.Notified++
		}
		rw := row(r)
		if rw.Remediation, err = decision(ctx, st, r); err != nil {
			return nil, false, err
		}
		if rm := rw.Remediation; rm != nil && rm.Outcome == "propose" && rm.ApprovalID == "" {
			undecided++ // awaiting approval, its approval about to be stored
		}
		res.Rows = append(res.Rows, rw)
		res.Events += len(r.Events)
		for _, ev := range r.Events {
			res.Deliveries += ev.Deliveries
			if ev.Source == incident.SourcePoller {
				res.FromPoller++
			}
		}
	}
	sort.Float64s(durations)
	if n := len(durations); n > 0 {
		res.MedianTriageMS = durations[n/2]
		if n%2 == 0 {
			res.MedianTriageMS = (durations[n/2-1] + durations[n/2]) / 2
		}
		res.MaxTriageMS = durations[n-1]
	}
	done := res.Incidents >= want && res.Triaged == res.Incidents && res.Notified == res.Incidents && undecided == 0
	return res, done, nil
}

func row(r *report.Report) Row {
	inc := r.Incident
	out := Row{
		IncidentID: inc.ID, DagID: inc.DagID, Task: r.FocusTask(), State: string(inc.State), Severity: string(inc.Severity),
		Failures: inc.EventCount, TriageMS: r.TriageDuration.Milliseconds(),
	}
	srcs := map[string]bool{}
	for _, ev := range r.Events {
		srcs[string(ev.Source)] = true
	}
	out.Sources = strings.Join(sortedKeys(srcs), "+")
	if fq := r.Triage.Frequency; fq != nil {
		out.Pattern = fmt.Sprintf("%s (%d)", fq.Pattern, fq.FailedRuns)
	}
	if ft := r.Triage.Failed; ft != nil {
		out.Tasks = fmt.Sprintf("%d failed, %d blocked", len(ft.Failed), len(ft.UpstreamFailed))
	}
	if lg := r.Triage.Log; lg != nil {
		out.Headline, out.LogLines = lg.Headline, lg.TailLines
	}
	if d := r.Triage.Diagnosis(); d != nil {
		out.Class, out.RetrySafe = string(d.Label), d.RetrySafe
	}
	if inv := r.Investigation; inv != nil {
		out.Commander, out.Partial = inv.Commander, inv.Partial
		for _, sp := range inv.Specialists {
			s := Specialist{Agent: sp.Agent, Status: string(sp.Status), MS: sp.DurationMS}
			if len(sp.Summary) <= maxNote {
				s.Note = sp.Summary
			}
			out.Specialists = append(out.Specialists, s)
		}
	}
	return out
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// WriteTable prints the summary for a person.
func (r *Result) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "INCIDENT\tDAG.TASK\tSTATE\tSEV\tFAILURES\tFROM\tFREQUENCY\tTASKS\tCLASS\tTRIAGE\tERROR")
	for _, row := range r.Rows {
		fmt.Fprintf(tw, "%s\t%s.%s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\t%dms\t%s\n", row.IncidentID, row.DagID, row.Task, row.State,
			row.Severity, row.Failures, row.Sources, row.Pattern, row.Tasks, row.Class, row.TriageMS, clip(row.Headline, 60))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w, "\nINVESTIGATIONS (commander → specialists, in parallel)")
	for _, row := range r.Rows {
		if row.Commander == "" {
			continue
		}
		parts := make([]string, len(row.Specialists))
		for i, s := range row.Specialists {
			parts[i] = s.String()
		}
		partial := ""
		if row.Partial {
			partial = "  [partial]"
		}
		fmt.Fprintf(w, "%s  %s → %s%s\n", row.IncidentID, row.Commander, strings.Join(parts, ", "), partial)
	}
	fmt.Fprintln(w, "\nREMEDIATION (code decides; in this demo every action needs a person's approval)")
	for _, row := range r.Rows {
		rm := row.Remediation
		if rm == nil {
			continue
		}
		line := fmt.Sprintf("%s  %s", row.IncidentID, strings.TrimSpace(rm.Outcome+" "+rm.Action))
		switch {
		case rm.ApprovalID != "":
			line += ": awaiting approval " + rm.ApprovalID + " (with its dry run)"
		case rm.Why != "":
			line += ": " + clip(rm.Why, 90)
		}
		fmt.Fprintln(w, line)
	}
	_, err := fmt.Fprintf(w, "\n%d scripted runs → %d incidents (%d triaged, %d reported) from %d failure events\n"+
		"%d reports of those events: %d callback deliveries (some redelivered on purpose), %d poller sightings; %d event(s) first found by the poller\n"+
		"median time from event receipt to completed triage: %.1f ms (max %.1f ms)\n",
		r.ScriptedRuns, r.Incidents, r.Triaged, r.Notified, r.Events,
		r.Deliveries, r.Callbacks, r.Deliveries-r.Callbacks, r.FromPoller, r.MedianTriageMS, r.MaxTriageMS)
	return err
}

// decision is the policy's decision in r, nil before there is one, with
// the approval a proposal waits as.
func decision(ctx context.Context, st store.Store, r *report.Report) (*Remediation, error) {
	d := r.Decision()
	if d == nil {
		return nil, nil
	}
	out := &Remediation{Outcome: d.Outcome, Action: d.Action, Why: d.Why}
	if out.Outcome == "escalate" {
		out.Action, out.Why = "", d.Proposed+" needs a person"
	}
	approvals, err := st.ApprovalList(ctx, &store.ApprovalListParams{IncidentID: r.Incident.ID, Limit: 1})
	if err != nil {
		return nil, err
	}
	if len(approvals) > 0 {
		out.ApprovalID = approvals[0].ID
	}
	return out, nil
}

// WriteJSON prints the summary as one JSON line.
func (r *Result) WriteJSON(w io.Writer) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}

func clip(s string, n int) string {
	rs := []rune(s)
	if len(rs) <= n {
		return s
	}
	return string(rs[:n-1]) + "…"
}
