package airflowsim_test

import (
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/medic-sh/medic/internal/airflow/airflowsim"
)

// conformanceWorld is one DAG with a failed run (transform fails both tries,
// load is upstream_failed), a successful run, and a manual run whose ID needs
// percent-encoding.
func conformanceWorld(t *testing.T, b *testBundle) (failedRun, manualRun string) {
	t.Helper()
	require.NoError(t, b.sim.AddDAG(etlDAG()))
	require.NoError(t, b.sim.AddDAG(airflowsim.DAG{ID: "paused_dag", Paused: true, Tasks: []airflowsim.Task{{ID: "only"}}}))
	_, err := b.sim.StartRun("etl", schedID(1), day(1), map[string][]airflowsim.Outcome{
		"transform": {airflowsim.Failure(airflowsim.LogPostgresUndefinedColumn("staging.orders", "customer_idd", "orders.customer_id"))},
	})
	require.NoError(t, err)
	_, err = b.sim.StartRun("etl", schedID(2), day(2), nil)
	require.NoError(t, err)
	manual := "manual__2026-05-03T10:15:00.123456+00:00"
	_, err = b.sim.StartRun("etl", manual, time.Date(2026, 5, 3, 10, 15, 0, 123456000, time.UTC), nil)
	require.NoError(t, err)
	return schedID(1), manual
}

type conformanceCase struct {
	name   string
	method string
	path   string // relative to the API prefix, unless raw
	raw    bool   // path is absolute
	body   any
	hdr    []string
	noAuth bool
	want   int
	// badRequest: the request itself is outside the spec (an error-path
	// test); the validator must then see a request violation.
	badRequest bool
	// noRoute: no spec operation matches (unknown route).
	noRoute bool
}

func commonCases(failed, manual string, v3 bool) []conformanceCase {
	run := "/dags/etl/dagRuns/" + esc(failed)
	ti := run + "/taskInstances/transform"
	return []conformanceCase{
		{name: "version", method: "GET", path: "/version", noAuth: true, want: 200},
		{name: "dag", method: "GET", path: "/dags/etl", want: 200},
		{name: "dag unknown", method: "GET", path: "/dags/nope", want: 404},
		{name: "dag details", method: "GET", path: "/dags/etl/details", want: 200},
		{name: "dag details paused", method: "GET", path: "/dags/paused_dag/details", want: 200},
		{name: "dag details unknown", method: "GET", path: "/dags/nope/details", want: 404},
		{name: "tasks", method: "GET", path: "/dags/etl/tasks", want: 200},
		{name: "tasks ordered", method: "GET", path: "/dags/etl/tasks?order_by=-task_id", want: 200},
		{name: "tasks bad order", method: "GET", path: "/dags/etl/tasks?order_by=colour", want: 400},
		{name: "tasks unknown dag", method: "GET", path: "/dags/nope/tasks", want: 404},
		{name: "runs", method: "GET", path: "/dags/etl/dagRuns", want: 200},
		{name: "runs all dags", method: "GET", path: "/dags/~/dagRuns", want: 200},
		{name: "runs states", method: "GET", path: "/dags/~/dagRuns?state=failed&state=success", want: 200},
		{name: "runs page", method: "GET", path: "/dags/etl/dagRuns?limit=1&offset=1&order_by=-start_date", want: 200},
		{name: "runs dates", method: "GET", path: "/dags/etl/dagRuns?start_date_gte=2026-05-01T00:00:00Z&end_date_lte=2030-01-01T00:00:00%2B00:00&updated_at_gte=2026-01-01T00:00:00Z", want: 200},
		{name: "runs bad order", method: "GET", path: "/dags/etl/dagRuns?order_by=colour", want: 400},
		{name: "run", method: "GET", path: run, want: 200},
		{name: "run encoded id", method: "GET", path: "/dags/etl/dagRuns/" + esc(manual), want: 200},
		{name: "run unknown", method: "GET", path: "/dags/etl/dagRuns/nope", want: 404},
		{name: "tis", method: "GET", path: run + "/taskInstances", want: 200},
		{name: "tis all", method: "GET", path: "/dags/~/dagRuns/~/taskInstances?state=failed", want: 200},
		{name: "ti", method: "GET", path: ti, want: 200},
		{name: "ti upstream failed", method: "GET", path: run + "/taskInstances/load", want: 200},
		{name: "ti unknown", method: "GET", path: run + "/taskInstances/nope", want: 404},
		{name: "tries", method: "GET", path: ti + "/tries", want: 200},
		{name: "tries never ran", method: "GET", path: run + "/taskInstances/load/tries", want: 200},
		{name: "try", method: "GET", path: ti + "/tries/1", want: 200},
		{name: "try unknown", method: "GET", path: ti + "/tries/9", want: 404},
		{name: "log json", method: "GET", path: ti + "/logs/1", hdr: []string{"Accept", "application/json"}, want: 200},
		{name: "log no accept", method: "GET", path: ti + "/logs/2", want: 200},
		{name: "log full", method: "GET", path: ti + "/logs/2?full_content=true", hdr: []string{"Accept", "application/json"}, want: 200},
		{name: "log bad token", method: "GET", path: ti + "/logs/1?token=forged.token", hdr: []string{"Accept", "application/json"}, want: 400},
		{name: "log mapped index", method: "GET", path: ti + "/logs/1?map_index=0", hdr: []string{"Accept", "application/json"}, want: 404},
		{name: "log unknown task", method: "GET", path: run + "/taskInstances/nope/logs/1", hdr: []string{"Accept", "application/json"}, want: 404},
		{name: "clear dry run default", method: "POST", path: "/dags/etl/clearTaskInstances", body: map[string]any{}, want: 200},
		{name: "clear unknown dag", method: "POST", path: "/dags/nope/clearTaskInstances", body: map[string]any{}, want: 404},
		{name: "clear unknown run", method: "POST", path: "/dags/etl/clearTaskInstances", body: map[string]any{"dag_run_id": "nope"}, want: 404},
		{name: "trigger unknown dag", method: "POST", path: "/dags/nope/dagRuns", body: map[string]any{"logical_date": nil}, want: 404},
		{name: "trigger bad run id", method: "POST", path: "/dags/etl/dagRuns", body: map[string]any{"dag_run_id": "has space", "logical_date": "2026-06-01T00:00:00Z"}, want: 400},
		{name: "variable unknown", method: "GET", path: "/variables/nope", want: 404},
		{name: "variable patch unknown", method: "PATCH", path: "/variables/nope", body: map[string]any{"key": "nope", "value": "x"}, want: 404},
		{name: "variable delete unknown", method: "DELETE", path: "/variables/nope", want: 404},
		{name: "variable patch key mismatch", method: "PATCH", path: "/variables/a", body: map[string]any{"key": "b", "value": "x"}, want: 400},
		{name: "variable create", method: "POST", path: "/variables", body: map[string]any{"key": "medic_resources.etl.transform", "value": `{"pool": "big"}`, "description": "medic"}, want: map[bool]int{true: 201, false: 200}[v3]},
		{name: "variable create slash key", method: "POST", path: "/variables", body: map[string]any{"key": "team/a.b", "value": "x", "description": nil}, want: map[bool]int{true: 201, false: 200}[v3]},
		{name: "variable get", method: "GET", path: "/variables/medic_resources.etl.transform", want: 200},
		{name: "variable patch", method: "PATCH", path: "/variables/medic_resources.etl.transform", body: map[string]any{"key": "medic_resources.etl.transform", "value": `{"pool": "bigger"}`}, want: 200},
		{name: "variables", method: "GET", path: "/variables?limit=1&offset=1", want: 200},
		{name: "no auth", method: "GET", path: "/dags/etl", noAuth: true, want: 401},
		{name: "unknown route", method: "GET", path: "/nothing/here", want: 404, noRoute: true},
		{name: "method not allowed", method: "PUT", path: "/dags/etl/clearTaskInstances", want: 405, noRoute: true},
	}
}

func v1Cases(failed string) []conformanceCase {
	run := "/dags/etl/dagRuns/" + esc(failed)
	ti := run + "/taskInstances/transform"
	return []conformanceCase{
		{name: "runs unknown dag lists nothing", method: "GET", path: "/dags/nope/dagRuns", want: 200},
		{name: "runs comma states", method: "GET", path: "/dags/etl/dagRuns?state=failed,success&execution_date_gte=2026-05-01T00:00:00Z", want: 200},
		{name: "runs limit not int", method: "GET", path: "/dags/etl/dagRuns?limit=ten", want: 400, badRequest: true},
		{name: "runs negative limit", method: "GET", path: "/dags/etl/dagRuns?limit=-1", want: 400},
		{name: "runs batch", method: "POST", path: "/dags/~/dagRuns/list", body: map[string]any{"dag_ids": []string{"etl"}, "states": []string{"failed"}, "order_by": "-execution_date"}, want: 200},
		{name: "runs batch bad limit", method: "POST", path: "/dags/~/dagRuns/list", body: map[string]any{"page_limit": 0}, want: 400, badRequest: true},
		{name: "runs batch unknown field", method: "POST", path: "/dags/~/dagRuns/list", body: map[string]any{"colour": "red"}, want: 400},
		{name: "tis batch", method: "POST", path: "/dags/~/dagRuns/~/taskInstances/list", body: map[string]any{"dag_ids": []string{"etl"}, "task_ids": []string{"transform"}, "state": []any{"failed", nil}}, want: 200},
		{name: "tries paged", method: "GET", path: ti + "/tries?limit=1&offset=1&order_by=-try_number", want: 200},
		{name: "log text", method: "GET", path: ti + "/logs/1", hdr: []string{"Accept", "text/plain"}, want: 200},
		{name: "log star accept is text", method: "GET", path: ti + "/logs/1", hdr: []string{"Accept", "*/*"}, want: 200},
		{name: "log missing try file", method: "GET", path: run + "/taskInstances/load/logs/1", hdr: []string{"Accept", "application/json"}, want: 200},
		{name: "clear both only flags", method: "POST", path: "/dags/etl/clearTaskInstances", body: map[string]any{"only_failed": true, "only_running": true}, want: 400},
		{name: "clear empty task ids", method: "POST", path: "/dags/etl/clearTaskInstances", body: map[string]any{"task_ids": []string{}}, want: 400, badRequest: true},
		{name: "clear wrong type", method: "POST", path: "/dags/etl/clearTaskInstances", body: map[string]any{"dry_run": "no"}, want: 400, badRequest: true},
		{name: "clear run and dates", method: "POST", path: "/dags/etl/clearTaskInstances", body: map[string]any{"dag_run_id": failed, "start_date": "2026-05-01T00:00:00Z"}, want: 400},
		{name: "clear unknown field", method: "POST", path: "/dags/etl/clearTaskInstances", body: map[string]any{"colour": "red"}, want: 400},
		{name: "trigger empty body", method: "POST", path: "/dags/etl/dagRuns", body: map[string]any{}, want: 200},
		{name: "trigger conf", method: "POST", path: "/dags/etl/dagRuns", body: map[string]any{"dag_run_id": "medic_retry_1", "logical_date": "2026-06-01T00:00:00Z", "conf": map[string]any{"full_refresh": true}, "note": "from medic"}, want: 200},
		{name: "trigger duplicate id", method: "POST", path: "/dags/etl/dagRuns", body: map[string]any{"dag_run_id": "medic_retry_1"}, want: 409},
		{name: "trigger duplicate date", method: "POST", path: "/dags/etl/dagRuns", body: map[string]any{"logical_date": "2026-06-01T00:00:00Z"}, want: 409},
		{name: "trigger conf not object", method: "POST", path: "/dags/etl/dagRuns", body: map[string]any{"conf": []int{1}}, want: 400, badRequest: true},
		{name: "trigger paused", method: "POST", path: "/dags/paused_dag/dagRuns", body: map[string]any{}, want: 200},
		{name: "pause", method: "PATCH", path: "/dags/etl?update_mask=is_paused", body: map[string]any{"is_paused": true}, want: 200},
		{name: "unpause without mask", method: "PATCH", path: "/dags/etl", body: map[string]any{"is_paused": false}, want: 200},
		{name: "patch another field", method: "PATCH", path: "/dags/etl?update_mask=description", body: map[string]any{"is_paused": true}, want: 400},
		{name: "pause unknown dag", method: "PATCH", path: "/dags/nope?update_mask=is_paused", body: map[string]any{"is_paused": true}, want: 404},
		// Only for v1: the validator's router matches the decoded path, so it
		// cannot route %2F under the v2 spec (variables_test.go covers v2).
		{name: "variable get slash key", method: "GET", path: "/variables/" + esc("team/a.b"), want: 200},
		{name: "variable delete slash key", method: "DELETE", path: "/variables/" + esc("team/a.b"), want: 204},
		{name: "variable create existing overwrites", method: "POST", path: "/variables", body: map[string]any{"key": "medic_resources.etl.transform", "value": "{}"}, want: 200},
		{name: "variable missing value", method: "POST", path: "/variables", body: map[string]any{"key": "k"}, want: 400},
		{name: "variable value not string", method: "POST", path: "/variables", body: map[string]any{"key": "k", "value": 1}, want: 400, badRequest: true},
		{name: "variable unknown field", method: "POST", path: "/variables", body: map[string]any{"key": "k", "value": "v", "colour": "red"}, want: 400},
		{name: "variable patch mask", method: "PATCH", path: "/variables/medic_resources.etl.transform?update_mask=description", body: map[string]any{"key": "medic_resources.etl.transform", "value": "ignored", "description": "d"}, want: 200},
		{name: "variable patch mask value", method: "PATCH", path: "/variables/medic_resources.etl.transform?update_mask=value", body: map[string]any{"key": "medic_resources.etl.transform", "value": "v"}, want: 400},
		{name: "wrong password", method: "GET", path: "/dags/etl", noAuth: true, hdr: []string{"Authorization", "Basic bWVkaWM6d3Jvbmc="}, want: 401},
	}
}

func v2Cases(failed string) []conformanceCase {
	run := "/dags/etl/dagRuns/" + esc(failed)
	ti := run + "/taskInstances/transform"
	return []conformanceCase{
		{name: "runs unknown dag", method: "GET", path: "/dags/nope/dagRuns", want: 404},
		{name: "runs v2 filters", method: "GET", path: "/dags/~/dagRuns?run_after_gt=2026-01-01T00:00:00Z&logical_date_lt=2030-01-01T00:00:00Z&duration_gte=0&run_type=scheduled&run_id_pattern=scheduled%25&order_by=-run_after&order_by=dag_id", want: 200},
		{name: "runs limit not int", method: "GET", path: "/dags/etl/dagRuns?limit=ten", want: 422, badRequest: true},
		{name: "runs negative offset", method: "GET", path: "/dags/etl/dagRuns?offset=-1", want: 422, badRequest: true},
		{name: "runs batch", method: "POST", path: "/dags/~/dagRuns/list", body: map[string]any{"dag_ids": []string{"etl"}, "states": []string{"failed"}, "page_limit": 10}, want: 200},
		{name: "runs batch not tilde", method: "POST", path: "/dags/etl/dagRuns/list", body: map[string]any{}, want: 422},
		{name: "runs batch extra key", method: "POST", path: "/dags/~/dagRuns/list", body: map[string]any{"colour": "red"}, want: 422, badRequest: true},
		{name: "tis one task across runs", method: "GET", path: "/dags/etl/dagRuns/~/taskInstances?task_id=transform&state=failed&start_date_gte=2026-01-01T00:00:00Z", want: 200},
		{name: "tis run unknown", method: "GET", path: "/dags/etl/dagRuns/nope/taskInstances", want: 404},
		{name: "tis bad order", method: "GET", path: "/dags/~/dagRuns/~/taskInstances?order_by=colour", want: 400},
		{name: "tis batch", method: "POST", path: "/dags/~/dagRuns/~/taskInstances/list", body: map[string]any{"dag_ids": []string{"etl"}, "task_ids": []string{"transform"}, "state": []any{"failed"}}, want: 200},
		{name: "tis batch not tilde", method: "POST", path: "/dags/etl/dagRuns/~/taskInstances/list", body: map[string]any{}, want: 422},
		{name: "log ndjson", method: "GET", path: ti + "/logs/1", hdr: []string{"Accept", "application/x-ndjson"}, want: 200},
		{name: "log star accept", method: "GET", path: ti + "/logs/1", hdr: []string{"Accept", "*/*"}, want: 200},
		{name: "log text refused", method: "GET", path: ti + "/logs/1", hdr: []string{"Accept", "text/plain"}, want: 406, badRequest: true},
		{name: "log try zero", method: "GET", path: ti + "/logs/0", want: 404},
		{name: "log negative try", method: "GET", path: ti + "/logs/-1", want: 422, badRequest: true},
		{name: "log try never ran", method: "GET", path: run + "/taskInstances/load/logs/1", want: 404},
		{name: "clear both only flags", method: "POST", path: "/dags/etl/clearTaskInstances", body: map[string]any{"only_failed": true, "only_running": true}, want: 422},
		{name: "clear extra key", method: "POST", path: "/dags/etl/clearTaskInstances", body: map[string]any{"include_subdags": true}, want: 422, badRequest: true},
		{name: "clear tuple task ids", method: "POST", path: "/dags/etl/clearTaskInstances", body: map[string]any{"task_ids": []any{"transform", []any{"load", -1}}}, want: 200},
		{name: "clear bad date", method: "POST", path: "/dags/etl/clearTaskInstances", body: map[string]any{"start_date": "yesterday"}, want: 422, badRequest: true},
		{name: "trigger null logical date", method: "POST", path: "/dags/etl/dagRuns", body: map[string]any{"logical_date": nil, "conf": map[string]any{"full_refresh": true}}, want: 200},
		{name: "trigger with id", method: "POST", path: "/dags/etl/dagRuns", body: map[string]any{"dag_run_id": "medic_retry_1", "logical_date": "2026-06-01T00:00:00Z"}, want: 200},
		{name: "trigger duplicate id", method: "POST", path: "/dags/etl/dagRuns", body: map[string]any{"dag_run_id": "medic_retry_1", "logical_date": nil}, want: 409},
		{name: "trigger logical date omitted", method: "POST", path: "/dags/etl/dagRuns", body: map[string]any{"conf": map[string]any{}}, want: 422},
		{name: "trigger extra key", method: "POST", path: "/dags/etl/dagRuns", body: map[string]any{"logical_date": nil, "execution_date": "2026-06-01T00:00:00Z"}, want: 422, badRequest: true},
		{name: "trigger paused", method: "POST", path: "/dags/paused_dag/dagRuns", body: map[string]any{"logical_date": nil}, want: 200},
		{name: "pause", method: "PATCH", path: "/dags/etl?update_mask=is_paused", body: map[string]any{"is_paused": true}, want: 200},
		{name: "unpause without mask", method: "PATCH", path: "/dags/etl", body: map[string]any{"is_paused": false}, want: 200},
		{name: "patch another field", method: "PATCH", path: "/dags/etl?update_mask=description", body: map[string]any{"is_paused": true}, want: 400},
		{name: "patch unknown field", method: "PATCH", path: "/dags/etl", body: map[string]any{"is_paused": true, "colour": "red"}, want: 422, badRequest: true},
		{name: "pause unknown dag", method: "PATCH", path: "/dags/nope?update_mask=is_paused", body: map[string]any{"is_paused": true}, want: 404},
		{name: "variable create existing", method: "POST", path: "/variables", body: map[string]any{"key": "medic_resources.etl.transform", "value": "{}"}, want: 409},
		{name: "variable missing value", method: "POST", path: "/variables", body: map[string]any{"key": "k"}, want: 422, badRequest: true},
		{name: "variable json value", method: "POST", path: "/variables", body: map[string]any{"key": "k", "value": map[string]any{"a": 1}}, want: 201},
		{name: "variable extra key", method: "POST", path: "/variables", body: map[string]any{"key": "k2", "value": "v", "colour": "red"}, want: 422, badRequest: true},
		{name: "variable patch mask", method: "PATCH", path: "/variables/medic_resources.etl.transform?update_mask=value", body: map[string]any{"key": "medic_resources.etl.transform", "value": "v"}, want: 200},
		{name: "variables limit", method: "GET", path: "/variables?limit=10", want: 200},
		{name: "variable delete", method: "DELETE", path: "/variables/k", want: 204},
		{name: "garbage token", method: "GET", path: "/dags/etl", noAuth: true, hdr: []string{"Authorization", "Bearer not.a.jwt"}, want: 403},
		{name: "basic auth on v2", method: "GET", path: "/dags/etl", noAuth: true, hdr: []string{"Authorization", "Basic bWVkaWM6czNjcmV0"}, want: 401},
	}
}

// TestSpecConformance drives every implemented endpoint of both versions,
// happy and error paths, through the spec validator: no response may violate
// the spec, and error-path requests the spec itself rejects must be seen as
// such.
func TestSpecConformance(t *testing.T) {
	t.Parallel()
	for _, version := range versions {
		t.Run(map[int]string{2: "v1", 3: "v2"}[version], func(t *testing.T) {
			t.Parallel()
			b := setup(t, version)
			failed, manual := conformanceWorld(t, b)
			cases := commonCases(failed, manual, version == 3)
			if version == 2 {
				cases = append(cases, v1Cases(failed)...)
			} else {
				cases = append(cases, v2Cases(failed)...)
			}
			// A real clear runs last, so the cases above see the failed run.
			cases = append(cases, conformanceCase{
				name: "clear real", method: "POST", path: "/dags/etl/clearTaskInstances", want: 200,
				body: map[string]any{"dry_run": false, "dag_run_id": failed, "task_ids": []string{"transform"}, "include_downstream": true, "reset_dag_runs": true},
			})
			for _, c := range cases {
				b.val.Reset()
				path := c.path
				if !c.raw {
					path = b.api(path)
				}
				r := b.request(c.method, path, c.body, c.hdr, !c.noAuth)
				require.Equal(t, c.want, r.status, "%s: %s %s → %s", c.name, c.method, path, r.body)
				require.Empty(t, b.val.ResponseViolations(), c.name)
				if c.badRequest || c.noRoute {
					require.NotEmpty(t, b.val.RequestViolations(), "%s: the spec should reject this request too", c.name)
				} else {
					require.Empty(t, b.val.RequestViolations(), c.name)
				}
			}

			ops := b.val.Operations()
			for _, op := range []string{
				"get_version", "get_dag", "get_dag_details", "get_tasks", "get_dag_runs", "get_dag_run", "post_dag_run",
				"trigger_dag_run", "get_task_instances", "get_task_instance", "get_task_instance_tries",
				"get_task_instance_try_details", "get_log", "post_clear_task_instances", "get_task_instances_batch",
				"get_variables", "get_variable", "patch_variable", "delete_variable",
			} {
				if op == "post_dag_run" && version == 3 || op == "trigger_dag_run" && version == 2 {
					continue
				}
				require.Contains(t, ops, op)
			}
			require.True(t, slices.Contains(ops, "get_dag_runs_batch") || slices.Contains(ops, "get_list_dag_runs_batch"), ops)
			require.True(t, slices.Contains(ops, "post_variables") || slices.Contains(ops, "post_variable"), ops)
		})
	}
}

// TestTokenEndpoint covers POST /auth/token (3.x), which the public spec
// only references.
func TestTokenEndpoint(t *testing.T) {
	t.Parallel()
	b := setup(t, 3)
	cases := []struct {
		name   string
		body   string
		ctype  string
		want   int
		detail string
	}{
		{name: "json", body: `{"username":"medic","password":"s3cret"}`, ctype: "application/json", want: 201},
		{name: "form", body: "username=medic&password=s3cret", ctype: "application/x-www-form-urlencoded", want: 201},
		{name: "wrong password", body: `{"username":"medic","password":"nope"}`, ctype: "application/json", want: 401, detail: "Invalid credentials"},
		{name: "empty password", body: `{"username":"medic","password":""}`, ctype: "application/json", want: 400, detail: "Username and password must be provided"},
		{name: "missing password", body: `{"username":"medic"}`, ctype: "application/json", want: 422},
		{name: "extra key", body: `{"username":"medic","password":"s3cret","grant_type":"password"}`, ctype: "application/json", want: 422},
		{name: "not json", body: `username=medic`, ctype: "application/json", want: 422},
	}
	for _, c := range cases {
		r := b.request(http.MethodPost, "/auth/token", c.body, []string{"Content-Type", c.ctype}, false)
		require.Equal(t, c.want, r.status, "%s: %s", c.name, r.body)
		m := r.object(t)
		switch c.want {
		case 201:
			require.Len(t, m, 1, "only access_token, no token_type or expires_in")
			tok, _ := m["access_token"].(string)
			require.Len(t, splitDots(tok), 3)
			b.token = tok
			require.Equal(t, 200, b.get("/dags/~/dagRuns").status)
		case 422:
			require.IsType(t, []any{}, m["detail"])
		default:
			require.Equal(t, c.detail, m["detail"])
		}
	}
}

func splitDots(s string) []string {
	var out []string
	start := 0
	for i := range len(s) {
		if s[i] == '.' {
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}
