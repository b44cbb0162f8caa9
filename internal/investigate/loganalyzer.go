package investigate

import (
	"context"
	"fmt"
	"strings"

	"github.com/medic-sh/medic/internal/incident"
	"github.com/medic-sh/medic/internal/investigate/agents"
	"github.com/medic-sh/medic/internal/triage"
)

// LogAnalyzer is the log-analyzer's deterministic engine: triage's
// diagnosis phase (frequency, log excerpt with error extraction and
// classification, history, failure memory) in the specialist's own
// session, resumable step by step. It returns the root-cause hypothesis
// with its evidence, confidence and similar past failures.
type LogAnalyzer struct {
	runner *triage.Runner
}

var _ Engine = (*LogAnalyzer)(nil)

// NewLogAnalyzer returns the log-analyzer engine over runner.
func NewLogAnalyzer(runner *triage.Runner) *LogAnalyzer { return &LogAnalyzer{runner: runner} }

// Spec implements Engine.
func (*LogAnalyzer) Spec() agents.EngineSpec {
	return agents.EngineSpec{Role: agents.RoleSpecialist, Tools: []string{
		agents.ToolFrequency, agents.ToolTaskLog, agents.ToolExtractErrors, agents.ToolClassify, agents.ToolHistory, agents.ToolSimilar,
	}}
}

// Run implements Engine.
func (e *LogAnalyzer) Run(ctx context.Context, t *Task) (*Result, error) {
	if t.Brief.TaskID == "" {
		return nil, fmt.Errorf("%s: the brief names no failed task", t.Agent.Name)
	}
	t.Report.Progress(ctx, fmt.Sprintf("reading the log of %s try %d", t.Brief.TaskID, max(1, t.Brief.TryNumber)))
	ph, err := e.runner.RunPhase(ctx, triage.PhaseDiagnose, triage.Scope{
		Incident: t.Incident, SessionID: t.Session.ID, Known: t.Known,
		Task: t.Brief.TaskID, Try: max(1, t.Brief.TryNumber), MaxSteps: t.Agent.MaxSteps,
		OnStep: func(ctx context.Context, f *incident.Finding) { t.Report.Progress(ctx, stepLine(f)) },
	}, t.FinalAttempt)
	if err != nil {
		return nil, err
	}
	sum := triage.Decode(append(append([]*incident.Finding(nil), t.Known...), ph.Findings...))
	res := &Result{Summary: "no diagnosis: the log step did not finish"}
	for _, f := range ph.Findings {
		if f.Error != "" {
			res.Incomplete = append(res.Incomplete, fmt.Sprintf("%s: %s", f.Step, f.Error))
		}
	}
	for _, s := range ph.Left {
		res.Incomplete = append(res.Incomplete, fmt.Sprintf("%s: not run (max_steps %d)", s, t.Agent.MaxSteps))
	}
	if h := hypothesisFrom(sum); h != nil {
		res.RootCause, res.Evidence = h, h.Evidence
		res.Summary = fmt.Sprintf("%s (confidence %.2f)", h.Label, h.Confidence)
		if h.Headline != "" {
			res.Summary += ": " + h.Headline
		}
	}
	return res, nil
}

// stepLine is a step's progress line.
func stepLine(f *incident.Finding) string {
	if f.Error != "" {
		return f.Step + " failed: " + f.Error
	}
	return f.Step + ": " + f.Summary
}

// hypothesisFrom reads the root-cause hypothesis from the diagnosis in the
// findings; nil when the log gave none.
func hypothesisFrom(sum *triage.Summary) *Hypothesis {
	d := sum.Diagnosis()
	if d == nil {
		return nil
	}
	h := &Hypothesis{
		Label: d.Label, Confidence: d.Confidence, RetrySafe: d.RetrySafe, Remediation: d.Remediation, Reason: d.Reason,
		Evidence: diagnosisEvidence(sum), Similar: []triage.SimilarFailure{},
	}
	if lg := sum.Log; lg != nil {
		h.Headline = lg.Headline
		if lg.Signature != nil {
			h.Signature = lg.Signature.ID
		}
	}
	if fq := sum.Frequency; fq != nil {
		h.Pattern, h.FailedRuns = fq.Pattern, fq.FailedRuns
	}
	if m := sum.Memory; m != nil {
		h.Similar, h.Precedent = m.Similar, m.Precedent
	}
	return h
}

// diagnosisEvidence quotes the classifier's evidence: the log lines it read
// (by their number in the tail), then the signals and memory it used.
func diagnosisEvidence(sum *triage.Summary) []incident.Evidence {
	d := sum.Diagnosis()
	if d == nil {
		return []incident.Evidence{}
	}
	ref := ""
	if lg := sum.Log; lg != nil {
		ref = fmt.Sprintf("%s try %d", lg.TaskID, lg.TryNumber)
	}
	out := []incident.Evidence{}
	for _, e := range d.Evidence {
		ev := incident.Evidence{Source: "log", Ref: ref, Line: e.Line, Text: strings.TrimSpace(e.Text)}
		if e.Line < 0 {
			ev.Source, ev.Ref, ev.Line = e.Rule, "", 0
		}
		out = append(out, ev)
	}
	if len(out) == 0 && sum.Log != nil && sum.Log.Headline != "" {
		out = append(out, incident.Evidence{Source: "log", Ref: ref, Text: sum.Log.Headline})
	}
	return out
}
