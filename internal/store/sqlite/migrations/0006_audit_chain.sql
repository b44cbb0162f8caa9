-- The audit log becomes a hash chain: every entry holds the hash of the one
-- before it (prev_hash, 64 zeros for the first) and its own SHA-256 over
-- that and its content (see package audit). SQLite has no SHA-256 function,
-- so rows written before this migration are chained, in id order, by the
-- store when it opens (chainAudit), in the same process that migrated them;
-- the partial index finds them without scanning the log.

ALTER TABLE audit_log ADD COLUMN prev_hash TEXT NOT NULL DEFAULT '';
ALTER TABLE audit_log ADD COLUMN hash TEXT NOT NULL DEFAULT '';
CREATE INDEX audit_log_unchained ON audit_log (id) WHERE hash = '';
CREATE INDEX audit_log_actor ON audit_log (actor, id);
