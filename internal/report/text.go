package report

import (
	"fmt"
	"io"
	"strings"
	"time"
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
	if lg := r.Triage.Log; lg != nil {
		fmt.Fprintf(&b, "  Log excerpt (%s try %d, lines %d–%d of the tail", lg.TaskID, lg.TryNumber, lg.FirstLine, lg.FirstLine+len(lg.Lines)-1)
		if lg.Truncated {
			b.WriteString(", log truncated")
		}
		b.WriteString("):\n")
		for _, l := range lg.Lines {
			fmt.Fprintf(&b, "    │ %s\n", clip(l, maxLineWidth))
		}
	}
	for step, e := range r.Triage.Errors {
		fmt.Fprintf(&b, "  ! %s: %s\n", step, clip(e, maxLineWidth))
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
	for k, n := range m {
		if !seen[k] && n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, k))
		}
	}
	return strings.Join(parts, ", ")
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
