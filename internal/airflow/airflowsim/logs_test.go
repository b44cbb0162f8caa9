package airflowsim_test

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/medic-sh/medic/internal/airflow/airflowsim"
)

const logPath = "/dags/etl/dagRuns/scheduled__2026-05-01T02%3A00%3A00%2B00%3A00/taskInstances/transform/logs/"

func failedTransform(t *testing.T, b *testBundle, outcomes ...airflowsim.Outcome) {
	t.Helper()
	require.NoError(t, b.sim.AddDAG(etlDAG()))
	_, err := b.sim.StartRun("etl", schedID(1), day(1), map[string][]airflowsim.Outcome{"transform": outcomes})
	require.NoError(t, err)
}

func TestV1LogContent(t *testing.T) {
	t.Parallel()
	b := setup(t, 2)
	failedTransform(t, b, airflowsim.Failure(airflowsim.LogPostgresUndefinedColumn("staging.orders", "customer_idd", "orders.customer_id")))
	text, ok := b.sim.TaskLog("etl", schedID(1), "transform", 1)
	require.True(t, ok)
	ti := b.get("/dags/etl/dagRuns/" + esc(schedID(1)) + "/taskInstances/transform").object(t)
	header := "*** Found local files:\n***   * /opt/airflow/logs/dag_id=etl/run_id=scheduled__2026-05-01T02:00:00+00:00/task_id=transform/attempt=1.log\n"

	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`(?m)^\[2026-05-04, \d\d:\d\d:\d\d UTC\] \{taskinstance\.py:2865\} INFO - Starting attempt 1 of 2$`),
		regexp.MustCompile(`(?m)^\[2026-05-04, \d\d:\d\d:\d\d UTC\] \{taskinstance\.py:2905\} ERROR - Task failed with exception$`),
		regexp.MustCompile(`(?m)^psycopg2\.errors\.UndefinedColumn: column "customer_idd" does not exist$`),
		regexp.MustCompile(`(?m)^LINE 1: SELECT order_id, customer_idd`),
		regexp.MustCompile(`(?m)^ {25}\^$`),
		regexp.MustCompile(`(?m)^HINT:  Perhaps you meant to reference the column "orders\.customer_id"\.$`),
		regexp.MustCompile(`(?m)\{taskinstance\.py:1206\} INFO - Marking task as UP_FOR_RETRY\. dag_id=etl, task_id=transform, run_id=scheduled__2026-05-01T02:00:00\+00:00, execution_date=20260501T020000, start_date=20260504T\d{6}, end_date=20260504T\d{6}$`),
		regexp.MustCompile(`(?m)\{standard_task_runner\.py:124\} ERROR - Failed to execute job \d+ for task transform \(column "customer_idd" does not exist`),
		regexp.MustCompile(`(?m)\{local_task_job_runner\.py:243\} INFO - Task exited with return code 1$`),
	} {
		require.Regexp(t, want, text)
	}
	tries := b.get("/dags/etl/dagRuns/" + esc(schedID(1)) + "/taskInstances/transform/tries").object(t)["task_instances"].([]any)
	pid1 := int(tries[0].(map[string]any)["pid"].(float64))
	require.NotEqual(t, ti["pid"], tries[0].(map[string]any)["pid"], "the live row shows the last try")
	require.Contains(t, text, fmt.Sprintf("Started process %d to run task", pid1), "try 1's pid is in its own log")

	r := b.get(logPath+"1", "Accept", "application/json")
	require.Equal(t, 200, r.status)
	var body struct {
		Content           string `json:"content"`
		ContinuationToken string `json:"continuation_token"`
	}
	require.NoError(t, json.Unmarshal(r.body, &body))
	host, got := unwrapV1Content(t, body.Content)
	require.Equal(t, "airflow-worker-"+host[len(host)-1:], host)
	require.Equal(t, header+text, got)
	require.Equal(t, map[string]any{"end_of_log": true, "log_pos": float64(len(text))}, tokenMeta(t, body.ContinuationToken),
		"2.x returns a token even at the end of the log")

	// Passing the token back: nothing new, no header, the token again.
	r = b.get(logPath+"1?token="+body.ContinuationToken, "Accept", "application/json")
	require.NoError(t, json.Unmarshal(r.body, &body))
	_, got = unwrapV1Content(t, body.Content)
	require.Empty(t, got)
	require.Equal(t, true, tokenMeta(t, body.ContinuationToken)["end_of_log"])

	// text/plain streams host, header and text.
	for _, accept := range []string{"text/plain", "*/*"} {
		r = b.get(logPath+"1", "Accept", accept)
		require.Equal(t, "text/plain", r.header.Get("Content-Type"))
		require.Equal(t, host+"\n"+header+text+"\n", string(r.body))
	}
	require.Empty(t, b.val.Violations())
}

func TestLogContinuation(t *testing.T) {
	t.Parallel()
	big := airflowsim.Failure(airflowsim.LogWithNoise(1<<20, airflowsim.LogKeyError("currency_code")))
	for _, version := range versions {
		t.Run(fmt.Sprintf("v%d", version), func(t *testing.T) {
			t.Parallel()
			b := setup(t, version, func(o *airflowsim.Options) { o.LogPageBytes = 128 << 10 })
			failedTransform(t, b, big)
			if version == 2 {
				full, _ := b.sim.TaskLog("etl", schedID(1), "transform", 1)
				var got strings.Builder
				token, pages := "", 0
				for {
					path := logPath + "1"
					if token != "" {
						path += "?token=" + token
					}
					r := b.get(path, "Accept", "application/json")
					require.Equal(t, 200, r.status)
					var body struct {
						Content           string `json:"content"`
						ContinuationToken string `json:"continuation_token"`
					}
					require.NoError(t, json.Unmarshal(r.body, &body))
					_, text := unwrapV1Content(t, body.Content)
					got.WriteString(text)
					pages++
					token = body.ContinuationToken
					if tokenMeta(t, token)["end_of_log"] == true {
						break
					}
					require.Less(t, pages, 100)
				}
				require.Greater(t, pages, 5)
				header, _, _ := strings.Cut(got.String(), "\n[")
				require.True(t, strings.HasPrefix(header, "*** Found local files:\n***   * /opt/airflow/logs/"))
				require.Equal(t, header+"\n"+full, got.String(), "the pages rebuild the log exactly")
			} else {
				full := b.get(logPath + "1?full_content=true").object(t)
				require.Nil(t, full["continuation_token"])
				want := full["content"].([]any)
				var got []any
				token, pages := "", 0
				for {
					path := logPath + "1"
					if token != "" {
						path += "?token=" + token
					}
					r := b.get(path)
					require.Equal(t, 200, r.status)
					m := r.object(t)
					got = append(got, m["content"].([]any)...)
					pages++
					if m["continuation_token"] == nil {
						break
					}
					token = m["continuation_token"].(string)
					require.Less(t, pages, 100)
				}
				require.Greater(t, pages, 5)
				require.Equal(t, len(want), len(got))
				require.Equal(t, want[len(want)-1], got[len(got)-1])

				// ndjson carries the token in a header.
				r := b.get(logPath+"1", "Accept", "application/x-ndjson")
				require.Equal(t, "application/x-ndjson", r.header.Get("Content-Type"))
				tok := r.header.Get("Airflow-Continuation-Token")
				require.NotEmpty(t, tok)
				require.Equal(t, false, tokenMeta(t, tok)["end_of_log"])
				lines := strings.Split(strings.TrimSpace(string(r.body)), "\n")
				require.JSONEq(t, `{"event":"::group::Log message source details","sources":["/opt/airflow/logs/dag_id=etl/run_id=scheduled__2026-05-01T02:00:00+00:00/task_id=transform/attempt=1.log"]}`, lines[0])
				r = b.get(logPath+"1?full_content=true", "Accept", "application/x-ndjson")
				require.Empty(t, r.header.Get("Airflow-Continuation-Token"), "no token at the end")
				require.Len(t, strings.Split(strings.TrimSpace(string(r.body)), "\n"), len(want))
			}
			require.Empty(t, b.val.Violations())
		})
	}
}

type v2Log struct {
	Content []map[string]any `json:"content"`
}

func v2LogOf(t *testing.T, b *testBundle, try int) []map[string]any {
	t.Helper()
	r := b.get(fmt.Sprintf("%s%d", logPath, try))
	require.Equal(t, 200, r.status, string(r.body))
	var l v2Log
	require.NoError(t, json.Unmarshal(r.body, &l))
	return l.Content
}

func entry(t *testing.T, entries []map[string]any, event string) map[string]any {
	t.Helper()
	for _, e := range entries {
		if e["event"] == event {
			return e
		}
	}
	t.Fatalf("no entry %q", event)
	return nil
}

func TestV2LogStructure(t *testing.T) {
	t.Parallel()
	b := setup(t, 3)
	failedTransform(t, b,
		airflowsim.Failure(airflowsim.LogPostgresUndefinedColumn("staging.orders", "customer_idd", "orders.customer_id")),
		airflowsim.Failure(airflowsim.LogHTTP429("https://ads.example.com/v2/spend")),
	)
	entries := v2LogOf(t, b, 1)
	require.Equal(t, "::group::Log message source details", entries[0]["event"])
	require.Equal(t, []any{"/opt/airflow/logs/dag_id=etl/run_id=scheduled__2026-05-01T02:00:00+00:00/task_id=transform/attempt=1.log"}, entries[0]["sources"])
	require.Equal(t, "::endgroup::", entries[1]["event"])
	for _, e := range entries[2:] {
		ts, err := time.Parse(time.RFC3339Nano, e["timestamp"].(string))
		require.NoError(t, err)
		require.Equal(t, 2026, ts.Year())
		require.Contains(t, []string{"info", "warning", "error", "critical"}, e["level"])
		require.NotEmpty(t, e["logger"])
	}
	failed := entry(t, entries, "Task failed with exception")
	require.Equal(t, "error", failed["level"])
	require.Equal(t, "task", failed["logger"])
	detail := failed["error_detail"].([]any)
	require.Len(t, detail, 1)
	exc := detail[0].(map[string]any)
	require.Equal(t, "UndefinedColumn", exc["exc_type"])
	require.True(t, strings.HasPrefix(exc["exc_value"].(string), `column "customer_idd" does not exist`+"\nLINE 1:"))
	frames := exc["frames"].([]any)
	require.Equal(t, map[string]any{
		"filename": "/home/airflow/.local/lib/python3.11/site-packages/airflow/providers/common/sql/hooks/sql.py",
		"lineno":   float64(505), "name": "_run_command",
	}, frames[len(frames)-1])
	marking := entries[len(entries)-2]
	require.Regexp(t, `^Marking task as UP_FOR_RETRY\. dag_id=etl, task_id=transform, run_id=scheduled__2026-05-01T02:00:00\+00:00, logical_date=20260501T020000, `, marking["event"])
	exited := entries[len(entries)-1]
	require.Equal(t, "Process exited", exited["event"])
	require.Equal(t, "supervisor", exited["logger"])
	require.EqualValues(t, 1, exited["exit_code"])

	// The raw JSON keeps structlog's key order.
	r := b.get(logPath + "1")
	require.Contains(t, string(r.body), `{"timestamp":"2026-05-04T`)
	require.Regexp(t, `\{"timestamp":"[^"]+","level":"info","event":"[^"]*","logger":"`, string(r.body))

	// A chained traceback becomes two exceptions, the raised one first.
	chain := entry(t, v2LogOf(t, b, 2), "Task failed with exception")["error_detail"].([]any)
	require.Len(t, chain, 2)
	require.Equal(t, "AirflowException", chain[0].(map[string]any)["exc_type"])
	require.Equal(t, "429:Too Many Requests", chain[0].(map[string]any)["exc_value"])
	require.Equal(t, "HTTPError", chain[1].(map[string]any)["exc_type"])
	require.Equal(t, false, chain[1].(map[string]any)["is_cause"], "'During handling' is context, not cause")
	require.Empty(t, b.val.Violations())
}

func TestOOMAndTimeoutEndings(t *testing.T) {
	t.Parallel()
	oom := airflowsim.Outcome{State: airflowsim.StateFailed, Log: airflowsim.LogOOMGrowth(1000), ExitCode: -9, SilentKill: true}
	timeout := airflowsim.Failure(airflowsim.LogTaskTimeout())
	for _, version := range versions {
		t.Run(fmt.Sprintf("v%d", version), func(t *testing.T) {
			t.Parallel()
			b := setup(t, version)
			failedTransform(t, b, oom, timeout)
			tries := b.get("/dags/etl/dagRuns/" + esc(schedID(1)) + "/taskInstances/transform/tries").object(t)["task_instances"].([]any)
			pid2 := int(tries[1].(map[string]any)["pid"].(float64))
			if version == 2 {
				text, _ := b.sim.TaskLog("etl", schedID(1), "transform", 1)
				require.Regexp(t, `(?m)\{standard_task_runner\.py:179\} ERROR - \('Job \d+ was killed before it finished \(likely due to running out of memory\)', 'For more information, see https://airflow\.apache\.org/docs/apache-airflow/stable/troubleshooting\.html#LocalTaskJob-killed'\)\n.*Task exited with return code -9\n$`, text)
				require.NotContains(t, text, "Marking task as")
				text, _ = b.sim.TaskLog("etl", schedID(1), "transform", 2)
				require.Contains(t, text, fmt.Sprintf("{timeout.py:68} ERROR - Process timed out, PID: %d\n", pid2))
				require.Contains(t, text, fmt.Sprintf("\nairflow.exceptions.AirflowTaskTimeout: Timeout, PID: %d\n", pid2))
			} else {
				entries := v2LogOf(t, b, 1)
				kill := entries[len(entries)-2]
				require.Equal(t, "critical", kill["level"])
				require.True(t, strings.HasPrefix(kill["event"].(string), "Process terminated by signal."))
				require.EqualValues(t, -9, kill["signal"])
				require.Equal(t, "SIGKILL", kill["signal_name"])
				timeoutEntries := v2LogOf(t, b, 2)
				require.Equal(t, fmt.Sprintf("Process timed out, PID: %d", pid2), entry(t, timeoutEntries, fmt.Sprintf("Process timed out, PID: %d", pid2))["event"])
				exc := entry(t, timeoutEntries, "Task failed with exception")["error_detail"].([]any)[0].(map[string]any)
				require.Equal(t, "AirflowTaskTimeout", exc["exc_type"])
			}
			calls := b.callbacks()
			require.Len(t, calls, 1, "the SIGKILLed try fires no callback")
			require.Equal(t, 2, calls[0].TryNumber)
			require.Equal(t, fmt.Sprintf("airflow.exceptions.AirflowTaskTimeout: Timeout, PID: %d", pid2), calls[0].Exception)
			require.Empty(t, b.val.Violations())
		})
	}
}

func TestBinaryLog(t *testing.T) {
	t.Parallel()
	for _, version := range versions {
		t.Run(fmt.Sprintf("v%d", version), func(t *testing.T) {
			t.Parallel()
			b := setup(t, version)
			failedTransform(t, b, airflowsim.Failure(airflowsim.LogBinaryGarbage()))
			if version == 2 {
				r := b.get(logPath+"1", "Accept", "application/json")
				require.True(t, utf8.Valid(r.body))
				var body struct{ Content string }
				require.NoError(t, json.Unmarshal(r.body, &body))
				require.Contains(t, body.Content, `\x1f`+"\uFFFD"+`\x08\x08`, "Python repr escapes control bytes and keeps U+FFFD (printable) for invalid bytes")
				_, text := unwrapV1Content(t, body.Content)
				require.Contains(t, text, "\x1f\uFFFD\x08\x08")
				require.Contains(t, text, "partners.csv\x00")
				r = b.get(logPath+"1", "Accept", "text/plain")
				require.True(t, utf8.Valid(r.body))
			} else {
				r := b.get(logPath + "1")
				require.True(t, utf8.Valid(r.body))
				require.Contains(t, string(r.body), `\u001f`+"\uFFFD"+`\b\b`)
			}
			calls := b.callbacks()
			require.Len(t, calls, 2)
			require.Equal(t, "airflow.exceptions.AirflowException: Bash command failed. The command returned a non-zero exit code 1.", calls[1].Exception)
			require.Empty(t, b.val.Violations())
		})
	}
}

func TestHugeLog(t *testing.T) {
	t.Parallel()
	huge := airflowsim.Failure(airflowsim.LogWithNoise(airflowsim.HugeLogBytes, airflowsim.LogKeyError("currency_code")))
	for _, version := range versions {
		t.Run(fmt.Sprintf("v%d", version), func(t *testing.T) {
			t.Parallel()
			b := setup(t, version)
			failedTransform(t, b, huge)
			if version == 2 {
				r := b.get(logPath+"1", "Accept", "text/plain")
				require.Greater(t, len(r.body), airflowsim.HugeLogBytes)
				tail := string(r.body[len(r.body)-4096:])
				require.Contains(t, tail, "KeyError: 'currency_code'\n")
				require.Contains(t, tail, "Task exited with return code 1\n")
			} else {
				entries := v2LogOf(t, b, 1)
				require.Greater(t, len(entries), 30000)
				exc := entry(t, entries[len(entries)-5:], "Task failed with exception")["error_detail"].([]any)[0].(map[string]any)
				require.Equal(t, "KeyError", exc["exc_type"])
				require.Equal(t, "'currency_code'", exc["exc_value"])
			}
			require.Empty(t, b.val.Violations())
		})
	}
}
