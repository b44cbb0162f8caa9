package slackalert

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"strings"
	"time"

	slackapi "github.com/slack-go/slack"

	"github.com/medic-sh/medic/internal/incident"
	"github.com/medic-sh/medic/internal/notify"
	"github.com/medic-sh/medic/internal/notify/slack"
	"github.com/medic-sh/medic/internal/report"
	"github.com/medic-sh/medic/internal/store"
)

// ThreadNotifierName is the alert-thread notifier's name, as deliveries
// are recorded.
const ThreadNotifierName = "slack_alert_thread"

// ThreadStore is what the alert-thread notifier reads and records.
type ThreadStore interface {
	SlackAlertListByIncident(ctx context.Context, incidentID string) ([]*store.SlackAlert, error)
	SlackAlertReplied(ctx context.Context, channel, ts, reason string) (bool, error)
	SlackAlertRecordReply(ctx context.Context, channel, ts, reason, replyTS string) error
}

// ThreadConfig configures the alert-thread notifier.
type ThreadConfig struct {
	Token      string
	APIURL     string
	HTTPClient *http.Client
	// MaxRateWait bounds how long one call waits out a rate limit (30 s
	// when zero).
	MaxRateWait time.Duration
}

// ThreadNotifier replies in the thread of every Slack alert recorded into
// an incident: the diagnosis once it is triaged, one line when it is
// resolved or escalated. The worker records its deliveries per update; it
// records each thread's reply too, so a retry after a partial failure
// replies only in the threads it missed.
type ThreadNotifier struct {
	api   *slackapi.Client
	store ThreadStore
	call  caller
}

var _ notify.Notifier = (*ThreadNotifier)(nil)

// NewThreadNotifier returns the alert-thread notifier.
func NewThreadNotifier(cfg ThreadConfig, st ThreadStore, logger *slog.Logger) *ThreadNotifier {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if cfg.MaxRateWait <= 0 {
		cfg.MaxRateWait = 30 * time.Second
	}
	return &ThreadNotifier{
		api: slack.NewClient(cfg.Token, cfg.APIURL, cfg.HTTPClient), store: st,
		call: caller{log: logger.With("component", "slack_alert_thread"), maxWait: cfg.MaxRateWait},
	}
}

// Name implements notify.Notifier.
func (n *ThreadNotifier) Name() string { return ThreadNotifierName }

// Notify implements notify.Notifier.
func (n *ThreadNotifier) Notify(ctx context.Context, u notify.Update) error {
	text := threadText(u)
	if text == "" {
		return nil
	}
	alerts, err := n.store.SlackAlertListByIncident(ctx, u.Report.Incident.ID)
	if err != nil {
		return fmt.Errorf("slack alert threads: %w", err)
	}
	if len(alerts) == 0 && fromSlack(u.Report) {
		// The watcher stores an alert's row just after recording its
		// failure; a fast triage can notify in between. Failing makes
		// the worker try again once the row is there.
		return fmt.Errorf("slack alert threads of %s: the alert is recorded but its message not stored yet: %w",
			u.Report.Incident.ID, ErrAlertPending)
	}
	var errs []error
	for _, a := range alerts {
		if a.Status == store.SlackAlertUnmatched {
			continue
		}
		done, err := n.store.SlackAlertReplied(ctx, a.Channel, a.TS, u.Reason)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if done {
			continue
		}
		var ts string
		err = n.call.call(ctx, "chat.postMessage", a.Channel, func(ctx context.Context) error {
			var err error
			_, ts, err = n.api.PostMessageContext(ctx, a.Channel, slackapi.MsgOptionText(escape(text), false), slackapi.MsgOptionTS(a.TS),
				slackapi.MsgOptionMetadata(slackapi.SlackMetadata{EventType: AckMetadataType, EventPayload: map[string]any{
					"alert_ts": a.TS, "incident_id": u.Report.Incident.ID, "reason": u.Reason,
				}}))
			return err
		})
		if err != nil {
			errs = append(errs, fmt.Errorf("reply to slack alert %s/%s: %w", a.Channel, a.TS, err))
			continue
		}
		if err := n.store.SlackAlertRecordReply(ctx, a.Channel, a.TS, u.Reason, ts); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// ErrAlertPending is returned while an incident opened by a Slack alert
// has no stored alert message yet; the notify job is tried again shortly
// (it wraps notify.ErrNotYet).
var ErrAlertPending = fmt.Errorf("slack alert not stored yet: %w", notify.ErrNotYet)

// fromSlack reports whether a Slack alert opened the incident.
func fromSlack(r *report.Report) bool {
	return len(r.Events) > 0 && r.Events[0].Source == incident.SourceSlack
}

// threadText is the reply for an update, "" for updates alert threads
// are not told about.
func threadText(u notify.Update) string {
	r := u.Report
	id := r.Incident.ID
	switch u.Reason {
	case notify.ReasonTriaged:
		return diagnosisText(r)
	case "state:" + string(incident.StateResolved):
		return withDetail("medic: incident "+id+" is resolved", u.Detail)
	case "state:" + string(incident.StateEscalated):
		return withDetail("medic: incident "+id+" is escalated to a person", u.Detail)
	}
	return ""
}

func withDetail(s, detail string) string {
	if d := firstLine(detail); d != "" {
		s += ": " + d
	}
	return s
}

// diagnosisText is the diagnosis in one short message: root cause class
// and confidence, the cause line, owner, next action and the link.
func diagnosisText(r *report.Report) string {
	var b strings.Builder
	b.WriteString("medic diagnosis of incident " + r.Incident.ID + ": ")
	inv := r.Investigation
	switch {
	case inv != nil && inv.RootCause != nil:
		rc := inv.RootCause
		fmt.Fprintf(&b, "%s (%d%% confidence)", rc.Label, int(math.Round(rc.Confidence*100)))
		if s := firstLine(rc.Summary); s != "" {
			b.WriteString(" — " + s)
		}
	case r.ReportedError() != "":
		b.WriteString("root cause not known yet — reported error: " + firstLine(r.ReportedError()))
	default:
		b.WriteString("root cause not known yet")
	}
	if owner := r.Owner(); owner != "" {
		b.WriteString("\nOwner: " + owner)
	}
	if inv != nil && inv.NextAction != "" {
		b.WriteString("\nNext action: " + firstLine(inv.NextAction))
	}
	if r.Link != "" {
		b.WriteString("\n" + r.Link)
	}
	return b.String()
}

// firstLine is a text's first non-empty line, at most 300 characters.
func firstLine(s string) string {
	for l := range strings.SplitSeq(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			if r := []rune(l); len(r) > 300 {
				return string(r[:299]) + "…"
			}
			return l
		}
	}
	return ""
}
