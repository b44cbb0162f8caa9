package cli_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/medic-sh/medic/internal/airflow/airflowsim"
	"github.com/medic-sh/medic/internal/cli"
	"github.com/medic-sh/medic/internal/config"
)

func TestSources(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{edit: func(cfg *config.Config) {
		cfg.Airflow.Instances[0].Poll.Enabled = true
		cfg.Airflow.Instances[0].Poll.Interval = time.Hour // one poll, at start
	}})
	var res result
	require.Eventually(t, func() bool {
		res = medic(t, b.env, "sources")
		return res.code == cli.ExitOK && strings.Contains(res.stdout, "airflow poller") && !strings.Contains(res.stdout, "not polled yet")
	}, 30*time.Second, 50*time.Millisecond, "the first poll is shown: %s %s", res.stdout, res.stderr)
	require.Regexp(t, `airflow poller\s+main\s+\d{4}-\d{2}-\d{2}T\S+Z\s+\d{4}-\d{2}-\d{2}T\S+Z\s+ok`, res.stdout)
	require.Contains(t, res.stdout, "callbacks: POST /api/v1/events needs the HMAC signature")

	res = medic(t, b.env, "sources", "--json")
	require.Equal(t, cli.ExitOK, res.code, res.stderr)
	require.Contains(t, res.stdout, `"instance":"main"`)

	// A poll Airflow refuses shows as failing, with its error.
	b.sim.SetFault(airflowsim.Fault{Status: http.StatusServiceUnavailable})
	_, err := b.app.Pollers()[0].PollOnce(t.Context())
	require.Error(t, err)
	res = medic(t, b.env, "sources")
	require.Contains(t, res.stdout, "failing: poll main")
}
