// Package airflowsim is an in-process, in-memory, deterministic stand-in for
// an Airflow webserver/API server. One Server speaks one REST API version:
// Airflow 2.x (/api/v1, HTTP basic auth, connexion problem+json errors) or
// Airflow 3.x (/api/v2, JWT bearer tokens from POST /auth/token, FastAPI
// {"detail": ...} errors). Its JSON follows the real OpenAPI files in
// shared/specs/airflow, which the tests check with package spectest, and its
// behaviour follows shared/AIRFLOW.md (clear defaults, try numbers, log
// endpoint shapes, continuation tokens, paging caps, error texts).
//
// DAGs and runs are scripted: AddDAG declares a DAG, StartRun creates a run
// and executes it to completion at once, each task try consuming the next
// scripted Outcome. Clearing task instances or triggering a run over HTTP
// executes synchronously too, so "retry this task" succeeds or fails exactly as
// the script says. Demo returns the scenario that `medic demo` plays.
//
// It is for tests and the demo only. It must never become a dependency of the
// daemon's production Airflow path, must not import package airflow (the
// client it is used to test), never opens network connections of its own,
// never reads the real clock when Options.Clock is set, and holds nothing
// secret: its credentials and signing keys are test fixtures.
//
// Deviations from real Airflow, all deliberate:
//   - Runs execute instantly and synchronously; their timestamps are
//     back-dated so a run ends at the moment it executes (a re-executed try
//     never starts before the previous one ended). Trigger and clear
//     responses show the state right after creation/clearing (queued, null);
//     the next GET shows the result.
//   - Mapped tasks are not modelled: map_index is always -1 and any other
//     value is a 404. Trigger rules other than all_success, pools, sensors'
//     reschedule mode, deferral, XComs, DAG params and conf validation are
//     not modelled either.
//   - 2.x without reset_dag_runs (its default) clears TIs of a finished run
//     to the null state and never runs them, as the scheduler ignores
//     finished runs; send reset_dag_runs=true (3.x defaults to true).
//   - 2.x lists an unknown DAG's runs as empty (Airflow only filters by
//     dag_id); 3.x answers 404.
//   - 2.x log negotiation follows werkzeug's best_match: "Accept: */*"
//     (Python requests' default) gets text/plain; no Accept header or
//     application/json gets JSON.
//   - 3.x behaves like 3.0/3.1 where they differ from the 3.2.1 spec:
//     logical_date is required on trigger (null allowed). GET list limits are
//     clamped to MaxPageLimit (as after apache/airflow#60989); the POST batch
//     endpoints are not.
//   - Scripted log bodies are Airflow 2 text in both versions; 3.x serves
//     them as structured entries (one per "{file:line} LEVEL - msg" record,
//     continuation lines appended to the record's event, a traceback block
//     parsed into the record's error_detail). Only the framing Airflow adds
//     (preamble, "Marking task as ...", the SIGKILL ending) is
//     version-specific. Invalid UTF-8 is served as U+FFFD.
//   - Continuation tokens use itsdangerous' URLSafeSerializer format with a
//     per-server key; log_pos counts bytes (2.x) or entries (3.x).
//   - Error texts follow Airflow's source where AIRFLOW.md or the code was
//     checked (404s, 409s, clear validation, auth); pydantic/connexion
//     validation messages are close imitations, not byte-for-byte copies.
package airflowsim
