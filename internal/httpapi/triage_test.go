package httpapi_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestPostTriage(t *testing.T) {
	t.Parallel()
	b := setup(t)
	body := []byte(`{"instance":"prod","dag_id":"etl","run_id":"manual__2026-05-01","task_id":"load"}`)
	first := b.do(t, http.MethodPost, "/api/v1/triage", operatorToken, body)
	require.Equal(t, http.StatusAccepted, first.status, "body: %s", first.raw)
	require.Equal(t, true, first.body["created"])
	require.NotEmpty(t, first.body["incident_id"])
	require.NotEmpty(t, first.body["session_id"])
	require.Equal(t, stored{incidents: 1, audits: 1, triageJobs: 1}, b.stored(t))

	again := b.do(t, http.MethodPost, "/api/v1/triage", adminToken, body)
	require.Equal(t, http.StatusAccepted, again.status)
	require.Equal(t, false, again.body["created"])
	require.Equal(t, first.body["incident_id"], again.body["incident_id"])
	require.Equal(t, first.body["session_id"], again.body["session_id"])
	require.Equal(t, 1, b.stored(t).triageJobs, "asking twice triages once")

	inc := b.do(t, http.MethodGet, "/api/v1/incidents/"+first.body["incident_id"].(string), viewerToken, nil)
	require.Equal(t, "prod", inc.body["incident"].(map[string]any)["instance"])
}

func TestPostTriageRefused(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, body string
		headers    []string
		status     int
		code       string
		contains   string
	}{
		{"missing run_id", `{"dag_id":"etl"}`, nil, http.StatusBadRequest, "invalid_payload", "run_id is required"},
		{"blank dag_id", `{"dag_id":" ","run_id":"r"}`, nil, http.StatusBadRequest, "invalid_payload", "dag_id is required"},
		{"unknown field", `{"dag_id":"etl","run_id":"r","dag":"x"}`, nil, http.StatusBadRequest, "invalid_payload", `unknown field "dag"`},
		{"wrong type", `{"dag_id":5,"run_id":"r"}`, nil, http.StatusBadRequest, "invalid_payload", "dag_id must be a JSON string"},
		{"not an object", `["etl"]`, nil, http.StatusBadRequest, "invalid_payload", "JSON object"},
		{"two objects", `{"dag_id":"etl","run_id":"r"}{}`, nil, http.StatusBadRequest, "invalid_payload", "exactly one"},
		{"forbidden character", `{"dag_id":"etl","run_id":"a|b"}`, nil, http.StatusBadRequest, "invalid_payload", "run_id contains a forbidden character"},
		{"unknown instance", `{"instance":"qa","dag_id":"etl","run_id":"r"}`, nil, http.StatusUnprocessableEntity, "unknown_instance", "main, prod"},
		{"form post", `dag_id=etl&run_id=r`, []string{"Content-Type", "application/x-www-form-urlencoded"}, http.StatusUnsupportedMediaType, "unsupported_media_type", "application/json"},
		{"too large", `{"dag_id":"` + strings.Repeat("d", 1<<20) + `","run_id":"r"}`, nil, http.StatusRequestEntityTooLarge, "payload_too_large", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			resp := b.do(t, http.MethodPost, "/api/v1/triage", operatorToken, []byte(tt.body), tt.headers...)
			require.Equal(t, tt.status, resp.status, "body: %s", resp.raw)
			require.Equal(t, tt.code, resp.errorCode())
			require.Contains(t, resp.errorMessage(), tt.contains)
			require.Equal(t, stored{}, b.stored(t))
		})
	}
}
