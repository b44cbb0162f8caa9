package triage

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/medic-sh/medic/internal/classify"
	"github.com/medic-sh/medic/internal/incident"
	"github.com/medic-sh/medic/internal/logscan/extract"
	"github.com/medic-sh/medic/internal/memory"
)

func TestExcerptWindow(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		lines    int
		errs     []int
		n        int
		from, to int
	}{
		{name: "empty log", lines: 0, n: 40, from: 0, to: 0},
		{name: "no errors, short log", lines: 10, n: 40, from: 0, to: 10},
		{name: "no errors keeps the tail", lines: 100, n: 40, from: 60, to: 100},
		{name: "one error: two before, three after", lines: 100, errs: []int{50}, n: 40, from: 48, to: 54},
		{name: "error on the first line", lines: 100, errs: []int{0}, n: 40, from: 0, to: 4},
		{name: "error on the last line", lines: 100, errs: []int{99}, n: 40, from: 97, to: 100},
		{name: "errors fit", lines: 100, errs: []int{20, 30, 45}, n: 40, from: 18, to: 49},
		{name: "errors spread wider than n keep the last n", lines: 100, errs: []int{5, 90}, n: 40, from: 54, to: 94},
		{name: "window of one line", lines: 100, errs: []int{50}, n: 1, from: 53, to: 54},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			lines := make([]string, tt.lines)
			from, to := excerptWindow(lines, tt.errs, tt.n)
			require.Equal(t, [2]int{tt.from, tt.to}, [2]int{from, to})
			require.LessOrEqual(t, to-from, tt.n)
		})
	}
}

func TestHeadline(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		lines []string
		want  int // -1: none
	}{
		{name: "empty", lines: nil, want: -1},
		{name: "nothing error-like", lines: []string{"INFO - starting", "INFO - done"}, want: -1},
		{
			name: "python: the last exception line",
			lines: []string{
				"[2026-05-01, 02:00:03 UTC] {taskinstance.py:2905} ERROR - Task failed with exception",
				"Traceback (most recent call last):",
				`  File "/opt/airflow/dags/x.py", line 3, in load`,
				"KeyError: 'currency_code'",
				"[2026-05-01, 02:00:04 UTC] {taskinstance.py:1206} INFO - Marking task as FAILED. dag_id=x",
			},
			want: 3,
		},
		{
			name: "python: a chained traceback ends with the exception that escaped",
			lines: []string{
				"requests.exceptions.HTTPError: 429 Client Error: Too Many Requests for url: https://x",
				"",
				"During handling of the above exception, another exception occurred:",
				"Traceback (most recent call last):",
				"airflow.exceptions.AirflowException: 429:Too Many Requests",
			},
			want: 4,
		},
		{
			name: "java: the last Caused by is the root cause",
			lines: []string{
				`Exception in thread "main" org.apache.spark.SparkException: Job aborted`,
				"\tat org.apache.spark.scheduler.DAGScheduler.abortStage(DAGScheduler.scala:2608)",
				"Caused by: org.apache.spark.SparkException: Task failed while writing rows",
				"Caused by: java.io.FileNotFoundException: No such file: s3a://lake/part-0",
				"\tat org.apache.hadoop.fs.s3a.S3AFileSystem.open(S3AFileSystem.java:3866)",
				"\t... 42 more",
			},
			want: 3,
		},
		{
			name:  "an exception logged by Airflow with its prefix",
			lines: []string{"[2026-06-01T11:59:40Z] {task} ERROR - ValueError: negative amount", "[..] INFO - cleanup"},
			want:  0,
		},
		{
			name: "all-caps labels are not exception names",
			lines: []string{
				`psycopg2.errors.UndefinedColumn: column "c" does not exist`,
				"LINE 1: SELECT c FROM t",
				`HINT:  Perhaps you meant to reference the column "d".`,
				"DETAIL: Key (id)=(1) already exists.",
			},
			want: 0,
		},
		{
			name: "no exception: the last error line that is not bookkeeping",
			lines: []string{
				"{standard_task_runner.py:179} ERROR - ('Job 4104 was killed before it finished (likely due to running out of memory)',)",
				"{local_task_job_runner.py:243} INFO - Task exited with return code -9",
				"{taskinstance.py:1206} INFO - Marking task as FAILED.",
			},
			want: 0,
		},
		{
			name: "every exit code is bookkeeping",
			lines: []string{
				"{subprocess.py:97} ERROR - dbt found 12 failing rows",
				"{local_task_job_runner.py:243} INFO - Task exited with return code 137",
			},
			want: 0,
		},
		{
			name: "only bookkeeping: still the last error line",
			lines: []string{
				"{taskinstance.py:2905} ERROR - Task failed with exception",
				"{local_task_job_runner.py:243} INFO - Task exited with return code -9",
				"{taskinstance.py:3503} INFO - 0 downstream tasks scheduled",
			},
			want: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			i, ok := headline(tt.lines)
			if tt.want < 0 {
				require.False(t, ok)
				return
			}
			require.True(t, ok)
			require.Equal(t, tt.want, i, "picked %q", tt.lines[i])
		})
	}
}

func TestStripPrefix(t *testing.T) {
	t.Parallel()
	tests := map[string]string{
		"[2026-05-01, 02:00:03 UTC] {taskinstance.py:2905} ERROR - Task failed with exception": "Task failed with exception",
		"[2026-06-01T11:59:40.225806Z] {airflow.hooks.base} INFO - Retrieving connection 'pg'": "Retrieving connection 'pg'",
		"[2026-06-01T11:59:40Z] {supervisor} CRITICAL - Process terminated by signal":          "Process terminated by signal",
		"KeyError: 'a'":                           "KeyError: 'a'",
		"  File \"x.py\", line 3, in load":        `File "x.py", line 3, in load`,
		"[not a prefix without a closing bracket": "[not a prefix without a closing bracket",
	}
	for in, want := range tests {
		require.Equal(t, want, stripPrefix(in), "stripPrefix(%q)", in)
	}
}

func TestTruncate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		s    string
		n    int
		want string
	}{
		{name: "short", s: "KeyError: 'a'", n: 160, want: "KeyError: 'a'"},
		{name: "exactly n", s: "abcde", n: 5, want: "abcde"},
		{name: "at the last word boundary", s: "column customer does not exist", n: 20, want: "column customer…"},
		{name: "a word ending at the cut", s: "column customer does not exist", n: 21, want: "column customer does…"},
		{name: "no space: a hard cut", s: "abcdefghijklmnopqrstuvwxyz", n: 10, want: "abcdefghij…"},
		{name: "space too early: a hard cut", s: "a bcdefghijklmnopqrstuvwxyz", n: 10, want: "a bcdefghi…"},
		{name: "two-byte runes", s: "éééééé", n: 5, want: "éé…"},
		{name: "three-byte runes", s: "日本語のエラー", n: 4, want: "日…"},
		{name: "four-byte rune at the cut", s: "ab😀cd", n: 4, want: "ab…"},
		{name: "cut right after a rune", s: "ab😀cd", n: 6, want: "ab😀…"},
		{name: "zero width", s: "abc", n: 0, want: "…"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := truncate(tt.s, tt.n)
			require.Equal(t, tt.want, got)
			require.True(t, utf8.ValidString(got))
			require.LessOrEqual(t, len(strings.TrimSuffix(got, "…")), tt.n)
		})
	}
}

func TestHumanDuration(t *testing.T) {
	t.Parallel()
	require.Equal(t, "7d", humanDuration(7*24*time.Hour))
	require.Equal(t, "1d", humanDuration(24*time.Hour))
	require.Equal(t, "36h0m0s", humanDuration(36*time.Hour))
	require.Equal(t, "1h30m0s", humanDuration(90*time.Minute))
}

// finding builds a finding of step with v as its data.
func finding(t *testing.T, step string, v any) *incident.Finding {
	t.Helper()
	data, err := json.Marshal(v)
	require.NoError(t, err)
	return &incident.Finding{Step: step, Kind: incident.FindingKind(step), Summary: step, Data: data}
}

func failedStep(step, msg string) *incident.Finding {
	return &incident.Finding{Step: step, Summary: step + " unavailable", Error: msg}
}

func TestSeverity(t *testing.T) {
	t.Parallel()
	recurring := func(t *testing.T) *incident.Finding {
		return finding(t, StepFrequency, Frequency{Recurring: true, Pattern: "recurring", FailedRuns: 3})
	}
	oneOff := func(t *testing.T) *incident.Finding {
		return finding(t, StepFrequency, Frequency{Pattern: "one-off", FailedRuns: 1})
	}
	blocked := func(t *testing.T, n int) *incident.Finding {
		ft := FailedTasks{Failed: []FailedTask{{TaskID: "load"}}}
		for i := range n {
			ft.UpstreamFailed = append(ft.UpstreamFailed, string(rune('a'+i)))
		}
		return finding(t, StepFailedTasks, ft)
	}
	tests := []struct {
		name     string
		findings func(t *testing.T) []*incident.Finding
		want     incident.Severity
	}{
		{"nothing known", func(*testing.T) []*incident.Finding { return nil }, incident.SeverityMedium},
		{"one-off, little blocked", func(t *testing.T) []*incident.Finding { return []*incident.Finding{oneOff(t), blocked(t, 2)} }, incident.SeverityMedium},
		{"recurring", func(t *testing.T) []*incident.Finding { return []*incident.Finding{recurring(t), blocked(t, 0)} }, incident.SeverityHigh},
		{"three blocked", func(t *testing.T) []*incident.Finding { return []*incident.Finding{oneOff(t), blocked(t, 3)} }, incident.SeverityHigh},
		{"recurring and three blocked", func(t *testing.T) []*incident.Finding { return []*incident.Finding{recurring(t), blocked(t, 3)} }, incident.SeverityCritical},
		{"recurring and two blocked", func(t *testing.T) []*incident.Finding { return []*incident.Finding{recurring(t), blocked(t, 2)} }, incident.SeverityHigh},
		{"a failed step counts for nothing", func(t *testing.T) []*incident.Finding {
			return []*incident.Finding{failedStep(StepFrequency, "503"), blocked(t, 1)}
		}, incident.SeverityMedium},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, Severity(tt.findings(t)))
		})
	}
}

func TestSummarize(t *testing.T) {
	t.Parallel()
	inc := &incident.Incident{ID: "inc_1", DagID: "orders_etl", RunID: "scheduled__1", FirstTaskID: "load"}
	long := "ValueError: " + strings.Repeat("très long message ", 20)
	tests := []struct {
		name     string
		inc      *incident.Incident
		findings func(t *testing.T) []*incident.Finding
		want     string
	}{
		{
			name: "everything", inc: inc,
			findings: func(t *testing.T) []*incident.Finding {
				return []*incident.Finding{
					finding(t, StepRunSummary, RunSummary{FirstFailingTask: "extract"}),
					finding(t, StepFailedTasks, FailedTasks{UpstreamFailed: []string{"load", "report"}}),
					finding(t, StepFrequency, Frequency{Pattern: "recurring", FailedRuns: 3, LookbackHuman: "7d"}),
					finding(t, StepLogExcerpt, LogExcerpt{Headline: "KeyError: 'x'"}),
				}
			},
			want: "orders_etl.extract failed: KeyError: 'x' · recurring (3 run(s) in 7d) · 2 downstream task(s) blocked",
		},
		{
			name: "the incident's first task when the run summary is missing", inc: inc,
			findings: func(t *testing.T) []*incident.Finding {
				return []*incident.Finding{
					failedStep(StepRunSummary, "503 Service Unavailable"),
					finding(t, StepFailedTasks, FailedTasks{}),
					failedStep(StepLogExcerpt, "timed out"),
				}
			},
			want: "orders_etl.load failed · 2 step(s) incomplete",
		},
		{
			name: "a long headline is shortened", inc: inc,
			findings: func(t *testing.T) []*incident.Finding {
				return []*incident.Finding{finding(t, StepLogExcerpt, LogExcerpt{Headline: long})}
			},
			want: "orders_etl.load failed: " + truncate(long, 160),
		},
		{
			name: "memory's diagnosis and precedent", inc: inc,
			findings: func(t *testing.T) []*incident.Finding {
				return []*incident.Finding{
					finding(t, StepLogExcerpt, LogExcerpt{Headline: "KeyError: 'x'", Diagnosis: &classify.Diagnosis{Label: classify.CodeError, Confidence: 0.53}}),
					finding(t, StepMemory, Memory{
						Diagnosis: &classify.Diagnosis{Label: classify.CodeError, Confidence: 0.706},
						Precedent: &memory.Precedent{Label: "CODE_ERROR", Action: "retry", Outcome: memory.OutcomeFixed, Trust: 0.667, Exact: true, Similarity: 1},
					}),
				}
			},
			want: "orders_etl.load failed: KeyError: 'x' · CODE_ERROR (71%) · seen before: retry fixed it, trust 0.67",
		},
		{
			name: "a similar precedent without an action", inc: inc,
			findings: func(t *testing.T) []*incident.Finding {
				return []*incident.Finding{
					finding(t, StepLogExcerpt, LogExcerpt{Diagnosis: &classify.Diagnosis{Label: classify.Unknown, Confidence: 0.2}}),
					finding(t, StepMemory, Memory{
						Diagnosis: &classify.Diagnosis{Label: classify.Permission, Confidence: 0.6},
						Precedent: &memory.Precedent{Label: "PERMISSION", Outcome: memory.OutcomeUnknown, Trust: 0.667, Similarity: 0.91},
					}),
				}
			},
			want: "orders_etl.load failed · PERMISSION (60%) · similar failure seen before (similarity 0.91): it was PERMISSION, trust 0.67",
		},
		{
			name: "a failed memory step keeps the log's diagnosis", inc: inc,
			findings: func(t *testing.T) []*incident.Finding {
				return []*incident.Finding{
					finding(t, StepLogExcerpt, LogExcerpt{Diagnosis: &classify.Diagnosis{Label: classify.Timeout, Confidence: 0.8}}),
					failedStep(StepMemory, "triage step memory took longer than 30s"),
				}
			},
			want: "orders_etl.load failed · TIMEOUT (80%) · 1 step(s) incomplete",
		},
		{
			name: "no task known", inc: &incident.Incident{DagID: "ghost", RunID: "manual__1"},
			findings: func(*testing.T) []*incident.Finding { return nil },
			want:     "ghost run manual__1 failed",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := Summarize(tt.inc, tt.findings(t))
			require.Equal(t, tt.want, got)
			require.True(t, utf8.ValidString(got))
		})
	}
	require.True(t, strings.HasSuffix(truncate(long, 160), "…"), "the long case does shorten")
}

func TestDecode(t *testing.T) {
	t.Parallel()
	s := Decode([]*incident.Finding{
		{Step: StepRunSummary, Data: json.RawMessage(`{"state": "failed", "first_failing_task": "load"}`)},
		{Step: StepFailedTasks, Data: json.RawMessage(`not json`)},
		failedStep(StepFrequency, "503"),
		{Step: StepResolve, Data: json.RawMessage(`{"events": 1}`)},
	})
	require.NotNil(t, s.Run)
	require.Equal(t, "load", s.Run.FirstFailingTask)
	require.Nil(t, s.Failed, "undecodable data leaves the part empty")
	require.Nil(t, s.Frequency)
	require.Nil(t, s.Log)
	require.Equal(t, map[string]string{StepFrequency: "503"}, s.Errors)
	require.Nil(t, s.Memory, "no memory step: memory is off")
	require.Nil(t, s.Diagnosis())
}

func TestSummaryDiagnosis(t *testing.T) {
	t.Parallel()
	cold := &classify.Diagnosis{Label: classify.CodeError, Confidence: 0.5}
	final := &classify.Diagnosis{Label: classify.Infra, Confidence: 0.75}
	tests := []struct {
		name     string
		findings func(t *testing.T) []*incident.Finding
		want     *classify.Diagnosis
	}{
		{"nothing", func(*testing.T) []*incident.Finding { return nil }, nil},
		{"the log's", func(t *testing.T) []*incident.Finding {
			return []*incident.Finding{finding(t, StepLogExcerpt, LogExcerpt{Diagnosis: cold})}
		}, cold},
		{"memory's over the log's", func(t *testing.T) []*incident.Finding {
			return []*incident.Finding{finding(t, StepLogExcerpt, LogExcerpt{Diagnosis: cold}), finding(t, StepMemory, Memory{Diagnosis: final})}
		}, final},
		{"the log's when memory has none", func(t *testing.T) []*incident.Finding {
			return []*incident.Finding{finding(t, StepLogExcerpt, LogExcerpt{Diagnosis: cold}), finding(t, StepMemory, Memory{})}
		}, cold},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, Decode(tt.findings(t)).Diagnosis())
		})
	}
}

func TestResolution(t *testing.T) {
	t.Parallel()
	tests := []struct {
		action  string
		outcome memory.Outcome
		want    string
	}{
		{"retry", memory.OutcomeFixed, "retry fixed it"},
		{"retry", memory.OutcomeFailed, "retry did not fix it"},
		{"retry", memory.OutcomeUnknown, "retry, outcome unknown"},
		{"", memory.OutcomeFixed, "fixed (action not recorded)"},
		{"", memory.OutcomeFailed, "not fixed (action not recorded)"},
		{"", memory.OutcomeUnknown, "no action recorded"},
		{"", "", "no action recorded"},
	}
	for _, tt := range tests {
		t.Run(tt.action+"/"+string(tt.outcome), func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, Resolution(tt.action, tt.outcome))
		})
	}
}

func TestRootExcerpt(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("é", 700) // 1400 bytes
	tests := []struct {
		name string
		ex   LogExcerpt
		want string
	}{
		{
			name: "the block inside the excerpt",
			ex:   LogExcerpt{FirstLine: 3, Lines: []string{"l3", "l4", "l5", "l6"}, Error: &extract.Block{Start: 3, End: 5}},
			want: "l4\nl5",
		},
		{
			name: "a block starting before the excerpt",
			ex:   LogExcerpt{FirstLine: 3, Lines: []string{"l3", "l4"}, Error: &extract.Block{Start: 0, End: 4}},
			want: "l3\nl4",
		},
		{
			name: "a block outside the excerpt gives the headline",
			ex:   LogExcerpt{FirstLine: 10, Lines: []string{"l10"}, Headline: "KeyError: 'x'", Error: &extract.Block{Start: 0, End: 4}},
			want: "KeyError: 'x'",
		},
		{
			name: "no block",
			ex:   LogExcerpt{FirstLine: 1, Lines: []string{"l1"}, Headline: "boom"},
			want: "boom",
		},
		{
			name: "cut at a line boundary",
			ex:   LogExcerpt{FirstLine: 1, Lines: []string{long, long, "last"}, Error: &extract.Block{Start: 0, End: 3}},
			want: long,
		},
		{
			name: "one huge line is cut at a character",
			ex:   LogExcerpt{FirstLine: 1, Lines: []string{long + long}, Error: &extract.Block{Start: 0, End: 1}},
			want: strings.Repeat("é", 1022) + "…",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := rootExcerpt(&tt.ex)
			require.Equal(t, tt.want, got)
			require.LessOrEqual(t, len(got), maxRecordExcerpt)
			require.True(t, utf8.ValidString(got))
		})
	}
}

// FuzzLogExcerptWindow feeds arbitrary log text through the excerpt
// extraction: whatever the text, the window and the headline stay inside it.
func FuzzLogExcerptWindow(f *testing.F) {
	f.Add("INFO - start\nTraceback (most recent call last):\nKeyError: 'a'\n", 40)
	f.Add("Caused by: java.io.IOException: x\n\t... 3 more", 2)
	f.Add("\xff\xfe ERROR - \x00", 1)
	f.Fuzz(func(t *testing.T, text string, n int) {
		if n <= 0 || n > 1000 {
			return
		}
		lines := strings.Split(text, "\n")
		from, to := excerptWindow(lines, nil, n)
		require.True(t, 0 <= from && from <= to && to <= len(lines) && to-from <= n)
		if i, ok := headline(lines); ok {
			require.Less(t, i, len(lines))
		}
	})
}
