// Package slacktest is a Slack Web API of medic's own for tests: an httptest
// server that answers the methods medic calls (chat.postMessage,
// chat.update, conversations.history, auth.test) the way Slack does, records
// every request, hands out strictly increasing timestamps and fails on
// demand (Slack errors, 429 rate limits, 503 outages). It exists because
// slack-go's slacktest records nothing, reuses timestamps and lacks
// chat.update. It must never talk to the real Slack.
package slacktest

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	slackapi "github.com/slack-go/slack"
)

// DefaultToken is the bot token a Server accepts unless WithToken says
// otherwise.
const DefaultToken = "xoxb-medic-test"

// Identity of the bot that auth.test reports and messages are posted as.
const (
	TeamID = "T0MEDIC"
	UserID = "U0MEDIC"
	BotID  = "B0MEDIC"
)

// firstTS is the first timestamp handed out, in microseconds: 1700000000.000100.
const firstTS = 1700000000_000100

// Request is one API call as the server received it.
type Request struct {
	// Method is the Web API method, like "chat.postMessage".
	Method string
	// Form holds the call's fields: the form for a form-encoded body (as
	// slack-go sends), the query of a GET, or a JSON body's top-level
	// fields, strings as they are and anything else as its JSON.
	Form url.Values
	// Token is the token the call carried, as a form field or a bearer
	// header.
	Token string
	// Blocks is the parsed "blocks" field, nil when the call had none.
	Blocks []any
	Time   time.Time
}

// Message is a message in a channel, as stored or as seeded.
type Message struct {
	// TS is the message's timestamp; Seed assigns one when empty.
	TS string
	// ThreadTS is the parent's timestamp for a thread reply, "" for a
	// parent.
	ThreadTS string
	Text     string
	// Blocks is the message's blocks JSON, nil for none.
	Blocks json.RawMessage
	// Metadata is the message's metadata, nil for none.
	Metadata *slackapi.SlackMetadata
	// Attachments are a seeded message's legacy attachments, as bots
	// such as Airflow's Slack webhooks post them.
	Attachments []slackapi.Attachment
	// SubType is a seeded message's subtype ("bot_message",
	// "channel_join", ...), "" for a plain message.
	SubType string
	// User and BotID say who posted it; messages posted through the API
	// are the bot's.
	User  string
	BotID string
	// Updates counts the chat.update calls applied to the message.
	Updates int
	// Replies are a parent's thread replies, oldest first (filled by
	// Messages only).
	Replies []Message
}

// Option configures a Server.
type Option func(*Server)

// WithToken sets the one token the server accepts; every other token gets
// invalid_auth.
func WithToken(token string) Option { return func(s *Server) { s.token = token } }

// WithClock sets the clock requests are recorded with, and makes
// timestamps follow it (still strictly increasing) instead of counting up
// from 1700000000.000100: for code that looks for its messages in a window
// of history around its own times.
func WithClock(now func() time.Time) Option {
	return func(s *Server) { s.now, s.clockTS = now, true }
}

type fault struct {
	slackErr   string
	retryAfter time.Duration // > 0 for a rate limit
	left       int           // calls left; < 0 for every call
}

// Server is a fake Slack Web API. Its methods are safe for concurrent use.
type Server struct {
	srv   *httptest.Server
	token string
	now   func() time.Time
	// clockTS makes timestamps follow now.
	clockTS bool

	mu       sync.Mutex
	requests []Request
	channels map[string][]*Message // oldest first, parents and replies
	lastTS   int64                 // microseconds
	faults   map[string][]*fault
	down     bool
}

// New starts a server. With a non-nil tb it is closed when the test ends;
// without one the caller calls Close.
func New(tb testing.TB, opts ...Option) *Server {
	s := &Server{
		token:    DefaultToken,
		now:      time.Now,
		channels: map[string][]*Message{},
		lastTS:   firstTS - 100,
		faults:   map[string][]*fault{},
	}
	for _, o := range opts {
		o(s)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/api/{method}", s.serve)
	s.srv = httptest.NewServer(mux)
	if tb != nil {
		tb.Cleanup(s.Close)
	}
	return s
}

// URL is the API's base URL without a trailing slash. slack-go appends the
// method name to its APIURL as it is, so pass URL()+"/" to
// slackapi.OptionAPIURL.
func (s *Server) URL() string { return s.srv.URL + "/api" }

// Token is the token the server accepts.
func (s *Server) Token() string { return s.token }

// Client returns a slack-go client for the server with its valid token.
func (s *Server) Client(opts ...slackapi.Option) *slackapi.Client {
	return slackapi.New(s.token, append([]slackapi.Option{slackapi.OptionAPIURL(s.URL() + "/")}, opts...)...)
}

// Close shuts the server down. It is idempotent.
func (s *Server) Close() { s.srv.Close() }

// Fail makes the next count calls of method (every call when count <= 0,
// every method for "*") answer {"ok":false,"error":slackErr}.
func (s *Server) Fail(method, slackErr string, count int) {
	s.addFault(method, &fault{slackErr: slackErr, left: left(count)})
}

// RateLimit makes the next count calls of method (every call when count
// <= 0, every method for "*") answer HTTP 429 with a Retry-After header of
// retryAfter in whole seconds, rounded up, as Slack does.
func (s *Server) RateLimit(method string, retryAfter time.Duration, count int) {
	s.addFault(method, &fault{slackErr: "ratelimited", retryAfter: max(retryAfter, time.Second), left: left(count)})
}

// Down makes every call answer 503 Service Unavailable while down is true.
func (s *Server) Down(down bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.down = down
}

// Reset clears the failures set with Fail and RateLimit.
func (s *Server) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = map[string][]*fault{}
}

func left(count int) int {
	if count <= 0 {
		return -1
	}
	return count
}

func (s *Server) addFault(method string, f *fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults[method] = append(s.faults[method], f)
}

// takeFault consumes the first pending fault for method, nil for none.
func (s *Server) takeFault(method string) *fault {
	for _, key := range []string{method, "*"} {
		fs := s.faults[key]
		for len(fs) > 0 && fs[0].left == 0 {
			fs = fs[1:]
		}
		s.faults[key] = fs
		if len(fs) > 0 {
			if fs[0].left > 0 {
				fs[0].left--
			}
			return fs[0]
		}
	}
	return nil
}

// Seed adds messages to a channel's history as if they had been posted
// before (an alert channel's messages, for instance). A message without a
// TS gets the next timestamp; the server's own timestamps stay after every
// seeded one.
func (s *Server) Seed(channel string, msgs ...Message) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range msgs {
		m.Replies = nil
		if m.TS == "" {
			m.TS = s.nextTS()
		} else if us, ok := parseTS(m.TS); ok && us > s.lastTS {
			s.lastTS = us
		}
		s.insert(channel, &m)
	}
}

// insert keeps a channel sorted by timestamp, oldest first.
func (s *Server) insert(channel string, m *Message) {
	msgs := s.channels[channel]
	i, _ := slices.BinarySearchFunc(msgs, m.TS, func(e *Message, ts string) int { return compareTS(e.TS, ts) })
	s.channels[channel] = slices.Insert(msgs, i, m)
}

// Requests returns every request received so far, in order.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.requests)
}

// RequestsFor returns the requests of one method, in order.
func (s *Server) RequestsFor(method string) []Request {
	var out []Request
	for _, r := range s.Requests() {
		if r.Method == method {
			out = append(out, r)
		}
	}
	return out
}

// Messages returns a channel's parent messages, oldest first, each as it
// stands now with its thread replies.
func (s *Server) Messages(channel string) []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Message
	index := map[string]int{}
	for _, m := range s.channels[channel] {
		if m.ThreadTS == "" || m.ThreadTS == m.TS {
			index[m.TS] = len(out)
			c := *m
			c.Replies = nil
			out = append(out, c)
		}
	}
	for _, m := range s.channels[channel] {
		if i, ok := index[m.ThreadTS]; ok && m.ThreadTS != m.TS {
			out[i].Replies = append(out[i].Replies, *m)
		}
	}
	return out
}

// nextTS hands out the next timestamp; callers hold mu.
func (s *Server) nextTS() string {
	if now := s.now().UnixMicro(); s.clockTS && now > s.lastTS {
		s.lastTS = now
		return formatTS(s.lastTS)
	}
	s.lastTS += 100
	return formatTS(s.lastTS)
}

func formatTS(us int64) string { return fmt.Sprintf("%d.%06d", us/1e6, us%1e6) }

// parseTS reads "1700000000.000100" as microseconds.
func parseTS(ts string) (int64, bool) {
	sec, frac, _ := strings.Cut(ts, ".")
	if len(frac) > 6 {
		return 0, false
	}
	frac += strings.Repeat("0", 6-len(frac))
	a, err1 := strconv.ParseInt(sec, 10, 64)
	b, err2 := strconv.ParseInt(frac, 10, 64)
	if err1 != nil || err2 != nil || a > math.MaxInt64/1_000_000-1 {
		return 0, false
	}
	return a*1e6 + b, true
}

// compareTS orders timestamps numerically, unparsable ones as strings.
func compareTS(a, b string) int {
	x, ok1 := parseTS(a)
	y, ok2 := parseTS(b)
	if !ok1 || !ok2 {
		return strings.Compare(a, b)
	}
	switch {
	case x < y:
		return -1
	case x > y:
		return 1
	}
	return 0
}
