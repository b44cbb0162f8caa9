package cli_test

import (
	"encoding/json"
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/medic-sh/medic/internal/airflow/airflowsim"
	"github.com/medic-sh/medic/internal/cli"
	"github.com/medic-sh/medic/internal/config"
)

var incidentLine = regexp.MustCompile(`INCIDENT (inc_[0-9a-f]{32})`)

// triageWait triages run of dag and returns the incident's id.
func triageWait(t *testing.T, b *testBundle, dag, run string) string {
	t.Helper()
	res := medic(t, b.env, "triage", "--dag", dag, "--run", run, "--wait")
	require.Equal(t, cli.ExitOK, res.code, res.stderr)
	m := incidentLine.FindStringSubmatch(res.stdout)
	require.NotNil(t, m, "stdout: %s", res.stdout)
	return m[1]
}

func TestIncidentsFeedbackThenSimilarFailure(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{})
	first := triageWait(t, b, "orders_etl", testRun)

	res := medic(t, b.env, "incidents", "feedback", first, "--outcome", "fixed", "--action", "retry", "--verdict", "up",
		"--reason", "the warehouse migration had not finished")
	require.Equal(t, cli.ExitOK, res.code, res.stderr)
	require.Empty(t, res.stderr)
	require.Equal(t, "feedback recorded for incident "+first+": SCHEMA_CHANGE, retry fixed it, trust 0.75 (1 fixed, 0 failed, 1 up, 0 down)\n", res.stdout)

	// The same failure in another run: memory recalls the first, with what
	// fixed it.
	_, err := b.sim.StartRun("orders_etl", "manual__again", simEpoch, map[string][]airflowsim.Outcome{"load": {undefinedColumn}})
	require.NoError(t, err)
	second := triageWait(t, b, "orders_etl", "manual__again")
	require.NotEqual(t, first, second)
	show := medic(t, b.env, "incidents", "show", second)
	require.Equal(t, cli.ExitOK, show.code, show.stderr)
	golden(t, "incidents_show_similar.golden", show.stdout)
	require.Contains(t, show.stdout, "same signature · SCHEMA_CHANGE · retry fixed it · trust 0.75 · verdict up · precedent")
	require.Contains(t, show.stdout, "incident "+first+" (orders_etl run "+testRun+")")

	js := medic(t, b.env, "incidents", "show", second, "--json")
	require.Equal(t, cli.ExitOK, js.code, js.stderr)
	m := jsonKeys(t, js.stdout)
	var similar []struct {
		IncidentID string `json:"incident_id"`
		Action     string `json:"action"`
		Outcome    string `json:"outcome"`
		Exact      bool   `json:"exact"`
	}
	require.NoError(t, json.Unmarshal(m["similar"], &similar))
	require.Len(t, similar, 1)
	require.Equal(t, first, similar[0].IncidentID)
	require.Equal(t, "retry", similar[0].Action)
	require.Equal(t, "fixed", similar[0].Outcome)
	require.True(t, similar[0].Exact)
	require.JSONEq(t, `"`+first+`"`, string(jsonKeys(t, string(m["precedent"]))["record_id"]))
}

func TestIncidentsFeedback(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{})
	id := triageWait(t, b, "finance_reporting", testRun)
	tests := []struct {
		name   string
		args   []string
		code   int
		stdout *regexp.Regexp
		stderr string
	}{
		{
			name: "label correction", args: []string{"--label", "DATA_QUALITY", "--reason", "the ledger export had no currency"}, code: cli.ExitOK,
			stdout: regexp.MustCompile(`^feedback recorded for incident inc_[0-9a-f]{32}: DATA_QUALITY, no action recorded, trust 0\.\d\d \(0 fixed, 0 failed, \d up, 0 down\)\n$`),
		},
		{
			name: "json", args: []string{"--verdict", "up", "--json"}, code: cli.ExitOK,
			stdout: regexp.MustCompile(`^\{"incident_id":"inc_[0-9a-f]{32}","record":\{.*"ups":\d.*\}\}\n$`),
		},
		{
			name: "nothing to record", args: []string{"--reason", "just saying"}, code: cli.ExitUsage,
			stderr: "medic: nothing to record: give at least one of --outcome, --action, --verdict and --label\n",
		},
		{
			name: "bad outcome", args: []string{"--outcome", "maybe"}, code: cli.ExitUsage,
			stderr: "medic: POST /api/v1/incidents/" + id + "/feedback: outcome \"maybe\" is not known: want fixed or failed (HTTP 400)\n",
		},
		{
			name: "bad label", args: []string{"--label", "OOPS"}, code: cli.ExitUsage,
			stderr: "medic: POST /api/v1/incidents/" + id + "/feedback: label \"OOPS\" is not a failure class: want one of SCHEMA_CHANGE, " +
				"DATA_QUALITY, UPSTREAM_UNAVAILABLE, RESOURCE, TIMEOUT, PERMISSION, MISSING_INPUT, CODE_ERROR, INFRA, UNKNOWN (HTTP 400)\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Not parallel: each case changes the same record.
			res := medic(t, b.env, append([]string{"incidents", "feedback", id}, tt.args...)...)
			require.Equal(t, tt.code, res.code, res.stderr)
			if tt.stdout != nil {
				require.Regexp(t, tt.stdout, res.stdout)
				require.Empty(t, res.stderr)
			} else {
				require.Empty(t, res.stdout)
				require.Equal(t, tt.stderr, res.stderr)
			}
		})
	}

	missing := medic(t, b.env, "incidents", "feedback", "inc_missing", "--outcome", "fixed")
	require.Equal(t, cli.ExitNotFound, missing.code)
	require.Equal(t, "medic: POST /api/v1/incidents/inc_missing/feedback: incident inc_missing not found (HTTP 404)\n", missing.stderr)

	usage := medic(t, b.env, "incidents", "feedback")
	require.Equal(t, cli.ExitUsage, usage.code)
	require.Contains(t, usage.stderr, "medic incidents feedback takes 1 argument(s), got 0")
}

func TestIncidentsFeedbackNeedsOperator(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{tokens: []config.Token{
		{Name: "dashboard", Role: config.RoleViewer, Token: config.NewSecret(viewerToken)},
	}})
	res := medic(t, map[string]string{"MEDIC_SERVER": b.url, "MEDIC_TOKEN": viewerToken}, "incidents", "feedback", "inc_x", "--verdict", "up")
	require.Equal(t, cli.ExitError, res.code)
	require.Empty(t, res.stdout)
	require.Equal(t, "medic: POST /api/v1/incidents/inc_x/feedback: token \"dashboard\" has role viewer; this endpoint needs operator or above (HTTP 403)"+
		"; pass a token with the right role via --token or MEDIC_TOKEN\n", res.stderr)
}
