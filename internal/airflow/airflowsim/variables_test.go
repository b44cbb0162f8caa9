package airflowsim_test

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/medic-sh/medic/internal/airflow/airflowsim"
)

func TestVariablesCRUD(t *testing.T) {
	t.Parallel()
	for _, version := range versions {
		t.Run(fmt.Sprint("airflow ", version), func(t *testing.T) {
			t.Parallel()
			b := setup(t, version)
			created := map[int]int{2: http.StatusOK, 3: http.StatusCreated}[version]
			key := "team/etl.v2" // a slash, sent as %2F, and dots

			r := b.post("/variables", map[string]any{"key": key, "value": "one", "description": "first"})
			require.Equal(t, created, r.status, string(r.body))
			got, ok := b.sim.Variable(key)
			require.True(t, ok)
			require.Equal(t, "one", got)

			r = b.get("/variables/" + esc(key))
			require.Equal(t, http.StatusOK, r.status, string(r.body))
			m := r.object(t)
			require.Equal(t, key, m["key"])
			require.Equal(t, "one", m["value"])
			require.Equal(t, "first", m["description"])
			if version == 3 {
				require.Equal(t, true, m["is_encrypted"])
			} else {
				require.NotContains(t, m, "is_encrypted")
			}

			r = b.request(http.MethodPatch, b.api("/variables/"+esc(key)), map[string]any{"key": key, "value": "two"}, nil, true)
			require.Equal(t, http.StatusOK, r.status, string(r.body))
			got, _ = b.sim.Variable(key)
			require.Equal(t, "two", got)
			m = r.object(t)
			if version == 3 {
				require.Nil(t, m["description"], "3.x PATCH without update_mask writes every body field")
			} else {
				require.Equal(t, "first", m["description"], "2.x PATCH leaves fields absent from the body alone")
			}

			// A second POST: 2.x's Variable.set overwrites, 3.x refuses.
			r = b.post("/variables", map[string]any{"key": key, "value": "three"})
			got, _ = b.sim.Variable(key)
			if version == 3 {
				require.Equal(t, http.StatusConflict, r.status)
				require.Equal(t, "The Variable with key: `"+key+"` already exists", r.object(t)["detail"])
				require.Equal(t, "two", got)
			} else {
				require.Equal(t, http.StatusOK, r.status)
				require.Equal(t, "three", got)
			}

			r = b.get("/variables")
			require.Equal(t, http.StatusOK, r.status)
			list := r.object(t)
			require.EqualValues(t, 1, list["total_entries"])
			item := list["variables"].([]any)[0].(map[string]any)
			if version == 2 {
				require.NotContains(t, item, "value", "2.x lists keys without values")
			} else {
				require.Contains(t, item, "value")
			}

			r = b.request(http.MethodDelete, b.api("/variables/"+esc(key)), nil, nil, true)
			require.Equal(t, http.StatusNoContent, r.status)
			_, ok = b.sim.Variable(key)
			require.False(t, ok)
		})
	}
}

func TestVariableErrors(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		version int
		method  string
		path    string
		body    any
		want    int
		title   string // 2.x problem title
		detail  any    // 2.x problem detail or 3.x detail string; nil: not checked
		missing string // 3.x: a 422 for this missing field
	}{
		{name: "get unknown", version: 2, method: "GET", path: "/variables/nope", want: 404, title: "Variable not found", detail: "Variable does not exist"},
		{name: "get unknown", version: 3, method: "GET", path: "/variables/nope", want: 404, detail: "The Variable with key: `nope` was not found"},
		{name: "patch unknown", version: 2, method: "PATCH", path: "/variables/nope", body: map[string]any{"key": "nope", "value": "v"}, want: 404, title: "Variable not found"},
		{name: "patch unknown", version: 3, method: "PATCH", path: "/variables/nope", body: map[string]any{"key": "nope", "value": "v"}, want: 404, detail: "The Variable with key: `nope` was not found"},
		{name: "patch key mismatch", version: 2, method: "PATCH", path: "/variables/a", body: map[string]any{"key": "b", "value": "v"}, want: 400, title: "Invalid post body", detail: "key from request body doesn't match uri parameter"},
		{name: "patch key mismatch", version: 3, method: "PATCH", path: "/variables/a", body: map[string]any{"key": "b", "value": "v"}, want: 400, detail: "Invalid body, key from request body doesn't match uri parameter"},
		{name: "post missing value", version: 2, method: "POST", path: "/variables", body: map[string]any{"key": "k"}, want: 400, title: "Invalid Variable schema", detail: "{'value': ['Missing data for required field.']}"},
		{name: "post missing value", version: 3, method: "POST", path: "/variables", body: map[string]any{"key": "k"}, want: 422, missing: "value"},
		{name: "post unknown field", version: 2, method: "POST", path: "/variables", body: map[string]any{"key": "k", "value": "v", "colour": "red"}, want: 400, title: "Invalid Variable schema", detail: "{'colour': ['Unknown field.']}"},
		{name: "post value not string", version: 2, method: "POST", path: "/variables", body: map[string]any{"key": "k", "value": 1}, want: 400, title: "Bad Request", detail: "1 is not of type 'string' - 'value'"},
		{name: "delete unknown", version: 2, method: "DELETE", path: "/variables/nope", want: 404, title: "Variable not found"},
		{name: "delete unknown", version: 3, method: "DELETE", path: "/variables/nope", want: 404, detail: "The Variable with key: `nope` was not found"},
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("%s v%d", c.name, c.version), func(t *testing.T) {
			t.Parallel()
			b := setup(t, c.version)
			r := b.request(c.method, b.api(c.path), c.body, nil, true)
			require.Equal(t, c.want, r.status, string(r.body))
			m := r.object(t)
			switch {
			case c.missing != "":
				errs := m["detail"].([]any)
				require.Len(t, errs, 1)
				require.Equal(t, []any{"body", c.missing}, errs[0].(map[string]any)["loc"])
			case c.version == 2:
				require.Equal(t, c.title, m["title"])
				if c.detail != nil {
					require.Equal(t, c.detail, m["detail"])
				}
			default:
				require.Equal(t, c.detail, m["detail"])
			}
		})
	}
}

// TestResourceHook covers the simulated cluster policy: only with
// Options.ResourceHook, and only for tries after a clear, does the Variable
// change the pool and queue.
func TestResourceHook(t *testing.T) {
	t.Parallel()
	const varKey = airflowsim.ResourceVariablePrefix + "etl.transform"
	override := `{"pool": "big_pool", "queue": "highmem", "executor_config": {"KubernetesExecutor": {"request_memory": "8Gi"}}}`
	cases := []struct {
		name      string
		hook      bool
		value     string // "" : no Variable
		wantPool  string
		wantQueue string
	}{
		{name: "hook applies the override", hook: true, value: override, wantPool: "big_pool", wantQueue: "highmem"},
		{name: "pool only", hook: true, value: `{"pool": "big_pool"}`, wantPool: "big_pool", wantQueue: "default"},
		{name: "no hook: untouched", hook: false, value: override, wantPool: "default_pool", wantQueue: "default"},
		{name: "no variable", hook: true, wantPool: "default_pool", wantQueue: "default"},
		{name: "bad json is ignored", hook: true, value: `{"pool": `, wantPool: "default_pool", wantQueue: "default"},
	}
	for _, c := range cases {
		for _, version := range versions {
			t.Run(fmt.Sprintf("%s v%d", c.name, version), func(t *testing.T) {
				t.Parallel()
				b := setup(t, version, func(o *airflowsim.Options) { o.ResourceHook = c.hook })
				require.NoError(t, b.sim.AddDAG(etlDAG()))
				// transform has one retry: tries 1 and 2 fail, the clear's
				// try 3 succeeds.
				_, err := b.sim.StartRun("etl", schedID(1), day(1), map[string][]airflowsim.Outcome{
					"transform": {airflowsim.Failure(""), airflowsim.Failure(""), airflowsim.Success("")},
				})
				require.NoError(t, err)
				if c.value != "" {
					r := b.post("/variables", map[string]any{"key": varKey, "value": c.value})
					require.Contains(t, []int{200, 201}, r.status, string(r.body))
				}
				pool, queue, ok := b.sim.TryResources("etl", schedID(1), "transform", 2)
				require.True(t, ok)
				require.Equal(t, []string{"default_pool", "default"}, []string{pool, queue}, "tries before the Variable keep the task's")

				r := b.post("/dags/etl/clearTaskInstances", map[string]any{
					"dry_run": false, "dag_run_id": schedID(1), "task_ids": []string{"transform"},
					"only_failed": false, "reset_dag_runs": true,
				})
				require.Equal(t, http.StatusOK, r.status, string(r.body))

				pool, queue, ok = b.sim.TryResources("etl", schedID(1), "transform", 3)
				require.True(t, ok, "the clear re-executed transform")
				require.Equal(t, []string{c.wantPool, c.wantQueue}, []string{pool, queue})
				pool, queue, _ = b.sim.TryResources("etl", schedID(1), "extract", 1)
				require.Equal(t, []string{"default_pool", "default"}, []string{pool, queue}, "other tasks are untouched")
				_, _, ok = b.sim.TryResources("etl", schedID(1), "transform", 9)
				require.False(t, ok)
			})
		}
	}
}
