package httpapi_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/medic-sh/medic/internal/httpapi"
	"github.com/medic-sh/medic/internal/incident"
	"github.com/medic-sh/medic/internal/store"
)

// sseEvent is one dispatched Server-Sent Event.
type sseEvent struct {
	id, event, data string
}

// sseReader reads a stream frame by frame, as a browser's EventSource
// would, keeping the comments it skips.
type sseReader struct {
	sc       *bufio.Scanner
	comments []string
	retry    string
}

func newSSEReader(r io.Reader) *sseReader {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	return &sseReader{sc: sc}
}

// line returns the next raw line.
func (r *sseReader) line() (string, error) {
	if r.sc.Scan() {
		return r.sc.Text(), nil
	}
	if err := r.sc.Err(); err != nil {
		return "", err
	}
	return "", io.EOF
}

// next returns the next event, or io.EOF when the stream ended.
func (r *sseReader) next() (sseEvent, error) {
	var ev sseEvent
	for r.sc.Scan() {
		line := r.sc.Text()
		field, value, _ := strings.Cut(line, ":")
		value = strings.TrimPrefix(value, " ")
		switch {
		case line == "":
			if ev.event != "" || ev.data != "" {
				return ev, nil
			}
		case field == "":
			r.comments = append(r.comments, value)
		case field == "id":
			ev.id = value
		case field == "event":
			ev.event = value
		case field == "data":
			ev.data += value
		case field == "retry":
			r.retry = value
		}
	}
	if err := r.sc.Err(); err != nil {
		return ev, err
	}
	return ev, io.EOF
}

// streamHead is the status and headers of a stream's answer.
type streamHead struct {
	StatusCode int
	Header     http.Header
}

// stream opens GET path as an event stream; headers are name, value pairs.
// The stream is read until the test ends or it does.
func (b *testBundle) stream(ctx context.Context, t *testing.T, srv *httptest.Server, path, token string, headers ...string) (*streamHead, *sseReader) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+path, nil)
	require.NoError(t, err)
	req.Header.Set("Accept", "text/event-stream")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := srv.Client().Do(req)
	require.NoError(t, err)
	t.Cleanup(func() { _ = resp.Body.Close() })
	return &streamHead{StatusCode: resp.StatusCode, Header: resp.Header}, newSSEReader(resp.Body)
}

func fastStreams(opts httpapi.StreamOptions) func(d *httpapi.Deps) {
	return func(d *httpapi.Deps) {
		if opts.Poll == 0 {
			opts.Poll = 10 * time.Millisecond
		}
		d.Streams = opts
	}
}

// streamCtx bounds a test's stream, so a stream that never ends fails the
// test instead of hanging it.
func streamCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func (b *testBundle) runningRoot(t *testing.T, run string) *incident.Session {
	t.Helper()
	inc := b.record(t, "etl", run, "load").Incident
	root, err := b.store.SessionSetStatus(context.Background(), &store.SessionSetStatusParams{ID: inc.TriageSessionID, Status: incident.SessionRunning})
	require.NoError(t, err)
	return root
}

func (b *testBundle) spawn(t *testing.T, parent *incident.Session, agents ...string) []*incident.Session {
	t.Helper()
	p := &store.SessionSpawnParams{ParentID: parent.ID, Deadline: time.Now().Add(time.Minute)}
	for _, a := range agents {
		p.Children = append(p.Children, store.SessionChild{Agent: a, Input: json.RawMessage(`{"focus":"` + a + `"}`)})
	}
	kids, err := b.store.SessionSpawn(context.Background(), p)
	require.NoError(t, err)
	return kids
}

func (b *testBundle) post(t *testing.T, s *incident.Session, kind incident.SessionEventKind, msg string) *incident.SessionEvent {
	t.Helper()
	e, err := b.store.SessionEventAppend(context.Background(), s.Event(kind, msg, nil))
	require.NoError(t, err)
	return e
}

func (b *testBundle) finish(t *testing.T, id string, st incident.SessionStatus) {
	t.Helper()
	_, err := b.store.SessionFinish(context.Background(), &store.SessionFinishParams{ID: id, Status: st})
	require.NoError(t, err)
}

// decodeEvent decodes an event's data as a SessionEvent and checks it
// matches the frame's id and event name.
func decodeEvent(t *testing.T, ev sseEvent) *incident.SessionEvent {
	t.Helper()
	var se incident.SessionEvent
	require.NoError(t, json.Unmarshal([]byte(ev.data), &se), "data: %s", ev.data)
	require.Equal(t, strconv.FormatInt(se.ID, 10), ev.id)
	require.Equal(t, string(se.Kind), ev.event)
	return &se
}

func TestSessionEventsStreamLive(t *testing.T) {
	t.Parallel()
	b := setup(t, fastStreams(httpapi.StreamOptions{}))
	root := b.runningRoot(t, "run1")
	resp, sse := b.stream(streamCtx(t), t, b.srv, "/api/v1/sessions/"+root.ID+"/events", viewerToken)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "text/event-stream", resp.Header.Get("Content-Type"))
	require.Equal(t, "no-store", resp.Header.Get("Cache-Control"))

	// Each step waits for the event before the next happens: the stream
	// delivers while the investigation runs, not when it ends.
	expect := func(kind incident.SessionEventKind, agent, message string) *incident.SessionEvent {
		t.Helper()
		ev, err := sse.next()
		require.NoError(t, err)
		se := decodeEvent(t, ev)
		require.Equal(t, kind, se.Kind)
		require.Equal(t, agent, se.Agent)
		require.Equal(t, message, se.Message)
		require.Equal(t, root.IncidentID, se.IncidentID)
		return se
	}
	expect(incident.SessionEventStarted, "incident-commander", "started")
	require.Equal(t, "1000", sse.retry, "the stream says how soon to reconnect")

	kids := b.spawn(t, root, "log-analyzer", "query-profiler")
	spawned := expect(incident.SessionEventSpawned, "incident-commander", "started log-analyzer")
	require.Contains(t, string(spawned.Data), kids[0].ID)
	expect(incident.SessionEventSpawned, "incident-commander", "started query-profiler")
	view := b.do(t, http.MethodGet, "/api/v1/sessions/"+root.ID, viewerToken, nil)
	require.Equal(t, []any{kids[0].ID, kids[1].ID}, view.body["child_session_ids"], "children show as they appear")

	steps := []struct {
		do      func()
		kind    incident.SessionEventKind
		agent   string
		message string
	}{
		{func() { b.post(t, kids[0], incident.SessionEventProgress, "reading the log tail") }, incident.SessionEventProgress, "log-analyzer", "reading the log tail"},
		{func() { b.post(t, kids[1], incident.SessionEventFinding, "lock wait on orders") }, incident.SessionEventFinding, "query-profiler", "lock wait on orders"},
		{func() { b.finish(t, kids[0].ID, incident.SessionCompleted) }, incident.SessionEventFinished, "log-analyzer", "completed"},
		{func() { b.finish(t, kids[1].ID, incident.SessionTimedOut) }, incident.SessionEventFinished, "query-profiler", "timed_out"},
		{func() { b.post(t, root, incident.SessionEventProgress, "composing") }, incident.SessionEventProgress, "incident-commander", "composing"},
		{func() { b.finish(t, root.ID, incident.SessionPartial) }, incident.SessionEventFinished, "incident-commander", "partial"},
	}
	var last int64
	for _, s := range steps {
		s.do()
		se := expect(s.kind, s.agent, s.message)
		require.Greater(t, se.ID, last)
		last = se.ID
	}
	ev, err := sse.next()
	require.NoError(t, err)
	require.Equal(t, "end", ev.event, "the tree is final")
	require.Empty(t, ev.id, "end has no id, so a resume after it replays nothing")
	require.JSONEq(t, `{"session_id":"`+root.ID+`","status":"partial"}`, ev.data)
	_, err = sse.next()
	require.ErrorIs(t, err, io.EOF, "the server ends the stream")
}

func TestSessionEventsResume(t *testing.T) {
	t.Parallel()
	b := setup(t, fastStreams(httpapi.StreamOptions{}))
	root := b.runningRoot(t, "run1")
	kid := b.spawn(t, root, "log-analyzer")[0]
	b.post(t, kid, incident.SessionEventProgress, "one")
	b.post(t, kid, incident.SessionEventProgress, "two")
	b.finish(t, kid.ID, incident.SessionCompleted)
	b.finish(t, root.ID, incident.SessionCompleted)
	all, err := b.store.SessionEventList(context.Background(), &store.SessionEventListParams{SessionID: root.ID, Tree: true})
	require.NoError(t, err)
	require.Len(t, all, 6)
	ids := func(from int) []string {
		var out []string
		for _, e := range all[from:] {
			out = append(out, strconv.FormatInt(e.ID, 10))
		}
		return out
	}
	third := strconv.FormatInt(all[2].ID, 10)

	tests := []struct {
		name    string
		query   string
		headers []string
		want    []string
	}{
		{"from the start", "", nil, ids(0)},
		{"Last-Event-ID", "", []string{"Last-Event-ID", third}, ids(3)},
		{"after", "?after=" + third, nil, ids(3)},
		{"Last-Event-ID over after", "?after=1", []string{"Last-Event-ID", third}, ids(3)},
		{"after the last", "", []string{"Last-Event-ID", strconv.FormatInt(all[5].ID, 10)}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			resp, sse := b.stream(streamCtx(t), t, b.srv, "/api/v1/sessions/"+root.ID+"/events"+tt.query, viewerToken, tt.headers...)
			require.Equal(t, http.StatusOK, resp.StatusCode)
			var got []string
			for {
				ev, err := sse.next()
				require.NoError(t, err)
				if ev.event == "end" {
					require.JSONEq(t, `{"session_id":"`+root.ID+`","status":"completed"}`, ev.data)
					break
				}
				decodeEvent(t, ev)
				got = append(got, ev.id)
			}
			require.Equal(t, tt.want, got)
		})
	}
}

func TestSessionEventsRefused(t *testing.T) {
	t.Parallel()
	b := setup(t, fastStreams(httpapi.StreamOptions{}))
	root := b.runningRoot(t, "run1")
	path := "/api/v1/sessions/" + root.ID + "/events"
	tests := []struct {
		name    string
		path    string
		token   string
		headers []string
		status  int
		code    string
	}{
		{"no token", path, "", nil, http.StatusUnauthorized, "unauthorized"},
		{"unknown token", path, "not-a-token-0123456789", nil, http.StatusUnauthorized, "unauthorized"},
		{"unknown session", "/api/v1/sessions/ses_missing/events", viewerToken, nil, http.StatusNotFound, "not_found"},
		{"long id", "/api/v1/sessions/" + strings.Repeat("x", 300) + "/events", viewerToken, nil, http.StatusNotFound, "not_found"},
		{"bad Last-Event-ID", path, viewerToken, []string{"Last-Event-ID", "abc"}, http.StatusBadRequest, "invalid_parameter"},
		{"negative after", path + "?after=-1", viewerToken, nil, http.StatusBadRequest, "invalid_parameter"},
		{"after twice", path + "?after=1&after=2", viewerToken, nil, http.StatusBadRequest, "invalid_parameter"},
		{"unknown parameter", path + "?since=1", viewerToken, nil, http.StatusBadRequest, "invalid_parameter"},
		{"wrong method", path, viewerToken, nil, http.StatusMethodNotAllowed, "method_not_allowed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			method := http.MethodGet
			if tt.name == "wrong method" {
				method = http.MethodPost
			}
			resp := b.do(t, method, tt.path, tt.token, nil, tt.headers...)
			require.Equal(t, tt.status, resp.status, "body: %s", resp.raw)
			require.Equal(t, "application/json", resp.header.Get("Content-Type"), "a refusal is a JSON error, not a stream")
			require.Equal(t, tt.code, resp.errorCode())
		})
	}
}

func TestSessionEventsLoopbackMode(t *testing.T) {
	t.Parallel()
	b := setup(t, loopbackMode, fastStreams(httpapi.StreamOptions{}))
	root := b.runningRoot(t, "run1")
	b.finish(t, root.ID, incident.SessionCompleted)
	resp, sse := b.stream(streamCtx(t), t, b.srv, "/api/v1/sessions/"+root.ID+"/events", "")
	require.Equal(t, http.StatusOK, resp.StatusCode, "no token needed on loopback")
	var names []string
	for {
		ev, err := sse.next()
		if err != nil {
			require.ErrorIs(t, err, io.EOF)
			break
		}
		names = append(names, ev.event)
	}
	require.Equal(t, []string{"started", "finished", "end"}, names)
}

func TestSessionEventsBounds(t *testing.T) {
	t.Parallel()
	closing := make(chan struct{})
	tests := []struct {
		name    string
		opts    httpapi.StreamOptions
		trigger func()
		comment string
	}{
		{"time limit", httpapi.StreamOptions{MaxDuration: 100 * time.Millisecond}, func() {}, "stream time limit reached: reconnect with Last-Event-ID"},
		{"shutdown", httpapi.StreamOptions{Closing: closing}, func() { close(closing) }, "medic is shutting down: reconnect with Last-Event-ID"},
		{"heartbeat", httpapi.StreamOptions{Heartbeat: 20 * time.Millisecond, MaxDuration: 300 * time.Millisecond}, func() {}, "heartbeat"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, fastStreams(tt.opts))
			root := b.runningRoot(t, "run1")
			resp, sse := b.stream(streamCtx(t), t, b.srv, "/api/v1/sessions/"+root.ID+"/events", viewerToken)
			require.Equal(t, http.StatusOK, resp.StatusCode)
			ev, err := sse.next()
			require.NoError(t, err)
			require.Equal(t, "started", ev.event)
			tt.trigger()
			_, err = sse.next()
			require.ErrorIs(t, err, io.EOF, "the stream ends without an end event")
			require.Contains(t, sse.comments, tt.comment)
		})
	}
}

func TestSessionEventsConcurrencyLimit(t *testing.T) {
	t.Parallel()
	b := setup(t, fastStreams(httpapi.StreamOptions{MaxConcurrent: 1}))
	root := b.runningRoot(t, "run1")
	path := "/api/v1/sessions/" + root.ID + "/events"
	ctx, cancel := context.WithCancel(streamCtx(t))
	resp, sse := b.stream(ctx, t, b.srv, path, viewerToken)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	_, err := sse.next()
	require.NoError(t, err)

	busy := b.do(t, http.MethodGet, path, viewerToken, nil)
	require.Equal(t, http.StatusServiceUnavailable, busy.status)
	require.Equal(t, "unavailable", busy.errorCode())
	require.Equal(t, "5", busy.header.Get("Retry-After"))
	metrics := b.do(t, http.MethodGet, "/metrics", "", nil)
	require.Contains(t, string(metrics.raw), "medic_http_event_streams_open 1")

	// The client leaves; its slot frees up.
	cancel()
	require.Eventually(t, func() bool {
		m := b.do(t, http.MethodGet, "/metrics", "", nil)
		return strings.Contains(string(m.raw), "medic_http_event_streams_open 0")
	}, 5*time.Second, 10*time.Millisecond, "a stream ends when its client disconnects")
	b.finish(t, root.ID, incident.SessionCompleted)
	again := b.do(t, http.MethodGet, path, viewerToken, nil)
	require.Equal(t, http.StatusOK, again.status)
	require.Contains(t, string(again.raw), "event: end")
}

func TestSessionEventsOutliveServerTimeouts(t *testing.T) {
	t.Parallel()
	b := setup(t, fastStreams(httpapi.StreamOptions{Heartbeat: 25 * time.Millisecond}))
	srv := httptest.NewUnstartedServer(b.handler)
	srv.Config.ReadTimeout = 150 * time.Millisecond
	srv.Config.WriteTimeout = 150 * time.Millisecond
	srv.Start()
	t.Cleanup(srv.Close)
	root := b.runningRoot(t, "run1")
	start := time.Now()
	resp, sse := b.stream(streamCtx(t), t, srv, "/api/v1/sessions/"+root.ID+"/events", viewerToken)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	_, err := sse.next()
	require.NoError(t, err)

	// The server's deadlines are real time: read heartbeats well past both,
	// then the stream must still deliver.
	for time.Since(start) < 500*time.Millisecond {
		line, err := sse.line()
		require.NoError(t, err, "the stream died after %s", time.Since(start))
		require.True(t, line == "" || line == ": heartbeat", "only heartbeats while idle, got %q", line)
	}
	b.post(t, root, incident.SessionEventProgress, "still here")
	ev, err := sse.next()
	require.NoError(t, err)
	require.Equal(t, "still here", decodeEvent(t, ev).Message)
}

func TestStreamOptionsChecked(t *testing.T) {
	t.Parallel()
	b := setup(t)
	tests := []struct {
		name string
		opts httpapi.StreamOptions
		want string
	}{
		{"negative poll", httpapi.StreamOptions{Poll: -time.Second}, "Streams.Poll must not be negative"},
		{"negative heartbeat", httpapi.StreamOptions{Heartbeat: -time.Second}, "Streams.Heartbeat must not be negative"},
		{"negative duration", httpapi.StreamOptions{MaxDuration: -time.Second}, "Streams.MaxDuration must not be negative"},
		{"negative limit", httpapi.StreamOptions{MaxConcurrent: -1}, "Streams.MaxConcurrent must not be negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d := b.deps
			d.Registry = nil
			d.Streams = tt.opts
			_, err := httpapi.New(d)
			require.ErrorContains(t, err, tt.want)
		})
	}
}
