package investigate

import (
	"fmt"
	"strings"

	"github.com/medic-sh/medic/internal/classify"
	"github.com/medic-sh/medic/internal/triage"
)

// resolutions says, for each remediation, what a person should do.
var resolutions = map[classify.Remediation]string{
	classify.Retry:                    "clear the task to retry it; the failure looks transient",
	classify.RetryWithBackoff:         "retry the task after a pause, once what it depends on answers again",
	classify.RetryWithMoreResources:   "give the task more memory or CPU (or a smaller batch), then retry it",
	classify.WaitForUpstreamThenRetry: "wait for the missing input to land, then retry the task",
	classify.FixCode:                  "fix the task's code where the evidence points, then clear it",
	classify.FixPermissions:           "grant the task's role the permission it lacks, then retry it",
	classify.SchemaMigration:          "migrate the schema, or update the task's query to match it, then clear it",
	classify.QuarantineBadRows:        "quarantine the rows the check rejected, then rerun the task",
	classify.Escalate:                 "look at the failure yourself: medic could not tell why it failed",
}

// resolutionText is what to do for remediation r.
func resolutionText(r classify.Remediation) string {
	if s, ok := resolutions[r]; ok {
		return s
	}
	return resolutions[classify.Escalate]
}

// nextAction is the one thing the report asks a person to do: who, what,
// on which task, and what worked last time.
func nextAction(rep *Report, task string) string {
	who := "The on-call engineer"
	if rep.Owner != nil && rep.Owner.Name != "" {
		who = rep.Owner.Name
		if len(rep.Owner.Contacts) > 1 {
			who += " (" + strings.Join(rep.Owner.Contacts[1:], ", ") + ")"
		}
	}
	rem := classify.Escalate
	if rc := rep.RootCause; rc != nil && rc.Label != classify.Unknown {
		rem = rc.Remediation
	}
	s := fmt.Sprintf("%s: %s", who, resolutionText(rem))
	if task != "" {
		s = strings.Replace(s, "the task", task, 1)
	}
	if rc := rep.RootCause; rc != nil && rc.Precedent != nil {
		s += fmt.Sprintf(" (last time: %s)", triage.Resolution(rc.Precedent.Action, rc.Precedent.Outcome))
	}
	if rep.Partial && len(rep.Missing) > 0 {
		names := make([]string, len(rep.Missing))
		for i, m := range rep.Missing {
			names[i] = m.Agent
		}
		s += "; this report lacks " + strings.Join(names, ", ")
	}
	return s + "."
}
