package triage

import (
	"fmt"
	"strings"

	"github.com/medic-sh/medic/internal/classify"
	"github.com/medic-sh/medic/internal/incident"
)

// Summary is everything triage learned about an incident, decoded from its
// findings. Missing parts are nil (the step failed or has not run).
type Summary struct {
	Run       *RunSummary
	Failed    *FailedTasks
	Frequency *Frequency
	Log       *LogExcerpt
	History   *History
	// Memory is nil when no failure memory is configured.
	Memory *Memory
	// Errors maps a failed step to its error text.
	Errors map[string]string
}

// Decode reads the triage findings of a session.
func Decode(findings []*incident.Finding) *Summary {
	s := &Summary{Errors: map[string]string{}}
	for _, f := range findings {
		if f.Error != "" {
			s.Errors[f.Step] = f.Error
			continue
		}
		switch f.Step {
		case StepRunSummary:
			s.Run, _ = decode[RunSummary](f)
		case StepFailedTasks:
			s.Failed, _ = decode[FailedTasks](f)
		case StepFrequency:
			s.Frequency, _ = decode[Frequency](f)
		case StepLogExcerpt:
			s.Log, _ = decode[LogExcerpt](f)
		case StepHistory:
			s.History, _ = decode[History](f)
		case StepMemory:
			s.Memory, _ = decode[Memory](f)
		}
	}
	return s
}

// Diagnosis is the final diagnosis: the log's as memory changed it, or the
// log's alone when memory has not looked at it; nil when neither exists.
func (s *Summary) Diagnosis() *classify.Diagnosis {
	if s.Memory != nil && s.Memory.Diagnosis != nil {
		return s.Memory.Diagnosis
	}
	if s.Log != nil {
		return s.Log.Diagnosis
	}
	return nil
}

// Summarize renders the one-line summary stored on the incident.
func Summarize(inc *incident.Incident, findings []*incident.Finding) string {
	s := Decode(findings)
	task := inc.FirstTaskID
	if s.Run != nil && s.Run.FirstFailingTask != "" {
		task = s.Run.FirstFailingTask
	}
	parts := []string{fmt.Sprintf("%s.%s failed", inc.DagID, task)}
	if task == "" {
		parts[0] = fmt.Sprintf("%s run %s failed", inc.DagID, inc.RunID)
	}
	if s.Log != nil && s.Log.Headline != "" {
		parts[0] += ": " + truncate(s.Log.Headline, 160)
	}
	if d := s.Diagnosis(); d != nil {
		parts = append(parts, fmt.Sprintf("%s (%.0f%%)", d.Label, 100*d.Confidence))
	}
	if s.Memory != nil {
		if p := precedentPhrase(s.Memory.Precedent); p != "" {
			parts = append(parts, p)
		}
	}
	if s.Frequency != nil {
		parts = append(parts, fmt.Sprintf("%s (%d run(s) in %s)", s.Frequency.Pattern, s.Frequency.FailedRuns, s.Frequency.LookbackHuman))
	}
	if s.Failed != nil && len(s.Failed.UpstreamFailed) > 0 {
		parts = append(parts, fmt.Sprintf("%d downstream task(s) blocked", len(s.Failed.UpstreamFailed)))
	}
	if n := len(s.Errors); n > 0 {
		parts = append(parts, fmt.Sprintf("%d step(s) incomplete", n))
	}
	return strings.Join(parts, " · ")
}

// Severity ranks an incident from what triage found: recurring failures and
// failures that block much of a DAG rank higher.
func Severity(findings []*incident.Finding) incident.Severity {
	s := Decode(findings)
	switch {
	case s.Frequency != nil && s.Frequency.Recurring && s.Failed != nil && len(s.Failed.UpstreamFailed) >= 3:
		return incident.SeverityCritical
	case s.Frequency != nil && s.Frequency.Recurring, s.Failed != nil && len(s.Failed.UpstreamFailed) >= 3:
		return incident.SeverityHigh
	}
	return incident.SeverityMedium
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := strings.LastIndexByte(s[:n], ' ')
	if cut < n/2 {
		cut = n
	}
	for cut > 0 && !utf8Start(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

func utf8Start(b byte) bool { return b&0xC0 != 0x80 }
