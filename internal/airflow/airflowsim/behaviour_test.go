package airflowsim_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/medic-sh/medic/internal/airflow/airflowsim"
)

func tiState(t *testing.T, b *testBundle, runID, taskID string) (state any, try int) {
	t.Helper()
	r := b.get("/dags/etl/dagRuns/" + esc(runID) + "/taskInstances/" + taskID)
	require.Equal(t, 200, r.status, string(r.body))
	m := r.object(t)
	return m["state"], int(m["try_number"].(float64))
}

func runState(t *testing.T, b *testBundle, runID string) string {
	t.Helper()
	r := b.get("/dags/etl/dagRuns/" + esc(runID))
	require.Equal(t, 200, r.status, string(r.body))
	return r.object(t)["state"].(string)
}

func TestRetriesConsumeOutcomes(t *testing.T) {
	t.Parallel()
	fail := airflowsim.Failure(airflowsim.LogWarehouseConnectionRefused("db", "10.0.0.1"))
	cases := []struct {
		name      string
		outcomes  []airflowsim.Outcome
		wantState string
		wantTry   int
		wantTries []string
		wantLoad  any
		wantRun   string
		callbacks []bool // WillRetry per callback
	}{
		{
			name: "fails then succeeds in-run", outcomes: []airflowsim.Outcome{fail, airflowsim.Success("")},
			wantState: "success", wantTry: 2, wantTries: []string{"failed", "success"}, wantLoad: "success", wantRun: "success", callbacks: []bool{true},
		},
		{
			name: "last outcome repeats", outcomes: []airflowsim.Outcome{fail},
			wantState: "failed", wantTry: 2, wantTries: []string{"failed", "failed"}, wantLoad: "upstream_failed", wantRun: "failed", callbacks: []bool{true, false},
		},
		{
			name: "unscripted succeeds", outcomes: nil,
			wantState: "success", wantTry: 1, wantTries: []string{"success"}, wantLoad: "success", wantRun: "success",
		},
	}
	for _, version := range versions {
		for _, c := range cases {
			t.Run(fmt.Sprintf("v%d %s", version, c.name), func(t *testing.T) {
				t.Parallel()
				b := setup(t, version)
				require.NoError(t, b.sim.AddDAG(etlDAG()))
				run, err := b.sim.StartRun("etl", schedID(1), day(1), map[string][]airflowsim.Outcome{"transform": c.outcomes})
				require.NoError(t, err)
				require.Equal(t, c.wantRun, run.State)

				state, try := tiState(t, b, schedID(1), "transform")
				require.Equal(t, c.wantState, state)
				require.Equal(t, c.wantTry, try)
				load, loadTry := tiState(t, b, schedID(1), "load")
				require.Equal(t, c.wantLoad, load)
				if load == "upstream_failed" {
					require.Zero(t, loadTry, "a task that never ran has try_number 0")
				}

				tries := b.get("/dags/etl/dagRuns/" + esc(schedID(1)) + "/taskInstances/transform/tries").object(t)
				require.EqualValues(t, len(c.wantTries), tries["total_entries"])
				var got []string
				for i, x := range tries["task_instances"].([]any) {
					ti := x.(map[string]any)
					require.EqualValues(t, i+1, ti["try_number"])
					got = append(got, ti["state"].(string))
				}
				require.Equal(t, c.wantTries, got)

				var retry []bool
				for _, f := range b.callbacks() {
					require.Equal(t, "transform", f.TaskID)
					require.Contains(t, f.Exception, "psycopg2.OperationalError: connection to server at \"db\"")
					retry = append(retry, f.WillRetry)
				}
				require.Equal(t, c.callbacks, retry)
				require.Empty(t, b.val.Violations())
			})
		}
	}
}

// TestClear covers the clear endpoint's defaults and its re-execution with
// the next scripted outcome.
func TestClear(t *testing.T) {
	t.Parallel()
	undefined := airflowsim.Failure(airflowsim.LogPostgresUndefinedColumn("staging.orders", "customer_idd", "orders.customer_id"))
	cases := []struct {
		name      string
		version   int
		body      map[string]any
		listed    int
		wantState any
		wantTry   int
		wantLoad  any
		wantRun   string
		wantCalls int
	}{
		{
			name: "empty body is a dry run", version: 2, body: map[string]any{}, listed: 2,
			wantState: "failed", wantTry: 2, wantLoad: "upstream_failed", wantRun: "failed", wantCalls: 2,
		},
		{
			name: "empty body is a dry run", version: 3, body: map[string]any{}, listed: 2,
			wantState: "failed", wantTry: 2, wantLoad: "upstream_failed", wantRun: "failed", wantCalls: 2,
		},
		{
			name: "v1 without reset_dag_runs leaves TIs cleared but unscheduled", version: 2,
			body:   map[string]any{"dry_run": false, "dag_run_id": schedID(1), "task_ids": []string{"transform"}, "include_downstream": true},
			listed: 2, wantState: nil, wantTry: 2, wantLoad: nil, wantRun: "failed", wantCalls: 2,
		},
		{
			name: "v1 with reset_dag_runs re-executes", version: 2,
			body:   map[string]any{"dry_run": false, "dag_run_id": schedID(1), "task_ids": []string{"transform"}, "include_downstream": true, "reset_dag_runs": true},
			listed: 2, wantState: "success", wantTry: 3, wantLoad: "success", wantRun: "success", wantCalls: 2,
		},
		{
			name: "v2 resets dag runs by default", version: 3,
			body:   map[string]any{"dry_run": false, "dag_run_id": schedID(1), "task_ids": []string{"transform"}, "include_downstream": true},
			listed: 2, wantState: "success", wantTry: 3, wantLoad: "success", wantRun: "success", wantCalls: 2,
		},
		{
			name: "without downstream the upstream_failed task stays", version: 3,
			body:   map[string]any{"dry_run": false, "dag_run_id": schedID(1), "task_ids": []string{"transform"}},
			listed: 1, wantState: "success", wantTry: 3, wantLoad: "upstream_failed", wantRun: "failed", wantCalls: 2,
		},
		{
			name: "only_failed without task_ids clears upstream_failed too", version: 3,
			body:   map[string]any{"dry_run": false},
			listed: 2, wantState: "success", wantTry: 3, wantLoad: "success", wantRun: "success", wantCalls: 2,
		},
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("v%d %s", c.version, c.name), func(t *testing.T) {
			t.Parallel()
			b := setup(t, c.version)
			require.NoError(t, b.sim.AddDAG(etlDAG()))
			// transform has one retry: two failed tries, then the clear
			// gives it the third outcome.
			_, err := b.sim.StartRun("etl", schedID(1), day(1), map[string][]airflowsim.Outcome{
				"transform": {undefined, undefined, airflowsim.Success("")},
			})
			require.NoError(t, err)
			_, err = b.sim.StartRun("etl", schedID(2), day(2), nil)
			require.NoError(t, err)

			r := b.post("/dags/etl/clearTaskInstances", c.body)
			require.Equal(t, 200, r.status, string(r.body))
			listed := r.object(t)["task_instances"].([]any)
			require.Len(t, listed, c.listed)
			first := listed[0].(map[string]any)
			require.Equal(t, "transform", first["task_id"])
			require.Equal(t, schedID(1), first["dag_run_id"])
			if c.version == 2 {
				require.ElementsMatch(t, []string{"dag_id", "dag_run_id", "execution_date", "task_id"}, keys(first))
			} else {
				require.EqualValues(t, c.listed, r.object(t)["total_entries"])
				require.Contains(t, first, "try_number")
			}

			state, try := tiState(t, b, schedID(1), "transform")
			require.Equal(t, c.wantState, state)
			require.Equal(t, c.wantTry, try)
			load, _ := tiState(t, b, schedID(1), "load")
			require.Equal(t, c.wantLoad, load)
			require.Equal(t, c.wantRun, runState(t, b, schedID(1)))
			require.Equal(t, "success", runState(t, b, schedID(2)), "the other run is untouched")
			require.Len(t, b.callbacks(), c.wantCalls)
			require.Empty(t, b.val.Violations())
		})
	}
}

func keys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestClearMaxTriesAndRepeatedFailure(t *testing.T) {
	t.Parallel()
	for _, version := range versions {
		t.Run(fmt.Sprintf("v%d", version), func(t *testing.T) {
			t.Parallel()
			b := setup(t, version)
			require.NoError(t, b.sim.AddDAG(etlDAG()))
			fail := airflowsim.Failure(airflowsim.LogKeyError("currency_code"))
			_, err := b.sim.StartRun("etl", schedID(1), day(1), map[string][]airflowsim.Outcome{"transform": {fail}})
			require.NoError(t, err)
			body := map[string]any{"dry_run": false, "dag_run_id": schedID(1), "task_ids": []string{"transform"}, "reset_dag_runs": true}
			require.Equal(t, 200, b.post("/dags/etl/clearTaskInstances", body).status)
			ti := b.get("/dags/etl/dagRuns/" + esc(schedID(1)) + "/taskInstances/transform").object(t)
			// Cleared at try 2 with retries=1: two more tries (3 and 4), both
			// failing as the last outcome repeats; max_tries = 2 + 1.
			require.Equal(t, "failed", ti["state"])
			require.EqualValues(t, 4, ti["try_number"])
			require.EqualValues(t, 3, ti["max_tries"])
			require.Len(t, b.callbacks(), 4)
			require.Equal(t, "KeyError: 'currency_code'", b.callbacks()[3].Exception)
		})
	}
}

func TestTrigger(t *testing.T) {
	t.Parallel()
	for _, version := range versions {
		t.Run(fmt.Sprintf("v%d", version), func(t *testing.T) {
			t.Parallel()
			b := setup(t, version)
			require.NoError(t, b.sim.AddDAG(etlDAG()))
			require.NoError(t, b.sim.AddDAG(airflowsim.DAG{ID: "paused", Paused: true, Tasks: []airflowsim.Task{{ID: "t"}}}))
			b.sim.SetDefaultOutcomes("etl", map[string][]airflowsim.Outcome{"load": {airflowsim.Failure(airflowsim.LogKeyError("id"))}})

			body := map[string]any{"dag_run_id": "medic__rerun_1", "logical_date": "2026-05-05T00:00:00Z", "conf": map[string]any{"full_refresh": true}}
			r := b.post("/dags/etl/dagRuns", body)
			require.Equal(t, 200, r.status, string(r.body))
			created := r.object(t)
			require.Equal(t, "queued", created["state"], "the response shows the run as created")
			require.Equal(t, "manual", created["run_type"])
			require.Equal(t, map[string]any{"full_refresh": true}, created["conf"])
			require.Equal(t, "failed", b.get("/dags/etl/dagRuns/medic__rerun_1").object(t)["state"], "then it executes with the default outcomes")
			require.Len(t, b.callbacks(), 1)

			r = b.post("/dags/etl/dagRuns", body)
			require.Equal(t, 409, r.status)
			if version == 3 {
				detail := r.object(t)["detail"].(map[string]any)
				require.Equal(t, "Unique constraint violation", detail["reason"])
				require.Equal(t, "hidden", detail["statement"])
			} else {
				m := r.object(t)
				require.Equal(t, "application/problem+json", r.header.Get("Content-Type"))
				require.Equal(t, "Conflict", m["title"])
				require.Equal(t, "DAGRun with DAG ID: 'etl' and DAGRun ID: 'medic__rerun_1' already exists", m["detail"])
				require.Contains(t, m["type"], "#section/Errors/AlreadyExists")
			}

			pausedBody := map[string]any{"logical_date": nil}
			if version == 2 {
				pausedBody = map[string]any{}
			}
			r = b.post("/dags/paused/dagRuns", pausedBody)
			require.Equal(t, 200, r.status, string(r.body))
			id := r.object(t)["dag_run_id"].(string)
			require.Equal(t, "queued", b.get("/dags/paused/dagRuns/" + esc(id)).object(t)["state"], "a paused DAG's run stays queued")
			if version == 3 {
				run := b.get("/dags/paused/dagRuns/" + esc(id)).object(t)
				require.Nil(t, run["logical_date"])
				require.Regexp(t, `^manual__2026-05-04T08:00:00\+00:00_[A-Za-z0-9]{8}$`, id)
			} else {
				require.Equal(t, "manual__2026-05-04T08:00:00+00:00", id, "2.x defaults logical_date to now")
			}
			require.Empty(t, b.val.Violations())
		})
	}
}

func TestTokenExpiry(t *testing.T) {
	t.Parallel()
	b := setup(t, 3, func(o *airflowsim.Options) { o.TokenTTL = time.Hour })
	other := airflowsim.New(airflowsim.Options{Version: 3})
	cases := []struct {
		name    string
		advance time.Duration
		token   func() string
		want    int
		detail  string
	}{
		{name: "fresh", token: func() string { return b.token }, want: 200},
		{name: "within leeway", advance: time.Hour + 5*time.Second, token: func() string { return b.token }, want: 200},
		{name: "expired", advance: 10 * time.Second, token: func() string { return b.token }, want: 401, detail: "Token Expired"},
		{name: "relogin", token: func() string { return b.login("medic", "s3cret") }, want: 200},
		{name: "tampered", token: func() string { return b.token[:len(b.token)-4] + "AAAA" }, want: 403, detail: "Invalid JWT token"},
		{name: "other server's key", token: func() string { return other.IssueToken("medic") }, want: 403, detail: "Invalid JWT token"},
		{name: "missing", token: func() string { return "" }, want: 401, detail: "Not authenticated"},
	}
	for _, c := range cases {
		b.clock.Advance(c.advance)
		tok := c.token()
		if c.name == "relogin" {
			b.token = tok
		}
		var hdr []string
		if tok != "" {
			hdr = []string{"Authorization", "Bearer " + tok}
		}
		r := b.request(http.MethodGet, b.api("/dags/~/dagRuns"), nil, hdr, false)
		require.Equal(t, c.want, r.status, "%s: %s", c.name, r.body)
		if c.detail != "" {
			require.Equal(t, map[string]any{"detail": c.detail}, r.object(t), c.name)
		}
	}
	require.Empty(t, b.val.Violations())
}

func TestBasicAuth(t *testing.T) {
	t.Parallel()
	b := setup(t, 2)
	r := b.request(http.MethodGet, b.api("/dags/~/dagRuns"), nil, nil, false)
	require.Equal(t, 401, r.status)
	require.Equal(t, "Basic", r.header.Get("WWW-Authenticate"))
	m := r.object(t)
	require.Nil(t, m["detail"])
	require.Equal(t, "Unauthorized", m["title"])
	require.EqualValues(t, 401, m["status"])
	require.Equal(t, "https://airflow.apache.org/docs/apache-airflow/2.10.5/stable-rest-api-ref.html#section/Errors/Unauthenticated", m["type"])
	require.Equal(t, 200, b.get("/dags/~/dagRuns").status)
	require.Empty(t, b.val.Violations())
}

func TestPercentEncodedRunIDs(t *testing.T) {
	t.Parallel()
	ids := []string{
		"manual__2026-05-03T10:15:00.123456+00:00",
		"scheduled__2026-05-01T02:00:00+00:00",
		"medic.retry~1:a+b",
	}
	for _, version := range versions {
		t.Run(fmt.Sprintf("v%d", version), func(t *testing.T) {
			t.Parallel()
			b := setup(t, version)
			require.NoError(t, b.sim.AddDAG(etlDAG()))
			for i, id := range ids {
				_, err := b.sim.StartRun("etl", id, day(1+i), nil)
				require.NoError(t, err)
				for _, path := range []string{"/dags/etl/dagRuns/" + esc(id), "/dags/etl/dagRuns/" + id} {
					r := b.get(path)
					require.Equal(t, 200, r.status, "%s: %s", path, r.body)
					require.Equal(t, id, r.object(t)["dag_run_id"])
					r = b.get(path + "/taskInstances/extract/logs/1?full_content=true")
					require.Equal(t, 200, r.status, "%s: %s", path, r.body)
				}
			}
			require.Empty(t, b.val.Violations())
		})
	}
}

func TestPaging(t *testing.T) {
	t.Parallel()
	cases := []struct {
		version   int
		path      string
		batch     map[string]any
		wantLen   int
		wantTotal int
	}{
		{version: 2, path: "/dags/small/dagRuns", wantLen: 100, wantTotal: 120},
		{version: 2, path: "/dags/small/dagRuns?limit=500", wantLen: 100, wantTotal: 120},
		{version: 2, path: "/dags/small/dagRuns?limit=0", wantLen: 100, wantTotal: 120},
		{version: 2, path: "/dags/small/dagRuns?limit=30&offset=110", wantLen: 10, wantTotal: 120},
		{version: 2, path: "/dags/~/dagRuns/list", batch: map[string]any{"page_limit": 500}, wantLen: 100, wantTotal: 120},
		{version: 3, path: "/dags/small/dagRuns", wantLen: 50, wantTotal: 120},
		{version: 3, path: "/dags/small/dagRuns?limit=500", wantLen: 100, wantTotal: 120},
		{version: 3, path: "/dags/small/dagRuns?limit=0", wantLen: 0, wantTotal: 120},
		{version: 3, path: "/dags/small/dagRuns?offset=100", wantLen: 20, wantTotal: 120},
		{version: 3, path: "/dags/~/dagRuns/list", batch: map[string]any{"page_limit": 500}, wantLen: 120, wantTotal: 120},
		{version: 3, path: "/dags/~/dagRuns/list", batch: map[string]any{}, wantLen: 100, wantTotal: 120},
		{version: 3, path: "/dags/small/dagRuns/~/taskInstances", wantLen: 50, wantTotal: 120},
	}
	bundles := map[int]*testBundle{}
	for _, version := range versions {
		b := setup(t, version)
		require.NoError(t, b.sim.AddDAG(airflowsim.DAG{ID: "small", Tasks: []airflowsim.Task{{ID: "only"}}}))
		for i := range 120 {
			_, err := b.sim.StartRun("small", fmt.Sprintf("scheduled__run_%03d", i), day(1).Add(time.Duration(i)*time.Hour), nil)
			require.NoError(t, err)
		}
		bundles[version] = b
	}
	for _, c := range cases {
		b := bundles[c.version]
		var r response
		if c.batch != nil {
			r = b.post(c.path, c.batch)
		} else {
			r = b.get(c.path)
		}
		require.Equal(t, 200, r.status, "v%d %s: %s", c.version, c.path, r.body)
		m := r.object(t)
		list := m["dag_runs"]
		if list == nil {
			list = m["task_instances"]
		}
		require.Len(t, list, c.wantLen, "v%d %s", c.version, c.path)
		require.EqualValues(t, c.wantTotal, m["total_entries"], "v%d %s", c.version, c.path)
	}
	for _, b := range bundles {
		require.Empty(t, b.val.Violations())
	}
}

func TestListFiltersAndOrder(t *testing.T) {
	t.Parallel()
	for _, version := range versions {
		t.Run(fmt.Sprintf("v%d", version), func(t *testing.T) {
			t.Parallel()
			b := setup(t, version)
			require.NoError(t, b.sim.AddDAG(etlDAG()))
			fail := map[string][]airflowsim.Outcome{"extract": {airflowsim.Failure("")}}
			for i := 1; i <= 4; i++ {
				o := fail
				if i%2 == 0 {
					o = nil
				}
				_, err := b.sim.StartRun("etl", schedID(i), day(i), o)
				require.NoError(t, err)
				b.clock.Advance(time.Hour)
			}
			runs := b.get("/dags/etl/dagRuns?state=failed").object(t)["dag_runs"].([]any)
			require.Len(t, runs, 2)
			runs = b.get("/dags/etl/dagRuns?order_by=-start_date").object(t)["dag_runs"].([]any)
			require.Equal(t, schedID(4), runs[0].(map[string]any)["dag_run_id"])
			cut := "2026-05-04T09:30:00Z"
			runs = b.get("/dags/etl/dagRuns?end_date_gte=" + cut).object(t)["dag_runs"].([]any)
			require.Len(t, runs, 2, "end dates are back-dated to each run's execution time")

			var tis []any
			if version == 3 {
				tis = b.get("/dags/etl/dagRuns/~/taskInstances?task_id=extract&state=failed").object(t)["task_instances"].([]any)
			} else {
				tis = b.post("/dags/~/dagRuns/~/taskInstances/list", map[string]any{"task_ids": []string{"extract"}, "state": []string{"failed"}}).object(t)["task_instances"].([]any)
			}
			require.Len(t, tis, 2)
			for _, x := range tis {
				require.Equal(t, "extract", x.(map[string]any)["task_id"])
			}
			require.Empty(t, b.val.Violations())
		})
	}
}

func TestFaults(t *testing.T) {
	t.Parallel()
	b := setup(t, 2)
	require.NoError(t, b.sim.AddDAG(etlDAG()))
	b.sim.SetFault(airflowsim.Fault{PathPrefix: "/api/v1/dags", Status: 503, RetryAfter: 2 * time.Second, Count: 2})
	for range 2 {
		r := b.get("/dags/etl")
		require.Equal(t, 503, r.status)
		require.Equal(t, "2", r.header.Get("Retry-After"))
	}
	require.Equal(t, 200, b.get("/dags/etl").status, "the fault is used up")

	b.sim.SetFault(airflowsim.Fault{PathPrefix: "/api/v1/dags", Method: "POST", Status: 500})
	require.Equal(t, 200, b.get("/dags/etl").status, "GET is not affected")
	r := b.post("/dags/etl/clearTaskInstances", map[string]any{})
	require.Equal(t, 500, r.status)
	require.Equal(t, "Internal Server Error", r.object(t)["title"])
	b.sim.ClearFaults()

	b.sim.SetFault(airflowsim.Fault{Hang: true, Count: 1})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, b.srv.URL+b.api("/dags/etl"), nil)
	require.NoError(t, err)
	resp, err := b.srv.Client().Do(req)
	if resp != nil {
		_ = resp.Body.Close()
	}
	require.True(t, errors.Is(err, context.DeadlineExceeded), "%v", err)

	b.sim.SetFault(airflowsim.Fault{Latency: 20 * time.Millisecond, Count: 1})
	start := time.Now()
	require.Equal(t, 200, b.get("/dags/etl").status)
	require.GreaterOrEqual(t, time.Since(start), 20*time.Millisecond)

	var faulted int
	for _, rr := range b.sim.Requests() {
		if rr.Fault {
			faulted++
		}
	}
	require.Equal(t, 5, faulted)
	require.Eventually(t, func() bool {
		reqs := b.sim.Requests()
		for _, rr := range reqs {
			if rr.Fault && rr.Status == 0 {
				return true // the hung request is recorded once its handler returns
			}
		}
		return false
	}, 2*time.Second, 5*time.Millisecond)
}

func TestRequestsRecorded(t *testing.T) {
	t.Parallel()
	b := setup(t, 3)
	require.Equal(t, 404, b.get("/dags/nope?x=1").status)
	reqs := b.sim.Requests()
	last := reqs[len(reqs)-1]
	require.Equal(t, airflowsim.RecordedRequest{Method: "GET", Path: "/api/v2/dags/nope", Query: "x=1", Status: 404}, last)
	require.Equal(t, "/auth/token", reqs[0].Path)
}

func TestAddDAGValidation(t *testing.T) {
	t.Parallel()
	s := airflowsim.New(airflowsim.Options{})
	cases := []struct {
		name string
		dag  airflowsim.DAG
	}{
		{name: "empty id", dag: airflowsim.DAG{}},
		{name: "duplicate task", dag: airflowsim.DAG{ID: "a", Tasks: []airflowsim.Task{{ID: "t"}, {ID: "t"}}}},
		{name: "unknown downstream", dag: airflowsim.DAG{ID: "b", Tasks: []airflowsim.Task{{ID: "t", Downstream: []string{"x"}}}}},
		{name: "cycle", dag: airflowsim.DAG{ID: "c", Tasks: []airflowsim.Task{{ID: "t", Downstream: []string{"u"}}, {ID: "u", Downstream: []string{"t"}}}}},
	}
	for _, c := range cases {
		require.Error(t, s.AddDAG(c.dag), c.name)
	}
	require.NoError(t, s.AddDAG(etlDAG()))
	require.Error(t, s.AddDAG(etlDAG()), "duplicate DAG")
	_, err := s.StartRun("nope", "r", day(1), nil)
	require.ErrorIs(t, err, airflowsim.ErrUnknownDAG)
	_, err = s.StartRun("etl", "r", day(1), nil)
	require.NoError(t, err)
	_, err = s.StartRun("etl", "r", day(1), nil)
	require.ErrorIs(t, err, airflowsim.ErrRunExists)
}
