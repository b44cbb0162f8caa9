-- The failure signature of each incident's root cause, so the same failure
-- seen before can be found.

ALTER TABLE incidents ADD COLUMN signature TEXT NOT NULL DEFAULT '';
CREATE INDEX incidents_signature ON incidents (signature, created_at);
