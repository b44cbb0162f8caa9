// Package slackalert makes a Slack alert channel a failure source: it
// reads the channels where Airflow, Astro or a team's bot posts failure
// alerts (conversations.history with a bot token), parses each alert
// (Airflow's failure email, the usual Slack callback, Astro alerts,
// custom patterns), records its failure through the ingest service, and
// replies in the alert's thread with the incident and, through its
// notifier, the diagnosis.
//
// It must never post anywhere but in an alert's thread, never read a
// message twice into a failure (one stored row per message), and never
// move a channel's cursor past a message it has not handled, so that a
// crash or an outage loses nothing. Alert text is untrusted: it is
// bounded here and redacted by the ingest service before it is stored.
package slackalert
