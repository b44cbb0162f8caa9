package airflow_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/medic-sh/medic/internal/airflow"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// Credentials used by the tests; they must never show up in logs or errors.
const (
	testUser     = "medic-bot"
	testPassword = "s3cret-Pa55word"
	testToken    = "static-T0KEN-value"
)

// testBundle is one client wired to one httptest server.
type testBundle struct {
	srv    *httptest.Server
	client *airflow.Client
	logs   *syncBuffer
	hits   atomic.Int64
}

// setup starts h behind an httptest server and a client for it. Tests get
// fast retries; mod adjusts the options.
func setup(t *testing.T, h http.Handler, mod func(*airflow.Options)) *testBundle {
	t.Helper()
	b := &testBundle{logs: &syncBuffer{}}
	b.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b.hits.Add(1)
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(b.srv.Close)
	opts := airflow.Options{
		Name: "test", BaseURL: b.srv.URL, Version: "2", Username: testUser, Password: testPassword,
		Timeout: 5 * time.Second, RateLimit: -1, MaxRetries: 3,
		MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond,
		HTTPClient: b.srv.Client(),
		Logger:     slog.New(slog.NewJSONHandler(b.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	if mod != nil {
		mod(&opts)
	}
	c, err := airflow.New(opts)
	require.NoError(t, err)
	b.client = c
	t.Cleanup(func() { b.requireNoSecrets(t) })
	return b
}

// requireNoSecrets fails when a credential was logged.
func (b *testBundle) requireNoSecrets(t *testing.T) {
	t.Helper()
	out := b.logs.String()
	for _, s := range []string{testPassword, testToken, base64.StdEncoding.EncodeToString([]byte(testUser + ":" + testPassword))} {
		require.NotContains(t, out, s, "a secret was logged")
	}
}

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

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// problem writes a 2.x connexion error body.
func problem(w http.ResponseWriter, status int, title string, detail any) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{
		"type":  "https://airflow.apache.org/docs/apache-airflow/2.10.0/stable-rest-api-ref.html#section/Errors/X",
		"title": title, "status": status, "detail": detail,
	})
}

// fakeJWT builds an unsigned token with the given exp (the client never
// verifies signatures).
func fakeJWT(exp time.Time, id string) string {
	enc := base64.RawURLEncoding
	payload, _ := json.Marshal(map[string]any{"sub": "1", "exp": exp.Unix(), "jti": id})
	return enc.EncodeToString([]byte(`{"alg":"HS512","typ":"JWT"}`)) + "." + enc.EncodeToString(payload) + "." +
		enc.EncodeToString([]byte("sig"))
}

func ptr[T any](v T) *T { return &v }

func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	ts, err := time.Parse(time.RFC3339Nano, s)
	require.NoError(t, err)
	return ts
}

func dagRunJSON(dagID, runID, state string) map[string]any {
	return map[string]any{
		"dag_id": dagID, "dag_run_id": runID, "state": state, "run_type": "scheduled",
		"logical_date": "2024-05-01T00:00:00+00:00", "start_date": "2024-05-01T00:00:05.123456+00:00",
		"end_date": "2024-05-01T00:10:00+00:00", "conf": map[string]any{},
	}
}

func tiJSON(dagID, runID, taskID, state string, try int) map[string]any {
	return map[string]any{
		"dag_id": dagID, "dag_run_id": runID, "task_id": taskID, "state": state, "try_number": try,
		"max_tries": 2, "map_index": -1, "operator": "PythonOperator", "hostname": "worker-1",
		"pool": "default_pool", "queue": "default", "start_date": "2024-05-01T00:00:05+00:00",
		"end_date": "2024-05-01T00:01:05+00:00", "duration": 60.0,
	}
}

func itoa(i int) string { return fmt.Sprint(i) }
