package app_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/medic-sh/medic/internal/app"
	"github.com/medic-sh/medic/internal/config"
	"github.com/medic-sh/medic/internal/memory"
)

// runApp starts an app on cfg that logs into logs, and returns it with a
// stop function (also run at cleanup; stopping twice is harmless).
func runApp(t *testing.T, cfg *config.Config, logs *syncBuffer) (*app.App, func()) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	a, err := app.New(context.Background(), app.Options{
		Config: cfg, Listener: ln, Logger: slog.New(slog.NewTextHandler(logs, nil)),
	})
	require.NoError(t, err)
	require.NoError(t, a.Start(context.Background()))
	stop := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		require.NoError(t, a.Stop(ctx))
	}
	t.Cleanup(stop)
	return a, stop
}

func rememberedFailure(id, sig string) memory.Record {
	return memory.Record{
		ID: id, Signature: sig, Template: "column <*> does not exist", ExceptionType: "psycopg2.errors.UndefinedColumn",
		Excerpt: `psycopg2.errors.UndefinedColumn: column "customer_ref" does not exist`, Label: "SCHEMA_CHANGE",
	}
}

// tamper runs one statement on the database of a stopped medic.
func tamper(t *testing.T, dbPath, stmt string) {
	t.Helper()
	db, err := sql.Open("sqlite", dbPath)
	require.NoError(t, err)
	defer func() { require.NoError(t, db.Close()) }()
	_, err = db.ExecContext(context.Background(), stmt)
	require.NoError(t, err)
}

func TestMemorySurvivesRestart(t *testing.T) {
	t.Parallel()
	_, srv := newSim(t, 2)
	db := filepath.Join(t.TempDir(), "medic.db")
	ctx := context.Background()

	a, stop := runApp(t, testConfig(db, srv.URL, 2), &syncBuffer{})
	for _, id := range []string{"inc_1", "inc_2"} {
		_, err := a.Memory().Remember(ctx, rememberedFailure(id, "sig_"+id))
		require.NoError(t, err)
	}
	_, err := a.Memory().Feedback(ctx, "inc_1", memory.Update{Feedback: memory.Feedback{Outcome: memory.OutcomeFixed}, Action: "schema_migration"})
	require.NoError(t, err)
	stop()
	tamper(t, db, `UPDATE memory_records SET embedding = x'0102030405' WHERE id = 'inc_2'`)

	logs := &syncBuffer{}
	b, _ := runApp(t, testConfig(db, srv.URL, 2), logs)
	got, ok := b.Memory().Get("inc_1")
	require.True(t, ok, "records are loaded at start")
	require.Equal(t, 1, got.Fixed, "with their evidence")
	require.Equal(t, "schema_migration", got.Action)
	require.NotEmpty(t, got.Embedding)
	damaged, ok := b.Memory().Get("inc_2")
	require.True(t, ok, "a record with a corrupt embedding is kept")
	require.Nil(t, damaged.Embedding)
	res, err := b.Memory().Lookup(ctx, memory.Query{Signature: "sig_inc_2"}, 0)
	require.NoError(t, err)
	require.Len(t, res.Exact, 1, "and found by its signature")
	require.Contains(t, logs.String(), "corrupt memory record embedding")
}

func TestUnreadableMemoryDoesNotStopMedic(t *testing.T) {
	t.Parallel()
	_, srv := newSim(t, 2)
	db := filepath.Join(t.TempDir(), "medic.db")
	ctx := context.Background()
	a, stop := runApp(t, testConfig(db, srv.URL, 2), &syncBuffer{})
	_, err := a.Memory().Remember(ctx, rememberedFailure("inc_1", "sig_a"))
	require.NoError(t, err)
	stop()
	tamper(t, db, `UPDATE memory_records SET fixed = 'many' WHERE id = 'inc_1'`)

	logs := &syncBuffer{}
	b, _ := runApp(t, testConfig(db, srv.URL, 2), logs)
	require.Contains(t, logs.String(), "failure memory could not be loaded")
	require.Zero(t, b.Memory().Memory().Len())
	resp, err := http.Get("http://" + b.Addr() + "/healthz")
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	require.Equal(t, http.StatusOK, resp.StatusCode, "medic serves without its memory")
	got, err := b.Memory().Remember(ctx, rememberedFailure("inc_2", "sig_b"))
	require.NoError(t, err, "and keeps learning")
	require.Equal(t, "inc_2", got.ID)
}

// embeddingsServer is an OpenAI-compatible /v1/embeddings stand-in that
// records what it was asked and fails while down is set.
type embeddingsServer struct {
	mu     sync.Mutex
	down   bool
	models []string
	auths  []string
}

func (e *embeddingsServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Model string   `json:"model"`
		Input []string `json:"input"`
	}
	if r.URL.Path != "/v1/embeddings" || json.NewDecoder(r.Body).Decode(&req) != nil {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	e.mu.Lock()
	down := e.down
	e.models, e.auths = append(e.models, req.Model), append(e.auths, r.Header.Get("Authorization"))
	e.mu.Unlock()
	if down {
		http.Error(w, "model loading", http.StatusServiceUnavailable)
		return
	}
	type item struct {
		Index     int       `json:"index"`
		Embedding []float32 `json:"embedding"`
	}
	out := struct {
		Data []item `json:"data"`
	}{}
	for i, text := range req.Input {
		v := make([]float32, 8)
		v[len(text)%8] = 1
		out.Data = append(out.Data, item{Index: i, Embedding: v})
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(out)
}

func TestMemoryUsesTheConfiguredEmbedder(t *testing.T) {
	t.Parallel()
	_, srv := newSim(t, 2)
	es := &embeddingsServer{}
	emb := httptest.NewServer(es)
	t.Cleanup(emb.Close)
	cfg := testConfig(filepath.Join(t.TempDir(), "medic.db"), srv.URL, 2)
	cfg.Memory.Embedder = config.Embedder{
		Kind: config.EmbedderOpenAI, URL: emb.URL, Model: "test-embed", Dimensions: 8,
		APIKey: config.NewSecret("sk-test-0123456789"), Timeout: 5 * time.Second,
	}
	require.NoError(t, cfg.Validate())
	a, _ := runApp(t, cfg, &syncBuffer{})
	ctx := context.Background()

	got, err := a.Memory().Remember(ctx, rememberedFailure("inc_1", "sig_a"))
	require.NoError(t, err)
	require.Equal(t, "openai/test-embed/8", got.EmbeddedBy)
	require.Len(t, got.Embedding, 8)
	es.mu.Lock()
	require.Equal(t, []string{"test-embed"}, es.models)
	require.Equal(t, []string{"Bearer sk-test-0123456789"}, es.auths)
	es.down = true
	es.mu.Unlock()

	got, err = a.Memory().Remember(ctx, rememberedFailure("inc_2", "sig_b"))
	require.NoError(t, err, "an embedder that is down does not stop remembering")
	require.Empty(t, got.Embedding)
	res, err := a.Memory().Lookup(ctx, memory.Query{Signature: "sig_b", Template: "column <*> does not exist"}, 3)
	require.NoError(t, err)
	require.Len(t, res.Exact, 1, "signature lookup still works")
	require.NotEmpty(t, res.Degraded)
}
