-- Slack alert channels: every message of a watched channel that medic
-- handled, one row per (channel, ts), so that a re-read of the channel's
-- history (after a crash, an outage or a restart) never records or replies
-- twice; each channel's cursor, the ts of the newest message handled; and
-- which reply each alert's thread got, so that a notifier retried after a
-- partial failure replies only in the threads it missed.

CREATE TABLE slack_alerts (
    channel     TEXT NOT NULL,
    ts          TEXT NOT NULL,
    -- matched: a failure was recorded from it; duplicate: the failure was
    -- already known (a callback or the poller reported it first);
    -- unmatched: no pattern matched, reason says what was missing.
    status      TEXT NOT NULL CHECK (status IN ('matched', 'unmatched', 'duplicate')),
    format      TEXT NOT NULL DEFAULT '',
    reason      TEXT NOT NULL DEFAULT '',
    event_id    TEXT NOT NULL DEFAULT '',
    incident_id TEXT NOT NULL DEFAULT '',
    -- reply_ts is medic's acknowledgement in the alert's thread, '' until
    -- it was posted.
    reply_ts    TEXT NOT NULL DEFAULT '',
    created_at  TEXT NOT NULL,
    PRIMARY KEY (channel, ts)
);
CREATE INDEX slack_alerts_incident ON slack_alerts (incident_id) WHERE incident_id != '';

CREATE TABLE slack_alert_cursors (
    channel    TEXT PRIMARY KEY,
    ts         TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE TABLE slack_alert_replies (
    channel    TEXT NOT NULL,
    ts         TEXT NOT NULL,
    reason     TEXT NOT NULL,
    reply_ts   TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (channel, ts, reason)
);
