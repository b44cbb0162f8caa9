package investigate

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/medic-sh/medic/internal/incident"
	"github.com/medic-sh/medic/internal/store"
	"github.com/medic-sh/medic/internal/triage"
)

// EarlyError is returned by Compose when it runs before the deadline while
// specialists are still working; the job is tried again at the deadline.
type EarlyError struct{ Until time.Time }

func (e *EarlyError) Error() string {
	return "specialists are still working; composing at the deadline " + e.Until.UTC().Format(time.RFC3339Nano)
}

// Compose composes the incident's report in its root session and completes
// its triage. It runs when the last specialist finished, or at the deadline:
// specialists still working then are marked timed out (a result they send
// later is ignored) and the report is partial. It is idempotent: once the
// incident is triaged it does nothing, and a root composed before a crash
// keeps its report.
func (inv *Investigator) Compose(ctx context.Context, incidentID, sessionID string) error {
	inc, err := inv.store.IncidentGetByID(ctx, incidentID)
	if err != nil {
		return fmt.Errorf("compose %s: %w", incidentID, err)
	}
	if inc.TriagedAt != nil {
		return nil
	}
	root, err := inv.store.SessionGetByID(ctx, sessionID)
	if err != nil {
		return fmt.Errorf("compose %s: %w", incidentID, err)
	}
	if !root.Status.Final() {
		kids, err := inv.settle(ctx, root)
		if err != nil {
			return err
		}
		rep, err := inv.compose(ctx, inc, root, kids)
		if err != nil {
			return err
		}
		raw, err := json.Marshal(rep)
		if err != nil {
			return fmt.Errorf("compose %s: %w", incidentID, err)
		}
		if _, err := inv.store.SessionFinish(ctx, &store.SessionFinishParams{
			ID: root.ID, Status: rep.Status, Error: rep.Error, Result: raw, Message: "composed: " + rep.Summary,
		}); err != nil {
			return fmt.Errorf("compose %s: %w", incidentID, err)
		}
		if root, err = inv.store.SessionGetByID(ctx, sessionID); err != nil {
			return fmt.Errorf("compose %s: %w", incidentID, err)
		}
	}
	rep, err := ParseReport(root.Result)
	if err != nil || rep == nil {
		// A root finished without a report (by hand, or by an older medic):
		// compose one from what is stored, without finishing anything.
		kids, lerr := inv.store.SessionListChildren(ctx, root.ID)
		if lerr != nil {
			return fmt.Errorf("compose %s: %w", incidentID, lerr)
		}
		if rep, err = inv.compose(ctx, inc, root, kids); err != nil {
			return err
		}
	}
	return inv.complete(ctx, inc, root.ID, rep)
}

// settle returns the root's children once none is working: before the
// deadline it waits for the next try (EarlyError); at the deadline it marks
// the stragglers timed out.
func (inv *Investigator) settle(ctx context.Context, root *incident.Session) ([]*incident.Session, error) {
	kids, err := inv.store.SessionListChildren(ctx, root.ID)
	if err != nil {
		return nil, fmt.Errorf("compose %s: %w", root.IncidentID, err)
	}
	var working []*incident.Session
	for _, k := range kids {
		if !k.Status.Final() {
			working = append(working, k)
		}
	}
	if len(working) == 0 {
		return kids, nil
	}
	now := inv.now()
	if root.Deadline != nil && now.Before(*root.Deadline) {
		return nil, &EarlyError{Until: *root.Deadline}
	}
	when := "the deadline"
	if root.Deadline != nil {
		when = "the deadline " + root.Deadline.UTC().Format("15:04:05.000Z")
	}
	for _, k := range working {
		msg := fmt.Sprintf("%s did not report by %s", k.Agent, when)
		if _, err := inv.store.SessionFinish(ctx, &store.SessionFinishParams{
			ID: k.ID, Status: incident.SessionTimedOut, Error: msg, Message: msg,
		}); err != nil {
			return nil, fmt.Errorf("compose %s: time out %s: %w", root.IncidentID, k.Agent, err)
		}
		inv.log.WarnContext(ctx, "specialist timed out", "incident_id", root.IncidentID, "agent", k.Agent, "session_id", k.ID)
	}
	if kids, err = inv.store.SessionListChildren(ctx, root.ID); err != nil {
		return nil, fmt.Errorf("compose %s: %w", root.IncidentID, err)
	}
	return kids, nil
}

// complete completes the incident's triage with the report's summary and
// severity. With remediation on, the policy decides what happens next;
// otherwise, or when the investigation failed, the incident goes to a
// person (escalated).
func (inv *Investigator) complete(ctx context.Context, inc *incident.Incident, rootID string, rep *Report) error {
	p := &store.TriageCompleteParams{
		IncidentID: inc.ID, SessionID: rootID, Status: rep.Status, Summary: rep.Summary,
		Severity: rep.Severity, State: incident.StateEscalated,
	}
	if inv.opts.Remediate && rep.Status != incident.SessionFailed {
		p.State, p.Remediate = "", true
	}
	res, err := inv.store.TriageComplete(ctx, p)
	if err != nil {
		return fmt.Errorf("compose %s: %w", inc.ID, err)
	}
	if m := inv.opts.Metrics; res.Done && m != nil && res.Incident.TriagedAt != nil {
		m.Completed.WithLabelValues(string(rep.Status)).Inc()
		m.Duration.Observe(res.Incident.TriagedAt.Sub(res.Incident.CreatedAt).Seconds())
	}
	return nil
}

// compose builds the report from the root's and the children's findings and
// results.
func (inv *Investigator) compose(ctx context.Context, inc *incident.Incident, root *incident.Session, kids []*incident.Session) (*Report, error) {
	rootFindings, err := inv.store.FindingListBySession(ctx, root.ID)
	if err != nil {
		return nil, fmt.Errorf("compose %s: %w", inc.ID, err)
	}
	events, err := inv.store.EventListByIncident(ctx, inc.ID)
	if err != nil {
		return nil, fmt.Errorf("compose %s: %w", inc.ID, err)
	}
	c := &composition{inc: inc, root: root, events: events, findings: slices.Clone(rootFindings), now: inv.now().UTC()}
	c.steps(inv.agents.Commander().Name, rootFindings)
	for _, k := range kids {
		fs, err := inv.store.FindingListBySession(ctx, k.ID)
		if err != nil {
			return nil, fmt.Errorf("compose %s: %w", inc.ID, err)
		}
		res, err := ParseResult(k.Result)
		if err != nil {
			inv.log.WarnContext(ctx, "specialist result unreadable", "incident_id", inc.ID, "agent", k.Agent, "error", err)
		}
		c.add(k, res, fs)
	}
	rep := c.report(inv.agents.Commander().Name, inv.opts.Runbook)
	if root.Error != "" && rep.Error == "" {
		rep.Error = root.Error
	}
	return rep, nil
}

// failedReport is the report of an investigation that could not start.
func (inv *Investigator) failedReport(inc *incident.Incident, cause error) *Report {
	c := &composition{inc: inc, now: inv.now().UTC()}
	rep := c.report(inv.agents.Commander().Name, inv.opts.Runbook)
	rep.Status, rep.Error = incident.SessionFailed, cause.Error()
	rep.Summary = "triage failed: " + cause.Error()
	rep.NextAction = "Look at the failure in Airflow yourself: medic could not investigate it (" + cause.Error() + ")."
	return rep
}

// composition gathers what the sessions of one investigation found.
type composition struct {
	inc      *incident.Incident
	root     *incident.Session
	events   []*incident.FailureEvent
	findings []*incident.Finding
	results  []*Result
	runs     []SpecialistRun
	missing  []Missing
	diag     []Step
	now      time.Time
}

func (c *composition) steps(agent string, fs []*incident.Finding) {
	for _, f := range fs {
		s := Step{Agent: agent, Step: f.Step, Result: f.Summary}
		if f.Error != "" {
			s.Result, s.Failed = "failed: "+f.Error, true
		}
		c.diag = append(c.diag, s)
	}
}

func (c *composition) add(k *incident.Session, res *Result, fs []*incident.Finding) {
	c.findings = append(c.findings, fs...)
	c.steps(k.Agent, fs)
	run := SpecialistRun{Agent: k.Agent, SessionID: k.ID, Status: k.Status, Error: k.Error, FinishedAt: k.FinishedAt}
	start := k.CreatedAt
	if res != nil && !res.StartedAt.IsZero() {
		start = res.StartedAt
	}
	if res != nil && k.Status != incident.SessionTimedOut {
		// What a timed-out specialist had found is in its findings; its
		// result, cut short, is not composed.
		c.results = append(c.results, res)
		run.Summary = res.Summary
	}
	if res != nil && res.Model != nil {
		run.Model = res.Model.Model
	}
	run.StartedAt = &start
	if k.FinishedAt != nil {
		run.DurationMS = k.FinishedAt.Sub(start).Milliseconds()
	}
	c.runs = append(c.runs, run)
	if k.Status != incident.SessionCompleted {
		reason := k.Error
		if reason == "" && res != nil && len(res.Incomplete) > 0 {
			reason = strings.Join(res.Incomplete, "; ")
		}
		if reason == "" {
			reason = string(k.Status)
		}
		c.missing = append(c.missing, Missing{Agent: k.Agent, Status: k.Status, Reason: reason})
	}
}

func (c *composition) report(commander string, runbook func(map[string]string) string) *Report {
	sum := triage.Decode(c.findings)
	rep := &Report{
		Status: incident.SessionCompleted, Commander: commander, Specialists: c.runs, Missing: c.missing,
		ComposedAt: c.now, Diagnostic: Diagnostic{Steps: c.diag},
	}
	if rep.Specialists == nil {
		rep.Specialists = []SpecialistRun{}
	}
	if c.root != nil {
		rep.Deadline = c.root.Deadline
	}
	for _, r := range c.results {
		if r.Warehouse != nil && rep.Warehouse == nil {
			rep.Warehouse = r.Warehouse
		}
		if r.Owners != nil && rep.Owner == nil {
			o, imp := r.Owners.Owner, r.Owners.Impact
			rep.Owner, rep.Impact = &o, &imp
		}
	}
	c.modelNotes(rep)
	rep.RootCause = c.rootCause(sum)
	rep.Severity = triage.Severity(c.findings)
	if rep.Impact != nil && rep.Impact.Severity.Rank() > rep.Severity.Rank() {
		rep.Severity = rep.Impact.Severity
	}
	rep.Partial = len(c.missing) > 0 || len(sum.Errors) > 0
	if rep.Partial {
		rep.Status = incident.SessionPartial
	}
	rep.Summary = triage.Summarize(c.inc, c.findings)
	if len(c.missing) > 0 {
		parts := make([]string, len(c.missing))
		for i, m := range c.missing {
			parts[i] = m.Agent + " " + string(m.Status)
		}
		rep.Summary += " · partial: " + strings.Join(parts, ", ")
	}
	c.diagnostic(rep, sum, runbook)
	rep.NextAction = nextAction(rep, c.focus(sum))
	return rep
}

// modelNotes gathers the specialists' warnings and their models' usage.
func (c *composition) modelNotes(rep *Report) {
	for _, r := range c.results {
		for _, w := range r.Warnings {
			if w = r.Agent + ": " + w; !slices.Contains(rep.Warnings, w) {
				rep.Warnings = append(rep.Warnings, w)
			}
		}
		m := r.Model
		if m == nil {
			continue
		}
		if rep.ModelUsage == nil {
			rep.ModelUsage = &ModelUsage{CostKnown: true}
		}
		u := rep.ModelUsage
		u.InputTokens += m.Usage.InputTokens
		u.OutputTokens += m.Usage.OutputTokens
		if m.CostUSD != nil {
			u.CostUSD += *m.CostUSD
		} else {
			u.CostKnown = false
		}
	}
}

// rootCause is the most confident hypothesis a specialist sent, else the
// diagnosis in the findings (a log-analyzer cut off after its log step).
func (c *composition) rootCause(sum *triage.Summary) *RootCause {
	var best *Result
	for _, r := range c.results {
		if h := r.RootCause; h != nil && (best == nil || h.Confidence > best.RootCause.Confidence) {
			best = r
		}
	}
	if best != nil {
		h := best.RootCause
		return &RootCause{
			Label: h.Label, Confidence: h.Confidence, RetrySafe: h.RetrySafe, Remediation: h.Remediation,
			Summary: h.Headline, Reason: h.Reason, Evidence: h.Evidence, Source: best.Agent, Model: h.Model,
			Similar: len(h.Similar), Precedent: h.Precedent,
		}
	}
	d := sum.Diagnosis()
	if d == nil {
		return nil
	}
	rc := &RootCause{
		Label: d.Label, Confidence: d.Confidence, RetrySafe: d.RetrySafe, Remediation: d.Remediation,
		Reason: d.Reason, Evidence: diagnosisEvidence(sum), Source: "findings",
	}
	if sum.Log != nil {
		rc.Summary = sum.Log.Headline
	}
	if sum.Memory != nil {
		rc.Similar, rc.Precedent = len(sum.Memory.Similar), sum.Memory.Precedent
	}
	return rc
}

// focus is the task the report is about.
func (c *composition) focus(sum *triage.Summary) string {
	if sum.Run != nil && sum.Run.FirstFailingTask != "" {
		return sum.Run.FirstFailingTask
	}
	return c.inc.FirstTaskID
}

func (c *composition) diagnostic(rep *Report, sum *triage.Summary, runbook func(map[string]string) string) {
	d := &rep.Diagnostic
	task := c.focus(sum)
	d.Stage = fmt.Sprintf("%s › %s", c.inc.DagID, task)
	if task == "" {
		d.Stage = c.inc.DagID + " (task unknown)"
	}
	if sum.Failed != nil {
		for _, f := range sum.Failed.Failed {
			if f.TaskID != task {
				continue
			}
			if f.Operator != "" {
				d.Stage += " (" + f.Operator + ")"
			}
			d.Stage += fmt.Sprintf(", try %d", f.TryNumber)
			d.FailureTime = f.EndDate
		}
	}
	d.Stage += ", run " + c.inc.RunID
	for _, ev := range c.events {
		if d.FailureTime == nil && ev.TaskID == task && !ev.OccurredAt.IsZero() {
			t := ev.OccurredAt
			d.FailureTime = &t
		}
	}
	switch {
	case sum.Log != nil && sum.Log.Headline != "":
		d.ErrorSummary = sum.Log.Headline
	case reportedError(c.events) != "":
		d.ErrorSummary = firstLine(reportedError(c.events))
	default:
		d.ErrorSummary = "no error text found"
	}
	if d.Steps == nil {
		d.Steps = []Step{}
	}
	d.RemediationAttempted = "not decided yet: the remediation policy decides after this report"
	d.RemediationOutcome = "pending"
	d.Classification = "not classified"
	d.RecommendedResolution = "escalate: look at the failure yourself"
	values := map[string]string{"dag_id": c.inc.DagID, "task_id": task}
	if rc := rep.RootCause; rc != nil {
		d.Classification = fmt.Sprintf("%s (confidence %.2f)", rc.Label, rc.Confidence)
		d.RecommendedResolution = fmt.Sprintf("%s: %s", rc.Remediation, resolutionText(rc.Remediation))
		values["label"], values["remediation"] = string(rc.Label), string(rc.Remediation)
	}
	if runbook != nil {
		d.RunbookLink = runbook(values)
	}
}

func reportedError(events []*incident.FailureEvent) string {
	for _, ev := range events {
		if ev.Exception != "" {
			return ev.Exception
		}
	}
	return ""
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
