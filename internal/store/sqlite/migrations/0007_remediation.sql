-- Remediation: approvals of proposed actions, the runs of executed actions
-- (one per idempotency key, written before medic acts) and the runtime kill
-- switch. Incident ids are not foreign keys: an approval outlives nothing,
-- but the audit log already ties every change to its incident.

CREATE TABLE approvals (
    id              TEXT PRIMARY KEY,
    incident_id     TEXT NOT NULL,
    action          TEXT NOT NULL,
    params          TEXT,
    idempotency_key TEXT NOT NULL,
    preview         TEXT,
    evidence        TEXT,
    decision        TEXT,
    requested_by    TEXT NOT NULL,
    status          TEXT NOT NULL,
    decided_by      TEXT NOT NULL DEFAULT '',
    decided_role    TEXT NOT NULL DEFAULT '',
    reason          TEXT NOT NULL DEFAULT '',
    created_at      TEXT NOT NULL,
    expires_at      TEXT NOT NULL,
    decided_at      TEXT
);
-- At most one pending approval per idempotency key.
CREATE UNIQUE INDEX approvals_pending_key ON approvals (idempotency_key) WHERE status = 'pending';
CREATE INDEX approvals_status ON approvals (status, created_at);
CREATE INDEX approvals_incident ON approvals (incident_id, created_at);

CREATE TABLE action_runs (
    idempotency_key TEXT PRIMARY KEY,
    incident_id     TEXT NOT NULL,
    approval_id     TEXT NOT NULL DEFAULT '',
    action          TEXT NOT NULL,
    params          TEXT,
    dag_id          TEXT NOT NULL,
    run_id          TEXT NOT NULL,
    task_id         TEXT NOT NULL DEFAULT '',
    try_number      INTEGER NOT NULL DEFAULT 0,
    status          TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 1,
    request         TEXT NOT NULL DEFAULT '',
    response        TEXT NOT NULL DEFAULT '',
    started_at      TEXT NOT NULL,
    finished_at     TEXT,
    verification    TEXT NOT NULL DEFAULT 'pending',
    verified_at     TEXT
);
CREATE INDEX action_runs_task ON action_runs (dag_id, run_id, task_id, try_number);
CREATE INDEX action_runs_dag ON action_runs (dag_id, started_at);
CREATE INDEX action_runs_started ON action_runs (started_at);
CREATE INDEX action_runs_incident ON action_runs (incident_id, action);

-- One row, id 1, once the switch was first set; no row means off.
CREATE TABLE kill_switch (
    id     INTEGER PRIMARY KEY CHECK (id = 1),
    is_on  INTEGER NOT NULL,
    set_by TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    at     TEXT NOT NULL
);
