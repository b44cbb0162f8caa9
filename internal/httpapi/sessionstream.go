package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/medic-sh/medic/internal/incident"
	"github.com/medic-sh/medic/internal/store"
)

// Defaults of StreamOptions.
const (
	DefaultStreamPoll          = 250 * time.Millisecond
	DefaultStreamHeartbeat     = 15 * time.Second
	DefaultStreamMaxDuration   = 30 * time.Minute
	DefaultStreamMaxConcurrent = 64
)

// StreamOptions bounds GET /api/v1/sessions/{id}/events. Zero values take
// the defaults.
type StreamOptions struct {
	// Poll is how often a stream asks the store for new events. Streams poll
	// the database rather than listen in process, so that a stream served by
	// one replica sees the events every other replica writes.
	Poll time.Duration
	// Heartbeat is how often a stream sends a comment line, so that
	// proxies and clients can tell an idle stream from a dead one.
	Heartbeat time.Duration
	// MaxDuration ends a stream after this long; the client reconnects with
	// Last-Event-ID and misses nothing.
	MaxDuration time.Duration
	// MaxConcurrent bounds the streams open on this server at once; one more
	// is refused with 503 and Retry-After.
	MaxConcurrent int
	// Closing, once closed, ends every open stream, so that a graceful
	// shutdown does not wait out their MaxDuration. The daemon closes it as
	// it starts shutting down (http.Server.RegisterOnShutdown).
	Closing <-chan struct{}
}

func (o *StreamOptions) resolve() error {
	for _, d := range []struct {
		name string
		v    *time.Duration
		def  time.Duration
	}{
		{"Poll", &o.Poll, DefaultStreamPoll},
		{"Heartbeat", &o.Heartbeat, DefaultStreamHeartbeat},
		{"MaxDuration", &o.MaxDuration, DefaultStreamMaxDuration},
	} {
		switch {
		case *d.v < 0:
			return fmt.Errorf("httpapi: Streams.%s must not be negative, got %s", d.name, *d.v)
		case *d.v == 0:
			*d.v = d.def
		}
	}
	switch {
	case o.MaxConcurrent < 0:
		return fmt.Errorf("httpapi: Streams.MaxConcurrent must not be negative, got %d", o.MaxConcurrent)
	case o.MaxConcurrent == 0:
		o.MaxConcurrent = DefaultStreamMaxConcurrent
	}
	return nil
}

const (
	// streamPage is how many events one store read fetches.
	streamPage = 200
	// streamWriteTimeout bounds each write to a client: one that reads
	// nothing for this long loses its stream.
	streamWriteTimeout = 30 * time.Second
	// streamRecheck is how many polls pass between checks that the tree is
	// final when no finished event suggested it.
	streamRecheck = 20
	// streamRetryMillis is the reconnection delay the stream asks clients
	// for.
	streamRetryMillis = 1000
)

// errClientGone stops a stream whose client stopped reading.
var errClientGone = errors.New("event stream client gone")

// streamEnd is the data of the last event of a stream, which says how the
// session ended.
type streamEnd struct {
	SessionID string                 `json:"session_id"`
	Status    incident.SessionStatus `json:"status"`
}

// streamSessionEvents serves a session's events and its descendants' as
// Server-Sent Events, from the event after Last-Event-ID (or ?after=), until
// the whole tree is final (an "end" event), the client leaves, the server
// shuts down or the stream's time is up.
func (s *server) streamSessionEvents(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	missing := notFound(fmt.Sprintf("session %s not found", clip(id, 100)))
	if len(id) > 200 {
		return missing
	}
	after, err := streamCursor(r)
	if err != nil {
		return err
	}
	if _, err := s.store.SessionGetByID(r.Context(), id); errors.Is(err, store.ErrNotFound) {
		return missing
	} else if err != nil {
		return fmt.Errorf("get session %s: %w", id, err)
	}
	select {
	case s.streamSlots <- struct{}{}:
		defer func() { <-s.streamSlots }()
	default:
		return &apiError{
			status: http.StatusServiceUnavailable, code: codeUnavailable,
			message: fmt.Sprintf("this server has %d event streams open, its limit: retry shortly or poll GET /api/v1/sessions/%s",
				s.streams.MaxConcurrent, clip(id, 100)),
			headers: map[string]string{"Retry-After": "5"},
		}
	}
	s.metrics.streams.Inc()
	defer s.metrics.streams.Dec()
	st := &eventStream{server: s, w: w, rc: http.NewResponseController(w), sessionID: id, after: after}
	st.run(r.Context())
	return nil
}

// streamCursor reads where a client resumes: the Last-Event-ID header a
// reconnecting EventSource sends, else the after query parameter.
func streamCursor(r *http.Request) (int64, error) {
	q := r.URL.Query()
	for name := range q {
		if name != "after" {
			return 0, badParam(name, fmt.Sprintf("unknown query parameter %q: the only one is after", clip(name, 64)))
		}
	}
	if len(q["after"]) > 1 {
		return 0, badParam("after", "after may be given only once")
	}
	name, v := "Last-Event-ID", strings.TrimSpace(r.Header.Get("Last-Event-ID"))
	if v == "" {
		name, v = "after", q.Get("after")
	}
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return 0, badParam(name, fmt.Sprintf("%s must be the id of an event this stream sent (a whole number), got %q", name, clip(v, 32)))
	}
	return n, nil
}

// eventStream is one client's open stream.
type eventStream struct {
	*server
	w         http.ResponseWriter
	rc        *http.ResponseController
	sessionID string
	after     int64
	buf       bytes.Buffer
}

func (st *eventStream) run(ctx context.Context) {
	h := st.w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Accel-Buffering", "no") // nginx would otherwise hold events back
	// A stream outlives the server's read timeout, whose expiry would
	// otherwise cancel the request; each write gets its own deadline below.
	_ = st.rc.SetReadDeadline(time.Time{})
	st.w.WriteHeader(http.StatusOK)
	fmt.Fprintf(&st.buf, "retry: %d\n\n", streamRetryMillis)
	if !st.flush(ctx) {
		return
	}
	limit := time.NewTimer(st.streams.MaxDuration)
	defer limit.Stop()
	poll := time.NewTicker(st.streams.Poll)
	defer poll.Stop()
	heartbeat := time.NewTicker(st.streams.Heartbeat)
	defer heartbeat.Stop()

	check, polls := true, 0
	for {
		// Statuses first, events second: a finished event commits with its
		// status, so every event of a tree seen final is read below.
		var (
			end *streamEnd
			err error
		)
		if check {
			if end, err = st.treeEnd(ctx); err != nil {
				st.fail(ctx, err)
				return
			}
		}
		sawFinished, err := st.drain(ctx)
		if err != nil {
			st.fail(ctx, err)
			return
		}
		if end != nil {
			st.frame("", "end", end)
			st.flush(ctx)
			return
		}
		if sawFinished {
			check = true
			continue
		}
		select {
		case <-ctx.Done():
			return
		case <-st.streams.Closing:
			st.comment(ctx, "medic is shutting down: reconnect with Last-Event-ID")
			return
		case <-limit.C:
			st.comment(ctx, "stream time limit reached: reconnect with Last-Event-ID")
			return
		case <-heartbeat.C:
			if !st.comment(ctx, "heartbeat") {
				return
			}
		case <-poll.C:
			polls++
			check = polls%streamRecheck == 0
		}
	}
}

// drain writes every event after the cursor and reports whether one of them
// finished a session.
func (st *eventStream) drain(ctx context.Context) (bool, error) {
	sawFinished := false
	for {
		evs, err := st.store.SessionEventList(ctx, &store.SessionEventListParams{
			SessionID: st.sessionID, Tree: true, AfterID: st.after, Limit: streamPage,
		})
		if err != nil {
			return false, fmt.Errorf("list events of session %s after %d: %w", st.sessionID, st.after, err)
		}
		for _, e := range evs {
			st.frame(strconv.FormatInt(e.ID, 10), string(e.Kind), e)
			st.after = e.ID
			sawFinished = sawFinished || e.Kind == incident.SessionEventFinished
		}
		if len(evs) > 0 && !st.flush(ctx) {
			return false, errClientGone
		}
		if len(evs) < streamPage {
			return sawFinished, nil
		}
	}
}

// treeEnd returns how the stream ends when the session and every session
// under it are final, and nil while any of them works.
func (st *eventStream) treeEnd(ctx context.Context) (*streamEnd, error) {
	root, err := st.store.SessionGetByID(ctx, st.sessionID)
	if err != nil {
		return nil, fmt.Errorf("get session %s: %w", st.sessionID, err)
	}
	if !root.Status.Final() {
		return nil, nil
	}
	// The tree is at most incident.MaxSessionDepth deep.
	for queue := []string{root.ID}; len(queue) > 0; queue = queue[1:] {
		kids, err := st.store.SessionListChildren(ctx, queue[0])
		if err != nil {
			return nil, fmt.Errorf("list children of session %s: %w", queue[0], err)
		}
		for _, k := range kids {
			if !k.Status.Final() {
				return nil, nil
			}
			queue = append(queue, k.ID)
		}
	}
	return &streamEnd{SessionID: root.ID, Status: root.Status}, nil
}

// frame buffers one event. JSON has no raw newlines, so data is one line.
func (st *eventStream) frame(id, event string, v any) {
	if id != "" {
		fmt.Fprintf(&st.buf, "id: %s\n", id)
	}
	fmt.Fprintf(&st.buf, "event: %s\ndata: ", event)
	enc := json.NewEncoder(&st.buf)
	enc.SetEscapeHTML(false) // as writeJSON: texts read as sent
	if err := enc.Encode(v); err != nil {
		st.buf.WriteString("{}\n")
	}
	st.buf.WriteString("\n")
}

// comment writes a comment line, which clients ignore.
func (st *eventStream) comment(ctx context.Context, text string) bool {
	fmt.Fprintf(&st.buf, ": %s\n\n", text)
	return st.flush(ctx)
}

// flush sends what is buffered; false means the client is gone.
func (st *eventStream) flush(ctx context.Context) bool {
	_ = st.rc.SetWriteDeadline(time.Now().Add(streamWriteTimeout))
	_, err := io.Copy(st.w, &st.buf)
	st.buf.Reset()
	if err == nil {
		err = st.rc.Flush()
	}
	if err != nil {
		st.log.DebugContext(ctx, "event stream client gone", "session_id", st.sessionID, "request_id", requestIDFrom(ctx), "err", err)
		return false
	}
	return true
}

// fail ends a stream on a store failure: the client reconnects and resumes.
func (st *eventStream) fail(ctx context.Context, err error) {
	if ctx.Err() != nil || errors.Is(err, errClientGone) {
		return // the client left; cancellation is not an error
	}
	st.log.ErrorContext(ctx, "event stream failed", "session_id", st.sessionID, "request_id", requestIDFrom(ctx), "err", err)
	st.comment(ctx, "internal error: reconnect with Last-Event-ID; quote request id "+requestIDFrom(ctx))
}
