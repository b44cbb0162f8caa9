package cli_test

import (
	"bytes"
	"context"
	"flag"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/medic-sh/medic/internal/airflow/airflowsim"
	"github.com/medic-sh/medic/internal/app"
	"github.com/medic-sh/medic/internal/cli"
	"github.com/medic-sh/medic/internal/config"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// runMedicEnv makes the test binary run medic's command line instead of
// the tests, for tests that need medic as a process of its own (the MCP
// client starts `medic mcp`).
const runMedicEnv = "MEDIC_TEST_RUN_CLI"

func TestMain(m *testing.M) {
	if os.Getenv(runMedicEnv) == "1" {
		os.Exit(cli.Main(os.Args[1:], cli.IO{In: os.Stdin, Out: os.Stdout, Err: os.Stderr, Getenv: os.Getenv}))
	}
	code := m.Run()
	if code == 0 {
		// The CLI's API client keeps idle keep-alive connections in the
		// default transport, as a short-lived process may.
		http.DefaultTransport.(*http.Transport).CloseIdleConnections()
		if err := goleak.Find(); err != nil {
			_, _ = os.Stderr.WriteString("goleak: " + err.Error() + "\n")
			code = 1
		}
	}
	os.Exit(code)
}

// result is one run of the command line.
type result struct {
	code   int
	stdout string
	stderr string
}

// medic runs cli.Main with env as its whole environment.
func medic(t *testing.T, env map[string]string, args ...string) result {
	t.Helper()
	var out, errb syncBuffer
	code := cli.Main(args, cli.IO{In: strings.NewReader(""), Out: &out, Err: &errb, Getenv: getenv(env)})
	return result{code: code, stdout: out.String(), stderr: errb.String()}
}

// medicContext is medic with ctx standing for the signals: cancelling it is
// pressing Ctrl-C.
func medicContext(ctx context.Context, t *testing.T, env map[string]string, args ...string) result {
	t.Helper()
	var out, errb syncBuffer
	code := cli.MainContext(ctx, args, cli.IO{In: strings.NewReader(""), Out: &out, Err: &errb, Getenv: getenv(env)})
	return result{code: code, stdout: out.String(), stderr: errb.String()}
}

func getenv(env map[string]string) func(string) string {
	return func(k string) string { return env[k] }
}

// syncBuffer is a buffer that the command's goroutines and the test share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// normalizers replace what changes from run to run in rendered output.
var normalizers = []struct {
	re   *regexp.Regexp
	repl string
}{
	{regexp.MustCompile(`\b(inc|ses|evt|fnd|apr)_[0-9a-f]{32}\b`), "${1}_ID"},
	{regexp.MustCompile(`\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})?`), "TIME"},
	{regexp.MustCompile(`127\.0\.0\.1:\d+`), "127.0.0.1:PORT"},
	{regexp.MustCompile(`go1\.[0-9.]+\S*`), "GOVERSION"},
	// How long each specialist took is real time, not the test's clock.
	{regexp.MustCompile(`\b(completed|partial|failed|timed_out) [0-9.]+(ns|µs|ms|s|m)\b`), "$1 DUR"},
}

func normalize(s string) string {
	for _, n := range normalizers {
		s = n.re.ReplaceAllString(s, n.repl)
	}
	return s
}

// golden compares got, normalized, with testdata/name; -update rewrites it.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	got = normalize(got)
	if *update {
		require.NoError(t, os.WriteFile(path, []byte(got), 0o644))
		return
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "missing golden file: run go test ./internal/cli/ -update")
	require.Equal(t, string(want), got, "output differs from %s (go test -update rewrites it)", path)
}

// writeFile writes a file into a fresh temporary directory.
func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(path, []byte(content), 0o600))
	return path
}

const (
	testRun       = "scheduled__2026-05-01T02:00:00+00:00"
	webhookSecret = "cli-test-webhook-secret-0123456789"
	viewerToken   = "viewer-token-0123456789abcdef"
	operatorToken = "operator-token-0123456789abcdef"
)

// simEpoch is the stand-in's clock: Airflow's times in reports are fixed.
var simEpoch = time.Date(2026, 5, 1, 2, 0, 0, 0, time.UTC)

var undefinedColumn = airflowsim.Failure("{taskinstance.py:2905} ERROR - Task failed with exception\n" +
	"Traceback (most recent call last):\n" +
	"  File \"/opt/airflow/dags/orders.py\", line 41, in load\n" +
	"    cur.execute(SQL)\n" +
	"psycopg2.errors.UndefinedColumn: column \"customer_ref\" does not exist\n" +
	"LINE 1: SELECT customer_ref FROM staging.orders\n")

var keyError = airflowsim.Failure("{taskinstance.py:2905} ERROR - Task failed with exception\n" +
	"Traceback (most recent call last):\n" +
	"  File \"/opt/airflow/dags/finance.py\", line 58, in export_ledger\n" +
	"KeyError: 'currency_code'\n")

// testBundle is a real medic, serving on loopback, in front of an Airflow
// stand-in with two failed runs.
type testBundle struct {
	app *app.App
	sim *airflowsim.Server
	// url is medic's API base URL.
	url string
	// env points the command line at medic.
	env map[string]string
}

type setupOpts struct {
	tokens []config.Token
	// edit changes the configuration before medic starts.
	edit func(*config.Config)
}

func setup(t *testing.T, opts setupOpts) *testBundle {
	t.Helper()
	sim := airflowsim.New(airflowsim.Options{
		Version: 3, Username: "medic", Password: "pw", Clock: func() time.Time { return simEpoch },
	})
	require.NoError(t, sim.AddDAG(airflowsim.DAG{
		ID: "orders_etl", Owners: []string{"data-eng"}, Tags: []string{"tier1"},
		Tasks: []airflowsim.Task{
			{ID: "extract", Downstream: []string{"load"}},
			{ID: "load", Operator: "PostgresOperator", Downstream: []string{"report"}},
			{ID: "report"},
		},
	}))
	require.NoError(t, sim.AddDAG(airflowsim.DAG{
		ID: "finance_reporting", Owners: []string{"finance-data"},
		Tasks: []airflowsim.Task{{ID: "export_ledger", Operator: "PythonOperator"}},
	}))
	_, err := sim.StartRun("orders_etl", testRun, simEpoch, map[string][]airflowsim.Outcome{"load": {undefinedColumn}})
	require.NoError(t, err)
	_, err = sim.StartRun("finance_reporting", testRun, simEpoch, map[string][]airflowsim.Outcome{"export_ledger": {keyError}})
	require.NoError(t, err)
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)

	cfg := config.Default()
	cfg.Database.URL = filepath.Join(t.TempDir(), "medic.db")
	cfg.Ingest.Webhook.Secret = config.NewSecret(webhookSecret)
	cfg.Auth.Tokens = opts.tokens
	inst := config.DefaultAirflowInstance()
	inst.Name, inst.URL, inst.Version = "main", srv.URL, "3"
	inst.Username, inst.Password = "medic", config.NewSecret("pw")
	inst.Poll.Enabled = false // incidents come only from the triage requests the tests make
	cfg.Airflow.Instances = []config.AirflowInstance{inst}
	if opts.edit != nil {
		opts.edit(cfg)
	}

	var lc net.ListenConfig
	ln, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
	require.NoError(t, err)
	cfg.Server.PublicURL = "http://" + ln.Addr().String()
	a, err := app.New(context.Background(), app.Options{Config: cfg, Listener: ln})
	require.NoError(t, err)
	require.NoError(t, a.Start(context.Background()))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		require.NoError(t, a.Stop(ctx))
	})
	url := "http://" + a.Addr()
	return &testBundle{app: a, sim: sim, url: url, env: map[string]string{"MEDIC_SERVER": url}}
}
