// Package investigate runs an incident's investigation as a tree of
// persisted sessions, at most two deep. The incident-commander (the root
// session, on the triage job) orients itself in the failed run, then starts
// its specialists in parallel as child sessions with a deadline: the
// log-analyzer (log tail, error extraction, classification, failure
// memory), the query-profiler (the warehouse, through the SELECT-only
// guard) and the owner-notifier (owners and downstream impact), plus any
// specialist a user defines in YAML. Each specialist posts progress events,
// records its findings in its own session and finishes with a structured
// result; when the last one finishes, or at the deadline, the commander
// composes one report, marked partial when a specialist timed out or
// failed, and completes the incident's triage.
//
// The path of one failure through this package:
//
//	TriageJobArgs     → Commander: orient (resolve, run_summary, failed_tasks) → SessionSpawn(specialists, deadline)
//	SpecialistJobArgs → Specialist: its engine within its timeout → findings, progress → SessionFinish(result)
//	ComposeJobArgs    → Composer: time out stragglers → compose the report → SessionFinish(root) → TriageComplete
//
// A specialist whose definition names a model runs a tool loop over its
// allowlisted read-only tools when an LLM is configured (Models); the
// model's proposal is only its hypothesis, and whenever there is none to
// use (malformed, cut short, suspected injection) its deterministic engine
// answers instead.
//
// Every step is idempotent and keyed in the database, so a restart resumes
// an investigation where it stopped. Only the commander may start sessions,
// and the depth limit is checked here and in the store. Investigations only
// read: no engine here may write to Airflow or a warehouse, and log text is
// data, never instructions.
package investigate
