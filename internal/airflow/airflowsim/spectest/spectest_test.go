package spectest_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/medic-sh/medic/internal/airflow/airflowsim/spectest"
)

// TestValidatorCatchesViolations proves the validator is not vacuous: each
// handler below answers something the spec forbids (or accepts something it
// allows) and the verdict must match.
func TestValidatorCatchesViolations(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name         string
		version      int
		method, path string
		body         string
		accept       string
		status       int
		ctype        string
		resp         string
		wantRequest  bool
		wantResponse bool
	}{
		{name: "v1 good version", version: 2, method: "GET", path: "/api/v1/version", status: 200, ctype: "application/json", resp: `{"version":"2.10.5","git_version":null}`},
		{name: "v1 version wrong type", version: 2, method: "GET", path: "/api/v1/version", status: 200, ctype: "application/json", resp: `{"version":2}`, wantResponse: true},
		{
			name: "v1 bad run state", version: 2, method: "GET", path: "/api/v1/dags/d/dagRuns/r", status: 200, ctype: "application/json",
			resp: `{"dag_id":"d","dag_run_id":"r","state":"exploded"}`, wantResponse: true,
		},
		{
			name: "v1 problem json with null detail", version: 2, method: "GET", path: "/api/v1/dags/d", status: 404, ctype: "application/problem+json",
			resp: `{"detail":null,"status":404,"title":"DAG not found","type":"about:blank"}`,
		},
		{
			name: "v1 problem missing title", version: 2, method: "GET", path: "/api/v1/dags/d", status: 404, ctype: "application/problem+json",
			resp: `{"detail":"x","status":404,"type":"about:blank"}`, wantResponse: true,
		},
		{name: "v1 undeclared content type", version: 2, method: "GET", path: "/api/v1/dags/d", status: 200, ctype: "text/html", resp: `<html>`, wantResponse: true},
		{name: "v1 unknown route", version: 2, method: "GET", path: "/api/v1/nope", status: 404, ctype: "application/json", resp: `{}`, wantRequest: true},
		{
			name: "v1 bad query type", version: 2, method: "GET", path: "/api/v1/dags/d/dagRuns?limit=x", status: 400, ctype: "application/problem+json",
			resp: `{"detail":"x","status":400,"title":"Bad Request","type":"about:blank"}`, wantRequest: true,
		},
		{name: "v2 good version", version: 3, method: "GET", path: "/api/v2/version", status: 200, ctype: "application/json", resp: `{"version":"3.1.6","git_version":null}`},
		{
			name: "v2 run missing required", version: 3, method: "GET", path: "/api/v2/dags/d/dagRuns/r", status: 200, ctype: "application/json",
			resp: `{"dag_id":"d","dag_run_id":"r","state":"failed","run_type":"manual"}`, wantResponse: true,
		},
		{
			name: "v2 error detail object", version: 3, method: "POST", path: "/api/v2/dags/d/dagRuns", body: `{"logical_date":null}`, status: 409, ctype: "application/json",
			resp: `{"detail":{"reason":"Unique constraint violation"}}`,
		},
		{
			name: "v2 422 must be a list", version: 3, method: "POST", path: "/api/v2/dags/d/dagRuns", body: `{"logical_date":null}`, status: 422, ctype: "application/json",
			resp: `{"detail":"nope"}`, wantResponse: true,
		},
		{
			name: "v2 extra body key", version: 3, method: "POST", path: "/api/v2/dags/d/dagRuns", body: `{"logical_date":null,"x":1}`, status: 422, ctype: "application/json",
			resp: `{"detail":[{"type":"extra_forbidden","loc":["body","x"],"msg":"Extra inputs are not permitted","input":1}]}`, wantRequest: true,
		},
		{
			name: "v2 log entry without event", version: 3, method: "GET", path: "/api/v2/dags/d/dagRuns/r/taskInstances/t/logs/1", accept: "application/json", status: 200, ctype: "application/json",
			resp: `{"content":[{"timestamp":"2026-05-01T00:00:00Z"}],"continuation_token":null}`, wantResponse: true,
		},
		{
			name: "v2 ndjson good", version: 3, method: "GET", path: "/api/v2/dags/d/dagRuns/r/taskInstances/t/logs/1", accept: "application/x-ndjson", status: 200, ctype: "application/x-ndjson",
			resp: "{\"event\":\"a\"}\n{\"event\":\"b\",\"level\":\"info\"}\n",
		},
		{
			name: "v2 ndjson bad line", version: 3, method: "GET", path: "/api/v2/dags/d/dagRuns/r/taskInstances/t/logs/1", accept: "application/x-ndjson", status: 200, ctype: "application/x-ndjson",
			resp: "{\"event\":\"a\"}\nplain text\n", wantResponse: true,
		},
		{name: "v2 auth passes unvalidated", version: 3, method: "POST", path: "/auth/token", body: `{}`, status: 201, ctype: "application/json", resp: `{"access_token":"x"}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			v := spectest.NewSpecValidator(t, c.version)
			var got string
			h := v.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				b, _ := io.ReadAll(r.Body)
				got = string(b)
				w.Header().Set("Content-Type", c.ctype)
				w.WriteHeader(c.status)
				_, _ = io.WriteString(w, c.resp)
			}))
			req := httptest.NewRequest(c.method, c.path, strings.NewReader(c.body))
			if c.body != "" {
				req.Header.Set("Content-Type", "application/json")
			}
			if c.accept != "" {
				req.Header.Set("Accept", c.accept)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			require.Equal(t, c.body, got, "the handler must see the body unchanged")
			require.Equal(t, c.resp, rec.Body.String(), "the client must see the response unchanged")
			require.Equal(t, c.wantRequest, len(v.RequestViolations()) > 0, "request: %v", v.RequestViolations())
			require.Equal(t, c.wantResponse, len(v.ResponseViolations()) > 0, "response: %v", v.ResponseViolations())
		})
	}
}

func TestQuirksDocumented(t *testing.T) {
	t.Parallel()
	require.GreaterOrEqual(t, len(spectest.Quirks), 5)
	require.Equal(t, "airflow-2.10.0-api-v1.yaml", spectest.SpecFile(2))
	require.Equal(t, "airflow-3.2.1-api-v2.yaml", spectest.SpecFile(3))
}
