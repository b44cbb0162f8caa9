-- Investigation trees: what a parent asked of each child session (input),
-- what the child found (result), when the parent composes without it
-- (deadline), and every session's progress log, which the API streams.
-- An event's id orders the events of a whole tree; SQLite's single writer
-- makes it the commit order too.

ALTER TABLE sessions ADD COLUMN input TEXT;
ALTER TABLE sessions ADD COLUMN result TEXT;
ALTER TABLE sessions ADD COLUMN deadline TEXT;
CREATE INDEX sessions_unfinished ON sessions (created_at, id) WHERE status IN ('pending', 'running');

CREATE TABLE session_events (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id  TEXT NOT NULL REFERENCES sessions (id),
    incident_id TEXT NOT NULL REFERENCES incidents (id),
    agent       TEXT NOT NULL,
    kind        TEXT NOT NULL,
    message     TEXT NOT NULL DEFAULT '',
    data        TEXT,
    at          TEXT NOT NULL
);
CREATE INDEX session_events_session ON session_events (session_id, id);
CREATE INDEX session_events_incident ON session_events (incident_id, id);
