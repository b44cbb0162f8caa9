package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/medic-sh/medic/internal/config"
	"github.com/medic-sh/medic/internal/httpapi"
	"github.com/medic-sh/medic/internal/incident"
	"github.com/medic-sh/medic/internal/ingest"
	"github.com/medic-sh/medic/internal/store"
	"github.com/medic-sh/medic/internal/store/sqlite"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// Test tokens, one per role.
const (
	viewerToken   = "viewer-token-0123456789"
	operatorToken = "operator-token-0123456789"
	adminToken    = "admin-token-0123456789"
	webhookSecret = "webhook-secret-0123456789"
)

// storeRecorder records events in the real store, as the daemon does.
type storeRecorder struct{ st store.Store }

func (r storeRecorder) RecordEvent(ctx context.Context, ev *incident.FailureEvent) (*store.EventRecordResult, error) {
	return r.st.EventRecord(ctx, &store.EventRecordParams{Event: ev, Window: time.Hour})
}

// storeTriage opens triage requests in the real store.
type storeTriage struct{ st store.Store }

func (r storeTriage) RequestTriage(ctx context.Context, p *store.TriageRequestParams) (*store.TriageRequestResult, error) {
	p.Window = time.Hour
	return r.st.TriageRequest(ctx, p)
}

var (
	_ httpapi.EventRecorder   = storeRecorder{}
	_ httpapi.TriageRequester = storeTriage{}
)

type testBundle struct {
	store    *sqlite.Store
	dbPath   string
	deps     httpapi.Deps
	handler  http.Handler
	srv      *httptest.Server
	registry *prometheus.Registry
}

// setup starts the API over a fresh SQLite store with one token per role, a
// webhook secret and two instances; opts adjust the Deps first.
func setup(t testing.TB, opts ...func(d *httpapi.Deps)) *testBundle {
	t.Helper()
	path := filepath.Join(t.TempDir(), "medic.db")
	st, err := sqlite.Open(context.Background(), sqlite.Options{Path: path})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, st.Close()) })
	b := &testBundle{store: st, dbPath: path, registry: prometheus.NewRegistry()}
	b.deps = httpapi.Deps{
		Store:  st,
		Events: storeRecorder{st},
		Triage: storeTriage{st},
		Tokens: []config.Token{
			{Name: "ci-viewer", Role: config.RoleViewer, Token: config.NewSecret(viewerToken)},
			{Name: "ci-operator", Role: config.RoleOperator, Token: config.NewSecret(operatorToken)},
			{Name: "ci-admin", Role: config.RoleAdmin, Token: config.NewSecret(adminToken)},
		},
		WebhookSecret:   config.NewSecret(webhookSecret),
		DefaultInstance: "main",
		Instances:       []string{"main", "prod"},
		Registry:        b.registry,
		Version:         "test",
	}
	for _, o := range opts {
		o(&b.deps)
	}
	b.handler, err = httpapi.New(b.deps)
	require.NoError(t, err)
	b.srv = httptest.NewServer(b.handler)
	t.Cleanup(b.srv.Close)
	return b
}

func noTokens(d *httpapi.Deps)     { d.Tokens = nil }
func noSecret(d *httpapi.Deps)     { d.WebhookSecret = config.Secret{} }
func loopbackMode(d *httpapi.Deps) { noTokens(d); noSecret(d) }

// response is a decoded API answer.
type response struct {
	status int
	header http.Header
	body   map[string]any
	raw    []byte
}

// errorCode returns error.code of an error response.
func (r *response) errorCode() string {
	e, _ := r.body["error"].(map[string]any)
	code, _ := e["code"].(string)
	return code
}

func (r *response) errorMessage() string {
	e, _ := r.body["error"].(map[string]any)
	msg, _ := e["message"].(string)
	return msg
}

// do sends a request to the test server; token "" sends none. headers are
// name, value pairs.
func (b *testBundle) do(t *testing.T, method, path, token string, body []byte, headers ...string) *response {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, b.srv.URL+path, bytes.NewReader(body))
	require.NoError(t, err)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := b.srv.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	out := &response{status: resp.StatusCode, header: resp.Header, raw: raw}
	if resp.Header.Get("Content-Type") == "application/json" {
		require.NoError(t, json.Unmarshal(raw, &out.body), "body: %s", raw)
	}
	return out
}

// postEvent posts a callback body signed with the test secret.
func (b *testBundle) postEvent(t *testing.T, body []byte) *response {
	t.Helper()
	return b.do(t, http.MethodPost, "/api/v1/events", "", body,
		ingest.SignatureHeader, ingest.Sign([]byte(webhookSecret), body))
}

// callback renders a valid callback body for a task try.
func callback(t *testing.T, dag, run, task string, try int) []byte {
	t.Helper()
	body, err := json.Marshal(ingest.CallbackPayload{
		DagID: dag, RunID: run, TaskID: task, TryNumber: try,
		Exception: "ValueError: boom", State: "failed", Tags: []string{"tier1"},
	})
	require.NoError(t, err)
	return body
}

// stored counts what the store holds, to prove an error path stored nothing.
type stored struct{ incidents, audits, triageJobs int }

func (b *testBundle) stored(t *testing.T) stored {
	t.Helper()
	ctx := context.Background()
	list, err := b.store.IncidentList(ctx, &store.IncidentListParams{})
	require.NoError(t, err)
	audits, err := b.store.AuditList(ctx, &store.AuditListParams{Limit: store.MaxListLimit})
	require.NoError(t, err)
	jobs, err := b.store.PendingJobs(ctx, store.TriageJobArgs{}.Kind())
	require.NoError(t, err)
	return stored{incidents: list.Total, audits: len(audits), triageJobs: jobs}
}

// record stores a failure directly, for read-side tests.
func (b *testBundle) record(t testing.TB, dag, run, task string) *store.EventRecordResult {
	t.Helper()
	res, err := storeRecorder{b.store}.RecordEvent(context.Background(), &incident.FailureEvent{
		Key:      incident.Key{Instance: "main", DagID: dag, RunID: run, TaskID: task, TryNumber: 1},
		MapIndex: -1, Source: incident.SourcePoller,
	})
	require.NoError(t, err)
	return res
}

// syncBuffer collects log output written from server goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}

func newLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}
