package extract_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/medic-sh/medic/internal/logscan"
	"github.com/medic-sh/medic/internal/logscan/extract"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

// goldenView is what a golden file holds: the blocks, and the root as an
// index into them instead of a second copy.
type goldenView struct {
	Root   *int            `json:"root"`
	Reason string          `json:"reason,omitempty"`
	Blocks []extract.Block `json:"blocks"`
}

// wantRoot is what each log's root must be, checked on top of the golden
// file so that an -update cannot quietly accept a wrong answer.
type wantRoot struct {
	kind, exception string
	details         map[string]string
}

var goldenRoots = map[string]*wantRoot{
	"python_chain_during_handling": {extract.KindPython, "KeyError", nil},
	"python_chain_requests":        {extract.KindPython, "ConnectionRefusedError", nil},
	"python_headless_pasted":       {extract.KindPython, "TimeoutError", nil},
	"java_caused_by":               {extract.KindJava, "java.net.SocketTimeoutException", nil},
	"postgres_psycopg": {extract.KindPostgres, "psycopg2.errors.UniqueViolation", map[string]string{
		"sqlstate": "23505", "detail": "Key (order_id)=(1042117) already exists.",
	}},
	"postgres_psql_hint": {extract.KindPostgres, "", map[string]string{
		"sqlstate": "42883", "line": "3", "hint": "No function matches the given name and argument types. You might need to add explicit type casts.",
	}},
	"snowflake": {extract.KindSnowflake, "snowflake.connector.errors.ProgrammingError", map[string]string{
		"error_code": "002003", "sqlstate": "42S02", "query_id": "01b1a2c3-0304-5d6e-0000-7a8b9c0d1e2f",
	}},
	"bigquery_400_reason": {extract.KindBigQuery, "google.api_core.exceptions.BadRequest", map[string]string{
		"status": "400", "reason": "invalidQuery", "location": "US",
	}},
	"bigquery_403_rate_limit": {extract.KindBigQuery, "google.api_core.exceptions.Forbidden", map[string]string{"status": "403"}},
	"dbt_database_error": {extract.KindDbt, "Database Error", map[string]string{
		"model": "stg_orders", "path": "models/staging/stg_orders.sql", "error": "1",
	}},
	"dbt_compilation_error": {extract.KindDbt, "Compilation Error", map[string]string{"model": "fct_revenue"}},
	"dbt_test_failure": {extract.KindDbt, "Test Failure", map[string]string{
		"test": "not_null_orders_customer_id", "failures": "17",
	}},
	"spark_stage_failure": {extract.KindSpark, "ExecutorLostFailure", map[string]string{"executor": "4", "stage": "3.0"}},
	"k8s_oomkilled_describe": {extract.KindKubernetes, "OOMKilled", map[string]string{
		"reason": "OOMKilled", "exit_code": "137", "signal": "SIGKILL",
	}},
	"k8s_evicted_status_json": {extract.KindKubernetes, "Evicted", map[string]string{"reason": "Evicted", "resource": "ephemeral-storage"}},
	"k8s_pod_operator_oom": {extract.KindKubernetes, "OOMKilled", map[string]string{
		"reason": "OOMKilled", "exit_code": "137",
	}},
	"airflow_rc_minus9":         {extract.KindAirflow, "", map[string]string{"reason": "killed_oom", "signal": "SIGKILL"}},
	"airflow_sigterm":           {extract.KindAirflow, "airflow.exceptions.AirflowException", map[string]string{"reason": "sigterm"}},
	"airflow_heartbeat_zombie":  {extract.KindAirflow, "", map[string]string{"reason": "heartbeat"}},
	"airflow_execution_timeout": {extract.KindAirflow, "airflow.exceptions.AirflowTaskTimeout", map[string]string{"reason": "execution_timeout"}},
	"airflow_sensor_timeout": {extract.KindAirflow, "airflow.exceptions.AirflowSensorTimeout", map[string]string{
		"reason": "sensor_timeout", "timeout_seconds": "3600.0",
	}},
	"airflow3_structured": {extract.KindPython, "decimal.InvalidOperation", nil},
	"airflow3_sigkill":    {extract.KindAirflow, "", map[string]string{"reason": "sigkill", "signal": "SIGKILL"}},
	"no_error":            nil,
}

func TestGolden(t *testing.T) {
	t.Parallel()
	logs, err := filepath.Glob("testdata/*.log")
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(logs), 15)
	seen := map[string]bool{}
	for _, path := range logs {
		name := strings.TrimSuffix(filepath.Base(path), ".log")
		want, ok := goldenRoots[name]
		require.True(t, ok, "%s: add its expected root to goldenRoots", name)
		seen[name] = true
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			raw, err := os.ReadFile(path)
			require.NoError(t, err)
			tail, err := logscan.Tail(bytes.NewReader(raw), logscan.TailOptions{MaxLines: 2000})
			require.NoError(t, err)
			res := extract.Extract(tail.Lines)
			checkInvariants(t, tail.Lines, res)

			if want == nil {
				require.Nil(t, res.Root)
				require.Equal(t, extract.NoErrorBlock, res.Reason)
			} else {
				require.NotNil(t, res.Root, "no root found")
				require.Equal(t, want.kind, res.Root.Kind)
				require.Equal(t, want.exception, res.Root.ExceptionType)
				for k, v := range want.details {
					require.Equal(t, v, res.Root.Details[k], "details[%q]", k)
				}
			}

			view := goldenView{Reason: res.Reason, Blocks: res.Blocks}
			for i := range res.Blocks {
				if res.Root == &res.Blocks[i] {
					view.Root = &i
				}
			}
			got, err := json.MarshalIndent(view, "", "  ")
			require.NoError(t, err)
			got = append(got, '\n')
			golden := strings.TrimSuffix(path, ".log") + ".golden"
			if *update {
				require.NoError(t, os.WriteFile(golden, got, 0o644))
				return
			}
			wantJSON, err := os.ReadFile(golden)
			require.NoError(t, err, "run go test -run TestGolden -update to create it")
			require.Equal(t, string(wantJSON), string(got))
		})
	}
	for name := range goldenRoots {
		require.True(t, seen[name], "goldenRoots names %s, which has no testdata/%s.log", name, name)
	}
}

// checkInvariants holds for every input: line ranges inside the input, a
// root that is one of the blocks, bounded sizes.
func checkInvariants(t testing.TB, lines []string, res *extract.Result) {
	t.Helper()
	require.NotNil(t, res)
	require.LessOrEqual(t, len(res.Blocks), extract.MaxBlocks)
	if res.Root == nil {
		require.Equal(t, extract.NoErrorBlock, res.Reason)
		require.Empty(t, res.Blocks)
	} else {
		require.Empty(t, res.Reason)
		inBlocks := false
		for i := range res.Blocks {
			inBlocks = inBlocks || res.Root == &res.Blocks[i]
		}
		require.True(t, inBlocks, "root is one of the blocks")
	}
	for _, b := range res.Blocks {
		require.NotEmpty(t, b.Kind)
		require.GreaterOrEqual(t, b.Start, 0)
		require.Less(t, b.Start, b.End)
		require.LessOrEqual(t, b.End, len(lines))
		require.LessOrEqual(t, b.End-b.Start, extract.MaxBlockLines+1)
		require.LessOrEqual(t, len(b.Frames), extract.MaxFrames)
		require.LessOrEqual(t, len(b.Chain), extract.MaxChain)
		require.LessOrEqual(t, len(b.Message), extract.MaxMessage)
		require.GreaterOrEqual(t, b.Confidence, 0.0)
		require.LessOrEqual(t, b.Confidence, 1.0)
		if b.FirstUserFrame != nil {
			require.True(t, b.FirstUserFrame.User)
		}
		for _, c := range b.Chain {
			require.GreaterOrEqual(t, c.Line, 0)
			require.Less(t, c.Line, len(lines))
		}
	}
}
