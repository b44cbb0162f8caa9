package slack

import (
	"fmt"
	"slices"
	"strings"
	"time"

	slackapi "github.com/slack-go/slack"

	"github.com/medic-sh/medic/internal/incident"
	"github.com/medic-sh/medic/internal/report"
)

// Thread replies posted once with the first message, each recorded as a
// delivery of its own so that a retry posts none of them twice.
const (
	threadFindings = "triaged:findings"
	threadTasks    = "triaged:tasks"
)

// maxEvidence bounds the evidence quotes a findings reply shows; the rest
// is on the dashboard.
const maxEvidence = 3

// maxEvidenceText bounds one quote, in characters.
const maxEvidenceText = 300

// Findings renders the reply that lists what each specialist found and the
// evidence for the root cause; ok is false when the incident has no
// composed investigation yet.
func Findings(r *report.Report, dashboard string) (Rendered, bool) {
	inv := r.Investigation
	if inv == nil || (len(inv.Specialists) == 0 && (inv.RootCause == nil || len(inv.RootCause.Evidence) == 0)) {
		return Rendered{}, false
	}
	more := linkTo(dashboard, "full report")
	var lines []string
	for _, s := range inv.Specialists {
		line := fmt.Sprintf("• *%s* (%s", escapeText(s.Agent), escapeText(string(s.Status)))
		if s.DurationMS > 0 {
			line += ", " + (time.Duration(s.DurationMS) * time.Millisecond).String()
		}
		line += ")"
		switch {
		case s.Error != "":
			line += ": " + escapeText(firstLineOf(s.Error))
		case s.Summary != "":
			line += ": " + escapeText(firstLineOf(s.Summary))
		}
		lines = append(lines, line)
	}
	blocks := []slackapi.Block{sectionBlock(fitText(":mag: *Findings*\n"+strings.Join(lines, "\n"), MaxSectionText, more))}
	if rc := inv.RootCause; rc != nil && len(rc.Evidence) > 0 {
		var quotes []string
		for _, e := range rc.Evidence[:min(len(rc.Evidence), maxEvidence)] {
			where := e.Source
			if e.Ref != "" {
				where += " " + e.Ref
			}
			if e.Line > 0 {
				where += fmt.Sprintf(":%d", e.Line)
			}
			q := fitText(escapeText(strings.Join(strings.Fields(e.Text), " ")), maxEvidenceText, "")
			quotes = append(quotes, "> "+q+"\n_"+escapeText(where)+"_")
		}
		text := "*Evidence for " + escapeText(string(rc.Label)) + "*\n" + strings.Join(quotes, "\n")
		if n := len(rc.Evidence) - maxEvidence; n > 0 {
			text += fmt.Sprintf("\n… %d more", n)
			if more != "" {
				text += " in the " + more
			}
		}
		blocks = append(blocks, sectionBlock(fitText(text, MaxSectionText, more)))
	}
	return Rendered{Text: fitText(escapeText("Findings: "+inv.Summary), MaxFallbackText, ""), Blocks: blocks}, true
}

// Tasks renders the list of the failed tasks a storm incident groups, one
// line each with its run or how many runs failed, first failure first; ok
// is false for an incident of one task.
// The list is cut at Slack's limits with a count of the rest and a link to
// the whole of it.
func Tasks(events []*incident.FailureEvent, dashboard string) (Rendered, bool) {
	type task struct {
		key   string
		first time.Time
		runs  map[string]bool
	}
	byKey := map[string]*task{}
	for _, ev := range events {
		k := ev.DagID + "." + ev.TaskID
		if ev.MapIndex >= 0 {
			k += fmt.Sprintf("[%d]", ev.MapIndex)
		}
		t, ok := byKey[k]
		if !ok {
			t = &task{key: k, first: ev.OccurredAt, runs: map[string]bool{}}
			byKey[k] = t
		}
		t.runs[ev.RunID] = true
		if ev.OccurredAt.Before(t.first) {
			t.first = ev.OccurredAt
		}
	}
	if len(byKey) < 2 {
		return Rendered{}, false
	}
	tasks := make([]*task, 0, len(byKey))
	for _, t := range byKey {
		tasks = append(tasks, t)
	}
	slices.SortFunc(tasks, func(a, b *task) int {
		if c := a.first.Compare(b.first); c != 0 {
			return c
		}
		return strings.Compare(a.key, b.key)
	})
	more := linkTo(dashboard, "full list")
	head := fmt.Sprintf(":clipboard: *%d failed tasks*\n", len(tasks))
	// Lines go in whole while they fit, leaving room for the tail that
	// counts the rest.
	const tailRoom = 40
	var b strings.Builder
	b.WriteString(head)
	shown := 0
	for _, t := range tasks {
		line := "• " + escapeText(t.key)
		if len(t.runs) == 1 {
			for run := range t.runs {
				line += " (run " + escapeText(run) + ")"
			}
		} else {
			line += fmt.Sprintf(" (%d runs)", len(t.runs))
		}
		line += "\n"
		if textLength(b.String())+textLength(line)+tailRoom+textLength(more) > MaxSectionText {
			break
		}
		b.WriteString(line)
		shown++
	}
	text := strings.TrimRight(b.String(), "\n")
	if rest := len(tasks) - shown; rest > 0 {
		text += fmt.Sprintf("\n… and %d more", rest)
		if more != "" {
			text += ": " + more
		}
	}
	return Rendered{
		Text:   fmt.Sprintf("%d failed tasks", len(tasks)),
		Blocks: []slackapi.Block{sectionBlock(text)},
	}, true
}
