package httpapi_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/medic-sh/medic/internal/httpapi"
)

func TestHealth(t *testing.T) {
	t.Parallel()
	b := setup(t)
	resp := b.do(t, http.MethodGet, "/healthz", "", nil)
	require.Equal(t, http.StatusOK, resp.status)
	require.Equal(t, "ok", resp.body["status"])
	resp = b.do(t, http.MethodGet, "/readyz", "", nil)
	require.Equal(t, http.StatusOK, resp.status, "the store answers: %s", resp.raw)
	require.Equal(t, "ok", resp.body["status"])
}

func TestReadyzNotReady(t *testing.T) {
	t.Parallel()
	b := setup(t, func(d *httpapi.Deps) {
		d.Ready = func(context.Context) error { return errors.New("airflow instance prod unreachable") }
	})
	resp := b.do(t, http.MethodGet, "/readyz", "", nil)
	require.Equal(t, http.StatusServiceUnavailable, resp.status)
	require.Equal(t, "not_ready", resp.errorCode())
	require.Contains(t, resp.errorMessage(), "airflow instance prod unreachable")
	require.Equal(t, http.StatusOK, b.do(t, http.MethodGet, "/healthz", "", nil).status, "liveness does not depend on readiness")
}

func TestUnknownRouteAndMethod(t *testing.T) {
	t.Parallel()
	b := setup(t)
	tests := []struct {
		method, path string
		status       int
		code, allow  string
	}{
		{http.MethodGet, "/api/v1/nope", http.StatusNotFound, "not_found", ""},
		{http.MethodGet, "/", http.StatusNotFound, "not_found", ""},
		{http.MethodGet, "/api/v1/incidents/", http.StatusNotFound, "not_found", ""},
		{http.MethodDelete, "/api/v1/incidents", http.StatusMethodNotAllowed, "method_not_allowed", "GET, HEAD"},
		{http.MethodGet, "/api/v1/events", http.StatusMethodNotAllowed, "method_not_allowed", "POST"},
		{http.MethodPut, "/healthz", http.StatusMethodNotAllowed, "method_not_allowed", "GET, HEAD"},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			t.Parallel()
			resp := b.do(t, tt.method, tt.path, viewerToken, nil)
			require.Equal(t, tt.status, resp.status)
			require.Equal(t, "application/json", resp.header.Get("Content-Type"))
			require.Equal(t, tt.code, resp.errorCode())
			require.Equal(t, tt.allow, resp.header.Get("Allow"))
		})
	}
}

func TestRequestID(t *testing.T) {
	t.Parallel()
	b := setup(t)
	resp := b.do(t, http.MethodGet, "/healthz", "", nil)
	generated := resp.header.Get("X-Request-Id")
	require.True(t, strings.HasPrefix(generated, "req_"), generated)
	require.NotEqual(t, generated, b.do(t, http.MethodGet, "/healthz", "", nil).header.Get("X-Request-Id"))

	resp = b.do(t, http.MethodGet, "/healthz", "", nil, "X-Request-Id", "airflow-cb-42")
	require.Equal(t, "airflow-cb-42", resp.header.Get("X-Request-Id"), "a plain client id is kept")
	resp = b.do(t, http.MethodGet, "/healthz", "", nil, "X-Request-Id", "evil\"id <script>")
	require.True(t, strings.HasPrefix(resp.header.Get("X-Request-Id"), "req_"), "an odd one is replaced")
}

func TestMetrics(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.do(t, http.MethodGet, "/api/v1/incidents", viewerToken, nil)
	b.do(t, http.MethodGet, "/api/v1/incidents", "", nil)
	b.do(t, http.MethodGet, "/api/v1/incidents/inc_one", viewerToken, nil)
	b.do(t, http.MethodGet, "/api/v1/incidents/inc_two", viewerToken, nil)
	b.do(t, http.MethodGet, "/random/path/12345", "", nil)
	resp := b.do(t, http.MethodGet, "/metrics", "", nil)
	require.Equal(t, http.StatusOK, resp.status)
	text := string(resp.raw)
	require.Contains(t, text, `medic_http_requests_total{code="200",route="GET /api/v1/incidents"} 1`)
	require.Contains(t, text, `medic_http_requests_total{code="401",route="GET /api/v1/incidents"} 1`)
	require.Contains(t, text, `medic_http_requests_total{code="404",route="GET /api/v1/incidents/{id}"} 2`, "labelled by pattern")
	require.Contains(t, text, `medic_http_requests_total{code="404",route="unmatched"} 1`)
	require.Contains(t, text, `medic_http_request_duration_seconds_bucket{route="GET /api/v1/incidents"`)
	require.NotContains(t, text, "inc_one", "never the raw path")
	require.NotContains(t, text, "/random/path")
}

func TestSharedRegistry(t *testing.T) {
	t.Parallel()
	b := setup(t)
	reg := prometheus.NewRegistry()
	d := b.deps
	d.Registry = reg
	_, err := httpapi.New(d)
	require.NoError(t, err)
	_, err = httpapi.New(d)
	require.NoError(t, err, "a second handler on one registry shares the collectors")
}
