package report

import (
	"fmt"

	"github.com/medic-sh/medic/internal/classify"
)

// Prevention is one thing a team can change so that a failure does not
// happen again, for a postmortem.
type Prevention struct {
	// Action says what to change, in a sentence.
	Action string `json:"action"`
	// Why ties it to the incident: the class, the recurrence, the log.
	Why string `json:"why"`
	// Owner is who would usually do it: the DAG's owner or the platform.
	Owner string `json:"owner"`
}

// preventionByLabel is what prevents each class of failure, as data: the
// same class always gets the same advice.
var preventionByLabel = map[classify.Label][]Prevention{
	classify.SchemaChange: {
		{Action: "Add a schema contract check (expected columns and types) that runs before the load task", Why: "the failure is a schema change reaching the task unannounced"},
		{Action: "Subscribe the DAG's owner to schema changes of its source tables (a migration review or lineage alert)", Why: "the producer changed the schema without the consumer knowing"},
	},
	classify.DataQuality: {
		{Action: "Add data quality checks upstream of the failing task and quarantine bad rows instead of failing the load", Why: "bad data reached the task"},
		{Action: "Agree on a data contract with the producer of the input, with alerts on violations", Why: "the input's producer is the root of the bad rows"},
	},
	classify.UpstreamUnavailable: {
		{Action: "Give the task retries with exponential backoff sized to the upstream service's usual recovery time", Why: "an upstream service was unavailable, a transient failure"},
		{Action: "Add a sensor or health check on the upstream service before the task starts", Why: "the task ran while its dependency was down"},
	},
	classify.Resource: {
		{Action: "Right-size the task's resources (memory, pool or queue) from its recent peak usage", Why: "the task ran out of resources"},
		{Action: "Split or stream the task's work so that its memory does not grow with the input size", Why: "resource use grows with the data"},
	},
	classify.Timeout: {
		{Action: "Set the task's execution_timeout from its observed duration with headroom, and alert on slow runs before they time out", Why: "the task exceeded its time limit"},
		{Action: "Find the slow step (query plan, lock waits, an upstream delay) and fix it", Why: "a timeout hides where the time went"},
	},
	classify.Permission: {
		{Action: "Manage the task's credentials and grants as code, with an expiry alert for secrets", Why: "the task lacked a permission or its credential expired"},
		{Action: "Add a pre-flight check that the task's connection can read and write what it needs", Why: "permission failures can be found before the run"},
	},
	classify.MissingInput: {
		{Action: "Wait for the input with a sensor (or a dataset schedule) instead of assuming it exists at start time", Why: "the input was missing when the task ran"},
		{Action: "Alert the producer of the input when it is late", Why: "a late input fails every consumer"},
	},
	classify.CodeError: {
		{Action: "Add a test reproducing the failure to the DAG's test suite and fix the code", Why: "the failure is a bug in the task's code"},
		{Action: "Run the DAG's tests and a parse check in CI before deploying", Why: "code errors should fail CI, not production"},
	},
	classify.Infra: {
		{Action: "Check the worker and scheduler health around the failure time and alert on worker loss", Why: "the failure came from the infrastructure, not the task"},
		{Action: "Give the task retries so that a lost worker does not fail the run", Why: "infrastructure hiccups are usually transient"},
	},
}

// Prevent suggests what would keep the report's failure from recurring:
// the advice for its class, plus, when it recurs, one to stop treating it
// as a one-off. It is deterministic: no model is consulted.
func Prevent(r *Report) []Prevention {
	label, owner := classify.Unknown, r.Owner()
	if inv := r.Investigation; inv != nil && inv.RootCause != nil {
		label = inv.RootCause.Label
	} else if d := r.Triage.Diagnosis(); d != nil {
		label = d.Label
	}
	var out []Prevention
	for _, p := range preventionByLabel[label] {
		p.Owner = owner
		if label == classify.Infra {
			p.Owner = "platform"
		}
		out = append(out, p)
	}
	if len(out) == 0 {
		out = append(out, Prevention{
			Action: "Read the task's log and classify the failure by hand, then record the class as feedback so that medic learns it",
			Why:    "medic could not classify the failure with confidence", Owner: owner,
		})
	}
	if fq := r.Triage.Frequency; fq != nil && fq.Recurring {
		out = append(out, Prevention{
			Action: fmt.Sprintf("Treat %s as a recurring failure: open a ticket for a permanent fix instead of retrying", fq.TaskID),
			Why:    fmt.Sprintf("it failed in %d runs over the last %s", fq.FailedRuns, fq.LookbackHuman), Owner: owner,
		})
	}
	return out
}
