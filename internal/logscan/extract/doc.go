// Package extract finds the blocks of a failed task's log that carry the
// failure and returns them as structured data: what kind of error it is, the
// exception type and message, the stack frames with the first frame in user
// code, the line range, the chain of wrapped causes, system-specific details
// (SQLSTATE, exit code, signal, pod reason, dbt model…) and a confidence.
//
// Log text is untrusted: extract only reads it. It never runs, resolves or
// fetches anything a log names, never panics on any input, and its time
// and memory are bounded whatever it is given: only the last MaxScanLines
// lines are scanned, each only to MaxLineBytes, blocks, frames, chains and
// messages are capped, and no parser recurses. It does not redact; callers
// redact the lines first (logscan.RedactLines) when the result leaves the
// process.
//
// # What it recognises
//
//   - python_traceback: "Traceback (most recent call last):" blocks, also
//     headerless (a log that starts mid-traceback), IPython/Jupyter style,
//     and Airflow 3's structured error_detail; chains joined by "During
//     handling of the above exception…" and "The above exception was the
//     direct cause…". Python prints the original exception first either
//     way, so the first one printed is the root.
//   - java_stacktrace: "X: msg" followed by "at …" frames, "Caused by:"
//     sections (the last is the root) and causes nested in the message
//     ("RuntimeException: java.io.IOException: …").
//   - postgres, snowflake, bigquery: psycopg/libpq/JDBC errors with DETAIL,
//     HINT and SQLSTATE; Snowflake "002003 (42S02): …"; BigQuery "400 …"
//     API errors and reasons.
//   - dbt: "Database Error in model …", "Compilation Error in …", "Failure in
//     test …" with the run summary.
//   - spark: "Job aborted due to stage failure", lost executors and their
//     exit codes, YARN memory kills, error classes with SQLSTATE.
//   - kubernetes: OOMKilled, Evicted and other pod terminations, in `kubectl
//     describe`, `kubectl get pods` and pod-status JSON or dict form.
//   - airflow: return code -9 / SIGKILL, the likely-OOM kill message,
//     SIGTERM, externally changed state, zombie and heartbeat loss,
//     execution_timeout, sensor timeout, and Airflow 3 supervisor events.
//   - generic: an ERROR/FATAL line or a well-known failure phrase when nothing
//     structured matches.
//
// An exception raised in Python or Java by a known system (a psycopg2 error,
// a Snowflake ProgrammingError, AirflowTaskTimeout…) takes that system's
// kind; Details["format"] keeps the format it was found in.
//
// # Choosing the root
//
// Every block gets a confidence: how sure extract is that the block explains
// the failure. Wrappers score low: Airflow's "Task failed with exception"
// and "Bash command failed" AirflowException, "Task exited with return code
// 1", subprocess.CalledProcessError, Py4JJavaError, "Pod returned a
// failure" without a reason. So the concrete error under them wins when the
// log has one. A return code -9 or a SIGKILL is itself the root when nothing
// more concrete exists. A traceback logged at WARNING or INFO (handled and
// retried) scores lower than one logged at ERROR. Result.Root is the block
// with the highest confidence; ties go to the later block, nearer the end of
// the log where the task died.
//
// # User frames
//
// A frame is user code unless it is recognisably a library or runtime:
// Python files under site-packages, dist-packages or a lib/pythonX.Y
// standard library, "<frozen …>" and similar pseudo-files, and Airflow's own
// package (airflow/models, airflow/operators, airflow/providers, …, but not
// a dags folder); Java frames whose class starts with a JDK, Scala, Spark,
// Hadoop, Akka, Netty, JDBC-driver or cloud-SDK package (java., scala.,
// org.apache.spark., …; see javaLibraryPrefixes). FirstUserFrame is the user
// frame nearest the point of failure: the last one Python prints, the first
// one Java prints.
package extract
