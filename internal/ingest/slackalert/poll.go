package slackalert

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	slackapi "github.com/slack-go/slack"

	"github.com/medic-sh/medic/internal/airflow"
	"github.com/medic-sh/medic/internal/incident"
	"github.com/medic-sh/medic/internal/store"
)

// pollChannel handles a channel's messages newer than its cursor, oldest
// first, moving the cursor past each one only once it is handled: a
// crash or an outage loses nothing, and the per-message row makes the
// re-read harmless.
func (w *Watcher) pollChannel(ctx context.Context, ch string) error {
	cursor, ok, err := w.store.SlackAlertCursorGet(ctx, ch)
	if err != nil {
		return err
	}
	if !ok {
		cursor = formatTS(w.opts.Now().Add(-w.opts.Lookback))
	}
	msgs, err := w.history(ctx, ch, cursor)
	if err != nil {
		return err
	}
	for i := range msgs {
		m := &msgs[i]
		if err := w.handle(ctx, ch, m); err != nil {
			w.alerts.WithLabelValues("error").Inc()
			return fmt.Errorf("slack alert %s/%s: %w", ch, m.Timestamp, err)
		}
		if err := w.store.SlackAlertCursorSet(ctx, ch, m.Timestamp); err != nil {
			return err
		}
	}
	return nil
}

// history returns a channel's messages after oldest, oldest first, at
// most MaxPerPoll of them: Slack pages newest first, so it walks back and
// keeps the oldest.
func (w *Watcher) history(ctx context.Context, ch, oldest string) ([]slackapi.Message, error) {
	params := &slackapi.GetConversationHistoryParameters{ChannelID: ch, Oldest: oldest, Limit: pageSize, IncludeAllMetadata: true}
	var kept []slackapi.Message
	complete := false
	for range maxPages {
		var resp *slackapi.GetConversationHistoryResponse
		if err := w.call(ctx, "conversations.history", ch, func(ctx context.Context) error {
			var err error
			resp, err = w.api.GetConversationHistoryContext(ctx, params)
			return err
		}); err != nil {
			return nil, err
		}
		kept = append(kept, resp.Messages...)
		if len(kept) > w.opts.MaxPerPoll {
			kept = kept[len(kept)-w.opts.MaxPerPoll:]
		}
		if !resp.HasMore || resp.ResponseMetaData.NextCursor == "" {
			complete = true
			break
		}
		params.Cursor = resp.ResponseMetaData.NextCursor
	}
	if !complete {
		w.log.ErrorContext(ctx, "more messages since the cursor than one poll reads back; the oldest are skipped",
			"channel", ch, "pages", maxPages, "page_size", pageSize)
	}
	slices.SortFunc(kept, func(a, b slackapi.Message) int { return compareTS(a.Timestamp, b.Timestamp) })
	return kept, nil
}

// skip reports messages that are not alerts: thread replies, channel
// events, medic's own messages.
func (w *Watcher) skip(m *slackapi.Message) bool {
	if m.ThreadTimestamp != "" && m.ThreadTimestamp != m.Timestamp {
		return true
	}
	switch m.SubType {
	case "", "bot_message", "file_share":
	default:
		return true
	}
	if strings.HasPrefix(m.Metadata.EventType, "medic_") {
		return true
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return (w.userID != "" && m.User == w.userID) || (w.botID != "" && m.BotID == w.botID)
}

// handle records one message, once: a message already stored only gets
// the thread reply it may have missed.
func (w *Watcher) handle(ctx context.Context, ch string, m *slackapi.Message) error {
	if w.skip(m) {
		return nil
	}
	row, err := w.store.SlackAlertGet(ctx, ch, m.Timestamp)
	switch {
	case errors.Is(err, store.ErrNotFound):
	case err != nil:
		return err
	default:
		return w.ack(ctx, row)
	}
	row, err = w.record(ctx, ch, m)
	if err != nil {
		return err
	}
	stored, inserted, err := w.store.SlackAlertInsert(ctx, row)
	if err != nil {
		return err
	}
	if inserted {
		w.alerts.WithLabelValues(string(stored.Status)).Inc()
	}
	return w.ack(ctx, stored)
}

// record reads the alert in a message and records its failures,
// returning the row to store. An error is retryable (Airflow or the
// store failed): the message is read again on the next poll.
func (w *Watcher) record(ctx context.Context, ch string, m *slackapi.Message) (*store.SlackAlert, error) {
	row := &store.SlackAlert{Channel: ch, TS: m.Timestamp}
	unmatched := func(reason string) (*store.SlackAlert, error) {
		row.Status, row.Reason = store.SlackAlertUnmatched, reason
		w.log.WarnContext(ctx, "slack alert not recorded", "channel", ch, "ts", m.Timestamp, "format", row.Format, "reason", reason)
		return row, nil
	}
	a, err := w.parser.Parse(m)
	var me *MatchError
	if errors.As(err, &me) {
		return unmatched(me.Reason())
	}
	if err != nil {
		return nil, err
	}
	row.Format = a.Format
	events, reason, err := w.events(ctx, a, tsTime(m.Timestamp))
	if err != nil {
		return nil, err
	}
	if reason != "" {
		return unmatched(reason)
	}
	row.Status = store.SlackAlertDuplicate
	created := false
	for _, ev := range events {
		res, err := w.rec.RecordEvent(ctx, ev)
		if errors.Is(err, incident.ErrInvalid) {
			return unmatched("invalid failure: " + err.Error())
		}
		if err != nil {
			return nil, err
		}
		if !res.Duplicate {
			row.Status = store.SlackAlertMatched
		}
		created = created || res.IncidentCreated
		if row.IncidentID == "" {
			row.EventID, row.IncidentID = res.Event.ID, res.Incident.ID
		}
	}
	w.log.InfoContext(ctx, "slack alert recorded", "channel", ch, "ts", m.Timestamp, "format", a.Format,
		"dag_id", a.DagID, "events", len(events), "incident_id", row.IncidentID, "status", row.Status, "incident_created", created)
	row.Reason = "joined"
	if created {
		row.Reason = "new"
	}
	return row, nil
}

// events turns an alert into failure events, asking Airflow for what it
// leaves out. reason is set when it cannot become one.
func (w *Watcher) events(ctx context.Context, a *Alert, seen time.Time) ([]*incident.FailureEvent, string, error) {
	instance := w.opts.Instance
	if a.Instance != "" && slices.Contains(w.opts.Instances, a.Instance) {
		instance = a.Instance
	}
	var runs Runs
	if w.opts.Runs != nil {
		runs = w.opts.Runs(instance)
	}
	runID := a.RunID
	if runID == "" {
		if runs == nil {
			return nil, "no run id (and no Airflow instance to look it up by date)", nil
		}
		run, err := findRun(ctx, runs, a)
		if err != nil {
			return nil, "", fmt.Errorf("find the run of %s: %w", a.DagID, err)
		}
		if run == nil {
			return nil, "no run id: no run of " + a.DagID + " at the alert's date", nil
		}
		runID = run.RunID
	}
	base := incident.FailureEvent{
		Key:      incident.Key{Instance: instance, DagID: a.DagID, RunID: runID, TaskID: a.TaskID, TryNumber: max(1, a.TryNumber)},
		MapIndex: a.MapIndex, Source: incident.SourceSlack, LogicalDate: a.LogicalDate,
		Exception: a.Exception, LogURL: a.LogURL, OccurredAt: seen,
	}
	if a.FailedAt != nil {
		base.OccurredAt = *a.FailedAt
	}
	if a.TaskID != "" {
		return []*incident.FailureEvent{&base}, "", nil
	}
	if runs == nil {
		return nil, "no task id (and no Airflow instance to ask for the failed tasks)", nil
	}
	tis, err := runs.ListTaskInstances(ctx, a.DagID, runID)
	if err != nil {
		return nil, "", fmt.Errorf("list the tasks of %s/%s: %w", a.DagID, runID, err)
	}
	var out []*incident.FailureEvent
	for _, ti := range tis {
		if ti.State != "failed" {
			continue
		}
		ev := base
		ev.TaskID, ev.TryNumber, ev.MapIndex = ti.TaskID, max(1, ti.TryNumber), ti.MapIndex
		out = append(out, &ev)
	}
	if len(out) == 0 {
		return nil, "no task id: no failed task in run " + runID, nil
	}
	return out, "", nil
}

// findRun finds the run an alert means by its logical date, or by when it
// failed; nil when none is close.
func findRun(ctx context.Context, runs Runs, a *Alert) (*airflow.DagRun, error) {
	q := airflow.RunQuery{Limit: 100}
	if a.LogicalDate == nil && a.FailedAt != nil {
		q = airflow.RunQuery{States: []string{"failed"}, EndedAfter: a.FailedAt.Add(-runMatchGap), Limit: 50}
	}
	list, err := runs.ListDagRuns(ctx, a.DagID, q)
	if errors.Is(err, airflow.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var best *airflow.DagRun
	bestGap := runMatchGap
	for i := range list {
		r := &list[i]
		switch {
		case a.LogicalDate != nil:
			if r.LogicalDate != nil && r.LogicalDate.Equal(*a.LogicalDate) {
				return r, nil
			}
		case r.EndDate != nil:
			if gap := r.EndDate.Sub(*a.FailedAt).Abs(); gap <= bestGap {
				best, bestGap = r, gap
			}
		}
	}
	return best, nil
}
