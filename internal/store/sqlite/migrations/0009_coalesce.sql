-- Storm coalescing (ingest.coalesce): the structured keys an incident
-- collects failures on, how far its investigation may still be held back,
-- and what it groups, for a message such as "37 tasks in 12 DAGs failed:
-- <cause>".

-- cause is the first line of the opening failure's (redacted) error;
-- task_count and dag_count count the distinct tasks and DAGs of its events.
ALTER TABLE incidents ADD COLUMN cause TEXT NOT NULL DEFAULT '';
ALTER TABLE incidents ADD COLUMN task_count INTEGER NOT NULL DEFAULT 0;
ALTER TABLE incidents ADD COLUMN dag_count INTEGER NOT NULL DEFAULT 0;
-- triage_job_id is the River job that starts the investigation, pushed
-- later while events join; coalesce_until is the latest it may be pushed to
-- (opened + max_wait), NULL when the incident does not coalesce.
ALTER TABLE incidents ADD COLUMN triage_job_id INTEGER NOT NULL DEFAULT 0;
ALTER TABLE incidents ADD COLUMN coalesce_until TEXT;

-- incident_keys maps a structured key ("signature", "host", "dataset" or
-- "run", with its value) to the incidents collecting failures on it.
CREATE TABLE incident_keys (
    kind        TEXT NOT NULL,
    value       TEXT NOT NULL,
    incident_id TEXT NOT NULL REFERENCES incidents (id),
    created_at  TEXT NOT NULL,
    PRIMARY KEY (kind, value, incident_id)
);

CREATE INDEX failure_events_incident_task ON failure_events (incident_id, dag_id, task_id);
