package airflowsim

import (
	"errors"
	"fmt"
	"time"
)

// DAG is a scripted DAG definition.
type DAG struct {
	ID          string
	Description string
	Owners      []string
	Tags        []string
	Tasks       []Task
	// Schedule is a cron expression or preset ("0 2 * * *", "@daily"); empty
	// means no schedule (schedule=None).
	Schedule string
	Paused   bool
	// FileLoc is the DAG file path; defaults to /opt/airflow/dags/<id>.py.
	FileLoc string
}

// Task is one task of a scripted DAG.
type Task struct {
	ID string
	// Operator is the operator class name, e.g. "PostgresOperator",
	// "PythonOperator", "S3KeySensor"; it defaults to "PythonOperator".
	Operator string
	// Downstream lists the IDs of the tasks that depend on this one.
	Downstream []string
	// Owner defaults to the DAG's first owner, then "airflow".
	Owner   string
	Retries int
	// RetryDelay defaults to Airflow's 5 minutes.
	RetryDelay time.Duration
	// Pool defaults to "default_pool", Queue to "default".
	Pool  string
	Queue string
}

// Outcome scripts one try of a task.
type Outcome struct {
	// State is "success" or "failed".
	State string
	// Log is the body of the task's log for this try, as plain lines. Lines of
	// the form "{file.py:N} LEVEL - message" are stamped with the try's time
	// ("[2026-05-01, 02:00:03 UTC] {file.py:N} ..."); lines that already
	// start with "[" keep their own timestamp; any other line (traceback,
	// continuation) is kept as it is. The server adds Airflow's own framing
	// (pre-execution group, "Marking task as ...", "Task exited with return
	// code N") unless the body already holds a "Task exited with return code"
	// line. The placeholders {{pid}}, {{job_id}}, {{hostname}}, {{dag_id}},
	// {{task_id}}, {{run_id}} and {{try_number}} are replaced at execution.
	Log string
	// Duration is how long the try ran; defaults to 20 s.
	Duration time.Duration
	// ExitCode is the task process's return code; defaults to 1 for failed
	// and 0 for success. -9 renders as a SIGKILL (OOM) ending.
	ExitCode int
	// Exception overrides the exception text reported to OnTaskFailed (see
	// TaskFailure.Exception for the default).
	Exception string
	// SilentKill marks a try that was killed from outside (SIGKILL, OOM):
	// no OnTaskFailed callback fires for it, so only a poller can notice.
	SilentKill bool
}

// Outcome states.
const (
	StateSuccess = "success"
	StateFailed  = "failed"
)

// Success returns a successful outcome with an optional log body.
func Success(log string) Outcome { return Outcome{State: StateSuccess, Log: log} }

// Failure returns a failed outcome with the given log body.
func Failure(log string) Outcome { return Outcome{State: StateFailed, Log: log} }

// DagRun is a snapshot of one DAG run, returned by StartRun and DagRun.
type DagRun struct {
	DagID string
	RunID string
	// LogicalDate is zero for a 3.x run triggered with logical_date null.
	LogicalDate   time.Time
	RunType       string
	State         string
	StartDate     time.Time
	EndDate       time.Time
	TaskInstances []TaskInstance
}

// TaskInstance returns the snapshot of one task in the run, or nil.
func (r *DagRun) TaskInstance(taskID string) *TaskInstance {
	for i := range r.TaskInstances {
		if r.TaskInstances[i].TaskID == taskID {
			return &r.TaskInstances[i]
		}
	}
	return nil
}

// TaskInstance is a snapshot of one task instance.
type TaskInstance struct {
	TaskID string
	// State is "" for Airflow's null state (e.g. just cleared).
	State     string
	TryNumber int
	MaxTries  int
	StartDate time.Time
	EndDate   time.Time
	Tries     []TaskTry
}

// TaskTry is one executed try of a task instance.
type TaskTry struct {
	TryNumber int
	// State is the try's final state: "success" or "failed" (a failed try
	// that was retried is recorded as failed, as TaskInstanceHistory does).
	State      string
	StartDate  time.Time
	EndDate    time.Time
	Hostname   string
	ExitCode   int
	Exception  string
	SilentKill bool
}

// TaskFailure describes one failed try, as an on_failure_callback or a
// listener would see it.
type TaskFailure struct {
	DagID       string
	RunID       string
	TaskID      string
	TryNumber   int
	MaxTries    int
	LogicalDate time.Time
	// Exception is the exception text a callback would log: the final
	// exception of the try's traceback as Python prints it, e.g.
	// `psycopg2.errors.UndefinedColumn: column "x" does not exist` followed by
	// the message's own continuation lines (psycopg2's LINE/HINT); without a
	// traceback, the last ERROR record, else "Task exited with return code N".
	Exception string
	// LogURL is the task's log link in the Airflow UI, in the version's form.
	LogURL   string
	Owner    string
	Tags     []string
	Hostname string
	// WillRetry is true when the task has retries left (the try ends
	// up_for_retry: Airflow would call on_retry_callback, listeners still see
	// a failure).
	WillRetry bool
	StartDate time.Time
	EndDate   time.Time
}

// RecordedRequest is one request the server answered.
type RecordedRequest struct {
	Method string
	// Path is the escaped request path, as sent.
	Path  string
	Query string
	// Status is the response status; 0 when the handler gave up without
	// answering (a hang fault ended by the client).
	Status int
	// Fault is true when an injected fault answered (or delayed) it.
	Fault bool
}

// Fault makes the server misbehave for matching requests.
type Fault struct {
	// PathPrefix selects requests by their decoded path, e.g. "/api/v1/dags".
	// Empty matches every request.
	PathPrefix string
	// Method restricts the fault to one HTTP method; empty matches any.
	Method string
	// Status, when not zero, is returned instead of the real response. 500
	// gets the version's error body; other codes get a plain-text body like
	// a proxy's, unless Body is set.
	Status int
	// RetryAfter, when positive, is sent as a Retry-After header in seconds.
	RetryAfter time.Duration
	// Body overrides the response body (sent as text/plain).
	Body string
	// Latency delays the response (real time, not Options.Clock), ending
	// early if the request's context is done.
	Latency time.Duration
	// Hang holds the request until its context is done and answers nothing.
	Hang bool
	// HangAfter handles the request (a clear is applied) and then holds it
	// like Hang, answering nothing: the write happened but its caller
	// never learns so.
	HangAfter bool
	// Count is how many requests the fault applies to; 0 means until
	// ClearFaults.
	Count int
}

// ErrUnknownDAG is returned for a DAG ID that was never added.
var ErrUnknownDAG = errors.New("airflowsim: unknown DAG")

// ErrRunExists is returned when a run ID is already taken.
var ErrRunExists = errors.New("airflowsim: DAG run already exists")

func validateDAG(d DAG) error {
	if d.ID == "" {
		return errors.New("airflowsim: DAG ID is empty")
	}
	ids := map[string]bool{}
	for _, t := range d.Tasks {
		if t.ID == "" {
			return fmt.Errorf("airflowsim: DAG %s has a task with an empty ID", d.ID)
		}
		if ids[t.ID] {
			return fmt.Errorf("airflowsim: DAG %s declares task %s twice", d.ID, t.ID)
		}
		ids[t.ID] = true
	}
	for _, t := range d.Tasks {
		for _, down := range t.Downstream {
			if !ids[down] {
				return fmt.Errorf("airflowsim: DAG %s task %s has unknown downstream %s", d.ID, t.ID, down)
			}
		}
	}
	return nil
}
