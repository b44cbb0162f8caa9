-- Template miner state, so template ids stay stable across restarts.

CREATE TABLE miner_snapshots (
    name       TEXT PRIMARY KEY,
    snapshot   BLOB NOT NULL,
    updated_at TEXT NOT NULL
);
