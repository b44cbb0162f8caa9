package cli_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/medic-sh/medic/internal/airflow/airflowsim"
	"github.com/medic-sh/medic/internal/cli"
	"github.com/medic-sh/medic/internal/config"
)

var acceptedLine = regexp.MustCompile(`^triage accepted: incident (inc_[0-9a-f]{32}), session (ses_[0-9a-f]{32})\n$`)

// jsonKeys decodes one JSON object and returns it by key.
func jsonKeys(t *testing.T, s string) map[string]json.RawMessage {
	t.Helper()
	var m map[string]json.RawMessage
	require.NoError(t, json.Unmarshal([]byte(s), &m), "not one JSON object: %q", s)
	return m
}

// detailKeys are the keys of GET /api/v1/incidents/{id}.
var detailKeys = []string{"incident", "events", "session", "children", "findings", "diagnosis", "similar", "precedent", "remediation"}

func keysOf(m map[string]json.RawMessage) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestTriageReturnsAtOnce(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{})
	// Triage cannot finish while Airflow sits on the log: the command must
	// not wait for it.
	b.sim.SetFault(airflowsim.Fault{PathPrefix: "/api/v2/dags/orders_etl/dagRuns/" + testRun + "/taskInstances/load/logs", Latency: 2 * time.Second})

	start := time.Now()
	res := medic(t, b.env, "triage", "--dag", "orders_etl", "--run", testRun, "--task", "load")
	require.Equal(t, cli.ExitOK, res.code, res.stderr)
	require.Less(t, time.Since(start), 2*time.Second, "triage without --wait returns at once")
	m := acceptedLine.FindStringSubmatch(res.stdout)
	require.NotNil(t, m, "stdout: %q", res.stdout)
	require.Empty(t, res.stderr)
	incID, sesID := m[1], m[2]

	inc, err := b.app.Store().IncidentGetByID(context.Background(), incID)
	require.NoError(t, err)
	require.Equal(t, sesID, inc.TriageSessionID)
	require.Equal(t, "orders_etl", inc.DagID)

	// Asking again about the same run finds the same incident.
	res = medic(t, b.env, "triage", "--dag", "orders_etl", "--run", testRun, "--task", "load", "--json")
	require.Equal(t, cli.ExitOK, res.code, res.stderr)
	require.ElementsMatch(t, []string{"incident_id", "session_id", "created"}, keysOf(jsonKeys(t, res.stdout)))
	var acc struct {
		IncidentID string `json:"incident_id"`
		SessionID  string `json:"session_id"`
		Created    bool   `json:"created"`
	}
	require.NoError(t, json.Unmarshal([]byte(res.stdout), &acc))
	require.Equal(t, incID, acc.IncidentID)
	require.Equal(t, sesID, acc.SessionID)
	require.False(t, acc.Created)

	// An instance medic does not know is the caller's mistake.
	res = medic(t, b.env, "triage", "--dag", "orders_etl", "--run", testRun, "--instance", "staging")
	require.Equal(t, cli.ExitUsage, res.code)
	require.Empty(t, res.stdout)
	require.Equal(t, "medic: POST /api/v1/triage: instance \"staging\" is not configured: known instances are main (HTTP 422)\n", res.stderr)
}

func TestTriageWaitPrintsTheReport(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{})

	res := medic(t, b.env, "triage", "--dag", "orders_etl", "--run", testRun, "--wait")
	require.Equal(t, cli.ExitOK, res.code, res.stderr)
	require.Empty(t, res.stderr)
	golden(t, "triage_wait.golden", res.stdout)

	incID := regexp.MustCompile(`INCIDENT (inc_[0-9a-f]{32})`).FindStringSubmatch(res.stdout)
	require.NotNil(t, incID)
	show := medic(t, b.env, "incidents", "show", incID[1])
	require.Equal(t, cli.ExitOK, show.code, show.stderr)
	require.Equal(t, res.stdout, show.stdout, "triage --wait prints the report incidents show prints")

	t.Run("json", func(t *testing.T) {
		t.Parallel()
		res := medic(t, b.env, "triage", "--dag", "finance_reporting", "--run", testRun, "--wait", "--json")
		require.Equal(t, cli.ExitOK, res.code, res.stderr)
		require.Equal(t, 1, strings.Count(res.stdout, "\n"), "one JSON document on one line")
		m := jsonKeys(t, res.stdout)
		require.ElementsMatch(t, detailKeys, keysOf(m))
		session := jsonKeys(t, string(m["session"]))
		require.JSONEq(t, `"completed"`, string(session["status"]))
		var kids []string
		require.NoError(t, json.Unmarshal(session["child_session_ids"], &kids), "the API's JSON, not a re-encoding of it")
		require.Len(t, kids, 3, "the commander started its three specialists")
		var children []map[string]any
		require.NoError(t, json.Unmarshal(m["children"], &children))
		require.Len(t, children, 3)
		var findings []map[string]any
		require.NoError(t, json.Unmarshal(m["findings"], &findings))
		sessions := map[any]bool{}
		for _, f := range findings {
			sessions[f["session_id"]] = true
		}
		require.Len(t, sessions, 4, "findings of the commander and of its three specialists")
	})
}

func TestTriageWaitGivesUp(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{})
	// Airflow sits on both runs' logs, so triage stays running.
	b.sim.SetFault(airflowsim.Fault{PathPrefix: "/api/v2/dags/orders_etl/dagRuns/" + testRun + "/taskInstances/load/logs", Latency: 3 * time.Second})
	b.sim.SetFault(airflowsim.Fault{PathPrefix: "/api/v2/dags/finance_reporting/dagRuns/" + testRun + "/taskInstances/export_ledger/logs", Latency: 3 * time.Second})

	t.Run("timeout", func(t *testing.T) {
		t.Parallel()
		res := medic(t, b.env, "triage", "--dag", "orders_etl", "--run", testRun, "--wait", "--timeout", "500ms")
		require.Equal(t, cli.ExitError, res.code)
		require.Empty(t, res.stdout)
		require.Regexp(t, `^medic: triage session ses_[0-9a-f]{32} still running after 500ms: medic goes on with it; `+
			"see `medic incidents show inc_[0-9a-f]{32}` later, or pass a longer --timeout\n$", res.stderr)
	})

	t.Run("interrupted", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		// A proxy in front of medic presses Ctrl-C once the command is
		// waiting, that is when it first asks for the session.
		target, err := url.Parse(b.url)
		require.NoError(t, err)
		rp := &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) { r.SetURL(target) }}
		proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.HasPrefix(r.URL.Path, "/api/v1/sessions/") {
				cancel()
			}
			rp.ServeHTTP(w, r)
		}))
		t.Cleanup(proxy.Close)

		res := medicContext(ctx, t, nil, "triage", "--dag", "finance_reporting", "--run", testRun, "--wait", "--server", proxy.URL)
		require.Equal(t, cli.ExitError, res.code)
		require.Empty(t, res.stdout)
		require.Regexp(t, "^stopped waiting; medic goes on triaging: see `medic incidents show inc_[0-9a-f]{32}`\nmedic: interrupted\n$", res.stderr)
	})
}

func TestIncidentsList(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{})
	for _, dag := range []string{"orders_etl", "finance_reporting"} {
		res := medic(t, b.env, "triage", "--dag", dag, "--run", testRun, "--wait")
		require.Equal(t, cli.ExitOK, res.code, res.stderr)
	}

	res := medic(t, b.env, "incidents", "list")
	require.Equal(t, cli.ExitOK, res.code, res.stderr)
	golden(t, "incidents_list.golden", res.stdout)
	require.Equal(t, "2 of 2 incident(s)\n", res.stderr, "status goes to stderr")

	t.Run("json", func(t *testing.T) {
		t.Parallel()
		res := medic(t, b.env, "incidents", "list", "--json")
		require.Equal(t, cli.ExitOK, res.code, res.stderr)
		m := jsonKeys(t, res.stdout)
		require.ElementsMatch(t, []string{"incidents", "next_cursor", "total"}, keysOf(m))
		require.JSONEq(t, `2`, string(m["total"]))
		require.JSONEq(t, `""`, string(m["next_cursor"]))
		var incs []struct {
			ID    string `json:"id"`
			DagID string `json:"dag_id"`
		}
		require.NoError(t, json.Unmarshal(m["incidents"], &incs))
		require.Len(t, incs, 2)
		require.Equal(t, "finance_reporting", incs[0].DagID, "newest first")
		require.Equal(t, "orders_etl", incs[1].DagID)
	})

	t.Run("pages", func(t *testing.T) {
		t.Parallel()
		first := medic(t, b.env, "incidents", "list", "--limit", "1")
		require.Equal(t, cli.ExitOK, first.code, first.stderr)
		require.Contains(t, first.stdout, "finance_reporting")
		m := regexp.MustCompile(`^1 of 2 incident\(s\); next page: --cursor (\S+)\n$`).FindStringSubmatch(first.stderr)
		require.NotNil(t, m, "stderr: %q", first.stderr)

		next := medic(t, b.env, "incidents", "list", "--limit", "1", "--cursor", m[1])
		require.Equal(t, cli.ExitOK, next.code, next.stderr)
		require.Contains(t, next.stdout, "orders_etl")
		require.NotContains(t, next.stdout, "finance_reporting")
		require.Equal(t, "1 of 2 incident(s)\n", next.stderr)
	})

	t.Run("filters", func(t *testing.T) {
		t.Parallel()
		res := medic(t, b.env, "incidents", "list", "--dag", "orders_etl", "--state", "escalated", "--state", "open")
		require.Equal(t, cli.ExitOK, res.code, res.stderr)
		require.Len(t, strings.Split(strings.TrimSpace(res.stdout), "\n"), 2, "header and one incident: %s", res.stdout)
		require.Contains(t, res.stdout, "orders_etl")

		res = medic(t, b.env, "incidents", "list", "--state", "on-fire")
		require.Equal(t, cli.ExitUsage, res.code, "the API refused the request as malformed")
		require.Contains(t, res.stderr, "on-fire")
	})
}

func TestIncidentsShow(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{})
	res := medic(t, b.env, "triage", "--dag", "finance_reporting", "--run", testRun, "--wait")
	require.Equal(t, cli.ExitOK, res.code, res.stderr)
	id := regexp.MustCompile(`INCIDENT (inc_[0-9a-f]{32})`).FindStringSubmatch(res.stdout)[1]

	show := medic(t, b.env, "incidents", "show", id)
	require.Equal(t, cli.ExitOK, show.code, show.stderr)
	require.Empty(t, show.stderr)
	golden(t, "incidents_show.golden", show.stdout)

	show = medic(t, b.env, "incident", "show", id, "--json")
	require.Equal(t, cli.ExitOK, show.code, show.stderr)
	m := jsonKeys(t, show.stdout)
	require.ElementsMatch(t, detailKeys, keysOf(m))
	require.JSONEq(t, `"`+id+`"`, string(jsonKeys(t, string(m["incident"]))["id"]))
	require.JSONEq(t, `"CODE_ERROR"`, string(jsonKeys(t, string(m["diagnosis"]))["label"]))
	require.JSONEq(t, `[]`, string(m["similar"]), "the first failure of its kind")
	require.JSONEq(t, `null`, string(m["precedent"]))

	missing := medic(t, b.env, "incidents", "show", "inc_missing")
	require.Equal(t, cli.ExitNotFound, missing.code)
	require.Empty(t, missing.stdout)
	require.Equal(t, "medic: GET /api/v1/incidents/inc_missing: incident inc_missing not found (HTTP 404)\n", missing.stderr)

	missing = medic(t, b.env, "incidents", "show", "inc_missing", "--json")
	require.Equal(t, cli.ExitNotFound, missing.code)
	require.Empty(t, missing.stdout)
}

func TestServerFlagAndEnvironment(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{})
	const nothing = "http://127.0.0.1:1" // nothing listens on port 1
	tests := []struct {
		name string
		env  map[string]string
		args []string
		code int
	}{
		{"MEDIC_SERVER", map[string]string{"MEDIC_SERVER": b.url}, nil, cli.ExitOK},
		{"MEDIC_SERVER with a trailing slash", map[string]string{"MEDIC_SERVER": b.url + "/"}, nil, cli.ExitOK},
		{"--server", nil, []string{"--server", b.url}, cli.ExitOK},
		{"--server over MEDIC_SERVER", map[string]string{"MEDIC_SERVER": nothing}, []string{"--server", b.url}, cli.ExitOK},
		{"MEDIC_SERVER unreachable", map[string]string{"MEDIC_SERVER": nothing}, nil, cli.ExitUnreachable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res := medic(t, tt.env, append([]string{"incidents", "list", "--json"}, tt.args...)...)
			require.Equal(t, tt.code, res.code, res.stderr)
		})
	}
}

func TestUnreachableServer(t *testing.T) {
	t.Parallel()
	const nothing = "http://127.0.0.1:1"
	tests := [][]string{
		{"incidents", "list"},
		{"incidents", "list", "--json"},
		{"incidents", "show", "inc_x"},
		{"incidents", "feedback", "inc_x", "--outcome", "fixed"},
		{"triage", "--dag", "orders_etl", "--run", testRun},
		{"triage", "--dag", "orders_etl", "--run", testRun, "--wait"},
	}
	for _, args := range tests {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			t.Parallel()
			res := medic(t, nil, append(args, "--server", nothing)...)
			require.Equal(t, cli.ExitUnreachable, res.code)
			require.Empty(t, res.stdout)
			require.Regexp(t, `^medic: cannot reach medic at http://127\.0\.0\.1:1: .*connection refused `+
				"\\(start it with `medic serve`, or pass --server\\)\n$", res.stderr)
		})
	}
}

func TestTokens(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{tokens: []config.Token{
		{Name: "dashboard", Role: config.RoleViewer, Token: config.NewSecret(viewerToken)},
		{Name: "oncall", Role: config.RoleOperator, Token: config.NewSecret(operatorToken)},
	}})
	list := []string{"incidents", "list", "--json"}
	triage := []string{"triage", "--dag", "orders_etl", "--run", testRun}
	hint := "; pass a token with the right role via --token or MEDIC_TOKEN\n"
	tests := []struct {
		name   string
		env    map[string]string
		args   []string
		code   int
		stderr string
	}{
		{
			"no token", nil, list, cli.ExitError,
			"medic: GET /api/v1/incidents: missing bearer token: send Authorization: Bearer <token> (HTTP 401)" + hint,
		},
		{
			"wrong token", nil, append(list, "--token", "not-a-token-0123456789"), cli.ExitError,
			"medic: GET /api/v1/incidents: unknown bearer token: check the token against auth.tokens in medic's configuration (HTTP 401)" + hint,
		},
		{
			"wrong MEDIC_TOKEN",
			map[string]string{"MEDIC_TOKEN": "not-a-token-0123456789"},
			list, cli.ExitError,
			"medic: GET /api/v1/incidents: unknown bearer token: check the token against auth.tokens in medic's configuration (HTTP 401)" + hint,
		},
		{"--token", nil, append(list, "--token", viewerToken), cli.ExitOK, ""},
		{"MEDIC_TOKEN", map[string]string{"MEDIC_TOKEN": viewerToken}, list, cli.ExitOK, ""},
		{"--token over MEDIC_TOKEN", map[string]string{"MEDIC_TOKEN": "not-a-token-0123456789"}, append(list, "--token", viewerToken), cli.ExitOK, ""},
		{
			"role too low",
			map[string]string{"MEDIC_TOKEN": viewerToken},
			triage, cli.ExitError,
			"medic: POST /api/v1/triage: token \"dashboard\" has role viewer; this endpoint needs operator or above (HTTP 403)" + hint,
		},
		{"operator", map[string]string{"MEDIC_TOKEN": operatorToken}, append(triage, "--json"), cli.ExitOK, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env := map[string]string{"MEDIC_SERVER": b.url}
			for k, v := range tt.env {
				env[k] = v
			}
			res := medic(t, env, tt.args...)
			require.Equal(t, tt.code, res.code, res.stderr)
			require.Equal(t, tt.stderr, res.stderr)
			if tt.code == cli.ExitOK {
				jsonKeys(t, res.stdout)
			} else {
				require.Empty(t, res.stdout)
			}
		})
	}
}
