package cli_test

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/medic-sh/medic/internal/cli"
)

func TestPostmortem(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{})
	res := medic(t, b.env, "triage", "--dag", "orders_etl", "--run", testRun, "--wait")
	require.Equal(t, cli.ExitOK, res.code, res.stderr)
	id := regexp.MustCompile(`INCIDENT (inc_[0-9a-f]{32})`).FindStringSubmatch(res.stdout)[1]

	res = medic(t, b.env, "postmortem", id)
	require.Equal(t, cli.ExitOK, res.code, res.stderr)
	require.Contains(t, res.stdout, "# Postmortem: orders\\_etl.load failed")
	require.Contains(t, res.stdout, "**SCHEMA_CHANGE**")
	require.Contains(t, res.stdout, "## Timeline (UTC)")
	require.Contains(t, res.stdout, "triage completed")

	path := filepath.Join(t.TempDir(), "pm.md")
	res = medic(t, b.env, "postmortem", id, "--out", path)
	require.Equal(t, cli.ExitOK, res.code, res.stderr)
	written, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Contains(t, string(written), "## Prevention")

	res = medic(t, b.env, "postmortem", "inc_nope")
	require.Equal(t, cli.ExitNotFound, res.code)
	require.Contains(t, res.stderr, "incident inc_nope not found")
}
