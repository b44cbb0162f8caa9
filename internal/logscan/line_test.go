package logscan_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/medic-sh/medic/internal/logscan"
)

func TestParseLine(t *testing.T) {
	t.Parallel()
	utc := func(s string) string { return s }
	tests := []struct {
		name    string
		in      string
		time    string // RFC3339Nano in UTC, "" for none
		source  string
		level   string
		message string
	}{
		{
			"airflow 2", "[2024-05-01, 02:00:03 UTC] {taskinstance.py:1234} ERROR - Task failed with exception",
			"2024-05-01T02:00:03Z", "taskinstance.py:1234", "ERROR", "Task failed with exception",
		},
		{
			"airflow 2 offset zone", "[2023-09-08, 10:14:54 +07] {subprocess.py:94} INFO - 03:14:54    Database Error in model x",
			"2023-09-08T03:14:54Z", "subprocess.py:94", "INFO", "03:14:54    Database Error in model x",
		},
		{
			"pre 2.3 with millis", "[2021-05-08 19:48:35,392] {timeout.py:36} ERROR - Process timed out, PID: 10082",
			"2021-05-08T19:48:35.392Z", "timeout.py:36", "ERROR", "Process timed out, PID: 10082",
		},
		{
			"iso with offset", "[2022-11-29T21:59:26.280+0530] {local_task_job.py:159} INFO - Task exited with return code 0",
			"2022-11-29T16:29:26.28Z", "local_task_job.py:159", "INFO", "Task exited with return code 0",
		},
		{
			"no source", "[2021-05-08 19:48:35,392] WARNING - careful",
			"2021-05-08T19:48:35.392Z", "", "WARNING", "careful",
		},
		{
			"no timestamp", "{taskinstance.py:999} INFO - Dependencies not met",
			"", "taskinstance.py:999", "INFO", "Dependencies not met",
		},
		{
			"keeps traceback indentation", `[2023-07-04, 15:34:02 UTC] {pod_manager.py:235} INFO -   File "/x/pipe.py", line 525, in __next__`,
			"2023-07-04T15:34:02Z", "pod_manager.py:235", "INFO", `  File "/x/pipe.py", line 525, in __next__`,
		},
		{
			"custom format with process names", "[2026-08-16T13:54:02.571+0000 +0000] MainProcess MainThread {subprocess.py:93} INFO - Line 7",
			"2026-08-16T13:54:02.571Z", "subprocess.py:93", "INFO", "Line 7",
		},
		{
			"group marker without level", "[2026-03-16, 10:32:25 UTC] {local_task_job_runner.py:123} ▶ Pre task execution logs",
			"2026-03-16T10:32:25Z", "local_task_job_runner.py:123", "", "▶ Pre task execution logs",
		},
		{
			"masked braces", "[2022-07-18 09:20:54,978] ***debug_executor.py:87*** ERROR - Failed to execute task",
			"2022-07-18T09:20:54.978Z", "debug_executor.py:87", "ERROR", "Failed to execute task",
		},
		{
			"celery", "[2020-07-15 11:25:46,471: ERROR/ForkPoolWorker-1] None",
			"2020-07-15T11:25:46.471Z", "ForkPoolWorker-1", "ERROR", "None",
		},
		{
			"airflow 3 as the client renders it", "[2025-01-01T00:00:02Z] {supervisor} INFO - Process exited exit_code=-9 pid=42",
			"2025-01-01T00:00:02Z", "supervisor", "INFO", "Process exited exit_code=-9 pid=42",
		},
		{
			"structlog console", "2025-01-09T07:17:10.066994Z [error    ] Task failed with exception [task] dag_id=etl",
			"2025-01-09T07:17:10.066994Z", "task", "ERROR", "Task failed with exception dag_id=etl",
		},
		{
			"structured json",
			`{"timestamp":"2025-01-01T00:00:01.5Z","level":"error","event":"Process terminated by signal","logger":"supervisor","signal":-9,"signal_name":"SIGKILL","dag_id":"etl"}`,
			"2025-01-01T00:00:01.5Z", "supervisor", "ERROR", "Process terminated by signal signal=-9 signal_name=SIGKILL",
		},
		{
			"structured json with file and line",
			`{"timestamp":"2026-08-16T17:43:20.929261Z","level":"info","event":"Line No 7: a b","logger":"airflow.task.hooks.x","filename":"subprocess.py","lineno":99}`,
			"2026-08-16T17:43:20.929261Z", "subprocess.py:99", "INFO", "Line No 7: a b",
		},
		{"plain text", "Traceback (most recent call last):", "", "", "", "Traceback (most recent call last):"},
		{"bracketed text is not a prefix", "[SQL: SELECT 1] and more", "", "", "", "[SQL: SELECT 1] and more"},
		{"json without an event", `{"a": 1}`, "", "", "", `{"a": 1}`},
		{"broken json", `{"event": "x"`, "", "", "", `{"event": "x"`},
		{"dbt time of day is not a prefix", "21:25:03  Failure in test x", "", "", "", "21:25:03  Failure in test x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			l := logscan.ParseLine(tt.in)
			require.Equal(t, tt.in, l.Raw)
			require.Equal(t, tt.source, l.Source)
			require.Equal(t, tt.level, l.Level)
			require.Equal(t, tt.message, l.Message)
			if tt.time == "" {
				require.Nil(t, l.Time)
				return
			}
			require.NotNil(t, l.Time)
			require.Equal(t, utc(tt.time), l.Time.UTC().Format(time.RFC3339Nano))
		})
	}
}

func TestParseLineLongLine(t *testing.T) {
	t.Parallel()
	long := "[2024-05-01, 02:00:03 UTC] {x.py:1} INFO - " + strings.Repeat("y", 1<<20)
	l := logscan.ParseLine(long)
	require.Equal(t, long, l.Message, "too long to parse: returned whole")
}
