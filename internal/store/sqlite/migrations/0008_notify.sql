-- Notifications: which update of an incident each notifier delivered (so a
-- redelivered job sends nothing twice), and the one living message a
-- notifier keeps per incident (Slack's channel and ts), so restarts and
-- replicas update it instead of posting another.

CREATE TABLE notify_deliveries (
    incident_id  TEXT NOT NULL,
    notifier     TEXT NOT NULL,
    reason       TEXT NOT NULL,
    delivered_at TEXT NOT NULL,
    PRIMARY KEY (incident_id, notifier, reason)
);

CREATE TABLE notify_messages (
    incident_id TEXT NOT NULL,
    notifier    TEXT NOT NULL,
    channel     TEXT NOT NULL,
    ts          TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    updates     INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (incident_id, notifier)
);
