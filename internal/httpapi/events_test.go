package httpapi_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/medic-sh/medic/internal/httpapi"
	"github.com/medic-sh/medic/internal/incident"
	"github.com/medic-sh/medic/internal/ingest"
	"github.com/medic-sh/medic/internal/store"
)

func TestPostEventAccepted(t *testing.T) {
	t.Parallel()
	received := time.Date(2026, 5, 1, 2, 3, 4, 0, time.UTC)
	b := setup(t, func(d *httpapi.Deps) { d.Now = func() time.Time { return received } })
	resp := b.postEvent(t, callback(t, "etl", "run1", "load", 1))
	require.Equal(t, http.StatusAccepted, resp.status, "body: %s", resp.raw)
	require.Equal(t, true, resp.body["incident_created"])
	require.Equal(t, false, resp.body["duplicate"])
	require.Equal(t, float64(1), resp.body["deliveries"])
	require.NotEmpty(t, resp.body["event_id"])
	incID, _ := resp.body["incident_id"].(string)
	require.NotEmpty(t, incID)

	events, err := b.store.EventListByIncident(context.Background(), incID)
	require.NoError(t, err)
	require.Len(t, events, 1)
	require.Equal(t, incident.SourceCallback, events[0].Source)
	require.Equal(t, "main", events[0].Instance, "the default instance applies")
	require.Equal(t, "ValueError: boom", events[0].Exception)
	require.Equal(t, received, events[0].ReceivedAt, "the API's clock stamps receipt")
	require.Equal(t, stored{incidents: 1, audits: 1, triageJobs: 1}, b.stored(t), "one incident, its audit entry and its triage job")
}

func TestPostEventRedeliveredIsOneEvent(t *testing.T) {
	t.Parallel()
	b := setup(t)
	body := callback(t, "etl", "run1", "load", 1)
	var incidentIDs, eventIDs []any
	for i := range 3 {
		resp := b.postEvent(t, body)
		require.Equal(t, http.StatusAccepted, resp.status, "delivery %d: %s", i+1, resp.raw)
		require.Equal(t, i > 0, resp.body["duplicate"])
		require.Equal(t, i == 0, resp.body["incident_created"])
		require.Equal(t, float64(i+1), resp.body["deliveries"])
		incidentIDs = append(incidentIDs, resp.body["incident_id"])
		eventIDs = append(eventIDs, resp.body["event_id"])
	}
	require.Equal(t, []any{incidentIDs[0], incidentIDs[0], incidentIDs[0]}, incidentIDs)
	require.Equal(t, []any{eventIDs[0], eventIDs[0], eventIDs[0]}, eventIDs)
	events, err := b.store.EventListByIncident(context.Background(), incidentIDs[0].(string))
	require.NoError(t, err)
	require.Len(t, events, 1)
	require.Equal(t, 3, events[0].Deliveries)
	require.Equal(t, 1, b.stored(t).incidents)
	require.Equal(t, 1, b.stored(t).triageJobs)
}

func TestPostEventRefused(t *testing.T) {
	t.Parallel()
	good := callback(t, "etl", "run1", "load", 1)
	sign := func(body []byte) string { return ingest.Sign([]byte(webhookSecret), body) }
	oversized := bytes.Repeat([]byte(" "), int(httpapi.DefaultMaxBodyBytes)+1)
	tests := []struct {
		name     string
		body     []byte
		headers  []string
		status   int
		code     string
		contains string
	}{
		{"missing signature", good, nil, http.StatusUnauthorized, "unauthorized", "missing X-Medic-Signature"},
		{"wrong secret", good, []string{ingest.SignatureHeader, ingest.Sign([]byte("other"), good)}, http.StatusUnauthorized, "unauthorized", "does not match"},
		{"signature of another body", good, []string{ingest.SignatureHeader, sign([]byte("{}"))}, http.StatusUnauthorized, "unauthorized", "does not match"},
		{"malformed signature", good, []string{ingest.SignatureHeader, "sha256=xyz"}, http.StatusUnauthorized, "unauthorized", ""},
		{"a bearer token does not replace the signature", good, []string{"Authorization", "Bearer " + adminToken}, http.StatusUnauthorized, "unauthorized", ""},
		{"body over the limit", oversized, []string{ingest.SignatureHeader, sign(oversized)}, http.StatusRequestEntityTooLarge, "payload_too_large", "1048576 bytes"},
		{"malformed JSON", []byte(`{"dag_id":`), []string{ingest.SignatureHeader, sign([]byte(`{"dag_id":`))}, http.StatusBadRequest, "invalid_payload", "not valid JSON"},
		{"trailing data", append(good, '1'), []string{ingest.SignatureHeader, sign(append(good, '1'))}, http.StatusBadRequest, "invalid_payload", "data after"},
		{
			"missing dag_id", []byte(`{"run_id":"r","task_id":"t","try_number":1}`),
			[]string{ingest.SignatureHeader, sign([]byte(`{"run_id":"r","task_id":"t","try_number":1}`))},
			http.StatusBadRequest, "invalid_payload", "dag_id is required",
		},
		{
			"bad try_number", []byte(`{"dag_id":"d","run_id":"r","task_id":"t","try_number":"abc"}`),
			[]string{ingest.SignatureHeader, sign([]byte(`{"dag_id":"d","run_id":"r","task_id":"t","try_number":"abc"}`))},
			http.StatusBadRequest, "invalid_payload", `try_number must be an integer >= 1, got "abc"`,
		},
		{
			"unknown instance", []byte(`{"instance":"staging","dag_id":"d","run_id":"r","task_id":"t","try_number":1}`),
			[]string{ingest.SignatureHeader, sign([]byte(`{"instance":"staging","dag_id":"d","run_id":"r","task_id":"t","try_number":1}`))},
			http.StatusUnprocessableEntity, "unknown_instance", "known instances are main, prod",
		},
		{"not JSON content", good, []string{"Content-Type", "text/plain", ingest.SignatureHeader, sign(good)}, http.StatusUnsupportedMediaType, "unsupported_media_type", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			resp := b.do(t, http.MethodPost, "/api/v1/events", "", tt.body, tt.headers...)
			require.Equal(t, tt.status, resp.status, "body: %s", resp.raw)
			require.Equal(t, tt.code, resp.errorCode())
			require.Contains(t, resp.errorMessage(), tt.contains)
			require.Equal(t, stored{}, b.stored(t), "nothing is stored")
		})
	}
}

func TestPostEventBodyAtTheLimit(t *testing.T) {
	t.Parallel()
	b := setup(t, func(d *httpapi.Deps) { d.MaxBodyBytes = 4096 })
	body := callback(t, "etl", "run1", "load", 1)
	body = append(body, bytes.Repeat([]byte(" "), 4096-len(body))...)
	require.Equal(t, http.StatusAccepted, b.postEvent(t, body).status)
	resp := b.postEvent(t, append(body, ' '))
	require.Equal(t, http.StatusRequestEntityTooLarge, resp.status)
	require.Contains(t, resp.errorMessage(), "4096 bytes")
}

func TestPostEventChunkedOverTheLimit(t *testing.T) {
	t.Parallel()
	b := setup(t, func(d *httpapi.Deps) { d.MaxBodyBytes = 1024 })
	body := bytes.Repeat([]byte(" "), 4096)
	// A reader of unknown length makes the client send the body chunked, so
	// only the read limit, not Content-Length, can stop it.
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, b.srv.URL+"/api/v1/events",
		io.MultiReader(bytes.NewReader(body)))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(ingest.SignatureHeader, ingest.Sign([]byte(webhookSecret), body))
	resp, err := b.srv.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusRequestEntityTooLarge, resp.StatusCode)
	require.Equal(t, stored{}, b.stored(t))
}

func TestPostEventDetails(t *testing.T) {
	t.Parallel()
	b := setup(t)
	resp := b.postEvent(t, []byte(`{"instance":"qa","dag_id":"d","run_id":"r","task_id":"t","try_number":1}`))
	require.Equal(t, http.StatusUnprocessableEntity, resp.status)
	details := resp.body["error"].(map[string]any)["details"].(map[string]any)
	require.Equal(t, []any{"main", "prod"}, details["known_instances"])

	resp = b.postEvent(t, []byte(`{"dag_id":"d","run_id":"r","task_id":"t","try_number":0}`))
	require.Equal(t, http.StatusBadRequest, resp.status)
	details = resp.body["error"].(map[string]any)["details"].(map[string]any)
	require.Equal(t, "try_number", details["field"])
}

func TestPostEventWithoutSecret(t *testing.T) {
	t.Parallel()
	body := callback(t, "etl", "run1", "load", 1)
	tests := []struct {
		name   string
		opts   []func(*httpapi.Deps)
		token  string
		status int
	}{
		{"operator token", []func(*httpapi.Deps){noSecret}, operatorToken, http.StatusAccepted},
		{"admin token", []func(*httpapi.Deps){noSecret}, adminToken, http.StatusAccepted},
		{"viewer token", []func(*httpapi.Deps){noSecret}, viewerToken, http.StatusForbidden},
		{"unknown token", []func(*httpapi.Deps){noSecret}, "nope", http.StatusUnauthorized},
		{"no token", []func(*httpapi.Deps){noSecret}, "", http.StatusUnauthorized},
		{"loopback mode takes anything local", []func(*httpapi.Deps){loopbackMode}, "", http.StatusAccepted},
		{"loopback mode with a secret still wants it", []func(*httpapi.Deps){noTokens}, "", http.StatusUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, tt.opts...)
			resp := b.do(t, http.MethodPost, "/api/v1/events", tt.token, body)
			require.Equal(t, tt.status, resp.status, "body: %s", resp.raw)
			if tt.status != http.StatusAccepted {
				require.Equal(t, stored{}, b.stored(t))
			}
		})
	}
}

// failingRecorder fails the way a broken database does.
type failingRecorder struct{ err error }

func (f failingRecorder) RecordEvent(context.Context, *incident.FailureEvent) (*store.EventRecordResult, error) {
	return nil, f.err
}

// panickingRecorder is a bug.
type panickingRecorder struct{}

func (panickingRecorder) RecordEvent(context.Context, *incident.FailureEvent) (*store.EventRecordResult, error) {
	panic("recorder bug")
}

func TestPostEventInternalErrorsStayInternal(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		rec  httpapi.EventRecorder
	}{
		{"store error", failingRecorder{errors.New("sqlite: disk I/O error at /var/lib/medic/medic.db")}},
		{"panic", panickingRecorder{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var logs syncBuffer
			b := setup(t, func(d *httpapi.Deps) { d.Events = tt.rec; d.Logger = newLogger(&logs) })
			resp := b.postEvent(t, callback(t, "etl", "run1", "load", 1))
			require.Equal(t, http.StatusInternalServerError, resp.status)
			require.Equal(t, "internal", resp.errorCode())
			rid := resp.header.Get("X-Request-Id")
			require.NotEmpty(t, rid)
			require.Equal(t, rid, resp.body["error"].(map[string]any)["request_id"])
			require.Contains(t, resp.errorMessage(), rid)
			require.NotContains(t, string(resp.raw), "sqlite")
			require.NotContains(t, string(resp.raw), "recorder bug")
			require.Contains(t, logs.String(), rid, "the cause is logged under the request id")
			require.True(t, strings.Contains(logs.String(), "disk I/O error") || strings.Contains(logs.String(), "recorder bug"))
		})
	}
}
