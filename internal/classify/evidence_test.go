package classify

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/medic-sh/medic/internal/logscan"
	"github.com/medic-sh/medic/internal/logscan/extract"
	"github.com/medic-sh/medic/internal/sharedtest"
)

// requireRealEvidence checks that every piece of evidence quotes an input
// line, with its own number, or the signals.
func requireRealEvidence(t *testing.T, lines []string, d Diagnosis) {
	t.Helper()
	for _, e := range d.Evidence {
		if e.Line == -1 {
			continue
		}
		require.GreaterOrEqual(t, e.Line, 0, "evidence %+v", e)
		require.Less(t, e.Line, len(lines), "evidence %+v", e)
		require.Equal(t, clip(lines[e.Line]), e.Text, "evidence of %s quotes line %d", e.Rule, e.Line)
	}
}

func testRule(id, pattern string, scope Scope) Rule {
	return Rule{ID: id, Label: Infra, Patterns: []string{pattern}, Weight: 3, Scope: scope, Rationale: "test"}
}

// TestEvidenceQuotesTheRealLine: a rule that matched the text extract
// composed for the root block ("Type: Message", a cause, a key=value
// detail) quotes the input line carrying the match, never that text.
func TestEvidenceQuotesTheRealLine(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		lines []string
		block *extract.Block // the root block; extract's own when nil
		rule  Rule           // one rule; the embedded rules when zero
		want  string         // the rule whose evidence is checked
		line  int            // its line, -1 for no evidence at all
	}{
		{
			name: "python exception below its traceback header",
			lines: lines(`
[2024-01-02, 03:04:05 UTC] {taskinstance.py:1937} ERROR - Task failed with exception
Traceback (most recent call last):
  File "/opt/airflow/dags/load.py", line 10, in run
    cur.execute(sql)
psycopg2.errors.UndefinedColumn: column "customer_tier" does not exist
LINE 1: SELECT customer_tier FROM orders`),
			want: "pg_undefined_column", line: 4,
		},
		{
			name: "detail derived from the exception class",
			lines: lines(`
Traceback (most recent call last):
  File "/opt/airflow/dags/load.py", line 10, in run
    cur.execute(sql)
psycopg2.errors.UndefinedColumn: column "customer_tier" does not exist`),
			want: "sqlstate_undefined_column", line: 3,
		},
		{
			name: "message continued on the next line",
			lines: lines(`
2021-01-21 22:27:16 ERROR Exception in thread "main" net.snowflake.client.jdbc.SnowflakeSQLException: SQL compilation error:
Schema 'RAW' already exists, but current role has no privileges on it.`),
			want: "access_denied", line: 1,
		},
		{
			name:  "message text found verbatim",
			lines: []string{"Traceback (most recent call last):", "  File \"x.py\", line 1", "app.Boom: the widget exploded"},
			block: &extract.Block{ExceptionType: "app.Boom", Message: "the widget exploded", Start: 0, End: 3},
			rule:  testRule("widget", `Boom: the widget`, ScopeRoot),
			want:  "widget", line: 2,
		},
		{
			name:  "match spans the lines extract joined",
			lines: []string{"job failed:", "ERROR could not write block 42 of temporary file", "DETAIL No space left on device"},
			block: &extract.Block{ExceptionType: "IOError", Message: "could not write block 42 of temporary file\nNo space left on device", Start: 0, End: 3},
			rule:  testRule("spill", `temporary file\s+No space`, ScopeRoot),
			want:  "spill", line: 1,
		},
		{
			name:  "detail value on a line",
			lines: []string{"job failed", "server said code E4711 twice", "bye"},
			block: &extract.Block{ExceptionType: "JobError", Message: "job failed", Start: 0, End: 3, Details: map[string]string{"code": "E4711"}},
			rule:  testRule("code", `^code=E4711$`, ScopeRoot),
			want:  "code", line: 1,
		},
		{
			name:  "short detail value falls back to the exception line",
			lines: []string{"[task] step 9 of 12", "worker.Killed: killed by the kernel", "exit 9"},
			block: &extract.Block{ExceptionType: "worker.Killed", Message: "killed", Start: 0, End: 3, Details: map[string]string{"signal": "9"}},
			rule:  testRule("sig", `^signal=9$`, ScopeRoot),
			want:  "sig", line: 1,
		},
		{
			name:  "block outside the lines quotes nothing",
			lines: []string{"hello"},
			block: &extract.Block{ExceptionType: "Boom", Message: "the widget exploded", Start: 10, End: 12},
			rule:  testRule("widget", `widget exploded`, ScopeRoot),
			want:  "widget", line: -1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := Default()
			if tt.rule.ID != "" {
				var err error
				c, err = New([]Rule{tt.rule})
				require.NoError(t, err)
			}
			in := Input{Lines: tt.lines}
			if tt.block != nil {
				in.Extract = &extract.Result{Blocks: []extract.Block{*tt.block}}
				in.Extract.Root = &in.Extract.Blocks[0]
			}
			d := c.Classify(in)
			requireRealEvidence(t, in.Lines, d)
			var got []Evidence
			for _, e := range d.Evidence {
				if e.Rule == tt.want {
					got = append(got, e)
				}
			}
			if tt.line < 0 {
				require.Empty(t, got, "%+v", d.Evidence)
				require.Equal(t, Infra, d.Label, "the hit still counts: %s", d.Reason)
				return
			}
			require.Len(t, got, 1, "%+v", d.Evidence)
			require.Equal(t, tt.line, got[0].Line, "%+v", got[0])
		})
	}
}

// TestEvidenceOnDevCorpus: on every dev case, evidence quotes input lines.
func TestEvidenceOnDevCorpus(t *testing.T) {
	t.Parallel()
	f, err := os.Open(filepath.Join(sharedtest.Dir(t, "corpus"), "dev.jsonl"))
	require.NoError(t, err)
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 1<<20), 16<<20)
	n := 0
	for sc.Scan() {
		var k struct {
			ID  string `json:"id"`
			Log string `json:"log"`
		}
		require.NoError(t, json.Unmarshal(sc.Bytes(), &k))
		in := logscan.RedactLines(strings.Split(strings.ReplaceAll(k.Log, "\r\n", "\n"), "\n"))
		d := Classify(Input{Lines: in, Extract: extract.Extract(in)})
		requireRealEvidence(t, in, d)
		n++
	}
	require.NoError(t, sc.Err())
	require.Positive(t, n)
}
