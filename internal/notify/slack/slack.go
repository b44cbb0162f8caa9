// Package slack tells people about incidents in Slack: one living message
// per incident in Block Kit, posted when it is triaged and edited in place
// (chat.update) as it moves, with each move as a reply in its thread. The
// message's channel and ts are stored, so restarts and replicas edit it
// instead of posting another; a message posted just before a crash is found
// again by its metadata in the channel's history.
package slack

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	slackapi "github.com/slack-go/slack"

	"github.com/medic-sh/medic/internal/incident"
	"github.com/medic-sh/medic/internal/notify"
	"github.com/medic-sh/medic/internal/report"
	"github.com/medic-sh/medic/internal/store"
)

// Name is the notifier's name, as deliveries and messages are stored.
const Name = "slack"

// metadataType marks medic's messages in Slack's message metadata.
const metadataType = "medic_incident"

// Store is what the notifier keeps its messages in.
type Store interface {
	NotifyMessageGet(ctx context.Context, incidentID, notifier string) (*store.NotifyMessage, error)
	NotifyMessageSave(ctx context.Context, m *store.NotifyMessage) (*store.NotifyMessage, bool, error)
	NotifyMessageUpdated(ctx context.Context, incidentID, notifier string) error
	// NotifyDelivered and NotifyRecordDelivery keep the thread replies
	// posted with the first message from being posted twice.
	NotifyDelivered(ctx context.Context, d *store.NotifyDelivery) (bool, error)
	NotifyRecordDelivery(ctx context.Context, d *store.NotifyDelivery) error
	ApprovalList(ctx context.Context, p *store.ApprovalListParams) ([]*incident.Approval, error)
	// IncidentGroupCounts says how many tasks and DAGs a coalesced
	// incident groups, and their cause.
	IncidentGroupCounts(ctx context.Context, id string) (tasks, dags int, cause string, err error)
}

// Config configures the notifier.
type Config struct {
	Token  string
	APIURL string
	// Channel is the default channel; a route or the owner's channel
	// wins.
	Channel string
	// Routes send matching incidents elsewhere, first match first.
	Routes []Route
	// MinSeverity holds back the messages of less severe incidents, but
	// never an escalation; "" posts all.
	MinSeverity incident.Severity
	// Mentions maps owners to Slack mentions.
	Mentions map[string]string
	// AirflowURL gives the Airflow UI of an instance, "" for none.
	AirflowURL func(instance string) string
	// MaxRateWait bounds how long one call waits out Slack's rate limit
	// before the job is retried later (30 s when zero).
	MaxRateWait time.Duration
	// HTTPClient, when set, sends the requests.
	HTTPClient *http.Client
}

// Notifier posts and edits incidents' messages.
type Notifier struct {
	api   *slackapi.Client
	store Store
	cfg   Config
	log   *slog.Logger
}

var _ notify.Notifier = (*Notifier)(nil)

// New builds a notifier.
func New(cfg Config, st Store, logger *slog.Logger) *Notifier {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if cfg.MaxRateWait <= 0 {
		cfg.MaxRateWait = 30 * time.Second
	}
	return &Notifier{api: NewClient(cfg.Token, cfg.APIURL, cfg.HTTPClient), store: st, cfg: cfg, log: logger.With("component", "slack")}
}

// NewClient is a slack-go client of the Web API at apiURL (Slack's when
// ""), sending with hc when it is set.
func NewClient(token, apiURL string, hc *http.Client) *slackapi.Client {
	opts := []slackapi.Option{slackapi.OptionAPIURL(withSlash(apiURL))}
	if hc != nil {
		opts = append(opts, slackapi.OptionHTTPClient(hc))
	}
	return slackapi.New(token, opts...)
}

func withSlash(u string) string {
	if u == "" {
		u = "https://slack.com/api/"
	}
	if !strings.HasSuffix(u, "/") {
		u += "/"
	}
	return u
}

// Name implements notify.Notifier.
func (n *Notifier) Name() string { return Name }

// Notify posts the incident's message on its first update and edits it on
// later ones, replying in its thread with what happened.
func (n *Notifier) Notify(ctx context.Context, u notify.Update) error {
	r := u.Report
	inc := r.Incident
	opts, err := n.options(ctx, r)
	if err != nil {
		return err
	}
	parent := Parent(r, opts)
	m, err := n.store.NotifyMessageGet(ctx, inc.ID, Name)
	switch {
	case errors.Is(err, store.ErrNotFound):
		if n.held(r, u.Reason) {
			n.log.InfoContext(ctx, "below notify.slack.min_severity; no message", "incident_id", inc.ID,
				"severity", severityOf(r), "min_severity", n.cfg.MinSeverity, "reason", u.Reason)
			return nil
		}
		if m, err = n.post(ctx, r, parent); err != nil {
			return err
		}
		// A message first posted on a later update (one held back by
		// min_severity until its escalation) gets its detail too.
		if !u.First() {
			if err := n.threadOnce(ctx, m, r); err != nil {
				return err
			}
		}
	case err != nil:
		return fmt.Errorf("slack: %w", err)
	default:
		if err := n.call(ctx, "chat.update", func(ctx context.Context) error {
			_, _, _, err := n.api.UpdateMessageContext(ctx, m.Channel, m.TS, msgOptions(parent, inc.ID)...)
			return err
		}); err != nil {
			return err
		}
		if err := n.store.NotifyMessageUpdated(ctx, inc.ID, Name); err != nil {
			return fmt.Errorf("slack: %w", err)
		}
	}
	if u.First() {
		// A first update retried after its message was posted still owes
		// the thread what the post did not get to.
		return n.threadOnce(ctx, m, r)
	}
	return n.reply(ctx, m, Reply(u.Reason, replyText(u)))
}

// reply posts a reply in the incident message's thread.
func (n *Notifier) reply(ctx context.Context, m *store.NotifyMessage, reply Rendered) error {
	return n.call(ctx, "chat.postMessage", func(ctx context.Context) error {
		_, _, err := n.api.PostMessageContext(ctx, m.Channel, slackapi.MsgOptionText(reply.Text, false),
			slackapi.MsgOptionBlocks(reply.Blocks...), slackapi.MsgOptionTS(m.TS))
		return err
	})
}

// threadOnce puts the detail that does not belong in the message in its
// thread, once: what each specialist found with the root cause's evidence,
// and a storm's list of failed tasks. Each reply is recorded as a delivery
// of its own, so a retried job posts only what is still missing.
func (n *Notifier) threadOnce(ctx context.Context, m *store.NotifyMessage, r *report.Report) error {
	findings, hasFindings := Findings(r, r.Link)
	tasks, hasTasks := Tasks(r.Events, r.Link)
	for _, reply := range []struct {
		reason   string
		rendered Rendered
		ok       bool
	}{{threadFindings, findings, hasFindings}, {threadTasks, tasks, hasTasks}} {
		if !reply.ok {
			continue
		}
		reason, rendered := reply.reason, reply.rendered
		d := &store.NotifyDelivery{IncidentID: r.Incident.ID, Notifier: Name, Reason: reason}
		done, err := n.store.NotifyDelivered(ctx, d)
		if err != nil {
			return fmt.Errorf("slack: %w", err)
		}
		if done {
			continue
		}
		if err := n.reply(ctx, m, rendered); err != nil {
			return err
		}
		if err := n.store.NotifyRecordDelivery(ctx, d); err != nil {
			return fmt.Errorf("slack: %w", err)
		}
	}
	return nil
}

func replyText(u notify.Update) string {
	state, ok := strings.CutPrefix(u.Reason, "state:")
	if !ok {
		return u.Detail
	}
	s := "Now " + strings.ReplaceAll(state, "_", " ")
	if u.Detail != "" {
		s += ": " + u.Detail
	}
	return s
}

// options gathers what the message shows besides the report.
func (n *Notifier) options(ctx context.Context, r *report.Report) (Options, error) {
	o := Options{DashboardURL: r.Link, Mentions: n.cfg.Mentions}
	if n.cfg.AirflowURL != nil {
		o.AirflowURL = n.cfg.AirflowURL(r.Incident.Instance)
	}
	tasks, dags, cause, err := n.store.IncidentGroupCounts(ctx, r.Incident.ID)
	if err != nil {
		return o, fmt.Errorf("slack: %w", err)
	}
	if tasks > 1 || dags > 1 {
		o.Storm = &Storm{Tasks: tasks, Dags: dags, Cause: cause}
	}
	list, err := n.store.ApprovalList(ctx, &store.ApprovalListParams{IncidentID: r.Incident.ID, Limit: 1})
	if err != nil {
		return o, fmt.Errorf("slack: %w", err)
	}
	if len(list) > 0 {
		a := list[0]
		switch a.Status {
		case incident.ApprovalPending:
			o.Approval = &Approval{ID: a.ID, Action: a.Action, ExpiresAt: a.ExpiresAt}
		case incident.ApprovalApproved, incident.ApprovalExecuted, incident.ApprovalRejected:
			o.DecidedBy = a.DecidedBy
		}
	}
	return o, nil
}

// post posts the incident's message, unless one posted before a crash is
// in the channel's history, and stores it.
func (n *Notifier) post(ctx context.Context, r *report.Report, parent Rendered) (*store.NotifyMessage, error) {
	inc := r.Incident
	channel, why := n.channel(r)
	ts, ch, err := n.find(ctx, channel, inc)
	if err != nil && channel != n.cfg.Channel && isChannelError(err) {
		n.log.WarnContext(ctx, why+" channel unusable; posting to the default channel", "incident_id", inc.ID, "channel", channel, "error", err)
		channel = n.cfg.Channel
		ts, ch, err = n.find(ctx, channel, inc)
	}
	if err != nil {
		return nil, err
	}
	if ts == "" {
		err = n.call(ctx, "chat.postMessage", func(ctx context.Context) error {
			var perr error
			ch, ts, perr = n.api.PostMessageContext(ctx, channel, msgOptions(parent, inc.ID)...)
			return perr
		})
		if err != nil {
			return nil, err
		}
	}
	m, saved, err := n.store.NotifyMessageSave(ctx, &store.NotifyMessage{IncidentID: inc.ID, Notifier: Name, Channel: ch, TS: ts})
	if err != nil {
		return nil, fmt.Errorf("slack: %w", err)
	}
	if !saved && m.TS != ts {
		n.log.WarnContext(ctx, "another replica posted this incident's message first; keeping theirs", "incident_id", inc.ID, "ts", m.TS, "ours", ts)
	}
	return m, nil
}

// find looks for the incident's message in the channel's recent history,
// by its metadata: the message a process posted before dying unrecorded.
func (n *Notifier) find(ctx context.Context, channel string, inc *incident.Incident) (ts, ch string, err error) {
	oldest := inc.CreatedAt.Add(-time.Minute)
	params := &slackapi.GetConversationHistoryParameters{
		ChannelID: channel, Oldest: fmt.Sprintf("%d.000000", oldest.Unix()), Limit: 200, IncludeAllMetadata: true,
	}
	for range 5 { // at most 1000 messages back
		var resp *slackapi.GetConversationHistoryResponse
		if err := n.call(ctx, "conversations.history", func(ctx context.Context) error {
			var herr error
			resp, herr = n.api.GetConversationHistoryContext(ctx, params)
			return herr
		}); err != nil {
			return "", "", err
		}
		for _, msg := range resp.Messages {
			if msg.Metadata.EventType == metadataType && msg.Metadata.EventPayload["incident_id"] == inc.ID {
				return msg.Timestamp, channel, nil
			}
		}
		if !resp.HasMore || resp.ResponseMetaData.NextCursor == "" {
			break
		}
		params.Cursor = resp.ResponseMetaData.NextCursor
	}
	return "", channel, nil
}

func msgOptions(r Rendered, incidentID string) []slackapi.MsgOption {
	return []slackapi.MsgOption{
		slackapi.MsgOptionText(r.Text, false),
		slackapi.MsgOptionBlocks(r.Blocks...),
		slackapi.MsgOptionMetadata(slackapi.SlackMetadata{EventType: metadataType, EventPayload: map[string]any{"incident_id": incidentID}}),
	}
}

// call runs one Web API call, waiting out Slack's rate limit (Retry-After)
// while that fits in MaxRateWait; beyond it, or on any other error, the
// error is returned and the job is retried later: a Slack outage delays
// messages, it never loses them.
func (n *Notifier) call(ctx context.Context, method string, fn func(context.Context) error) error {
	wait, err := WaitOutRateLimit(ctx, n.log, n.cfg.MaxRateWait, fn, "method", method)
	var rl *slackapi.RateLimitedError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &rl):
		return fmt.Errorf("slack %s: rate limited for %s more: %w", method, wait, err)
	}
	return fmt.Errorf("slack %s: %w", method, err)
}

// isChannelError reports an error that another channel may not have.
func isChannelError(err error) bool {
	var se slackapi.SlackErrorResponse
	if !errors.As(err, &se) {
		return false
	}
	switch se.Err {
	case "channel_not_found", "not_in_channel", "is_archived":
		return true
	}
	return false
}
