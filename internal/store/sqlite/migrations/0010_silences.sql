-- Silences: maintenance windows during which matching incidents are still
-- recorded, triaged and audited, but nobody is notified about them. A
-- silence is never deleted: an expired one stays, with who ended it, for
-- the record.

CREATE TABLE silences (
    id         TEXT PRIMARY KEY,
    -- dag_glob is a path.Match pattern on the DAG id; "*" for every DAG.
    dag_glob   TEXT NOT NULL,
    instance   TEXT NOT NULL DEFAULT '',
    -- severity, when set, holds only incidents at or below it.
    severity   TEXT NOT NULL DEFAULT '',
    reason     TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at TEXT NOT NULL,
    starts_at  TEXT NOT NULL,
    ends_at    TEXT NOT NULL,
    expired_at TEXT,
    expired_by TEXT NOT NULL DEFAULT ''
);
-- The active silences are the few that have not ended yet.
CREATE INDEX silences_ends ON silences (ends_at);
CREATE INDEX silences_created ON silences (created_at);
