package report

import (
	"fmt"
	"strings"
	"time"

	"github.com/medic-sh/medic/internal/incident"
	"github.com/medic-sh/medic/internal/investigate"
)

// writeInvestigation renders the commander's composed report: who looked,
// whether it is partial and why, the root cause with its evidence, impact,
// owner and next action, then the diagnostic report.
func writeInvestigation(b *strings.Builder, inv *investigate.Report) {
	if inv == nil {
		return
	}
	fmt.Fprintf(b, "\n  Investigation: %s → %s\n", inv.Commander, specialistsLine(inv.Specialists))
	if inv.Partial {
		b.WriteString("  PARTIAL REPORT:")
		if len(inv.Missing) == 0 {
			b.WriteString(" some steps failed (marked ! below)")
		}
		b.WriteString("\n")
		for _, m := range inv.Missing {
			fmt.Fprintf(b, "    - %s %s: %s\n", m.Agent, m.Status, clip(firstLine(m.Reason), maxLineWidth))
		}
	}
	if inv.Error != "" {
		fmt.Fprintf(b, "  Investigation failed: %s\n", clip(inv.Error, maxLineWidth))
	}
	for _, w := range inv.Warnings {
		fmt.Fprintf(b, "  WARNING: %s\n", clip(firstLine(w), maxLineWidth))
	}
	if u := inv.ModelUsage; u != nil {
		cost := fmt.Sprintf("$%.4f", u.CostUSD)
		if !u.CostKnown {
			cost = "at least " + cost + " (some models have no price)"
		}
		fmt.Fprintf(b, "  Models used %d input and %d output tokens, cost %s\n", u.InputTokens, u.OutputTokens, cost)
	}
	if rc := inv.RootCause; rc != nil {
		fmt.Fprintf(b, "  Root cause: %s (confidence %.2f, from %s)", rc.Label, rc.Confidence, rc.Source)
		if rc.Summary != "" {
			fmt.Fprintf(b, ": %s", clip(rc.Summary, maxLineWidth))
		}
		b.WriteString("\n")
		seen := map[string]bool{} // several rules often quote the same line
		for _, e := range rc.Evidence {
			line := fmt.Sprintf("    evidence %s: %s\n", evidenceRef(e), clip(firstLine(e.Text), maxLineWidth))
			if !seen[line] {
				seen[line] = true
				b.WriteString(line)
			}
		}
	} else {
		b.WriteString("  Root cause: unknown (no specialist gave a diagnosis)\n")
	}
	if imp := inv.Impact; imp != nil {
		fmt.Fprintf(b, "  Impact: %s (severity %s)\n", imp.Summary, imp.Severity)
	}
	if o := inv.Owner; o != nil {
		name := o.Name
		if name == "" {
			name = "unknown"
		}
		fmt.Fprintf(b, "  Owner: %s (%s)", name, o.Source)
		if len(o.Contacts) > 1 {
			fmt.Fprintf(b, "; also %s", strings.Join(o.Contacts[1:], ", "))
		}
		b.WriteString("\n")
	}
	fmt.Fprintf(b, "  Next action: %s\n", clip(inv.NextAction, 2*maxLineWidth))
	writeWarehouse(b, inv.Warehouse)
	writeDiagnostic(b, &inv.Diagnostic)
}

// specialistsLine is "log-analyzer completed 40ms · query-profiler …".
func specialistsLine(runs []investigate.SpecialistRun) string {
	if len(runs) == 0 {
		return "no specialist"
	}
	parts := make([]string, len(runs))
	for i, r := range runs {
		parts[i] = fmt.Sprintf("%s %s %s", r.Agent, r.Status, time.Duration(r.DurationMS)*time.Millisecond)
		if r.Status == incident.SessionCompleted && r.Summary != "" && len(r.Summary) < 40 {
			parts[i] += " (" + r.Summary + ")"
		}
	}
	return strings.Join(parts, " · ")
}

func evidenceRef(e incident.Evidence) string {
	ref := e.Source
	if e.Ref != "" {
		ref += " " + e.Ref
	}
	if e.Line > 0 {
		ref += fmt.Sprintf(" line %d", e.Line)
	}
	return ref
}

func writeWarehouse(b *strings.Builder, w *investigate.WarehouseReport) {
	if w == nil {
		return
	}
	if !w.Configured {
		b.WriteString("  Warehouse: no warehouse configured\n")
		return
	}
	for _, p := range w.Profiles {
		fmt.Fprintf(b, "  Warehouse %s (%s): %d blocking pair(s), %d lock wait(s), %d long-running", p.Warehouse, p.Kind, p.Blocking, p.LockWaits, p.LongRunning)
		if len(p.Timeouts) > 0 {
			fmt.Fprintf(b, "; %s", strings.Join(p.Timeouts, ", "))
		}
		b.WriteString("\n")
		for _, l := range p.Lines {
			fmt.Fprintf(b, "    │ %s\n", clip(firstLine(l), maxLineWidth))
		}
		for _, e := range p.Errors {
			fmt.Fprintf(b, "    ! %s\n", clip(e, maxLineWidth))
		}
	}
}

func writeDiagnostic(b *strings.Builder, d *investigate.Diagnostic) {
	b.WriteString("  Diagnostic report:\n")
	fmt.Fprintf(b, "    Stage: %s\n", d.Stage)
	if d.FailureTime != nil {
		fmt.Fprintf(b, "    Failure time: %s\n", d.FailureTime.UTC().Format(time.RFC3339))
	} else {
		b.WriteString("    Failure time: unknown\n")
	}
	fmt.Fprintf(b, "    Error: %s\n", clip(firstLine(d.ErrorSummary), maxLineWidth))
	if len(d.Steps) > 0 {
		b.WriteString("    Steps taken:\n")
		for i, s := range d.Steps {
			mark := ""
			if s.Failed {
				mark = "! "
			}
			fmt.Fprintf(b, "      %d. %s/%s: %s%s\n", i+1, s.Agent, s.Step, mark, clip(firstLine(s.Result), maxLineWidth))
		}
	}
	fmt.Fprintf(b, "    Classification: %s\n", d.Classification)
	fmt.Fprintf(b, "    Remediation attempted: %s; outcome: %s\n", d.RemediationAttempted, d.RemediationOutcome)
	fmt.Fprintf(b, "    Recommended resolution: %s\n", d.RecommendedResolution)
	if d.RunbookLink != "" {
		fmt.Fprintf(b, "    Runbook: %s\n", d.RunbookLink)
	} else {
		b.WriteString("    Runbook: none configured (investigate.runbook_url)\n")
	}
}
