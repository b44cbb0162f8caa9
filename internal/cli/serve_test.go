package cli_test

import (
	"context"
	"net/http"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/medic-sh/medic/internal/cli"
)

func TestServeRefusesToStart(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		config string // with DB standing for a database path in a temporary directory
		code   int
		stderr *regexp.Regexp
	}{
		{
			name:   "unknown key",
			config: "server:\n  adr: 127.0.0.1:0\ndatabase:\n  url: DB\n",
			code:   cli.ExitUsage,
			stderr: regexp.MustCompile(`^medic: \S+medic\.yaml:2: server\.adr: unknown key \(did you mean "addr"\?\)\n$`),
		},
		{
			name:   "invalid value",
			config: "server:\n  addr: 127.0.0.1\ndatabase:\n  url: DB\n",
			code:   cli.ExitUsage,
			stderr: regexp.MustCompile(`^medic: \S+medic\.yaml:2: server\.addr: `),
		},
		{
			name:   "wildcard address without tokens",
			config: "server:\n  addr: 0.0.0.0:0\ndatabase:\n  url: DB\n",
			code:   cli.ExitError,
			stderr: regexp.MustCompile(`^medic: app: no API tokens are configured, so medic only listens on loopback, but server\.addr is "0\.0\.0\.0:0": ` +
				`set server\.addr to 127\.0\.0\.1:PORT or add auth\.tokens\n$`),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			db := filepath.Join(dir, "medic.db")
			path := writeFile(t, "medic.yaml", regexp.MustCompile(`\bDB\b`).ReplaceAllLiteralString(tt.config, db))
			res := medic(t, nil, "serve", "--config", path)
			require.Equal(t, tt.code, res.code, res.stderr)
			require.Empty(t, res.stdout)
			require.Regexp(t, tt.stderr, res.stderr)
			require.NoFileExists(t, db, "medic refused before touching the database")
		})
	}

	t.Run("missing file", func(t *testing.T) {
		t.Parallel()
		path := filepath.Join(t.TempDir(), "nope.yaml")
		res := medic(t, nil, "serve", "-c", path)
		require.Equal(t, cli.ExitUsage, res.code)
		require.Contains(t, res.stderr, "read config file: open "+path)
	})
}

// TestServeStopsCleanlyOnInterrupt serves on a free port, checks the API
// answers, then cancels as Ctrl-C would: serve shuts down and exits 0.
func TestServeStopsCleanlyOnInterrupt(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	env := map[string]string{
		"MEDIC_ADDR":         "127.0.0.1:0",
		"MEDIC_DATABASE_URL": filepath.Join(t.TempDir(), "medic.db"),
	}
	var stdout, stderr syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- cli.MainContext(ctx, []string{"serve"}, cli.IO{Out: &stdout, Err: &stderr, Getenv: getenv(env)})
	}()

	serving := regexp.MustCompile(`medic \S+ serving on (http://127\.0\.0\.1:\d+) \(Ctrl-C to stop\)`)
	var base string
	require.Eventually(t, func() bool {
		m := serving.FindStringSubmatch(stderr.String())
		if m != nil {
			base = m[1]
		}
		return m != nil
	}, 15*time.Second, 10*time.Millisecond, "serve did not start: %s", stderr.String())

	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/healthz", nil)
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	require.Equal(t, http.StatusOK, resp.StatusCode)

	cancel()
	select {
	case code := <-done:
		require.Equal(t, cli.ExitOK, code, stderr.String())
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not stop after the interrupt")
	}
	require.NotContains(t, stderr.String(), "interrupted")
	require.Empty(t, stdout.String())
}
