package ingest

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/medic-sh/medic/internal/incident"
)

// OpenLineage event types (RunEvent.eventType). Only FAIL is a failure.
const (
	olStart    = "START"
	olRunning  = "RUNNING"
	olComplete = "COMPLETE"
	olAbort    = "ABORT"
	olFail     = "FAIL"
	olOther    = "OTHER"
)

var olEventTypes = []string{olStart, olRunning, olComplete, olAbort, olFail, olOther}

// LineageResult is what an OpenLineage event means to medic: a failure to
// record, or an event it ignores, and why.
type LineageResult struct {
	// Event is the failed task try; nil when the event was ignored.
	Event *incident.FailureEvent
	// Ignored says why the event is not a failure medic records ("eventType
	// START is not a failure", "a DAG-level event ..."); empty for a failure.
	Ignored string
}

// DecodeOpenLineage parses an OpenLineage event, as the Airflow OpenLineage
// provider (apache-airflow-providers-openlineage) posts it, into a validated
// FailureEvent.
//
// Only a FAIL RunEvent of an Airflow task becomes a failure; any other
// event (START, RUNNING, COMPLETE, ABORT, OTHER, a DAG run's event, another
// integration's job, a static DatasetEvent or JobEvent) is ignored, which is
// not an error: the provider sends every event to the one endpoint.
//
// The failure's identity comes from the provider's "airflow" run facet
// (dag.dag_id, dagRun.run_id, task.task_id, taskInstance.try_number and
// map_index), checked against job.name ("<dag_id>.<task_id>") and the
// "parent" run facet (whose job is the DAG); the error text from the
// "errorMessage" facet; the time from eventTime (never later than now); the
// datasets from inputs and outputs. The Airflow instance is job.namespace
// when that is one of instances (configure [openlineage] namespace to the
// instance's name), else defaultInstance.
//
// Every error is a *DecodeError naming the field at fault (errors.As) and
// matches incident.ErrInvalid (errors.Is).
func DecodeOpenLineage(body []byte, defaultInstance string, instances []string, now time.Time) (*LineageResult, error) {
	top, err := decodeObject(body)
	if err != nil {
		return nil, err
	}
	d := &olDecoder{}
	ev := d.root(top)
	if !ev.has("run") {
		switch {
		case ev.has("dataset"):
			return ignored("a DatasetEvent (static dataset metadata) is not a failure")
		case ev.has("job"):
			return ignored("a JobEvent (static job metadata) is not a failure")
		}
		return nil, &DecodeError{Field: "run", Reason: "is required: send an OpenLineage RunEvent"}
	}
	env := readEnvelope(d, ev)
	if d.err != nil {
		return nil, d.err
	}
	switch env.eventType {
	case olFail:
	case "":
		return ignored("eventType is absent; only FAIL events are failures")
	default:
		return ignored(fmt.Sprintf("eventType %s is not a failure", env.eventType))
	}
	if reason := env.notAirflowTask(); reason != "" {
		return ignored(reason)
	}
	fe := env.failure(d)
	if d.err != nil {
		return nil, d.err
	}
	fe.Instance = defaultInstance
	if slices.Contains(instances, env.namespace) {
		fe.Instance = env.namespace
	}
	if isBlank(fe.Instance) {
		return nil, &DecodeError{Field: "job.namespace", Reason: fmt.Sprintf(
			"%s names no configured Airflow instance and this server has no default instance: set [openlineage] namespace to an instance name",
			preview(quote(env.namespace)))}
	}
	now = now.UTC()
	fe.ReceivedAt, fe.OccurredAt = now, now
	if env.eventTime != nil && !env.eventTime.After(now) {
		fe.OccurredAt = *env.eventTime
	}
	if err := fe.Validate(); err != nil {
		return nil, &DecodeError{Reason: "event is invalid: " + err.Error(), Err: err}
	}
	return &LineageResult{Event: fe}, nil
}

func ignored(reason string) (*LineageResult, error) {
	return &LineageResult{Ignored: reason}, nil
}

// olEnvelope is what every RunEvent is checked for, before medic decides
// whether it is a failure.
type olEnvelope struct {
	eventType string
	eventTime *time.Time
	namespace string
	jobName   string
	// integration and jobType come from the jobType job facet.
	integration string
	jobType     string
	// airflow is the provider's task-level run facet, dagRun its DAG-level
	// one (airflowDagRun).
	airflow *olObject
	hasDag  bool
	facets  *olObject
	top     *olObject
}

func readEnvelope(d *olDecoder, top *olObject) *olEnvelope {
	env := &olEnvelope{top: top}
	env.eventType = top.str("eventType")
	if d.err == nil && env.eventType != "" && !slices.Contains(olEventTypes, env.eventType) {
		d.fail("eventType", "must be one of "+strings.Join(olEventTypes, ", "), top.raw("eventType"))
	}
	env.eventTime = top.eventTime("eventTime")
	run := top.object("run")
	run.required("runId")
	env.facets = run.object("facets")
	job := top.object("job")
	if d.err == nil && !job.present() {
		d.fail("job", "is required", nil)
	}
	env.namespace = job.required("namespace")
	env.jobName = job.required("name")
	jt := job.object("facets").object("jobType")
	env.integration = jt.str("integration")
	env.jobType = jt.str("jobType")
	env.airflow = env.facets.object("airflow")
	env.hasDag = env.facets.has("airflowDagRun")
	return env
}

// notAirflowTask says why a FAIL event is not an Airflow task's, or "".
// The provider marks its jobs with the jobType facet (integration AIRFLOW,
// jobType TASK or DAG); without that facet, the airflow run facet marks a
// task and airflowDagRun a DAG run.
func (e *olEnvelope) notAirflowTask() string {
	switch {
	case e.integration != "" && !strings.EqualFold(e.integration, "AIRFLOW"):
		return fmt.Sprintf("job %s is a %s job, not an Airflow task", clipName(e.jobName), clipName(e.integration))
	case e.integration == "" && !e.airflow.present() && !e.hasDag:
		return fmt.Sprintf("job %s is not an Airflow job: it has no jobType facet of integration AIRFLOW and no airflow run facet",
			clipName(e.jobName))
	case strings.EqualFold(e.jobType, "DAG"), e.jobType == "" && !e.airflow.present():
		return "a DAG-level event: medic records the failed tasks of a DAG run, each from its own FAIL event"
	case e.jobType != "" && !strings.EqualFold(e.jobType, "TASK"):
		return fmt.Sprintf("jobType %s is not an Airflow task", clipName(e.jobType))
	}
	return ""
}

// failure maps an Airflow task's FAIL event to a FailureEvent, without its
// instance and times.
func (e *olEnvelope) failure(d *olDecoder) *incident.FailureEvent {
	af := e.airflow
	if !af.present() {
		d.fail("run.facets.airflow", "is required on an Airflow task's FAIL event: it names the DAG run and try "+
			"(sent by apache-airflow-providers-openlineage unless disabled)", nil)
		return nil
	}
	dag, dagRun, task, ti := af.object("dag"), af.object("dagRun"), af.object("task"), af.object("taskInstance")
	parent := e.facets.object("parent")
	parentJob := parent.object("job")
	parentJob.str("namespace")
	parentDag := parentJob.str("name")
	parent.object("run").str("runId")

	dagID := firstSet(dag.str("dag_id"), dagRun.str("dag_id"), parentDag)
	runID := dagRun.str("run_id")
	taskID := task.str("task_id")
	if taskID == "" && dagID != "" {
		taskID, _ = strings.CutPrefix(e.jobName, dagID+".")
	}
	try, _ := ti.integer("try_number", 1, "an integer >= 1")
	mapIndex := -1
	if n, ok := ti.integer("map_index", -1, "an integer >= -1 (-1 for an unmapped task)"); ok {
		mapIndex = n
	}
	logURL := ti.str("log_url")
	logical := dagRun.timestamp("logical_date")
	if logical == nil {
		logical = dagRun.timestamp("execution_date") // Airflow 2
	}
	owner := firstSet(task.str("owner"), dag.str("owner"))
	msg := e.facets.object("errorMessage")
	exception := exceptionText(msg.str("message"), msg.str("stackTrace"))
	datasets := e.datasets(d)
	if d.err != nil {
		return nil
	}
	for _, req := range []struct{ field, v string }{
		{"run.facets.airflow.dag.dag_id", dagID},
		{"run.facets.airflow.dagRun.run_id", runID},
		{"run.facets.airflow.task.task_id", taskID},
	} {
		if isBlank(req.v) {
			d.fail(req.field, "is required", nil)
			return nil
		}
	}
	if !ti.has("try_number") {
		d.fail("run.facets.airflow.taskInstance.try_number", "is required", nil)
		return nil
	}
	if want := dagID + "." + taskID; e.jobName != want {
		d.fail("job.name", fmt.Sprintf("must be %s (<dag_id>.<task_id> of the airflow run facet)", preview(quote(want))), quote(e.jobName))
		return nil
	}
	if parentDag != "" && parentDag != dagID {
		d.fail("run.facets.parent.job.name", fmt.Sprintf("must name the task's DAG %s", preview(quote(dagID))), quote(parentDag))
		return nil
	}
	if logURL != "" {
		if err := checkLogURL(logURL); err != nil {
			d.fail("run.facets.airflow.taskInstance.log_url", strings.TrimPrefix(err.Error(), "log_url "), nil)
			return nil
		}
	}
	return &incident.FailureEvent{
		Key:         incident.Key{DagID: dagID, RunID: runID, TaskID: taskID, TryNumber: try},
		MapIndex:    mapIndex,
		Source:      incident.SourceOpenLineage,
		LogicalDate: logical,
		Exception:   truncateUTF8(exception, incident.MaxExceptionLen, TruncatedMarker),
		LogURL:      logURL,
		Owner:       truncateRunes(strings.TrimSpace(owner), MaxOwnerLen),
		Datasets:    datasets,
	}
}

// datasets reads inputs and outputs as "namespace/name", inputs first,
// deduplicated and at most incident.MaxDatasets. A reference longer than
// incident.MaxDatasetLen, or holding a line break, is left out rather than
// cut: a cut name could join failures of different datasets.
func (e *olEnvelope) datasets(d *olDecoder) []string {
	var out []string
	for _, side := range []string{"inputs", "outputs"} {
		for i, raw := range e.top.array(side) {
			ds := d.objectAt(raw, elemPath(side, i))
			ref := ds.required("namespace") + "/" + ds.required("name")
			ds.object("facets")
			if d.err != nil {
				return nil
			}
			if len(out) == incident.MaxDatasets || slices.Contains(out, ref) || incident.ValidateDataset(ref) != nil {
				continue
			}
			out = append(out, ref)
		}
	}
	return out
}

// exceptionText is the error medic shows and classifies: the provider's
// stack trace (a Python traceback, which ends with the exception line) when
// it has one, with the message first if the trace does not contain it.
func exceptionText(message, stackTrace string) string {
	switch {
	case strings.TrimSpace(stackTrace) == "":
		return message
	case strings.TrimSpace(message) == "" || strings.Contains(stackTrace, message):
		return stackTrace
	}
	return message + "\n" + stackTrace
}

func firstSet(vs ...string) string {
	for _, v := range vs {
		if !isBlank(v) {
			return v
		}
	}
	return ""
}

func isBlank(s string) bool { return strings.TrimSpace(s) == "" }

// quote renders s as JSON, for preview.
func quote(s string) json.RawMessage {
	b, _ := json.Marshal(s)
	return b
}

// clipName bounds a name quoted in an ignore reason.
func clipName(s string) string { return preview(quote(s)) }
