-- The datasets a failed task read or wrote, as a JSON array of
-- "namespace/name" strings (from an OpenLineage event; empty for other
-- sources). Storm coalescing keys failures on them.
ALTER TABLE failure_events ADD COLUMN datasets TEXT NOT NULL DEFAULT '[]';
