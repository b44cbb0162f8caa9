package ingest_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/medic-sh/medic/internal/incident"
	"github.com/medic-sh/medic/internal/ingest"
)

// olNow is medic's clock in the OpenLineage tests: after every fixture's
// eventTime.
var olNow = time.Date(2026, 5, 1, 4, 0, 0, 0, time.UTC)

var olInstances = []string{"main", "prod"}

// olEdit returns a fixture with edit applied to its decoded JSON.
func olEdit(t *testing.T, name string, edit func(ev map[string]any)) []byte {
	t.Helper()
	var ev map[string]any
	require.NoError(t, json.Unmarshal(readFixture(t, name), &ev))
	edit(ev)
	body, err := json.Marshal(ev)
	require.NoError(t, err)
	return body
}

// at walks a decoded event down the given object keys.
func at(ev map[string]any, keys ...string) map[string]any {
	for _, k := range keys {
		ev = ev[k].(map[string]any)
	}
	return ev
}

func TestDecodeOpenLineageFailure(t *testing.T) {
	t.Parallel()
	logical := time.Date(2026, 5, 1, 1, 0, 0, 0, time.UTC)
	logical2 := time.Date(2026, 5, 1, 2, 0, 0, 0, time.UTC)
	tests := []struct {
		name     string
		body     []byte
		want     incident.FailureEvent
		excStart string // the exception's first line
		excHas   string
	}{
		{
			name: "airflow 3 task",
			body: readFixture(t, "openlineage_fail.json"),
			want: incident.FailureEvent{
				Key: incident.Key{
					Instance: "prod", DagID: "orders_etl", RunID: "scheduled__2026-05-01T01:00:00+00:00",
					TaskID: "load_orders", TryNumber: 2,
				},
				MapIndex: -1, Source: incident.SourceOpenLineage, LogicalDate: &logical, Owner: "data-eng",
				LogURL: "http://airflow.example.com/dags/orders_etl/runs/scheduled__2026-05-01T01%3A00%3A00%2B00%3A00/tasks/load_orders?try_number=2",
				Datasets: []string{
					"postgres://warehouse.internal:5432/analytics.staging.orders_raw",
					"postgres://warehouse.internal:5432/analytics.public.orders",
				},
				OccurredAt: time.Date(2026, 5, 1, 2, 17, 43, 512204000, time.UTC), ReceivedAt: olNow,
			},
			excStart: "Traceback (most recent call last):",
			excHas:   `psycopg2.OperationalError: connection to server at "warehouse.internal"`,
		},
		{
			name: "airflow 2 mapped task in the default namespace",
			body: readFixture(t, "openlineage_fail_airflow2_mapped.json"),
			want: incident.FailureEvent{
				Key: incident.Key{
					Instance: "main", DagID: "partner_sync", RunID: "scheduled__2026-05-01T02:00:00+00:00",
					TaskID: "fetch_page", TryNumber: 1,
				},
				MapIndex: 3, Source: incident.SourceOpenLineage, LogicalDate: &logical2, Owner: "integrations",
				OccurredAt: time.Date(2026, 5, 1, 3, 0, 9, 412000, time.UTC), ReceivedAt: olNow,
			},
			excStart: "HTTPSConnectionPool(host='api.partner.io', port=443)",
			excHas:   "Max retries exceeded",
		},
		{
			name: "message outside the trace comes first",
			body: olEdit(t, "openlineage_fail_airflow2_mapped.json", func(ev map[string]any) {
				at(ev, "run", "facets", "errorMessage")["stackTrace"] = "Traceback (most recent call last):\n  File \"x.py\", line 1\nRuntimeError"
				at(ev, "run", "facets", "airflow", "taskInstance")["map_index"] = nil
				ev["eventTime"] = "2026-05-01T03:00:09.000412" // naive, as datetime.now().isoformat()
			}),
			want: incident.FailureEvent{
				Key: incident.Key{
					Instance: "main", DagID: "partner_sync", RunID: "scheduled__2026-05-01T02:00:00+00:00",
					TaskID: "fetch_page", TryNumber: 1,
				},
				MapIndex: -1, Source: incident.SourceOpenLineage, LogicalDate: &logical2, Owner: "integrations",
				OccurredAt: time.Date(2026, 5, 1, 3, 0, 9, 412000, time.UTC), ReceivedAt: olNow,
			},
			excStart: "HTTPSConnectionPool(host='api.partner.io', port=443)",
			excHas:   "\nTraceback (most recent call last):",
		},
		{
			name: "a clock ahead of medic's and no facts beyond identity",
			body: olEdit(t, "openlineage_fail.json", func(ev map[string]any) {
				ev["eventTime"] = "2026-05-02T00:00:00Z"
				facets := at(ev, "run", "facets")
				delete(facets, "errorMessage")
				delete(facets, "parent")
				af := at(facets, "airflow")
				delete(at(af, "task"), "task_id") // taken from job.name
				delete(at(af, "task"), "owner")
				delete(at(af, "dag"), "owner")
				delete(at(af, "dagRun"), "logical_date")
				delete(at(af, "taskInstance"), "log_url")
				delete(ev, "inputs")
				delete(ev, "outputs")
			}),
			want: incident.FailureEvent{
				Key: incident.Key{
					Instance: "prod", DagID: "orders_etl", RunID: "scheduled__2026-05-01T01:00:00+00:00",
					TaskID: "load_orders", TryNumber: 2,
				},
				MapIndex: -1, Source: incident.SourceOpenLineage, OccurredAt: olNow, ReceivedAt: olNow,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res, err := ingest.DecodeOpenLineage(tt.body, "main", olInstances, olNow)
			require.NoError(t, err)
			require.Empty(t, res.Ignored)
			require.NotNil(t, res.Event)
			got := *res.Event
			exc := got.Exception
			got.Exception = ""
			require.Equal(t, tt.want, got)
			require.True(t, strings.HasPrefix(exc, tt.excStart), "exception: %q", exc)
			require.Contains(t, exc, tt.excHas)
			require.NoError(t, res.Event.Validate())
		})
	}
}

func TestDecodeOpenLineageIgnored(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		body   []byte
		reason string
	}{
		{"start", readFixture(t, "openlineage_start.json"), "eventType START is not a failure"},
		{"complete", readFixture(t, "openlineage_complete.json"), "eventType COMPLETE is not a failure"},
		{"dag run failure", readFixture(t, "openlineage_dag_fail.json"), "DAG-level event"},
		{"running", olEdit(t, "openlineage_fail.json", func(ev map[string]any) { ev["eventType"] = "RUNNING" }), "RUNNING"},
		{"abort", olEdit(t, "openlineage_fail.json", func(ev map[string]any) { ev["eventType"] = "ABORT" }), "ABORT"},
		{"other", olEdit(t, "openlineage_fail.json", func(ev map[string]any) { ev["eventType"] = "OTHER" }), "OTHER"},
		{"no event type", olEdit(t, "openlineage_fail.json", func(ev map[string]any) { delete(ev, "eventType") }), "eventType is absent"},
		{
			"spark job", olEdit(t, "openlineage_fail.json", func(ev map[string]any) {
				at(ev, "job", "facets", "jobType")["integration"] = "SPARK"
				delete(at(ev, "run", "facets"), "airflow")
			}), `"SPARK" job, not an Airflow task`,
		},
		{
			"job without facets", olEdit(t, "openlineage_fail.json", func(ev map[string]any) {
				delete(at(ev, "job"), "facets")
				delete(at(ev, "run"), "facets")
			}), "is not an Airflow job",
		},
		{
			"dag run without job type", olEdit(t, "openlineage_dag_fail.json", func(ev map[string]any) {
				delete(at(ev, "job"), "facets")
			}), "DAG-level event",
		},
		{
			"airflow query job", olEdit(t, "openlineage_fail.json", func(ev map[string]any) {
				at(ev, "job", "facets", "jobType")["jobType"] = "QUERY"
			}), `jobType "QUERY" is not an Airflow task`,
		},
		{"dataset event", []byte(`{"eventTime":"2026-05-01T00:00:00Z","producer":"p","schemaURL":"s","dataset":{"namespace":"s3://b","name":"k"}}`), "DatasetEvent"},
		{"job event", []byte(`{"eventTime":"2026-05-01T00:00:00Z","producer":"p","schemaURL":"s","job":{"namespace":"prod","name":"d.t"}}`), "JobEvent"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res, err := ingest.DecodeOpenLineage(tt.body, "main", olInstances, olNow)
			require.NoError(t, err)
			require.Nil(t, res.Event)
			require.Contains(t, res.Ignored, tt.reason)
		})
	}
}

func TestDecodeOpenLineageInvalid(t *testing.T) {
	t.Parallel()
	edit := func(fn func(ev map[string]any)) []byte { return olEdit(t, "openlineage_fail.json", fn) }
	airflow := func(ev map[string]any, keys ...string) map[string]any {
		return at(ev, append([]string{"run", "facets", "airflow"}, keys...)...)
	}
	tests := []struct {
		name     string
		body     []byte
		field    string
		contains string
	}{
		{"empty", nil, "", "body is empty"},
		{"not JSON", []byte(`{"eventType":`), "", "not valid JSON"},
		{"array", []byte(`[{}]`), "", "must be a JSON object"},
		{"trailing data", append(readFixture(t, "openlineage_fail.json"), '{', '}'), "", "data after"},
		{"no run or job", []byte(`{"eventType":"FAIL"}`), "run", "is required"},
		{"duplicate member", []byte(`{"eventType":"FAIL","eventType":"START","run":{}}`), `"eventType"`, "more than once"},
		{"unknown event type", edit(func(ev map[string]any) { ev["eventType"] = "EXPLODED" }), "eventType", "must be one of START"},
		{"event type not a string", edit(func(ev map[string]any) { ev["eventType"] = 3 }), "eventType", "must be a string"},
		{"bad event time", edit(func(ev map[string]any) { ev["eventTime"] = "yesterday" }), "eventTime", "RFC 3339"},
		{"no event time", edit(func(ev map[string]any) { delete(ev, "eventTime") }), "eventTime", "is required"},
		{"run not an object", edit(func(ev map[string]any) { ev["run"] = "r" }), "run", "must be a JSON object"},
		{"no run id", edit(func(ev map[string]any) { delete(at(ev, "run"), "runId") }), "run.runId", "is required"},
		{"no job", edit(func(ev map[string]any) { delete(ev, "job") }), "job", "is required"},
		{"no job name", edit(func(ev map[string]any) { delete(at(ev, "job"), "name") }), "job.name", "is required"},
		{"facets not an object", edit(func(ev map[string]any) { at(ev, "run")["facets"] = []any{} }), "run.facets", "must be a JSON object"},
		{"no airflow facet", edit(func(ev map[string]any) { delete(at(ev, "run", "facets"), "airflow") }), "run.facets.airflow", "is required"},
		{"no run id in facet", edit(func(ev map[string]any) { delete(airflow(ev, "dagRun"), "run_id") }), "run.facets.airflow.dagRun.run_id", "is required"},
		{
			"no dag id anywhere", edit(func(ev map[string]any) {
				delete(airflow(ev, "dag"), "dag_id")
				delete(airflow(ev, "dagRun"), "dag_id")
				delete(at(ev, "run", "facets"), "parent")
			}), "run.facets.airflow.dag.dag_id", "is required",
		},
		{"no try number", edit(func(ev map[string]any) { delete(airflow(ev, "taskInstance"), "try_number") }), "run.facets.airflow.taskInstance.try_number", "is required"},
		{"try number zero", edit(func(ev map[string]any) { airflow(ev, "taskInstance")["try_number"] = 0 }), "run.facets.airflow.taskInstance.try_number", "integer >= 1"},
		{"try number a string", edit(func(ev map[string]any) { airflow(ev, "taskInstance")["try_number"] = "2" }), "run.facets.airflow.taskInstance.try_number", `got "2"`},
		{"map index below -1", edit(func(ev map[string]any) { airflow(ev, "taskInstance")["map_index"] = -2 }), "run.facets.airflow.taskInstance.map_index", ">= -1"},
		{"task id not a string", edit(func(ev map[string]any) { airflow(ev, "task")["task_id"] = 7 }), "run.facets.airflow.task.task_id", "must be a string"},
		{"job name of another task", edit(func(ev map[string]any) { at(ev, "job")["name"] = "orders_etl.publish" }), "job.name", `must be "orders_etl.load_orders"`},
		{"parent of another dag", edit(func(ev map[string]any) { at(ev, "run", "facets", "parent", "job")["name"] = "billing" }), "run.facets.parent.job.name", "must name the task's DAG"},
		{"javascript log url", edit(func(ev map[string]any) { airflow(ev, "taskInstance")["log_url"] = "javascript:alert(1)" }), "run.facets.airflow.taskInstance.log_url", "absolute http"},
		{"bad logical date", edit(func(ev map[string]any) { airflow(ev, "dagRun")["logical_date"] = "soon" }), "run.facets.airflow.dagRun.logical_date", "RFC 3339"},
		{"error message not a string", edit(func(ev map[string]any) { at(ev, "run", "facets", "errorMessage")["message"] = []any{1} }), "run.facets.errorMessage.message", "must be a string"},
		{"inputs not an array", edit(func(ev map[string]any) { ev["inputs"] = map[string]any{} }), "inputs", "must be an array"},
		{"input not an object", edit(func(ev map[string]any) { ev["inputs"] = []any{"s3://b/k"} }), "inputs[0]", "must be a JSON object"},
		{"output without name", edit(func(ev map[string]any) { ev["outputs"] = []any{map[string]any{"namespace": "s3://b"}} }), "outputs[0].name", "is required"},
		{"pipe in run id", edit(func(ev map[string]any) { airflow(ev, "dagRun")["run_id"] = "a|b" }), "", "forbidden character"},
		{"run id too long", edit(func(ev map[string]any) { airflow(ev, "dagRun")["run_id"] = strings.Repeat("r", 251) }), "", "longer than 250"},
		{
			"no default instance", edit(func(ev map[string]any) { at(ev, "job")["namespace"] = "staging" }),
			"job.namespace", "no default instance",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			def := "main"
			if tt.name == "no default instance" {
				def = ""
			}
			res, err := ingest.DecodeOpenLineage(tt.body, def, olInstances, olNow)
			require.Nil(t, res)
			require.ErrorIs(t, err, incident.ErrInvalid)
			var de *ingest.DecodeError
			require.True(t, errors.As(err, &de), "error %T is not a *DecodeError", err)
			require.Equal(t, tt.field, de.Field, "error: %v", err)
			require.Contains(t, err.Error(), tt.contains)
		})
	}
}

func TestDecodeOpenLineageBounds(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("é", incident.MaxExceptionLen)
	many := make([]any, 0, 2*incident.MaxDatasets)
	for i := range 2 * incident.MaxDatasets {
		many = append(many, map[string]any{"namespace": "s3://lake", "name": "t" + strings.Repeat("x", i)})
	}
	body := olEdit(t, "openlineage_fail.json", func(ev map[string]any) {
		msg := at(ev, "run", "facets", "errorMessage")
		msg["stackTrace"] = long
		msg["message"] = "not in the trace"
		at(ev, "run", "facets", "airflow", "task")["owner"] = strings.Repeat("o", 2*ingest.MaxOwnerLen)
		ev["inputs"] = append([]any{
			map[string]any{"namespace": "s3://lake", "name": strings.Repeat("n", incident.MaxDatasetLen)},
			map[string]any{"namespace": "s3://lake", "name": "a\nb"},
		}, many...)
	})
	res, err := ingest.DecodeOpenLineage(body, "main", olInstances, olNow)
	require.NoError(t, err)
	ev := res.Event
	require.LessOrEqual(t, len(ev.Exception), incident.MaxExceptionLen)
	require.True(t, strings.HasSuffix(ev.Exception, ingest.TruncatedMarker))
	require.True(t, strings.HasPrefix(ev.Exception, "not in the trace\n"))
	require.Len(t, []rune(ev.Owner), ingest.MaxOwnerLen)
	require.Len(t, ev.Datasets, incident.MaxDatasets, "capped")
	require.Equal(t, "s3://lake/t", ev.Datasets[0], "a too long or multi-line name is left out, not cut")
	require.NoError(t, ev.Validate())
}
