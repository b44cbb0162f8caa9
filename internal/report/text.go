package report

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/medic-sh/medic/internal/triage"
)

// maxLineWidth keeps quoted log lines readable in a terminal.
const maxLineWidth = 200

// WriteText renders the report for a terminal.
func WriteText(w io.Writer, r *Report) error {
	var b strings.Builder
	inc := r.Incident
	rule := strings.Repeat("─", 72)
	fmt.Fprintf(&b, "%s\n", rule)
	fmt.Fprintf(&b, "INCIDENT %s  [%s · %s]\n", inc.ID, strings.ToUpper(string(inc.Severity)), inc.State)
	fmt.Fprintf(&b, "  %s\n", inc.Title)
	if inc.Summary != "" {
		fmt.Fprintf(&b, "  %s\n", inc.Summary)
	}
	fmt.Fprintf(&b, "  owner: %s   instance: %s   failures reported: %d\n", r.Owner(), inc.Instance, inc.EventCount)
	if e := r.ReportedError(); e != "" {
		fmt.Fprintf(&b, "  reported error: %s\n", clip(firstLine(e), maxLineWidth))
	}
	writeInvestigation(&b, r.Investigation)
	if rs := r.Triage.Run; rs != nil {
		fmt.Fprintf(&b, "\n  Run %s: %s", rs.RunID, rs.State)
		if rs.StartDate != nil {
			fmt.Fprintf(&b, ", started %s", rs.StartDate.UTC().Format(time.RFC3339))
		}
		if rs.DurationSec != nil {
			fmt.Fprintf(&b, ", took %s", time.Duration(*rs.DurationSec*float64(time.Second)).Round(time.Second))
		}
		fmt.Fprintf(&b, "\n  Tasks: %s\n", taskStates(rs.TaskStates))
	}
	if ft := r.Triage.Failed; ft != nil {
		fmt.Fprintf(&b, "  Failed tasks:\n")
		for _, f := range ft.Failed {
			fmt.Fprintf(&b, "    - %s  try %d  %s", f.TaskID, f.TryNumber, f.State)
			if f.Operator != "" {
				fmt.Fprintf(&b, "  (%s)", f.Operator)
			}
			if len(f.Downstream) > 0 {
				fmt.Fprintf(&b, "  → blocks %s", strings.Join(f.Downstream, ", "))
			}
			b.WriteString("\n")
		}
		if len(ft.UpstreamFailed) > 0 {
			fmt.Fprintf(&b, "    upstream_failed: %s\n", strings.Join(ft.UpstreamFailed, ", "))
		}
	}
	if fq := r.Triage.Frequency; fq != nil {
		fmt.Fprintf(&b, "  Frequency: %s — %s failed in %d run(s) over the last %s", fq.Pattern, fq.TaskID, fq.FailedRuns, fq.LookbackHuman)
		if fq.LastFailure != nil {
			fmt.Fprintf(&b, ", previously at %s", fq.LastFailure.UTC().Format(time.RFC3339))
		}
		b.WriteString("\n")
	}
	if h := r.Triage.History; h != nil && h.Signature != "" {
		if h.Total == 0 {
			b.WriteString("  History: first time this failure is seen\n")
		} else {
			fmt.Fprintf(&b, "  History: seen %d time(s) before\n", h.Total)
			for _, p := range h.Previous {
				fmt.Fprintf(&b, "    - %s  %s  %s run %s  %s\n", p.ID, p.CreatedAt.UTC().Format(time.RFC3339), p.DagID, p.RunID, p.State)
			}
		}
	}
	writeDiagnosis(&b, r.Triage.Diagnosis())
	writeSimilar(&b, r.Triage.Memory)
	if lg := r.Triage.Log; lg != nil && lg.Error != nil {
		e := lg.Error
		// With an investigation the composed root cause comes first; this
		// is the extracted error block it rests on.
		what := "Root cause"
		if r.Investigation != nil {
			what = "Error block"
		}
		fmt.Fprintf(&b, "  %s (%s, confidence %.2f): %s\n", what, e.Kind, e.Confidence, clip(lg.Headline, maxLineWidth))
		if f := e.FirstUserFrame; f != nil {
			fmt.Fprintf(&b, "    in %s:%d %s\n", f.File, f.Line, f.Function)
		}
		for _, k := range sortedKeys(e.Details) {
			if internalDetail[k] {
				continue
			}
			fmt.Fprintf(&b, "    %s: %s\n", k, clip(e.Details[k], maxLineWidth))
		}
		if lg.Signature != nil {
			fmt.Fprintf(&b, "    signature %s\n", lg.Signature.ID)
		}
	}
	if lg := r.Triage.Log; lg != nil && len(lg.Lines) == 0 {
		fmt.Fprintf(&b, "  Log (%s try %d): empty\n", lg.TaskID, lg.TryNumber)
	} else if lg != nil {
		fmt.Fprintf(&b, "  Log excerpt (%s try %d, lines %d–%d of the tail", lg.TaskID, lg.TryNumber, lg.FirstLine, lg.FirstLine+len(lg.Lines)-1)
		if lg.Truncated {
			b.WriteString(", log truncated")
		}
		b.WriteString("):\n")
		for _, l := range lg.Lines {
			fmt.Fprintf(&b, "    │ %s\n", clip(l, maxLineWidth))
		}
	}
	for _, step := range errorSteps(r.Triage.Errors) {
		fmt.Fprintf(&b, "  ! %s: %s\n", step, clip(r.Triage.Errors[step], maxLineWidth))
	}
	if r.Link != "" {
		fmt.Fprintf(&b, "  %s\n", r.Link)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func taskStates(m map[string]int) string {
	order := []string{"success", "failed", "upstream_failed", "up_for_retry", "running", "skipped", "none"}
	var parts []string
	seen := map[string]bool{}
	for _, k := range order {
		if n := m[k]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, k))
		}
		seen[k] = true
	}
	// Map order is random: sort the states outside the list so the report
	// reads the same every time.
	for _, k := range slices.Sorted(maps.Keys(m)) {
		if n := m[k]; !seen[k] && n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, k))
		}
	}
	return strings.Join(parts, ", ")
}

// errorSteps lists the failed steps in the order triage runs them, then any
// others by name, so the report reads the same every time.
func errorSteps(errs map[string]string) []string {
	order := []string{
		triage.StepResolve, triage.StepRunSummary, triage.StepFailedTasks, triage.StepFrequency,
		triage.StepLogExcerpt, triage.StepHistory, triage.StepMemory,
	}
	var out []string
	for _, step := range order {
		if _, ok := errs[step]; ok {
			out = append(out, step)
		}
	}
	for _, step := range slices.Sorted(maps.Keys(errs)) {
		if !slices.Contains(order, step) {
			out = append(out, step)
		}
	}
	return out
}

// clip shortens a line for display without splitting a UTF-8 sequence.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n] + "…"
}

// firstLine returns s up to its first line break.
func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// internalDetail lists extractor details that say how a block was parsed,
// not what went wrong.
var internalDetail = map[string]bool{"format": true, "line": true}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
