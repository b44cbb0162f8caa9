-- medic schema, version 1. Times are UTC text in a fixed-width RFC 3339
-- format so that text order is time order.

CREATE TABLE incidents (
    id                TEXT PRIMARY KEY,
    state             TEXT NOT NULL,
    severity          TEXT NOT NULL,
    title             TEXT NOT NULL,
    instance          TEXT NOT NULL,
    dag_id            TEXT NOT NULL,
    run_id            TEXT NOT NULL,
    group_key         TEXT NOT NULL,
    first_task_id     TEXT NOT NULL DEFAULT '',
    event_count       INTEGER NOT NULL DEFAULT 0,
    owner             TEXT NOT NULL DEFAULT '',
    tags              TEXT NOT NULL DEFAULT '[]',
    summary           TEXT NOT NULL DEFAULT '',
    triage_session_id TEXT NOT NULL DEFAULT '',
    created_at        TEXT NOT NULL,
    updated_at        TEXT NOT NULL,
    triaged_at        TEXT,
    notified_at       TEXT
);
CREATE INDEX incidents_group_key ON incidents (group_key, created_at);
CREATE INDEX incidents_created ON incidents (created_at DESC, id DESC);
CREATE INDEX incidents_dag ON incidents (dag_id, created_at DESC);

CREATE TABLE failure_events (
    id           TEXT PRIMARY KEY,
    identity     TEXT NOT NULL UNIQUE,
    instance     TEXT NOT NULL,
    dag_id       TEXT NOT NULL,
    run_id       TEXT NOT NULL,
    task_id      TEXT NOT NULL,
    try_number   INTEGER NOT NULL,
    map_index    INTEGER NOT NULL DEFAULT -1,
    source       TEXT NOT NULL,
    sources      TEXT NOT NULL DEFAULT '[]',
    logical_date TEXT,
    exception    TEXT NOT NULL DEFAULT '',
    log_url      TEXT NOT NULL DEFAULT '',
    owner        TEXT NOT NULL DEFAULT '',
    tags         TEXT NOT NULL DEFAULT '[]',
    occurred_at  TEXT NOT NULL,
    received_at  TEXT NOT NULL,
    incident_id  TEXT NOT NULL REFERENCES incidents (id),
    deliveries   INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX failure_events_incident ON failure_events (incident_id, occurred_at);

CREATE TABLE sessions (
    id          TEXT PRIMARY KEY,
    incident_id TEXT NOT NULL REFERENCES incidents (id),
    parent_id   TEXT REFERENCES sessions (id),
    agent       TEXT NOT NULL,
    depth       INTEGER NOT NULL CHECK (depth BETWEEN 1 AND 2),
    status      TEXT NOT NULL,
    error       TEXT NOT NULL DEFAULT '',
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    finished_at TEXT
);
CREATE INDEX sessions_parent ON sessions (parent_id, created_at);
CREATE INDEX sessions_incident ON sessions (incident_id, created_at);

CREATE TABLE findings (
    id          TEXT PRIMARY KEY,
    session_id  TEXT NOT NULL REFERENCES sessions (id),
    incident_id TEXT NOT NULL REFERENCES incidents (id),
    kind        TEXT NOT NULL,
    step        TEXT NOT NULL,
    summary     TEXT NOT NULL,
    data        TEXT,
    evidence    TEXT NOT NULL DEFAULT '[]',
    error       TEXT NOT NULL DEFAULT '',
    created_at  TEXT NOT NULL,
    UNIQUE (session_id, step)
);

CREATE TABLE poller_marks (
    instance   TEXT PRIMARY KEY,
    mark       TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE TABLE audit_log (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    at          TEXT NOT NULL,
    actor       TEXT NOT NULL,
    action      TEXT NOT NULL,
    incident_id TEXT NOT NULL DEFAULT '',
    detail      TEXT
);
CREATE INDEX audit_log_incident ON audit_log (incident_id, id);
