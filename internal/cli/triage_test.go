package cli_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/medic-sh/medic/internal/cli"
	"github.com/medic-sh/medic/internal/httpapi"
	"github.com/medic-sh/medic/internal/incident"
	"github.com/medic-sh/medic/internal/store"
	"github.com/medic-sh/medic/internal/store/sqlite"
)

// followBundle is the API on a real SQLite store with no job runner: the
// test plays the investigation itself, step by step.
type followBundle struct {
	store *sqlite.Store
	url   string
	root  *incident.Session
	inc   *incident.Incident
}

type storeRecorder struct{ st store.Store }

func (r storeRecorder) RecordEvent(ctx context.Context, ev *incident.FailureEvent) (*store.EventRecordResult, error) {
	return r.st.EventRecord(ctx, &store.EventRecordParams{Event: ev, Window: time.Hour})
}

type storeTriage struct{ st store.Store }

func (r storeTriage) RequestTriage(ctx context.Context, p *store.TriageRequestParams) (*store.TriageRequestResult, error) {
	p.Window = time.Hour
	return r.st.TriageRequest(ctx, p)
}

const followDag, followRun = "orders_etl", "scheduled__2026-05-01T02:00:00+00:00"

func followSetup(t *testing.T) *followBundle {
	t.Helper()
	st, err := sqlite.Open(context.Background(), sqlite.Options{Path: filepath.Join(t.TempDir(), "medic.db")})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, st.Close()) })
	h, err := httpapi.New(httpapi.Deps{
		Store: st, Events: storeRecorder{st}, Triage: storeTriage{st}, DefaultInstance: "main",
		Streams: httpapi.StreamOptions{Poll: 10 * time.Millisecond},
	})
	require.NoError(t, err)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	// The same request the command makes finds this incident and session.
	res, err := storeTriage{st}.RequestTriage(context.Background(), &store.TriageRequestParams{Instance: "main", DagID: followDag, RunID: followRun})
	require.NoError(t, err)
	return &followBundle{store: st, url: srv.URL, root: res.Session, inc: res.Incident}
}

// running is a command line started in the background.
type running struct {
	out, err syncBuffer
	code     chan int
}

func start(ctx context.Context, args ...string) *running {
	r := &running{code: make(chan int, 1)}
	go func() {
		r.code <- cli.MainContext(ctx, args, cli.IO{In: strings.NewReader(""), Out: &r.out, Err: &r.err, Getenv: getenv(nil)})
	}()
	return r
}

// waitOut waits until stdout holds n lines and returns them.
func (r *running) waitOut(t *testing.T, n int) []string {
	t.Helper()
	var lines []string
	require.Eventually(t, func() bool {
		lines = strings.Split(strings.TrimSuffix(r.out.String(), "\n"), "\n")
		return r.out.String() != "" && len(lines) >= n
	}, 10*time.Second, 5*time.Millisecond, "waiting for %d line(s) of output; stdout %q, stderr %q", n, r.out.String(), r.err.String())
	return lines
}

func (r *running) exit(t *testing.T) int {
	t.Helper()
	select {
	case code := <-r.code:
		return code
	case <-time.After(10 * time.Second):
		t.Fatalf("the command did not exit; stdout %q, stderr %q", r.out.String(), r.err.String())
		return -1
	}
}

// step is one thing the investigation does, and the line it should print.
type step struct {
	do   func(t *testing.T, b *followBundle, kids []*incident.Session) []*incident.Session
	line string
}

func setStatus(st incident.SessionStatus) func(*testing.T, *followBundle, []*incident.Session) []*incident.Session {
	return func(t *testing.T, b *followBundle, kids []*incident.Session) []*incident.Session {
		_, err := b.store.SessionSetStatus(context.Background(), &store.SessionSetStatusParams{ID: b.root.ID, Status: st})
		require.NoError(t, err)
		return kids
	}
}

func spawnKids(t *testing.T, b *followBundle, _ []*incident.Session) []*incident.Session {
	kids, err := b.store.SessionSpawn(context.Background(), &store.SessionSpawnParams{
		ParentID: b.root.ID, Deadline: time.Now().Add(time.Minute),
		Children: []store.SessionChild{{Agent: "log-analyzer"}, {Agent: "owner-notifier"}},
	})
	require.NoError(t, err)
	return kids
}

func post(kid int, kind incident.SessionEventKind, msg string) func(*testing.T, *followBundle, []*incident.Session) []*incident.Session {
	return func(t *testing.T, b *followBundle, kids []*incident.Session) []*incident.Session {
		_, err := b.store.SessionEventAppend(context.Background(), kids[kid].Event(kind, msg, nil))
		require.NoError(t, err)
		return kids
	}
}

func finish(kid int, st incident.SessionStatus) func(*testing.T, *followBundle, []*incident.Session) []*incident.Session {
	return func(t *testing.T, b *followBundle, kids []*incident.Session) []*incident.Session {
		id := b.root.ID
		if kid >= 0 {
			id = kids[kid].ID
		}
		_, err := b.store.SessionFinish(context.Background(), &store.SessionFinishParams{ID: id, Status: st})
		require.NoError(t, err)
		return kids
	}
}

// investigation is the script the follow tests play: the commander starts
// two specialists, they report, and the commander ends as rootStatus.
func investigation(rootStatus, notifierStatus incident.SessionStatus) []step {
	return []step{
		{setStatus(incident.SessionRunning), "incident-commander  started   started"},
		{spawnKids, "incident-commander  spawned   started log-analyzer"},
		{nil, "incident-commander  spawned   started owner-notifier"},
		{post(0, incident.SessionEventProgress, "reading the log tail"), "log-analyzer        progress  reading the log tail"},
		// Text from a log must not steer the terminal.
		{post(0, incident.SessionEventFinding, "\x1b[31mschema change\x1b[0m\r\ncolumn gone"), "log-analyzer        finding   \ufffd[31mschema change\ufffd[0m  column gone"},
		{finish(0, incident.SessionCompleted), "log-analyzer        finished  completed"},
		{finish(1, notifierStatus), "owner-notifier      finished  " + string(notifierStatus)},
		{finish(-1, rootStatus), "incident-commander  finished  " + string(rootStatus)},
	}
}

var eventTime = regexp.MustCompile(`^\d{2}:\d{2}:\d{2}\.\d{3} `)

func TestTriageFollowPrintsLive(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name           string
		root, notifier incident.SessionStatus
		code           int
		stderrEnd      string
	}{
		{
			"completed", incident.SessionCompleted, incident.SessionCompleted, cli.ExitOK,
			"triage completed: see `medic incidents show inc_[0-9a-f]{32}`\n$",
		},
		{
			"partial", incident.SessionPartial, incident.SessionTimedOut, cli.ExitError,
			"medic: triage session ses_[0-9a-f]{32} ended partial: see `medic incidents show inc_[0-9a-f]{32}` for what is missing\n$",
		},
		{
			"failed", incident.SessionFailed, incident.SessionFailed, cli.ExitError,
			"medic: triage session ses_[0-9a-f]{32} ended failed: ",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := followSetup(t)
			run := start(t.Context(), "triage", "--dag", followDag, "--run", followRun, "--follow", "--server", b.url)
			var kids []*incident.Session
			for i, s := range investigation(tt.root, tt.notifier) {
				if s.do != nil {
					kids = s.do(t, b, kids)
				}
				// The line is out before the investigation goes on: live.
				lines := run.waitOut(t, i+1)
				require.Regexp(t, eventTime, lines[i])
				require.Equal(t, s.line, eventTime.ReplaceAllString(lines[i], ""), "line %d", i+1)
			}
			require.Equal(t, tt.code, run.exit(t), run.err.String())
			require.Len(t, run.waitOut(t, 8), 8, "each event once")
			require.Regexp(t, "^triage accepted: incident "+b.inc.ID+", session "+b.root.ID+"\n", run.err.String(), "status goes to stderr")
			require.Regexp(t, tt.stderrEnd, run.err.String())
		})
	}
}

func TestTriageFollowJSON(t *testing.T) {
	t.Parallel()
	b := followSetup(t)
	var kids []*incident.Session
	script := investigation(incident.SessionCompleted, incident.SessionCompleted)
	for _, s := range script[:4] {
		if s.do != nil {
			kids = s.do(t, b, kids)
		}
	}
	// Events before the command started are printed too, then the rest as
	// they come.
	run := start(t.Context(), "triage", "--dag", followDag, "--run", followRun, "--follow", "--json", "--server", b.url)
	run.waitOut(t, 4)
	for _, s := range script[4:] {
		kids = s.do(t, b, kids)
	}
	require.Equal(t, cli.ExitOK, run.exit(t), run.err.String())
	lines := run.waitOut(t, len(script))
	require.Len(t, lines, len(script))
	var ids []int64
	for i, line := range lines {
		m := jsonKeys(t, line)
		keys := []string{"id", "session_id", "incident_id", "agent", "kind", "message", "at"}
		if _, ok := m["data"]; ok {
			keys = append(keys, "data")
		}
		require.ElementsMatch(t, keys, keysOf(m), "line %d: the API's event, as sent", i+1)
		var e incident.SessionEvent
		require.NoError(t, json.Unmarshal([]byte(line), &e))
		require.Equal(t, b.inc.ID, e.IncidentID)
		require.Equal(t, strings.Fields(eventTime.ReplaceAllString(script[i].line, ""))[1], string(e.Kind))
		if len(ids) > 0 {
			require.Greater(t, e.ID, ids[len(ids)-1])
		}
		ids = append(ids, e.ID)
	}
}

// dropOnce proxies the API and cuts the first event stream after its first
// event, as a flaky network would; it records the Last-Event-ID of every
// stream opened.
type dropOnce struct {
	mu       sync.Mutex
	streams  int
	resumeAt []string
	proxy    *httputil.ReverseProxy
}

func newDropOnce(t *testing.T, target string) (*httptest.Server, *dropOnce) {
	t.Helper()
	u, err := url.Parse(target)
	require.NoError(t, err)
	d := &dropOnce{}
	d.proxy = &httputil.ReverseProxy{
		Rewrite:  func(r *httputil.ProxyRequest) { r.SetURL(u) },
		ErrorLog: log.New(io.Discard, "", 0),
		ModifyResponse: func(resp *http.Response) error {
			if !strings.HasSuffix(resp.Request.URL.Path, "/events") {
				return nil
			}
			d.mu.Lock()
			defer d.mu.Unlock()
			d.streams++
			d.resumeAt = append(d.resumeAt, resp.Request.Header.Get("Last-Event-ID"))
			if d.streams == 1 {
				resp.Body = &cutAfterFirstEvent{r: bufio.NewReader(resp.Body), c: resp.Body}
			}
			return nil
		},
	}
	srv := httptest.NewServer(d.proxy)
	t.Cleanup(srv.Close)
	return srv, d
}

// cutAfterFirstEvent passes a stream through up to the end of its first
// event with an id, then fails.
type cutAfterFirstEvent struct {
	r      *bufio.Reader
	c      io.Closer
	sawID  bool
	cutNow bool
}

var errCut = errors.New("connection cut by the test")

func (c *cutAfterFirstEvent) Read(p []byte) (int, error) {
	if c.cutNow {
		return 0, errCut
	}
	line, err := c.r.ReadString('\n')
	if strings.HasPrefix(line, "id:") {
		c.sawID = true
	}
	if line == "\n" && c.sawID {
		c.cutNow = true
	}
	n := copy(p, line) // lines are far shorter than the proxy's buffer
	return n, err
}

func (c *cutAfterFirstEvent) Close() error { return c.c.Close() }

func TestTriageFollowReconnects(t *testing.T) {
	t.Parallel()
	b := followSetup(t)
	proxy, d := newDropOnce(t, b.url)
	script := investigation(incident.SessionCompleted, incident.SessionCompleted)
	var kids []*incident.Session
	kids = script[0].do(t, b, kids)

	run := start(t.Context(), "triage", "--dag", followDag, "--run", followRun, "--follow", "--server", proxy.URL)
	run.waitOut(t, 1)
	for _, s := range script[1:] {
		if s.do != nil {
			kids = s.do(t, b, kids)
		}
	}
	require.Equal(t, cli.ExitOK, run.exit(t), run.err.String())
	lines := run.waitOut(t, len(script))
	require.Len(t, lines, len(script), "nothing lost, nothing twice: %q", run.out.String())
	for i, s := range script {
		require.Equal(t, s.line, eventTime.ReplaceAllString(lines[i], ""))
	}
	require.Contains(t, run.err.String(), "event stream interrupted (")
	require.Contains(t, run.err.String(), "); reconnecting\n")

	d.mu.Lock()
	defer d.mu.Unlock()
	first, err := b.store.SessionEventList(context.Background(), &store.SessionEventListParams{SessionID: b.root.ID, Limit: 1})
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(d.resumeAt), 2)
	require.Equal(t, "", d.resumeAt[0], "the first stream starts at the beginning")
	require.Equal(t, first[0].ID, mustInt(t, d.resumeAt[1]), "the second resumes after the event printed")
}

func mustInt(t *testing.T, s string) int64 {
	t.Helper()
	var n int64
	require.NoError(t, json.Unmarshal([]byte(s), &n), "not a number: %q", s)
	return n
}

func TestTriageFollowInterrupted(t *testing.T) {
	t.Parallel()
	b := followSetup(t)
	_, err := b.store.SessionSetStatus(context.Background(), &store.SessionSetStatusParams{ID: b.root.ID, Status: incident.SessionRunning})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	run := start(ctx, "triage", "--dag", followDag, "--run", followRun, "--follow", "--server", b.url)
	run.waitOut(t, 1)
	cancel() // Ctrl-C
	require.Equal(t, cli.ExitError, run.exit(t))
	require.Regexp(t, "\nstopped following; medic goes on triaging: see `medic incidents show "+b.inc.ID+"`\nmedic: interrupted\n$", run.err.String())
	ss, err := b.store.SessionGetByID(context.Background(), b.root.ID)
	require.NoError(t, err)
	require.Equal(t, incident.SessionRunning, ss.Status, "following never changes the investigation")
}

func TestTriageFollowRefused(t *testing.T) {
	t.Parallel()
	b := followSetup(t)
	tests := []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{
			"with --wait",
			[]string{"--follow", "--wait"},
			cli.ExitUsage,
			"medic: --wait and --follow do not go together: --follow prints the progress, --wait the report\n",
		},
		{"unreachable", []string{"--follow", "--server", "http://127.0.0.1:1"}, cli.ExitUnreachable, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res := medic(t, map[string]string{"MEDIC_SERVER": b.url}, append([]string{"triage", "--dag", followDag, "--run", followRun}, tt.args...)...)
			require.Equal(t, tt.code, res.code, res.stderr)
			require.Empty(t, res.stdout)
			if tt.stderr != "" {
				require.Equal(t, tt.stderr, res.stderr)
			}
		})
	}
}
