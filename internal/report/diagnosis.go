package report

import (
	"fmt"
	"strings"
	"time"

	"github.com/medic-sh/medic/internal/classify"
	"github.com/medic-sh/medic/internal/memory"
	"github.com/medic-sh/medic/internal/triage"
)

// writeDiagnosis renders the final diagnosis: the label and what to do,
// why, the quoted evidence with its line numbers and rules, and the labels
// that came close.
func writeDiagnosis(b *strings.Builder, d *classify.Diagnosis) {
	if d == nil {
		return
	}
	fmt.Fprintf(b, "  Diagnosis: %s (confidence %.2f), retry-safe: %s, next: %s\n", d.Label, d.Confidence, yesNo(d.RetrySafe), d.Remediation)
	if d.Reason != "" {
		fmt.Fprintf(b, "    %s\n", clip(firstLine(d.Reason), maxLineWidth))
	}
	if len(d.Evidence) > 0 {
		b.WriteString("    Evidence:\n")
		for _, e := range d.Evidence {
			fmt.Fprintf(b, "      %-9s [%s] %s\n", evidenceWhere(e), e.Rule, clip(firstLine(e.Text), maxLineWidth))
		}
	}
	if len(d.RunnersUp) > 0 {
		parts := make([]string, len(d.RunnersUp))
		for i, s := range d.RunnersUp {
			parts[i] = fmt.Sprintf("%s %.2f via %s", s.Label, s.Score, s.Rule)
		}
		fmt.Fprintf(b, "    Runners-up: %s\n", strings.Join(parts, ", "))
	}
}

// evidenceWhere says where a piece of evidence is: a line of the log's tail,
// the failure memory, or a fact about the task from outside the log.
func evidenceWhere(e classify.Evidence) string {
	switch {
	case e.Line >= 0:
		return fmt.Sprintf("line %d", e.Line)
	case e.Rule == memory.RecallRule:
		return "memory"
	}
	return "signal"
}

// writeSimilar renders the past failures memory recalled: what each was,
// how alike, what was done and whether it worked, how far it is trusted,
// and where to read more. Nothing is written when memory is off.
func writeSimilar(b *strings.Builder, m *triage.Memory) {
	if m == nil {
		return
	}
	if len(m.Similar) == 0 {
		b.WriteString("  Similar past failures: none in memory\n")
	} else {
		fmt.Fprintf(b, "  Similar past failures (%d):\n", len(m.Similar))
	}
	for _, f := range m.Similar {
		alike := "same signature"
		if !f.Exact {
			alike = fmt.Sprintf("similarity %.2f", f.Similarity)
		}
		fmt.Fprintf(b, "    - %s · %s · %s · trust %.2f", alike, f.Label, triage.Resolution(f.Action, f.Outcome), f.Trust)
		if f.Verdict == memory.VerdictUp || f.Verdict == memory.VerdictDown {
			fmt.Fprintf(b, " · verdict %s", f.Verdict)
		}
		if m.Precedent != nil && m.Precedent.RecordID == f.RecordID {
			b.WriteString(" · precedent")
		}
		b.WriteString("\n")
		where := "memory record " + f.RecordID
		if f.IncidentID != "" {
			where = fmt.Sprintf("incident %s (%s run %s)", f.IncidentID, f.DagID, f.RunID)
		}
		if !f.CreatedAt.IsZero() {
			where += ", " + f.CreatedAt.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(b, "      %s\n", where)
		if f.Excerpt != "" {
			fmt.Fprintf(b, "      │ %s\n", clip(firstLine(f.Excerpt), maxLineWidth))
		}
	}
	if m.Degraded != "" {
		fmt.Fprintf(b, "  Memory degraded: %s\n", clip(m.Degraded, maxLineWidth))
	}
}

func yesNo(v bool) string {
	if v {
		return "yes"
	}
	return "no"
}
