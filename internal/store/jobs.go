package store

// Durable jobs a Store enqueues in the same transaction as the state change
// that causes them. Workers elsewhere (triage, notify) consume them. Every job
// is idempotent: running it twice after a crash has the effect of running it
// once, because the work it records is keyed in the database.

// TriageJobArgs asks for an incident's triage session to run (or resume).
type TriageJobArgs struct {
	IncidentID string `json:"incident_id"`
	SessionID  string `json:"session_id"`
}

// Kind is the job kind stored with the job.
func (TriageJobArgs) Kind() string { return "medic_triage" }

// NotifyJobArgs asks for an incident report to be sent.
type NotifyJobArgs struct {
	IncidentID string `json:"incident_id"`
	// Reason is what happened: "triaged" in v1.
	Reason string `json:"reason"`
}

// Kind is the job kind stored with the job.
func (NotifyJobArgs) Kind() string { return "medic_notify" }
