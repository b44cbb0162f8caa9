-- The failure memory: what each resolved failure looked like, what was done
-- about it, and the evidence (counts) its trust is computed from. Counts
-- change only by increments in SQL, so several processes never lose one.
-- embedding is little-endian float32s, NULL when the record has none;
-- embedded_by names the embedder that produced it.

CREATE TABLE memory_records (
    id             TEXT PRIMARY KEY,
    signature      TEXT NOT NULL DEFAULT '',
    template       TEXT NOT NULL DEFAULT '',
    exception_type TEXT NOT NULL DEFAULT '',
    excerpt        TEXT NOT NULL DEFAULT '',
    embedding      BLOB,
    embedded_by    TEXT NOT NULL DEFAULT '',
    label          TEXT NOT NULL DEFAULT '',
    action         TEXT NOT NULL DEFAULT '',
    outcome        TEXT NOT NULL DEFAULT 'unknown',
    verdict        TEXT NOT NULL DEFAULT 'none',
    fixed          INTEGER NOT NULL DEFAULT 0,
    failed         INTEGER NOT NULL DEFAULT 0,
    ups            INTEGER NOT NULL DEFAULT 0,
    downs          INTEGER NOT NULL DEFAULT 0,
    trust          REAL NOT NULL DEFAULT 0.5,
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL
);
CREATE INDEX memory_records_signature ON memory_records (signature);
CREATE INDEX memory_records_updated ON memory_records (updated_at, id);
