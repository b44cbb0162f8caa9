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
// Known deviations from real Airflow are listed in the package README-style
// comment on Server and in the handlers that implement them; the most
// important are: mapped tasks are not modelled (map_index is always -1), runs
// complete instantly (their timestamps are back-dated so that a run ends at the
// moment it is executed), and log continuation tokens are signed like
// itsdangerous' URLSafeSerializer but with a per-server key.
package airflowsim
