package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/medic-sh/medic/internal/act"
	"github.com/medic-sh/medic/internal/incident"
	"github.com/medic-sh/medic/internal/remediate"
)

// incidentRemediation is the remediation part of GET /api/v1/incidents/{id}.
type incidentRemediation struct {
	// Decision is the policy's recorded decision (act.Record), null until
	// it decided. It is decoded apart, so that a record this medic cannot
	// read never hides the rest of the incident.
	Decision  json.RawMessage       `json:"decision"`
	Approvals []*incident.Approval  `json:"approvals"`
	Actions   []*incident.ActionRun `json:"actions"`
}

// decided reports whether the answer holds a decision.
func (m *incidentRemediation) decided() bool {
	return len(m.Decision) > 0 && string(m.Decision) != "null"
}

// empty reports whether there is nothing to show: remediation is off, or
// the policy has not decided yet.
func (m *incidentRemediation) empty() bool {
	return m == nil || (!m.decided() && len(m.Approvals) == 0 && len(m.Actions) == 0)
}

// writeRemediation prints what the policy decided about an incident, the
// approvals it asked for and the actions medic ran; nothing when there is
// nothing to say.
func writeRemediation(w io.Writer, m *incidentRemediation) error {
	if m.empty() {
		return nil
	}
	var b strings.Builder
	b.WriteString("\n  Remediation:")
	var rec act.Record
	switch err := json.Unmarshal(m.Decision, &rec); {
	case !m.decided():
		b.WriteString(" not decided yet\n")
	case err != nil:
		fmt.Fprintf(&b, " a decision is recorded, but this medic cannot read it (%v): see --json\n", err)
	default:
		d := rec.Decision
		fmt.Fprintf(&b, " %s", d.Outcome)
		if d.Action != "" && string(d.Action) != string(d.Outcome) {
			fmt.Fprintf(&b, " %s", d.Action)
		}
		if !d.ExpiresAt.IsZero() {
			fmt.Fprintf(&b, " (the proposal expires %s)", stamp(d.ExpiresAt))
		}
		b.WriteString("\n")
		if rec.Error != "" {
			fmt.Fprintf(&b, "    could not decide: %s\n", clipText(firstLine(rec.Error), 160))
		}
		for _, r := range d.Reasons {
			if shownReason(r) {
				fmt.Fprintf(&b, "    %-4s %s: %s\n", r.Result, r.Rule, clipText(firstLine(r.Detail), 160))
			}
		}
		if d.Gate.Evaluated {
			writeGate(&b, &d.Gate)
		}
	}
	for _, a := range m.Approvals {
		fmt.Fprintf(&b, "    approval %s: %s\n", a.ID, approvalState(a))
	}
	for _, r := range m.Actions {
		fmt.Fprintf(&b, "    action %s: %s, verification %s", r.Action, r.Status, r.Verification)
		if s := runSummary(r.Response); s != "" {
			fmt.Fprintf(&b, ": %s", clipText(firstLine(s), 160))
		}
		b.WriteString("\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// shownReason reports whether a reason explains the outcome: a rule that
// failed or capped it, or the action rule's note of why a person is
// needed (an escalation). Passing rules are in --json.
func shownReason(r remediate.Reason) bool {
	return r.Result == "fail" || r.Result == "cap" || (r.Rule == remediate.RuleAction && r.Result == "info")
}

// writeGate prints the two-stage gate's figures.
func writeGate(b *strings.Builder, g *remediate.Gate) {
	fmt.Fprintf(b, "    gate: stage 1 %s (similarity %.3f × trust %.3f = %.3f, needs %.3f); "+
		"stage 2 %s (confidence %.3f, needs %.3f; retry-safe %s)\n",
		passed(g.Stage1), g.Similarity, g.Trust, g.WeightedSimilarity, g.SimilarityThreshold,
		passed(g.Stage2), g.Confidence, g.ConfidenceThreshold, yesNo(g.RetrySafe))
}

// approvalState says where an approval stands and, while it waits, how to
// decide it.
func approvalState(a *incident.Approval) string {
	var s string
	switch a.Status {
	case incident.ApprovalPending:
		s = fmt.Sprintf("pending, requested by %s; expires %s (medic approve %s, or medic reject %s --reason R)",
			a.RequestedBy, stamp(a.ExpiresAt), a.ID, a.ID)
	case incident.ApprovalExpired:
		s = fmt.Sprintf("expired at %s, requested by %s", stamp(a.ExpiresAt), a.RequestedBy)
	default:
		s = string(a.Status)
		if a.Status == incident.ApprovalExecuted {
			s += ", approved"
		}
		s += " by " + a.DecidedBy
		if a.DecidedRole != "" {
			s += " (" + a.DecidedRole + ")"
		}
		if a.DecidedAt != nil {
			s += " at " + stamp(*a.DecidedAt)
		}
		if a.Reason != "" {
			s += ": " + clipText(firstLine(a.Reason), 120)
		}
		s += "; expiry " + stamp(a.ExpiresAt)
	}
	return s
}

// runSummary reads the summary of a finished run's response; a response
// that is not the JSON medic records is shown as it is.
func runSummary(response string) string {
	var r struct {
		Summary string `json:"summary"`
	}
	if err := json.Unmarshal([]byte(response), &r); err != nil {
		return response
	}
	return r.Summary
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func passed(ok bool) string {
	if ok {
		return "passed"
	}
	return "failed"
}

func yesNo(ok bool) string {
	if ok {
		return "yes"
	}
	return "no"
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return line
}
