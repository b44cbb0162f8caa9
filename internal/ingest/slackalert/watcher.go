package slackalert

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	slackapi "github.com/slack-go/slack"

	"github.com/medic-sh/medic/internal/airflow"
	"github.com/medic-sh/medic/internal/incident"
	"github.com/medic-sh/medic/internal/notify/slack"
	"github.com/medic-sh/medic/internal/store"
)

// AckMetadataType marks medic's replies in alert threads, so that no
// watcher ever reads them as alerts.
const AckMetadataType = "medic_alert_ack"

// Recorder records a failure (the ingest.Service, which redacts it).
type Recorder interface {
	RecordEvent(ctx context.Context, ev *incident.FailureEvent) (*store.EventRecordResult, error)
}

// Store keeps what the watcher handled and where each channel's reading
// stands.
type Store interface {
	SlackAlertInsert(ctx context.Context, a *store.SlackAlert) (*store.SlackAlert, bool, error)
	SlackAlertGet(ctx context.Context, channel, ts string) (*store.SlackAlert, error)
	SlackAlertSetReply(ctx context.Context, channel, ts, replyTS string) error
	SlackAlertCursorGet(ctx context.Context, channel string) (string, bool, error)
	SlackAlertCursorSet(ctx context.Context, channel, ts string) error
}

// Runs is what the watcher asks Airflow when an alert names no run (only
// a logical date or a failure time) or no task (Astro); *airflow.Client
// implements it.
type Runs interface {
	ListDagRuns(ctx context.Context, dagID string, q airflow.RunQuery) ([]airflow.DagRun, error)
	ListTaskInstances(ctx context.Context, dagID, runID string) ([]airflow.TaskInstance, error)
}

var _ Runs = (*airflow.Client)(nil)

// Options configures a Watcher.
type Options struct {
	Token  string
	APIURL string
	// Channels are the alert channels' ids.
	Channels []string
	Interval time.Duration
	// Lookback is how far back the first poll of a channel reads.
	Lookback time.Duration
	// Instance is the Airflow instance alerts are recorded for, unless an
	// alert names one of Instances.
	Instance  string
	Instances []string
	// Runs gives an instance's Airflow client, nil when there is none;
	// without one an alert naming no run stays unmatched.
	Runs func(instance string) Runs
	// ReplyUnmatched also replies in the thread of an alert that matched
	// no pattern, saying why.
	ReplyUnmatched bool
	// BaseURL is medic's public URL, for the incident link.
	BaseURL string
	// MaxPerPoll bounds the messages one poll of a channel handles (200
	// when zero); the rest wait for the next poll.
	MaxPerPoll int
	// MaxRateWait bounds how long one call waits out a rate limit (30 s
	// when zero).
	MaxRateWait time.Duration
	HTTPClient  *http.Client
	Logger      *slog.Logger
	// Registerer, when set, registers the watcher's metrics.
	Registerer prometheus.Registerer
	Now        func() time.Time
}

// maxPages bounds the history pages one poll of a channel reads back.
const (
	maxPages    = 20
	pageSize    = 200
	maxBackoff  = 5 * time.Minute
	runMatchGap = 15 * time.Minute
)

// ChannelState is how reading one channel goes, for health checks.
type ChannelState struct {
	Channel     string    `json:"channel"`
	LastPoll    time.Time `json:"last_poll"`
	LastSuccess time.Time `json:"last_success"`
	// LastError is the last poll's error, "" when it went well.
	LastError string `json:"last_error,omitempty"`
}

// State is the watcher's health.
type State struct {
	// TokenError is set while Slack refuses the token.
	TokenError string         `json:"token_error,omitempty"`
	Channels   []ChannelState `json:"channels"`
}

// Watcher reads Slack alert channels and records the failures their
// alerts report, replying in each alert's thread with the incident.
type Watcher struct {
	api    *slackapi.Client
	parser *Parser
	rec    Recorder
	store  Store
	opts   Options
	log    *slog.Logger
	alerts *prometheus.CounterVec

	mu       sync.Mutex
	userID   string
	botID    string
	state    State
	channels map[string]*ChannelState

	runMu  sync.Mutex
	cancel context.CancelFunc
	done   chan struct{}
}

// New returns a Watcher; Start runs it.
func New(parser *Parser, rec Recorder, st Store, opts Options) *Watcher {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.MaxPerPoll <= 0 {
		opts.MaxPerPoll = pageSize
	}
	if opts.MaxRateWait <= 0 {
		opts.MaxRateWait = 30 * time.Second
	}
	w := &Watcher{
		api: slack.NewClient(opts.Token, opts.APIURL, opts.HTTPClient), parser: parser, rec: rec, store: st, opts: opts,
		log:      opts.Logger.With("component", "slack_alerts"),
		channels: map[string]*ChannelState{},
		alerts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "medic_slack_alerts_total",
			Help: "Messages of Slack alert channels handled, by result: matched, duplicate (the failure was already known), unmatched or error.",
		}, []string{"result"}),
	}
	for _, ch := range opts.Channels {
		cs := &ChannelState{Channel: ch}
		w.channels[ch] = cs
	}
	if opts.Registerer != nil {
		opts.Registerer.MustRegister(w.alerts, newStateCollector(w))
	}
	return w
}

// State returns the watcher's health.
func (w *Watcher) State() State {
	w.mu.Lock()
	defer w.mu.Unlock()
	s := State{TokenError: w.state.TokenError}
	for _, ch := range w.opts.Channels {
		s.Channels = append(s.Channels, *w.channels[ch])
	}
	return s
}

// PollOnce reads every channel once. It returns a *TokenError when Slack
// refuses the token, and the channels' errors joined otherwise.
func (w *Watcher) PollOnce(ctx context.Context) error {
	if err := w.identify(ctx); err != nil {
		return err
	}
	var errs []error
	for _, ch := range w.opts.Channels {
		err := w.pollChannel(ctx, ch)
		w.setChannel(ch, err)
		var te *TokenError
		if errors.As(err, &te) {
			w.setTokenError(err)
			return err
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// identify learns the bot's own ids once (auth.test), so that its own
// messages are never read as alerts.
func (w *Watcher) identify(ctx context.Context) error {
	w.mu.Lock()
	known := w.userID != "" || w.botID != ""
	w.mu.Unlock()
	if known {
		return nil
	}
	var resp *slackapi.AuthTestResponse
	err := w.call(ctx, "auth.test", "", func(ctx context.Context) error {
		var err error
		resp, err = w.api.AuthTestContext(ctx)
		return err
	})
	if err != nil {
		var te *TokenError
		if errors.As(err, &te) {
			w.setTokenError(err)
		}
		return err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.userID, w.botID = resp.UserID, resp.BotID
	w.state.TokenError = ""
	return nil
}

func (w *Watcher) setTokenError(err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.state.TokenError = err.Error()
}

func (w *Watcher) setChannel(ch string, err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	cs := w.channels[ch]
	cs.LastPoll = w.opts.Now()
	if err != nil {
		cs.LastError = err.Error()
		return
	}
	cs.LastError, cs.LastSuccess = "", cs.LastPoll
	w.state.TokenError = ""
}

// ack replies in an alert's thread with what medic made of it, unless it
// did already.
func (w *Watcher) ack(ctx context.Context, row *store.SlackAlert) error {
	if row.ReplyTS != "" {
		return nil
	}
	var text string
	switch {
	case row.IncidentID != "":
		how := row.Reason
		if how != "new" {
			how = "joined"
		}
		text = fmt.Sprintf("medic recorded this as incident %s (%s) — %s", row.IncidentID, how, w.link(row.IncidentID))
	case w.opts.ReplyUnmatched:
		text = "medic could not read this alert: " + row.Reason
	default:
		return nil
	}
	ts, err := w.reply(ctx, row.Channel, row.TS, text)
	if err != nil {
		return err
	}
	return w.store.SlackAlertSetReply(ctx, row.Channel, row.TS, ts)
}

func (w *Watcher) link(incidentID string) string {
	// The same link the incident's reports carry (report.Load).
	return strings.TrimSuffix(w.opts.BaseURL, "/") + "/api/v1/incidents/" + incidentID
}

// reply posts text in a thread, marked as medic's.
func (w *Watcher) reply(ctx context.Context, ch, threadTS, text string) (string, error) {
	var ts string
	err := w.call(ctx, "chat.postMessage", ch, func(ctx context.Context) error {
		var err error
		_, ts, err = w.api.PostMessageContext(ctx, ch, slackapi.MsgOptionText(escape(text), false), slackapi.MsgOptionTS(threadTS),
			slackapi.MsgOptionMetadata(slackapi.SlackMetadata{EventType: AckMetadataType, EventPayload: map[string]any{"alert_ts": threadTS}}))
		return err
	})
	return ts, err
}

// call runs one Web API call through the watcher's caller.
func (w *Watcher) call(ctx context.Context, method, channel string, fn func(context.Context) error) error {
	return caller{log: w.log, maxWait: w.opts.MaxRateWait}.call(ctx, method, channel, fn)
}

// caller runs Web API calls with a timeout each, waiting out Slack's rate
// limit (Retry-After) while that fits in maxWait; beyond it, or on any
// other error, the typed error is returned and the caller tries again
// later.
type caller struct {
	log     *slog.Logger
	maxWait time.Duration
}

func (c caller) call(ctx context.Context, method, channel string, fn func(context.Context) error) error {
	wait, err := slack.WaitOutRateLimit(ctx, c.log, c.maxWait, func(ctx context.Context) error {
		cctx, cancel := context.WithTimeoutCause(ctx, 30*time.Second, fmt.Errorf("slack %s took longer than 30s", method))
		defer cancel()
		return fn(cctx)
	}, "method", method, "channel", channel)
	var rl *slackapi.RateLimitedError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &rl):
		return &RateLimitError{Method: method, RetryAfter: wait, Err: err}
	}
	return classify(method, channel, err)
}

// Start polls every interval until Stop. A failed poll is logged and
// retried; while Slack refuses the token the wait doubles up to 5 min.
func (w *Watcher) Start(ctx context.Context) error {
	w.runMu.Lock()
	defer w.runMu.Unlock()
	if w.cancel != nil {
		return errors.New("slack alert watcher already started")
	}
	if w.opts.Interval <= 0 {
		return fmt.Errorf("slack alert watcher: interval must be positive, got %s", w.opts.Interval)
	}
	ctx, w.cancel = context.WithCancel(context.WithoutCancel(ctx))
	w.done = make(chan struct{})
	go func() {
		defer close(w.done)
		backoff := time.Duration(0)
		for {
			wait := w.opts.Interval
			err := w.PollOnce(ctx)
			var te *TokenError
			switch {
			case ctx.Err() != nil:
				return
			case errors.As(err, &te):
				backoff = min(max(2*backoff, 2*w.opts.Interval), maxBackoff)
				wait = backoff
				w.log.ErrorContext(ctx, "slack token refused; alert channels are not read until it is replaced",
					"code", te.Code, "error", err, "retry_in", wait)
			case err != nil:
				backoff = 0
				w.log.ErrorContext(ctx, "slack alert poll failed", "error", err)
			default:
				backoff = 0
			}
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
		}
	}()
	return nil
}

// Stop stops polling and waits for the current poll to end. It is
// idempotent.
func (w *Watcher) Stop() {
	w.runMu.Lock()
	cancel, done := w.cancel, w.done
	w.runMu.Unlock()
	if cancel == nil {
		return
	}
	cancel()
	<-done
}

// formatTS is a time as a Slack timestamp.
func formatTS(t time.Time) string {
	us := t.UnixMicro()
	return fmt.Sprintf("%d.%06d", us/1e6, us%1e6)
}

// tsTime is a Slack timestamp as a time; zero when it is not one.
func tsTime(ts string) time.Time {
	sec, frac, _ := strings.Cut(ts, ".")
	s, err := strconv.ParseInt(sec, 10, 64)
	if err != nil {
		return time.Time{}
	}
	frac = (frac + "000000")[:6]
	us, _ := strconv.ParseInt(frac, 10, 64)
	return time.Unix(s, us*1000).UTC()
}

// compareTS orders Slack timestamps numerically.
func compareTS(a, b string) int {
	if len(a) != len(b) {
		return len(a) - len(b)
	}
	return strings.Compare(a, b)
}
