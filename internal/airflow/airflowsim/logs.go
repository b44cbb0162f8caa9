package airflowsim

import (
	"fmt"
	"strings"
)

// This file holds the task log bodies the stand-in serves: realistic
// failures as Airflow 2 writes them ("{file.py:N} LEVEL - message" lines,
// stamped with the try's time when executed, and unprefixed traceback lines),
// plus the framing Airflow itself adds around every try. The texts are
// written for this package; they imitate the shapes of real logs, with
// invented hosts, tables and numbers.

const sitePackages = "/home/airflow/.local/lib/python3.11/site-packages"

// taskFrames is the part of every 2.10 traceback above the operator's own
// code.
func taskFrames() string {
	return `Traceback (most recent call last):
  File "` + sitePackages + `/airflow/models/taskinstance.py", line 767, in _execute_task
    result = _execute_callable(context=context, **execute_callable_kwargs)
             ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
  File "` + sitePackages + `/airflow/models/taskinstance.py", line 733, in _execute_callable
    return ExecutionCallableRunner(
           ^^^^^^^^^^^^^^^^^^^^^^^^
  File "` + sitePackages + `/airflow/utils/operator_helpers.py", line 252, in run
    return self.func(*args, **kwargs)
           ^^^^^^^^^^^^^^^^^^^^^^^^^^
  File "` + sitePackages + `/airflow/models/baseoperator.py", line 406, in wrapper
    return func(self, *args, **kwargs)
           ^^^^^^^^^^^^^^^^^^^^^^^^^^^
`
}

const taskFailedLine = "{taskinstance.py:2905} ERROR - Task failed with exception\n"

// LogPostgresUndefinedColumn is a SQL operator whose statement names a column
// the table no longer has (a schema change upstream): psycopg2's
// UndefinedColumn with the LINE/caret/HINT lines PostgreSQL adds.
func LogPostgresUndefinedColumn(table, column, suggestion string) string {
	sql := fmt.Sprintf("SELECT order_id, %s, order_total, created_at FROM %s WHERE created_at >= '2026-05-01'", column, table)
	caret := strings.Index(sql, column) + len("LINE 1: ")
	return "{sql.py:510} INFO - Running statement: " + sql + ", parameters: None\n" +
		"{base.py:84} INFO - Retrieving connection 'warehouse_pg'\n" +
		taskFailedLine + taskFrames() +
		`  File "` + sitePackages + `/airflow/providers/common/sql/operators/sql.py", line 282, in execute
    output = hook.run(
             ^^^^^^^^^
  File "` + sitePackages + `/airflow/providers/common/sql/hooks/sql.py", line 456, in run
    self._run_command(cur, sql_statement, parameters)
  File "` + sitePackages + `/airflow/providers/common/sql/hooks/sql.py", line 505, in _run_command
    cur.execute(sql_statement)
` + fmt.Sprintf("psycopg2.errors.UndefinedColumn: column \"%s\" does not exist\n", column) +
		"LINE 1: " + sql + "\n" +
		strings.Repeat(" ", caret) + "^\n" +
		fmt.Sprintf("HINT:  Perhaps you meant to reference the column \"%s\".\n", suggestion)
}

// LogSnowflakeObjectMissing is a Snowflake query against a table that does
// not exist or that the role may not see: error 002003 (42S02).
func LogSnowflakeObjectMissing(object string) string {
	return "{base.py:84} INFO - Retrieving connection 'snowflake_marketing'\n" +
		"{connection.py:414} INFO - Snowflake Connector for Python Version: 3.12.1, Python Version: 3.11.9, Platform: Linux-5.15.0-1061-aws-x86_64-with-glibc2.36\n" +
		"{cursor.py:1028} INFO - query: [CREATE OR REPLACE TABLE MARTS.ATTRIBUTION_DAILY AS SELECT s.campaign_id, s.spe...]\n" +
		taskFailedLine + taskFrames() +
		`  File "` + sitePackages + `/airflow/providers/snowflake/hooks/snowflake.py", line 423, in run
    self._run_command(cur, sql_statement, parameters)
  File "` + sitePackages + `/snowflake/connector/cursor.py", line 1087, in execute
    Error.errorhandler_wrapper(self.connection, self, error_class, errvalue)
  File "` + sitePackages + `/snowflake/connector/errors.py", line 290, in errorhandler_wrapper
    handed_over = Error.hand_to_other_handler(
` + "snowflake.connector.errors.ProgrammingError: 002003 (42S02): SQL compilation error:\n" +
		fmt.Sprintf("Object '%s' does not exist or not authorized.\n", object)
}

// LogOOMGrowth is the run-up to an out-of-memory kill: a Python task loading
// more than its container holds. Script it with ExitCode -9 (and usually
// SilentKill): the server then ends the log the way a SIGKILLed task ends
// (see oomEnding).
func LogOOMGrowth(rows int) string {
	return "{features.py:41} INFO - Loading events for 2026-05-01 from s3://acme-ml-lake/events/dt=2026-05-01/\n" +
		fmt.Sprintf("{features.py:58} INFO - Loaded %d rows into a DataFrame (6.2 GiB in memory)\n", rows) +
		"{features.py:77} INFO - Building 240 rolling-window features over 90 days\n" +
		"{features.py:92} WARNING - Process RSS is 7.4 GiB of the 8.0 GiB container limit\n" +
		"{features.py:92} WARNING - Process RSS is 7.9 GiB of the 8.0 GiB container limit\n"
}

// LogTaskTimeout is a task stopped by its execution_timeout:
// "Process timed out, PID: N" then AirflowTaskTimeout.
func LogTaskTimeout() string {
	return "{ledger.py:33} INFO - Submitting revenue rollup for 2026-05-01 to the reporting warehouse\n" +
		"{ledger.py:49} INFO - Waiting for rollup job rpt-77f1c0 (state=RUNNING)\n" +
		"{ledger.py:49} INFO - Waiting for rollup job rpt-77f1c0 (state=RUNNING)\n" +
		"{timeout.py:68} ERROR - Process timed out, PID: {{pid}}\n" +
		taskFailedLine + taskFrames() +
		`  File "` + sitePackages + `/airflow/operators/python.py", line 235, in execute
    return_value = self.execute_callable()
                   ^^^^^^^^^^^^^^^^^^^^^^^
  File "` + sitePackages + `/airflow/operators/python.py", line 252, in execute_callable
    return self.python_callable(*self.op_args, **self.op_kwargs)
           ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
  File "/opt/airflow/dags/finance/ledger.py", line 52, in wait_for_rollup
    time.sleep(30)
  File "` + sitePackages + `/airflow/utils/timeout.py", line 69, in handle_timeout
    raise AirflowTaskTimeout(self.error_message)
airflow.exceptions.AirflowTaskTimeout: Timeout, PID: {{pid}}
`
}

// LogS3SensorTimeout is an S3KeySensor that poked until its timeout because
// the upstream export never landed: AirflowSensorTimeout.
func LogS3SensorTimeout(bucket, key string) string {
	var b strings.Builder
	b.WriteString("{base.py:84} INFO - Retrieving connection 'aws_default'\n")
	for range 4 {
		fmt.Fprintf(&b, "{s3.py:117} INFO - Poking for key : s3://%s/%s\n", bucket, key)
	}
	b.WriteString(taskFailedLine + taskFrames())
	b.WriteString(`  File "` + sitePackages + `/airflow/sensors/base.py", line 293, in execute
    raise AirflowSensorTimeout(message)
airflow.exceptions.AirflowSensorTimeout: Sensor has timed out; run duration of 3600.41 seconds exceeds the specified timeout of 3600.0.
`)
	return b.String()
}

// LogS3NoSuchKey is a task reading an S3 object that is not there.
func LogS3NoSuchKey(bucket, key string) string {
	return "{base.py:84} INFO - Retrieving connection 'aws_default'\n" +
		fmt.Sprintf("{ingest.py:27} INFO - Downloading s3://%s/%s\n", bucket, key) +
		taskFailedLine + taskFrames() +
		`  File "` + sitePackages + `/airflow/operators/python.py", line 252, in execute_callable
    return self.python_callable(*self.op_args, **self.op_kwargs)
           ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
  File "/opt/airflow/dags/ingest/events.py", line 31, in ingest_events
    body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
           ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
  File "` + sitePackages + `/botocore/client.py", line 1023, in _make_api_call
    raise error_class(parsed_response, operation_name)
botocore.errorfactory.NoSuchKey: An error occurred (NoSuchKey) when calling the GetObject operation: The specified key does not exist.
`
}

// LogWarehouseConnectionRefused is a task whose warehouse is down: libpq's
// "connection to server ... failed: Connection refused".
func LogWarehouseConnectionRefused(host, ip string) string {
	return "{base.py:84} INFO - Retrieving connection 'warehouse_pg'\n" +
		taskFailedLine + taskFrames() +
		`  File "` + sitePackages + `/airflow/operators/python.py", line 252, in execute_callable
    return self.python_callable(*self.op_args, **self.op_kwargs)
           ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
  File "/opt/airflow/dags/orders/extract.py", line 22, in extract_orders
    conn = hook.get_conn()
           ^^^^^^^^^^^^^^^
  File "` + sitePackages + `/airflow/providers/postgres/hooks/postgres.py", line 175, in get_conn
    self.conn = psycopg2.connect(**conn_args)
                ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
  File "` + sitePackages + `/psycopg2/__init__.py", line 122, in connect
    conn = _connect(dsn, connection_factory=connection_factory, **kwasync)
           ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
` + fmt.Sprintf("psycopg2.OperationalError: connection to server at \"%s\" (%s), port 5432 failed: Connection refused\n", host, ip) +
		"\tIs the server running on that host and accepting TCP/IP connections?\n"
}

// LogDbtTestFailure is a BashOperator running `dbt test` where a not_null
// test finds rows.
func LogDbtTestFailure(test string, failures int) string {
	out := []string{
		"Running with dbt=1.8.7",
		"Registered adapter: postgres=1.8.2",
		"Found 42 models, 118 data tests, 12 sources, 0 exposures, 0 metrics, 611 macros, 0 groups, 0 semantic models",
		"",
		"Concurrency: 4 threads (target='prod')",
		"",
		"1 of 4 START test accepted_values_orders_status ........................ [RUN]",
		"2 of 4 START test " + test + " ........................ [RUN]",
		"1 of 4 PASS accepted_values_orders_status .............................. [PASS in 0.61s]",
		fmt.Sprintf("2 of 4 FAIL %d %s ........................ [FAIL %d in 0.84s]", failures, test, failures),
		"3 of 4 START test unique_customers_customer_id ......................... [RUN]",
		"3 of 4 PASS unique_customers_customer_id ............................... [PASS in 0.40s]",
		"4 of 4 START test relationships_orders_customer_id__customer_id__ref_customers_ [RUN]",
		"4 of 4 PASS relationships_orders_customer_id__customer_id__ref_customers_ [PASS in 0.72s]",
		"",
		"Finished running 4 data tests in 0 hours 0 minutes and 3.19 seconds (3.19s).",
		"",
		"Completed with 1 error and 0 warnings:",
		"",
		"Failure in test " + test + " (models/marts/schema.yml)",
		fmt.Sprintf("  Got %d results, configured to fail if != 0", failures),
		"",
		"  compiled code at target/compiled/acme/models/marts/schema.yml/" + test + ".sql",
		"",
		"Done. PASS=3 WARN=0 ERROR=1 SKIP=0 TOTAL=4",
	}
	var b strings.Builder
	b.WriteString("{subprocess.py:75} INFO - Running command: ['/usr/bin/bash', '-c', 'cd /opt/airflow/dbt && dbt test --select customers orders --target prod']\n")
	b.WriteString("{subprocess.py:86} INFO - Output:\n")
	for i, line := range out {
		if line != "" {
			line = fmt.Sprintf("02:%02d:%02d  %s", 1+i/20, 5+i%50, line)
		}
		b.WriteString("{subprocess.py:93} INFO - " + line + "\n")
	}
	b.WriteString("{subprocess.py:97} INFO - Command exited with return code 1\n")
	b.WriteString(taskFailedLine + taskFrames())
	b.WriteString(`  File "` + sitePackages + `/airflow/operators/bash.py", line 249, in execute
    raise AirflowException(
airflow.exceptions.AirflowException: Bash command failed. The command returned a non-zero exit code 1.
`)
	return b.String()
}

// LogBigQueryAccessDenied is a BigQuery job whose service account may not
// read a table: a 403 accessDenied.
func LogBigQueryAccessDenied(table string) string {
	msg := fmt.Sprintf("Access Denied: Table %s: User does not have permission to query table %s, or perhaps it does not exist.", table, table)
	return "{bigquery.py:2782} INFO - Executing: {'query': {'query': 'SELECT booking_date, SUM(amount_usd) AS revenue FROM `finance.ledger_entries` GROUP BY 1', 'useLegacySql': False}}\n" +
		"{base.py:84} INFO - Retrieving connection 'google_cloud_default'\n" +
		"{bigquery.py:1613} INFO - Inserting job airflow_finance_reporting_build_revenue_report_2026_05_01T02_00_00_00_00_5d0c7f31\n" +
		taskFailedLine + taskFrames() +
		`  File "` + sitePackages + `/airflow/providers/google/cloud/operators/bigquery.py", line 2833, in execute
    job.result(timeout=self.result_timeout, retry=self.result_retry)
  File "` + sitePackages + `/google/cloud/bigquery/job/query.py", line 1681, in result
    do_get_result()
  File "` + sitePackages + `/google/cloud/bigquery/job/base.py", line 971, in result
    return super(_AsyncJob, self).result(timeout=timeout, **kwargs)
           ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
  File "` + sitePackages + `/google/api_core/future/polling.py", line 261, in result
    raise self._exception
` + "google.api_core.exceptions.Forbidden: 403 " + msg + "; reason: accessDenied, message: " + msg + "\n"
}

// LogHTTP429 is an HTTP operator throttled by a partner API, with the
// chained traceback the HTTP hook produces.
func LogHTTP429(url string) string {
	return "{http.py:175} INFO - Calling HTTP method\n" +
		"{base.py:84} INFO - Retrieving connection 'ads_api'\n" +
		"{http.py:231} ERROR - HTTP error: Too Many Requests\n" +
		`{http.py:232} ERROR - {"error":{"code":429,"message":"Rate limit exceeded: 600 requests per 10 minutes per developer token","status":"RESOURCE_EXHAUSTED"}}` + "\n" +
		taskFailedLine +
		`Traceback (most recent call last):
  File "` + sitePackages + `/airflow/providers/http/hooks/http.py", line 229, in check_response
    response.raise_for_status()
  File "` + sitePackages + `/requests/models.py", line 1024, in raise_for_status
    raise HTTPError(http_error_msg, response=self)
requests.exceptions.HTTPError: 429 Client Error: Too Many Requests for url: ` + url + `

During handling of the above exception, another exception occurred:

` + taskFrames() +
		`  File "` + sitePackages + `/airflow/providers/http/operators/http.py", line 199, in execute
    response = self.hook.run(self.endpoint, self.data, self.headers, self.extra_options)
               ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
  File "` + sitePackages + `/airflow/providers/http/hooks/http.py", line 233, in check_response
    raise AirflowException(str(response.status_code) + ":" + response.reason)
airflow.exceptions.AirflowException: 429:Too Many Requests
`
}

// LogKeyError is user code indexing a dict by a key the payload lacks.
func LogKeyError(key string) string {
	return "{export_ledger.py:41} INFO - Fetched 1284 invoices from the billing API\n" +
		taskFailedLine + taskFrames() +
		`  File "` + sitePackages + `/airflow/operators/python.py", line 235, in execute
    return_value = self.execute_callable()
                   ^^^^^^^^^^^^^^^^^^^^^^^
  File "` + sitePackages + `/airflow/operators/python.py", line 252, in execute_callable
    return self.python_callable(*self.op_args, **self.op_kwargs)
           ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
  File "/opt/airflow/dags/finance/export_ledger.py", line 58, in export_ledger
` + fmt.Sprintf("    currency = invoice[%q]\n", key) +
		"               ~~~~~~~^" + strings.Repeat("^", len(key)+2) + "^\n" +
		fmt.Sprintf("KeyError: '%s'\n", key)
}

// LogBinaryGarbage is a task that echoed the start of a gzip file to its
// log before failing to decode it: the body holds invalid UTF-8 and a NUL.
func LogBinaryGarbage() string {
	return "{subprocess.py:75} INFO - Running command: ['/usr/bin/bash', '-c', 'head -c 64 /data/in/partners_2026-05-01.csv.gz; python /opt/airflow/dags/ml/load_partners.py']\n" +
		"{subprocess.py:86} INFO - Output:\n" +
		"{subprocess.py:93} INFO - \x1f\x8b\x08\x08\xb3\x1c\x34\x66\x00\x03partners.csv\x00\xad\x92\xcbn\xc30\x10\xff\xfe\n" +
		"{subprocess.py:93} INFO - Traceback (most recent call last):\n" +
		"{subprocess.py:93} INFO -   File \"/opt/airflow/dags/ml/load_partners.py\", line 12, in <module>\n" +
		"{subprocess.py:93} INFO -     header = fh.readline()\n" +
		"{subprocess.py:93} INFO - UnicodeDecodeError: 'utf-8' codec can't decode byte 0x8b in position 1: invalid start byte\n" +
		"{subprocess.py:97} INFO - Command exited with return code 1\n" +
		taskFailedLine + taskFrames() +
		`  File "` + sitePackages + `/airflow/operators/bash.py", line 249, in execute
    raise AirflowException(
airflow.exceptions.AirflowException: Bash command failed. The command returned a non-zero exit code 1.
`
}

// LogWithNoise returns about noiseBytes of routine progress lines followed by
// tail: a large log that makes clients tail instead of reading everything.
// It is built on demand and costs a few milliseconds for 5 MB.
func LogWithNoise(noiseBytes int, tail string) string {
	var b strings.Builder
	b.Grow(noiseBytes + len(tail) + 128)
	for i := 0; b.Len() < noiseBytes; i++ {
		fmt.Fprintf(&b, "{features.py:64} INFO - batch %06d: wrote 50000 rows to s3://acme-ml-lake/features/dt=2026-05-01/part-%05d.parquet (elapsed %d.%03ds)\n",
			i, i%100000, i/40, (i*37)%1000)
	}
	b.WriteString(tail)
	return b.String()
}

// HugeLogBytes is the size of the noisy log in the demo scenario.
const HugeLogBytes = 5 << 20

// genericBody is the log of a task whose outcome has no scripted log.
func genericBody(op, state string) string {
	if state == StateFailed {
		return taskFailedLine + taskFrames() +
			"airflow.exceptions.AirflowException: Task failed (scripted failure without a log)\n"
	}
	switch {
	case strings.Contains(op, "Postgres"), strings.Contains(op, "SQL"), strings.Contains(op, "Snowflake"):
		return "{sql.py:510} INFO - Running statement: CALL refresh_partition('{{run_id}}'), parameters: None\n" +
			"{sql.py:519} INFO - Rows affected: 1824\n"
	case strings.Contains(op, "Bash"):
		return "{subprocess.py:75} INFO - Running command: ['/usr/bin/bash', '-c', 'make {{task_id}}']\n" +
			"{subprocess.py:86} INFO - Output:\n" +
			"{subprocess.py:93} INFO - ok\n" +
			"{subprocess.py:97} INFO - Command exited with return code 0\n"
	case strings.Contains(op, "Sensor"):
		return "{base.py:84} INFO - Retrieving connection 'aws_default'\n" +
			"{base.py:336} INFO - Success criteria met. Exiting.\n"
	default:
		return "{python.py:240} INFO - Done. Returned value was: None\n"
	}
}

// preamble is what Airflow logs before the operator runs.
func preamble(lc logContext) []logLine {
	d, t, r, rec := lc.dag, lc.task, lc.run, lc.rec
	if lc.version == 3 {
		return []logLine{
			{src: "manager.py:179", level: "INFO", msg: "DAG bundles loaded: dags-folder"},
			{src: "dagbag.py:588", level: "INFO", msg: "Filling up the DagBag from " + d.FileLoc},
			{src: "task_runner.py:921", level: "INFO", msg: fmt.Sprintf("Task instance is in running state; try %d of %d", rec.try, rec.maxTries+1)},
		}
	}
	tiRepr := fmt.Sprintf("<TaskInstance: %s.%s %s [%%s]>", d.ID, t.ID, r.runID)
	ld := ""
	if r.logicalDate != nil {
		ld = pyStr(*r.logicalDate)
	}
	return []logLine{
		{src: "local_task_job_runner.py:123", level: "INFO", msg: "::group::Pre task execution logs"},
		{src: "taskinstance.py:2612", level: "INFO", msg: "Dependencies all met for dep_context=non-requeueable deps ti=" + fmt.Sprintf(tiRepr, "queued")},
		{src: "taskinstance.py:2612", level: "INFO", msg: "Dependencies all met for dep_context=requeueable deps ti=" + fmt.Sprintf(tiRepr, "queued")},
		{src: "taskinstance.py:2865", level: "INFO", msg: fmt.Sprintf("Starting attempt %d of %d", rec.try, rec.maxTries+1)},
		{src: "taskinstance.py:2888", level: "INFO", msg: fmt.Sprintf("Executing <Task(%s): %s> on %s", t.Operator, t.ID, ld)},
		{src: "standard_task_runner.py:72", level: "INFO", msg: fmt.Sprintf("Started process %d to run task", rec.pid)},
		{src: "standard_task_runner.py:104", level: "INFO", msg: fmt.Sprintf("Running: ['airflow', 'tasks', 'run', '%s', '%s', '%s', '--job-id', '%d', '--raw', '--subdir', 'DAGS_FOLDER/%s', '--cfg-path', '/tmp/tmp%x']",
			d.ID, t.ID, r.runID, rec.jobID, strings.TrimPrefix(d.FileLoc, "/opt/airflow/dags/"), rec.jobID*7919)},
		{src: "standard_task_runner.py:105", level: "INFO", msg: fmt.Sprintf("Job %d: Subtask %s", rec.jobID, t.ID)},
		{src: "task_command.py:467", level: "INFO", msg: fmt.Sprintf("Running "+tiRepr+" on host %s", "running", rec.hostname)},
		{src: "taskinstance.py:3134", level: "INFO", msg: fmt.Sprintf("Exporting env vars: AIRFLOW_CTX_DAG_OWNER='%s' AIRFLOW_CTX_DAG_ID='%s' AIRFLOW_CTX_TASK_ID='%s' AIRFLOW_CTX_EXECUTION_DATE='%s' AIRFLOW_CTX_TRY_NUMBER='%d' AIRFLOW_CTX_DAG_RUN_ID='%s'",
			t.Owner, d.ID, t.ID, isoOrEmpty(r), rec.try, r.runID)},
		{src: "taskinstance.py:733", level: "INFO", msg: "::endgroup::"},
	}
}

// epilogue is what Airflow logs after the operator returned or raised.
func epilogue(lc logContext, exception string) []logLine {
	d, t, r, rec := lc.dag, lc.task, lc.run, lc.rec
	if rec.exitCode == -9 {
		return oomEnding(lc.version, rec)
	}
	marking := map[string]string{tiSuccess: "SUCCESS", tiFailed: "FAILED", tiUpForRetry: "UP_FOR_RETRY"}[lc.finalState]
	dateKey := "execution_date"
	if lc.version == 3 {
		dateKey = "logical_date"
	}
	ld := ""
	if r.logicalDate != nil {
		ld = r.logicalDate.Format("20060102T150405")
	}
	lines := []logLine{{src: "taskinstance.py:1206", level: "INFO", msg: fmt.Sprintf(
		"Marking task as %s. dag_id=%s, task_id=%s, run_id=%s, %s=%s, start_date=%s, end_date=%s",
		marking, d.ID, t.ID, r.runID, dateKey, ld, rec.start.Format("20060102T150405"), rec.end.Format("20060102T150405"))}}
	if lc.version == 3 {
		return append(lines, logLine{
			src: "supervisor.py:1870", level: "INFO", msg: "Process exited",
			extra: []kv{{"pid", rec.pid}, {"exit_code", rec.exitCode}, {"signal_sent", false}},
		})
	}
	if rec.state == tiFailed {
		msg := exception
		if _, after, ok := strings.Cut(firstLine(exception), ": "); ok {
			msg = after
		}
		lines = append(lines, logLine{
			src: "standard_task_runner.py:124", level: "ERROR",
			msg: fmt.Sprintf("Failed to execute job %d for task %s (%s; %d)", rec.jobID, t.ID, msg, rec.pid),
		})
	}
	return append(lines,
		logLine{src: "local_task_job_runner.py:243", level: "INFO", msg: fmt.Sprintf("Task exited with return code %d", rec.exitCode)},
		logLine{src: "taskinstance.py:3503", level: "INFO", msg: "0 downstream tasks scheduled from follow-on schedule check"},
	)
}

// oomEnding is how a SIGKILLed (typically OOM-killed) task's log ends: the
// 2.x task runner prints its message tuple literally, and the 3.x supervisor
// logs a CRITICAL event with the signal.
func oomEnding(version int, rec *tryRecord) []logLine {
	if version == 3 {
		return []logLine{
			{
				src: "supervisor.py:1893", level: "CRITICAL", msg: "Process terminated by signal. For more information, see https://airflow.apache.org/docs/apache-airflow/stable/troubleshooting.html#TaskRunner-killed",
				extra: []kv{{"signal", -9}, {"signal_name", "SIGKILL"}, {"source", "task"}},
			},
			{
				src: "supervisor.py:1870", level: "INFO", msg: "Process exited",
				extra: []kv{{"pid", rec.pid}, {"exit_code", -9}, {"signal_sent", false}},
			},
		}
	}
	return []logLine{
		{src: "standard_task_runner.py:179", level: "ERROR", msg: fmt.Sprintf(
			"('Job %d was killed before it finished (likely due to running out of memory)', 'For more information, see https://airflow.apache.org/docs/apache-airflow/stable/troubleshooting.html#LocalTaskJob-killed')", rec.jobID)},
		{src: "local_task_job_runner.py:243", level: "INFO", msg: "Task exited with return code -9"},
	}
}

func isoOrEmpty(r *runState) string {
	if r.logicalDate == nil {
		return ""
	}
	return pyISO(*r.logicalDate)
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
