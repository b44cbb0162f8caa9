package classify

import (
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// moreRuleTests cover the rules ruleTests does not.
var moreRuleTests = []ruleTest{
	{"mysql unknown column", `
pymysql.err.OperationalError: (1054, "Unknown column 'discount_code' in 'field list'")`, SchemaChange, "mysql_unknown_column", false},
	{"spark unresolved column", `
pyspark.sql.utils.AnalysisException: cannot resolve 'customer_tier' given input columns: [id, amount, ts];`, SchemaChange, "spark_unresolved_column", false},
	{"bigquery unrecognized name", `
google.api_core.exceptions.BadRequest: 400 Unrecognized name: customer_tier at [3:5]`, SchemaChange, "bigquery_unrecognized_name", false},
	{"bigquery schema does not match", `
google.api_core.exceptions.BadRequest: 400 Provided Schema does not match Table proj:ds.orders. Field amount has changed type from NUMERIC to STRING`, SchemaChange, "schema_mismatch", false},
	{"parquet column retyped", `
org.apache.spark.sql.execution.datasources.SchemaColumnConvertNotSupportedException: column: [amount], physicalType: INT32, logicalType: bigint`, SchemaChange, "parquet_column_convert", false},
	{"schema registry refuses a version", `
io.confluent.kafka.schemaregistry.client.rest.exceptions.RestClientException: Schema being registered is incompatible with an earlier schema for subject "orders-value"; error code: 409`, SchemaChange, "schema_registry", false},
	{"soda checks failed", `
[12:00:01] Scan summary:
[12:00:01] 3/5 checks PASSED
[12:00:01] 2/5 checks FAILED
[12:00:01] Oops! 2 failures. 0 warnings. 0 errors. 3 pass.`, DataQuality, "expectation_failure", false},
	{"not null violation", `
psycopg2.errors.NotNullViolation: null value in column "customer_id" of relation "orders" violates not-null constraint
DETAIL:  Failing row contains (42, null, 10.00).`, DataQuality, "not_null_violation", false},
	{"foreign key violation", `
psycopg2.errors.ForeignKeyViolation: insert or update on table "order_items" violates foreign key constraint "order_items_order_id_fkey"`, DataQuality, "constraint_violation", false},
	{"value that does not parse", `
psycopg2.errors.InvalidTextRepresentation: invalid input syntax for type integer: "N/A"`, DataQuality, "unparseable_value", false},
	{"jvm date that does not parse", `
Caused by: java.lang.IllegalArgumentException
	at java.sql.Date.valueOf(Date.java:143)
	at com.example.etl.RowMapper.map(RowMapper.java:31)`, DataQuality, "unparseable_date_jvm", false},
	{"value too long", `
psycopg2.errors.StringDataRightTruncation: value too long for type character varying(32)`, DataQuality, "value_too_long", false},
	{"loader gives up on bad rows", `
google.api_core.exceptions.BadRequest: 400 Error while reading data, error message: CSV table encountered too many errors, giving up. Rows: 12; errors: 1.`, DataQuality, "bad_rows_rejected", false},
	{"dns failure", `
socket.gaierror: [Errno -3] Temporary failure in name resolution`, UpstreamUnavailable, "dns_failure", true},
	{"http 503", `
requests.exceptions.HTTPError: 503 Server Error: Service Unavailable for url: https://api.example.com/v1/export`, UpstreamUnavailable, "http_5xx", true},
	{"database starting up", `
psycopg2.OperationalError: FATAL:  the database system is starting up`, UpstreamUnavailable, "db_unavailable", true},
	{"bare timeout error", `
Traceback (most recent call last):
  File "/opt/airflow/dags/export.py", line 40, in wait_for_job
    result = future.result(timeout=600)
concurrent.futures._base.TimeoutError`, Timeout, "generic_timeout", false},
	{"password authentication failed", `
psycopg2.OperationalError: connection to server at "db.example.com" (10.0.0.5), port 5432 failed: FATAL:  password authentication failed for user "etl"`, Permission, "auth_failed", false},
	{"file not found", `
FileNotFoundError: [Errno 2] No such file or directory: '/data/landing/2024-06-01/orders.csv'`, MissingInput, "file_not_found", false},
	{"empty source file", `
pandas.errors.EmptyDataError: No columns to parse from file`, MissingInput, "empty_source", false},
	{"relation missing", `
psycopg2.errors.UndefinedTable: relation "staging.orders" does not exist
LINE 1: SELECT * FROM staging.orders`, MissingInput, "relation_missing", false},
	{"operator does not exist", `
ERROR:  operator does not exist: integer = text
HINT:  No operator matches the given name and argument types. You might need to add explicit type casts.`, CodeError, "sql_semantic_error", false},
	{"python attribute error", `
Traceback (most recent call last):
  File "/opt/airflow/dags/transform.py", line 12, in run
    parts = row.get("path").split("/")
AttributeError: 'NoneType' object has no attribute 'split'`, CodeError, "python_code_bug", false},
	{"python key error", `
Traceback (most recent call last):
  File "/opt/airflow/dags/transform.py", line 20, in run
    cid = record["customer_id"]
KeyError: 'customer_id'`, CodeError, "python_key_error", false},
	{"jvm null pointer", `
Exception in thread "main" java.lang.NullPointerException
	at com.example.etl.Loader.run(Loader.java:42)`, CodeError, "jvm_code_bug", false},
	{"jvm illegal argument", `
Exception in thread "main" java.lang.IllegalArgumentException: partition count must be positive
	at com.example.etl.Writer.<init>(Writer.java:17)`, CodeError, "weak_misuse", false},
	{"command not found", `
[2024-06-01, 02:00:01 UTC] {subprocess.py:93} INFO - /bin/bash: line 1: dbtx: command not found
[2024-06-01, 02:00:01 UTC] {subprocess.py:97} INFO - Command exited with return code 127`, CodeError, "command_not_found", false},
	{"state set externally", `
[2024-06-01, 02:00:01 UTC] {local_task_job.py:211} WARNING - State of this instance has been externally set to failed. Terminating instance.`, Infra, "airflow_external_state", true},
	{"pod preempted", `
  Warning  Preempting  12s  default-scheduler  Preempted in order to admit critical pod`, Infra, "pod_evicted_preempted", true},
	{"celery worker lost", `
billiard.exceptions.WorkerLostError: Worker exited prematurely: exitcode 70.`, Infra, "worker_lost", true},
	{"pod sandbox", `
[2024-06-01, 02:00:01 UTC] {pod_manager.py:180} ERROR - Failed to create pod sandbox: rpc error: code = Unknown desc = failed to set up network for sandbox`, Infra, "orchestrator_trouble", true},
	{"sqlstate data exception", `
psycopg2.errors.InvalidTextRepresentation: invalid input syntax for type integer: "N/A"`, DataQuality, "sqlstate_data_exception", false},
	{"sqlstate connection class", `
ERROR:  08006: connection failure during COPY`, UpstreamUnavailable, "sqlstate_connection", true},
	{"sqlstate insufficient resources", `
psycopg2.errors.DiskFull: could not write to file "base/pgsql_tmp/pgsql_tmp123.4": No space left on device`, Resource, "sqlstate_resources", false},
	{"sqlstate invalid authorization", `
psycopg2.errors.InsufficientPrivilege: permission denied for table orders`, Permission, "sqlstate_auth", false},
	{"sqlstate syntax", `
psycopg2.errors.SyntaxError: syntax error at or near "FORM"
LINE 1: SELECT id FORM orders`, CodeError, "sqlstate_syntax", false},
	{"sqlstate undefined table", `
psycopg2.errors.UndefinedTable: relation "staging.orders" does not exist`, MissingInput, "sqlstate_undefined_table", false},
	{"sqlstate undefined column", `
psycopg2.errors.UndefinedColumn: column "customer_tier" does not exist`, SchemaChange, "sqlstate_undefined_column", false},
	{"extracted sigkill", `
[2024-06-01, 02:00:01 UTC] {local_task_job.py:180} INFO - Task exited with return code -9`, Resource, "extracted_sigkill", false},
}

// signalRuleTest is a try whose signals a signal rule must help diagnose.
type signalRuleTest struct {
	name      string
	log       string
	signals   Signals
	label     Label
	rule      string
	retrySafe bool
}

func exitCode(c int) *int { return &c }

var signalRuleTests = []signalRuleTest{
	{
		"exit 137 supports a bare return code", `
[2024-06-01, 02:00:01 UTC] {local_task_job.py:180} INFO - Task exited with return code 1`,
		Signals{ExitCode: exitCode(137)},
		Resource, "signal_sigkill", false,
	},
	{
		"signal KILL spelled without SIG", `
[2024-06-01, 02:00:01 UTC] {local_task_job.py:180} INFO - Task exited with return code 1`,
		Signals{Signal: "KILL"},
		Resource, "signal_sigkill", false,
	},
	{
		"sigterm signal", `
[2024-06-01, 02:00:01 UTC] {local_task_job.py:180} INFO - Task exited with return code 1`,
		Signals{Signal: "SIGTERM"},
		Infra, "signal_sigterm", false,
	},
	{
		"zombie state with a sigterm line", `
[2024-06-01, 02:00:01 UTC] {taskinstance.py:1400} ERROR - Received SIGTERM. Terminating subprocesses.`,
		Signals{State: "zombie"},
		Infra, "signal_zombie_state", true,
	},
	{
		"far above usual supports a bare timeout", `
concurrent.futures._base.TimeoutError`,
		Signals{Duration: 95 * time.Minute, UsualDuration: 20 * time.Minute},
		Timeout, "signal_duration_far_above_usual", false,
	},
	{
		"sensor that overran supports a timeout", `
airflow.exceptions.AirflowException: Sensor poke failed: TimeoutError`,
		Signals{Operator: "S3KeySensor", Duration: 2 * time.Hour, UsualDuration: time.Hour},
		Timeout, "signal_sensor_overran", false,
	},
}

// TestClassifySignalRules: signals add weak evidence to what the log says.
func TestClassifySignalRules(t *testing.T) {
	t.Parallel()
	for _, tt := range signalRuleTests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			in := Input{Lines: lines(tt.log), Signals: tt.signals}
			d := Classify(in)
			require.Equal(t, tt.label, d.Label, d.Reason)
			require.Equal(t, tt.retrySafe, d.RetrySafe, d.Reason)
			require.Contains(t, evidenceRules(d), tt.rule, d.Reason)
			requireRealEvidence(t, in.Lines, d)
		})
	}
}

// TestSignalsAloneAreWeak: a derived signal token never diagnoses a failure
// on its own.
func TestSignalsAloneAreWeak(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		sig  Signals
	}{
		{"far above usual", Signals{Duration: time.Hour, UsualDuration: time.Minute}},
		{"sensor far above usual", Signals{Operator: "ExternalTaskSensor", Duration: time.Hour, UsualDuration: time.Minute}},
		{"recurring", Signals{FailedRuns: 7}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d := Classify(Input{Signals: tt.sig})
			require.Equal(t, Unknown, d.Label, d.Reason)
			require.False(t, d.RetrySafe)
			require.NotEqual(t, AbstainEmpty, d.Abstention(), "signals are input")
		})
	}
}

func TestSignalsText(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		sig  Signals
		want string
	}{
		{"nothing known", Signals{}, ""},
		{
			"raw facts",
			Signals{ExitCode: exitCode(0), Signal: "SIGKILL", TryNumber: 2, Operator: "BashOperator", State: "failed"},
			"exit_code=0 signal=SIGKILL try_number=2 operator=BashOperator state=failed",
		},
		{"first failure", Signals{FailedRuns: 1}, "failed_runs=1 failures=once"},
		{"second failure", Signals{FailedRuns: 2}, "failed_runs=2 failures=repeated"},
		{"recurring", Signals{FailedRuns: 3}, "failed_runs=3 failures=recurring"},
		{"far above usual", Signals{Duration: 30 * time.Minute, UsualDuration: 10 * time.Minute}, "duration=far_above_usual"},
		{"above usual", Signals{Duration: 15 * time.Minute, UsualDuration: 10 * time.Minute}, "duration=above_usual"},
		{"usual", Signals{Duration: 9 * time.Minute, UsualDuration: 10 * time.Minute}, "duration=usual"},
		{"failed at once", Signals{Duration: time.Minute, UsualDuration: 10 * time.Minute}, "duration=far_below_usual"},
		{"usual duration unknown", Signals{Duration: time.Hour}, ""},
		{"duration unknown", Signals{UsualDuration: time.Hour}, ""},
		{
			"order",
			Signals{FailedRuns: 4, Duration: time.Hour, UsualDuration: time.Minute, Operator: "S3KeySensor"},
			"failed_runs=4 failures=recurring duration=far_above_usual operator=S3KeySensor",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, signalsText(tt.sig))
		})
	}
}

// TestRecurringFailureIsNotRetrySafe: a failure that came back in three or
// more runs of the lookback is never called retry-safe, whatever the log
// says, and a plain-retry remediation becomes an escalation.
func TestRecurringFailureIsNotRetrySafe(t *testing.T) {
	t.Parallel()
	const throttled = "requests.exceptions.HTTPError: 429 Client Error: Too Many Requests for url: https://api.example.com/v2/tickets"
	const zombie = "[2024-03-03 01:02:03,000] {scheduler_job.py:1600} ERROR - Detected zombie job: {'msg': 'Detected <TaskInstance: x.y [running]> as zombie'}"
	const schema = `psycopg2.errors.UndefinedColumn: column "customer_tier" does not exist`
	tests := []struct {
		name        string
		log         string
		failedRuns  int
		retrySafe   bool
		remediation Remediation
		recurring   bool
	}{
		{"throttled once", throttled, 1, true, RetryWithBackoff, false},
		{"throttled twice", throttled, 2, true, RetryWithBackoff, false},
		{"throttled in three runs", throttled, 3, false, Escalate, true},
		{"zombie in five runs", zombie, 5, false, Escalate, true},
		{"schema change recurring keeps its remediation", schema, 4, false, SchemaMigration, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d := Classify(Input{Lines: []string{tt.log}, Signals: Signals{FailedRuns: tt.failedRuns}})
			require.NotEqual(t, Unknown, d.Label, d.Reason)
			require.Equal(t, tt.retrySafe, d.RetrySafe, d.Reason)
			require.Equal(t, tt.remediation, d.Remediation, d.Reason)
			if tt.recurring {
				require.Contains(t, d.Reason, "plain retries have not fixed it")
			} else {
				require.NotContains(t, d.Reason, "plain retries")
			}
		})
	}
}

// TestEveryRuleHasATest keeps rules.yaml and the tables above in step.
func TestEveryRuleHasATest(t *testing.T) {
	t.Parallel()
	tested := map[string]bool{}
	for _, tt := range slices.Concat(ruleTests, moreRuleTests) {
		tested[tt.rule] = true
	}
	for _, tt := range signalRuleTests {
		tested[tt.rule] = true
	}
	for _, r := range DefaultRules() {
		require.True(t, tested[r.ID], "rule %s has no test in ruleTests, moreRuleTests or signalRuleTests", r.ID)
	}
}

func evidenceRules(d Diagnosis) []string {
	var out []string
	for _, e := range d.Evidence {
		out = append(out, e.Rule)
	}
	return out
}
