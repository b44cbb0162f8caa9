package airflow_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/medic-sh/medic/internal/airflow"
)

const specRunID = "scheduled__2024-05-01T00:00:00+00:00"

// Spec-shaped fixtures. v is the Airflow major version.

func specRun(v int, dagID, runID, state string) map[string]any {
	r := map[string]any{
		"dag_id": dagID, "dag_run_id": runID, "state": state, "run_type": "scheduled",
		"logical_date": "2024-05-01T00:00:00+00:00", "start_date": "2024-05-01T00:00:05+00:00",
		"end_date": "2024-05-01T00:10:00+00:00", "conf": map[string]any{"a": 1.0},
		"data_interval_start": "2024-04-30T00:00:00+00:00", "data_interval_end": "2024-05-01T00:00:00+00:00",
		"note": nil,
	}
	if v == 3 {
		r["run_after"], r["dag_versions"], r["dag_display_name"] = "2024-05-01T00:00:00Z", []any{}, dagID
	} else {
		r["execution_date"], r["external_trigger"] = "2024-05-01T00:00:00+00:00", false
	}
	return r
}

func specTI(v int, dagID, runID, taskID string, try int, history bool) map[string]any {
	ti := map[string]any{
		"dag_id": dagID, "dag_run_id": runID, "task_id": taskID, "map_index": -1, "try_number": try,
		"max_tries": 2, "state": "failed", "operator": "PythonOperator", "hostname": "worker-1",
		"pool": "default_pool", "pool_slots": 1, "queue": "default", "executor_config": "{}",
		"start_date": "2024-05-01T00:00:05+00:00", "end_date": "2024-05-01T00:01:05+00:00", "duration": 60.0,
		"task_display_name": taskID, "priority_weight": 1,
	}
	if v == 3 {
		ti["dag_display_name"] = dagID
		if !history {
			ti["id"], ti["run_after"] = "0191c1a4-7d8e-7a3b-9c2d-1e2f3a4b5c6d", "2024-05-01T00:00:00Z"
		}
	} else {
		ti["execution_date"] = "2024-05-01T00:00:00+00:00"
	}
	return ti
}

func specDagDetails(v int) map[string]any {
	d := map[string]any{
		"dag_id": "etl", "dag_display_name": "etl", "description": "nightly load", "owners": []any{"data"},
		"is_paused": false, "fileloc": "/opt/airflow/dags/etl.py", "file_token": "tok",
		"timetable_description": "At 00:00", "has_import_errors": false, "has_task_concurrency_limits": false,
		"max_active_tasks": 16, "concurrency": 16, "catchup": false, "render_template_as_native_obj": false,
	}
	if v == 3 {
		d["tags"] = []any{map[string]any{"name": "prod", "dag_id": "etl", "dag_display_name": "etl"}}
		d["is_stale"], d["timetable_partitioned"], d["max_consecutive_failed_dag_runs"] = false, false, 0
		d["timetable_summary"] = "0 0 * * *"
	} else {
		d["tags"] = []any{map[string]any{"name": "prod"}}
		d["is_active"], d["is_subdag"] = true, false
	}
	return d
}

func specTasks(v int) map[string]any {
	task := func(id string, down []any) map[string]any {
		t := map[string]any{
			"task_id": id, "owner": "data", "downstream_task_ids": down, "retries": 2.0, "pool": "default_pool",
			"queue": "default", "depends_on_past": false, "wait_for_downstream": false, "extra_links": []any{},
			"class_ref": map[string]any{"class_name": "PythonOperator", "module_path": "airflow.operators.python"},
		}
		if v == 3 {
			t["retry_exponential_backoff"], t["operator_name"] = 0.0, "PythonOperator"
		} else {
			t["retry_exponential_backoff"] = false
		}
		return t
	}
	out := map[string]any{"tasks": []any{task("extract", []any{"load"}), task("load", []any{})}}
	if v == 3 {
		out["total_entries"] = 2
	}
	return out
}

func specError(v, status int, msg string) (int, string, []byte) {
	if v == 3 {
		return jsonBytes(status, map[string]any{"detail": msg})
	}
	return jsonBytes(status, map[string]any{"type": "about:blank", "title": http.StatusText(status), "status": status, "detail": msg})
}

func specAnswers(v int) map[string]specAnswer {
	tiPage := func(key string) specAnswer {
		return pagedAnswer(key, 130, func(i int) map[string]any { return specTI(v, "etl", specRunID, fmt.Sprint("t", i), 1, false) })
	}
	a := map[string]specAnswer{
		"get_version": jsonAnswer(map[string]any{"version": map[int]string{2: "2.10.5", 3: "3.1.0"}[v], "git_version": nil}),
		"get_dag_runs": pagedAnswer("dag_runs", 150, func(i int) map[string]any {
			return specRun(v, "etl", fmt.Sprintf("scheduled__2024-05-%02dT00:00:00+00:00", i%28+1)+fmt.Sprint(i), "failed")
		}),
		"get_dag_runs_batch": pagedAnswer("dag_runs", 150, func(i int) map[string]any {
			return specRun(v, fmt.Sprint("dag", i), specRunID, "failed")
		}),
		"get_dag_run": func(_ *http.Request, p map[string]string, _ map[string]any) (int, string, []byte) {
			if p["dag_run_id"] != specRunID {
				return specError(v, 404, "DAGRun with DAG ID: 'etl' and DagRun ID: 'nope' not found")
			}
			return jsonBytes(200, specRun(v, p["dag_id"], p["dag_run_id"], "failed"))
		},
		"get_task_instances":       tiPage("task_instances"),
		"get_task_instances_batch": tiPage("task_instances"),
		"get_task_instance":        jsonAnswer(specTI(v, "etl", specRunID, "load", 2, false)),
		"get_mapped_task_instance": jsonAnswer(specTI(v, "etl", specRunID, "load", 2, false)),
		"get_task_instance_tries": jsonAnswer(map[string]any{"total_entries": 2, "task_instances": []any{
			specTI(v, "etl", specRunID, "load", 1, true), specTI(v, "etl", specRunID, "load", 2, true),
		}}),
		"get_dag_details": jsonAnswer(specDagDetails(v)),
		"get_tasks":       jsonAnswer(specTasks(v)),
		"post_clear_task_instances": func(*http.Request, map[string]string, map[string]any) (int, string, []byte) {
			if v == 3 {
				return jsonBytes(200, map[string]any{"task_instances": []any{specTI(v, "etl", specRunID, "load", 2, false)}, "total_entries": 1})
			}
			return jsonBytes(200, map[string]any{"task_instances": []any{map[string]any{
				"dag_id": "etl", "dag_run_id": specRunID, "task_id": "load", "execution_date": "2024-05-01T00:00:00+00:00",
			}}})
		},
		"get_log": func(*http.Request, map[string]string, map[string]any) (int, string, []byte) {
			if v == 3 {
				return 200, "application/x-ndjson", []byte(`{"event":"::group::Log message source details","sources":["/logs/attempt=2.log"]}` + "\n" +
					`{"event":"::endgroup::"}` + "\n" + `{"timestamp":"2024-05-01T00:00:06Z","level":"error","event":"boom","logger":"task"}` + "\n")
			}
			return 200, "text/plain", []byte("worker-1\n*** Found local files:\n***   * /logs/attempt=2.log\n[2024-05-01, 00:00:06 UTC] {etl.py:3} ERROR - boom\n")
		},
	}
	trigger := func(_ *http.Request, p map[string]string, body map[string]any) (int, string, []byte) {
		if body["dag_run_id"] == "dup" {
			return specError(v, 409, "DAGRun with DAG ID: 'etl' and DAGRun ID: 'dup' already exists")
		}
		run := specRun(v, p["dag_id"], body["dag_run_id"].(string), "queued")
		run["run_type"] = "manual"
		return jsonBytes(200, run)
	}
	if v == 3 {
		a["trigger_dag_run"] = trigger
	} else {
		a["post_dag_run"] = trigger
	}
	return a
}

func TestClientRequestsConformToSpec(t *testing.T) {
	t.Parallel()
	for _, v := range []int{2, 3} {
		t.Run(fmt.Sprint("airflow ", v), func(t *testing.T) {
			t.Parallel()
			s := newSpecServer(t, v, specAnswers(v))
			b := setup(t, s, func(o *airflow.Options) { o.Version = "auto" })
			c, ctx := b.client, context.Background()
			since := mustTime(t, "2024-05-01T00:00:00Z")

			got, err := c.Version(ctx)
			require.NoError(t, err)
			require.Equal(t, v, got)

			runs, err := c.ListFailedDagRuns(ctx, since)
			require.NoError(t, err)
			require.Len(t, runs, 150, "both pages")
			runs, err = c.ListDagRuns(ctx, "etl", airflow.RunQuery{States: []string{"failed", "success"}, EndedAfter: since, Limit: 5})
			require.NoError(t, err)
			require.Len(t, runs, 5)

			run, err := c.GetDagRun(ctx, "etl", specRunID)
			require.NoError(t, err)
			require.Equal(t, specRunID, run.RunID)
			require.Equal(t, map[string]any{"a": 1.0}, run.Conf)
			_, err = c.GetDagRun(ctx, "etl", "nope")
			require.ErrorIs(t, err, airflow.ErrNotFound)
			require.ErrorContains(t, err, "DagRun ID: 'nope' not found")

			tis, err := c.ListTaskInstances(ctx, "etl", specRunID)
			require.NoError(t, err)
			require.Len(t, tis, 130)
			ti, err := c.GetTaskInstance(ctx, "etl", specRunID, "load")
			require.NoError(t, err)
			require.Equal(t, airflow.TaskInstance{
				DagID: "etl", RunID: specRunID, TaskID: "load", MapIndex: -1, TryNumber: 2, MaxTries: 2,
				State: "failed", Operator: "PythonOperator", Hostname: "worker-1", Pool: "default_pool",
				Queue: "default", StartDate: ptr(mustTime(t, "2024-05-01T00:00:05Z")),
				EndDate: ptr(mustTime(t, "2024-05-01T00:01:05Z")), Duration: ptr(60.0),
			}, *ti)
			tries, err := c.ListTaskTries(ctx, "etl", specRunID, "load")
			require.NoError(t, err)
			require.Len(t, tries, 2)
			failures, err := c.ListTaskFailures(ctx, "etl", "load", since)
			require.NoError(t, err)
			require.Len(t, failures, 130)

			l, err := c.TaskLog(ctx, "etl", specRunID, "load", 2, airflow.LogOptions{MaxLines: 10})
			require.NoError(t, err)
			require.Contains(t, l.Text, "ERROR - boom")
			require.Equal(t, []string{"/logs/attempt=2.log"}, l.Sources)
			_, err = c.TaskLog(ctx, "etl", specRunID, "load", 0, airflow.LogOptions{MapIndex: ptr(2)})
			require.NoError(t, err)

			dag, err := c.GetDag(ctx, "etl")
			require.NoError(t, err)
			require.Equal(t, []string{"prod"}, dag.Tags)
			require.Equal(t, []string{"data"}, dag.Owners)
			require.Equal(t, "/opt/airflow/dags/etl.py", dag.FileLoc)
			require.Equal(t, []airflow.Task{
				{ID: "extract", Operator: "PythonOperator", Owner: "data", Downstream: []string{"load"}, Retries: 2, Pool: "default_pool", Queue: "default"},
				{ID: "load", Operator: "PythonOperator", Owner: "data", Downstream: []string{}, Retries: 2, Pool: "default_pool", Queue: "default"},
			}, dag.Tasks)

			for _, dry := range []bool{true, false} {
				refs, err := c.ClearTaskInstances(ctx, "etl", airflow.ClearRequest{
					RunID: specRunID, TaskIDs: []string{"load"},
					OnlyFailed: true, IncludeDownstream: true, DryRun: dry,
				})
				require.NoError(t, err)
				require.Equal(t, []airflow.TaskInstanceRef{{DagID: "etl", RunID: specRunID, TaskID: "load"}}, refs)
				body := s.lastBody("post_clear_task_instances")
				require.Equal(t, dry, body["dry_run"], "dry_run is always explicit")
				require.Equal(t, true, body["reset_dag_runs"], "re-queue the run on both versions")
				require.Equal(t, specRunID, body["dag_run_id"])
			}

			triggerOp := map[int]string{2: "post_dag_run", 3: "trigger_dag_run"}[v]
			run, err = c.TriggerDagRun(ctx, "etl", airflow.TriggerRequest{RunID: "medic-retry-1", Conf: map[string]any{"k": "v"}, Note: "by medic"})
			require.NoError(t, err)
			require.Equal(t, "medic-retry-1", run.RunID)
			body := s.lastBody(triggerOp)
			logical, present := body["logical_date"]
			require.Equal(t, v == 3, present, "3.x needs logical_date: null explicitly")
			require.Nil(t, logical)
			_, err = c.TriggerDagRun(ctx, "etl", airflow.TriggerRequest{LogicalDate: ptr(since)})
			require.NoError(t, err)
			require.Equal(t, "2024-05-01T00:00:00Z", s.lastBody(triggerOp)["logical_date"])
			require.Regexp(t, `^medic__[0-9T:.-]+Z_[0-9a-f]{8}$`, s.lastBody(triggerOp)["dag_run_id"])
			_, err = c.TriggerDagRun(ctx, "etl", airflow.TriggerRequest{RunID: "dup"})
			require.ErrorIs(t, err, airflow.ErrConflict)

			s.require(t, "get_version", "get_dag_runs", "get_dag_run", "get_task_instances", "get_task_instance",
				"get_task_instance_tries", "get_log", "get_mapped_task_instance", "get_dag_details", "get_tasks",
				"post_clear_task_instances", triggerOp)
			if v == 2 {
				s.require(t, "get_dag_runs_batch", "get_task_instances_batch")
			}
		})
	}
}

// TestSpecHarnessCatchesViolations proves the harness is not vacuous.
func TestSpecHarnessCatchesViolations(t *testing.T) {
	t.Parallel()
	s := newSpecServer(t, 3, specAnswers(3))
	srv := setup(t, s, nil).srv
	req, err := http.NewRequest(http.MethodPost, srv.URL+"/api/v2/dags/etl/clearTaskInstances",
		strings.NewReader(`{"dry_run":false,"include_subdags":true}`))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	resp, err := srv.Client().Do(req)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	resp, err = srv.Client().Get(srv.URL + "/api/v2/dags/etl/dagRuns?limit=-1")
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	s.mu.Lock()
	defer s.mu.Unlock()
	require.Len(t, s.violations, 2)
	require.Contains(t, s.violations[0], "include_subdags")
	require.Contains(t, s.violations[1], "limit")
}
