package signature_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/medic-sh/medic/internal/logscan/extract"
	"github.com/medic-sh/medic/internal/logscan/signature"
)

func sigOf(t *testing.T, log string) signature.Signature {
	t.Helper()
	res := extract.Extract(strings.Split(log, "\n"))
	require.NotNil(t, res.Root, "no error block in:\n%s", log)
	return signature.Of(res.Root)
}

const undefinedColumn = `[2026-05-01, 02:00:03 UTC] {taskinstance.py:2905} ERROR - Task failed with exception
Traceback (most recent call last):
  File "/opt/airflow/dags/orders.py", line 41, in load_orders
    cur.execute(sql)
  File "/usr/local/lib/python3.11/site-packages/psycopg2/extras.py", line 146, in execute
    return super().execute(query, vars)
psycopg2.errors.UndefinedColumn: column "customer_ref" does not exist
LINE 1: SELECT customer_ref, amount FROM staging.orders WHERE day = '2026-05-01'`

func TestSameFailureSameSignature(t *testing.T) {
	t.Parallel()
	base := sigOf(t, undefinedColumn)
	variants := map[string]string{
		"other date and host": strings.NewReplacer("2026-05-01", "2026-06-17", "02:00:03", "14:22:51").Replace(undefinedColumn),
		"other dag folder":    strings.ReplaceAll(undefinedColumn, "/opt/airflow/dags/", "/usr/local/airflow/dags/team_a/"),
		"edited line number":  strings.ReplaceAll(undefinedColumn, "line 41", "line 57"),
	}
	for name, log := range variants {
		require.Equal(t, base.ID, sigOf(t, log).ID, name)
	}
	require.Contains(t, base.Text, "UndefinedColumn")
	require.Contains(t, base.Text, "orders.py:load_orders")
}

func TestDifferentFailuresDifferentSignatures(t *testing.T) {
	t.Parallel()
	base := sigOf(t, undefinedColumn)
	others := map[string]string{
		"other exception": strings.ReplaceAll(undefinedColumn, "psycopg2.errors.UndefinedColumn: column \"customer_ref\" does not exist",
			"psycopg2.errors.InsufficientPrivilege: permission denied for table orders"),
		"other user function": strings.ReplaceAll(undefinedColumn, "in load_orders", "in load_refunds"),
		"timeout": `[2026-05-01, 02:00:03 UTC] {timeout.py:68} ERROR - Process timed out, PID: 4242
airflow.exceptions.AirflowTaskTimeout: Timeout, PID: 4242`,
	}
	seen := map[string]string{base.ID: "base"}
	for name, log := range others {
		s := sigOf(t, log)
		prev, dup := seen[s.ID]
		require.False(t, dup, "%s has the signature of %s: %s", name, prev, s.Text)
		seen[s.ID] = name
	}
}

func TestSignatureOfBareBlock(t *testing.T) {
	t.Parallel()
	s := signature.Of(&extract.Block{Kind: "airflow", Message: "Task exited with return code -9"})
	require.Regexp(t, `^sig_[0-9a-f]{16}$`, s.ID)
	require.Equal(t, s, signature.Of(&extract.Block{Kind: "airflow", Message: "Task exited with return code -9"}))
	long := signature.Of(&extract.Block{Kind: "generic", Message: strings.Repeat("x", 1<<20)})
	require.LessOrEqual(t, len(long.Text), 1024)
}

func TestAnnouncingFirstLineTakesTheNext(t *testing.T) {
	t.Parallel()
	compile := func(second string) signature.Signature {
		return signature.Of(&extract.Block{
			Kind: "python", ExceptionType: "snowflake.connector.errors.ProgrammingError",
			Message: "SQL compilation error:\n" + second,
		})
	}
	missing := compile("Object 'ANALYTICS.PUBLIC.ORDERS' does not exist or not authorized.")
	syntax := compile("syntax error line 3 at position 7 unexpected 'FROM'.")
	require.NotEqual(t, missing.ID, syntax.ID)
	require.Contains(t, missing.Template, "does not exist")
	require.Equal(t, missing.ID, compile("Object 'RAW.EVENTS.CLICKS' does not exist or not authorized.").ID)

	single := signature.Of(&extract.Block{Kind: "python", ExceptionType: "ValueError", Message: "invalid literal for int() with base 10: 'abc'\nsecond line of data"})
	require.NotContains(t, single.Template, "second line")
}

func TestGenericSignature(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		block extract.Block
		want  bool
	}{
		{"nothing but the kind", extract.Block{Kind: "airflow"}, true},
		{"the first line of a JSON dump", extract.Block{Kind: "generic", Message: "{\n  \"meta\": {},"}, true},
		{"an exception type", extract.Block{Kind: "python", ExceptionType: "KeyError"}, false},
		{"a message", extract.Block{Kind: "airflow", Message: "Process timed out, PID: 7"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, signature.Of(&tt.block).Generic)
		})
	}
}
