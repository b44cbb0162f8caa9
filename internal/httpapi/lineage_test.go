package httpapi_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/medic-sh/medic/internal/httpapi"
	"github.com/medic-sh/medic/internal/incident"
	"github.com/medic-sh/medic/internal/ingest"
)

// lineageEvent reads an OpenLineage event the Airflow provider sends, from
// the ingest package's spec-checked fixtures.
func lineageEvent(t *testing.T, name string) []byte {
	t.Helper()
	body, err := os.ReadFile(filepath.Join("..", "ingest", "testdata", name))
	require.NoError(t, err)
	return body
}

// postLineage posts an OpenLineage event as the provider's HTTP transport
// does, with an operator token.
func (b *testBundle) postLineage(t *testing.T, body []byte, headers ...string) *response {
	t.Helper()
	return b.do(t, http.MethodPost, "/api/v1/lineage", operatorToken, body, headers...)
}

func gzipped(t *testing.T, body []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	_, err := zw.Write(body)
	require.NoError(t, err)
	require.NoError(t, zw.Close())
	return buf.Bytes()
}

func TestPostLineageFailureRecorded(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		body    func(t *testing.T) []byte
		headers []string
	}{
		{"plain", func(t *testing.T) []byte { return lineageEvent(t, "openlineage_fail.json") }, nil},
		{"gzip", func(t *testing.T) []byte { return gzipped(t, lineageEvent(t, "openlineage_fail.json")) }, []string{"Content-Encoding", "gzip"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			resp := b.postLineage(t, tt.body(t), tt.headers...)
			require.Equal(t, http.StatusAccepted, resp.status, "body: %s", resp.raw)
			require.Equal(t, true, resp.body["incident_created"])
			require.Equal(t, false, resp.body["duplicate"])
			require.Equal(t, float64(1), resp.body["deliveries"])
			require.NotEmpty(t, resp.body["event_id"])
			events, err := b.store.EventListByIncident(context.Background(), resp.body["incident_id"].(string))
			require.NoError(t, err)
			require.Len(t, events, 1)
			ev := events[0]
			require.Equal(t, incident.SourceOpenLineage, ev.Source)
			require.Equal(t, incident.Key{
				Instance: "prod", DagID: "orders_etl", RunID: "scheduled__2026-05-01T01:00:00+00:00", TaskID: "load_orders", TryNumber: 2,
			}, ev.Key, "job.namespace names a configured instance")
			require.Contains(t, ev.Exception, "psycopg2.OperationalError")
			require.Equal(t, []string{
				"postgres://warehouse.internal:5432/analytics.staging.orders_raw",
				"postgres://warehouse.internal:5432/analytics.public.orders",
			}, ev.Datasets)
			require.Equal(t, stored{incidents: 1, audits: 1, triageJobs: 1}, b.stored(t))
		})
	}
}

func TestPostLineageSameFailureAsCallback(t *testing.T) {
	t.Parallel()
	b := setup(t)
	cb, err := json.Marshal(ingest.CallbackPayload{
		Instance: "prod", DagID: "orders_etl", RunID: "scheduled__2026-05-01T01:00:00+00:00", TaskID: "load_orders", TryNumber: 2,
	})
	require.NoError(t, err)
	first := b.postEvent(t, cb)
	require.Equal(t, http.StatusAccepted, first.status, "body: %s", first.raw)
	for i := range 2 {
		resp := b.postLineage(t, lineageEvent(t, "openlineage_fail.json"))
		require.Equal(t, http.StatusAccepted, resp.status, "body: %s", resp.raw)
		require.Equal(t, true, resp.body["duplicate"])
		require.Equal(t, first.body["event_id"], resp.body["event_id"])
		require.Equal(t, float64(i+2), resp.body["deliveries"])
	}
	events, err := b.store.EventListByIncident(context.Background(), first.body["incident_id"].(string))
	require.NoError(t, err)
	require.Len(t, events, 1)
	require.Len(t, events[0].Datasets, 2, "the callback's event gains the datasets")
	require.Equal(t, 1, b.stored(t).incidents)
}

func TestPostLineageIgnored(t *testing.T) {
	t.Parallel()
	tests := []struct {
		fixture string
		reason  string
	}{
		{"openlineage_start.json", "eventType START is not a failure"},
		{"openlineage_complete.json", "eventType COMPLETE is not a failure"},
		{"openlineage_dag_fail.json", "DAG-level event"},
	}
	for _, tt := range tests {
		t.Run(tt.fixture, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			resp := b.postLineage(t, lineageEvent(t, tt.fixture))
			require.Equal(t, http.StatusAccepted, resp.status, "body: %s", resp.raw)
			require.Equal(t, true, resp.body["ignored"])
			require.Contains(t, resp.body["reason"], tt.reason)
			require.Equal(t, stored{}, b.stored(t), "nothing is stored")
		})
	}
}

func TestPostLineageAuth(t *testing.T) {
	t.Parallel()
	body := lineageEvent(t, "openlineage_fail.json")
	tests := []struct {
		name    string
		opts    []func(*httpapi.Deps)
		token   string
		headers []string
		status  int
	}{
		{"operator token", nil, operatorToken, nil, http.StatusAccepted},
		{"admin token", nil, adminToken, nil, http.StatusAccepted},
		{"operator token without a webhook secret", []func(*httpapi.Deps){noSecret}, operatorToken, nil, http.StatusAccepted},
		{"viewer token", nil, viewerToken, nil, http.StatusForbidden},
		{"unknown token", nil, "nope", nil, http.StatusUnauthorized},
		{"no token", nil, "", nil, http.StatusUnauthorized},
		{
			"a callback signature does not replace the token", nil, "",
			[]string{ingest.SignatureHeader, ingest.Sign([]byte(webhookSecret), body)},
			http.StatusUnauthorized,
		},
		{"loopback mode takes anything local", []func(*httpapi.Deps){loopbackMode}, "", nil, http.StatusAccepted},
		{"loopback mode asks no signature", []func(*httpapi.Deps){noTokens}, "", nil, http.StatusAccepted},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, tt.opts...)
			resp := b.do(t, http.MethodPost, "/api/v1/lineage", tt.token, body, tt.headers...)
			require.Equal(t, tt.status, resp.status, "body: %s", resp.raw)
			if tt.status != http.StatusAccepted {
				require.Equal(t, stored{}, b.stored(t))
			} else {
				require.Equal(t, 1, b.stored(t).incidents)
			}
		})
	}
}

func TestPostLineageRefused(t *testing.T) {
	t.Parallel()
	good := lineageEvent(t, "openlineage_fail.json")
	var noFacet map[string]any
	require.NoError(t, json.Unmarshal(good, &noFacet))
	delete(noFacet["run"].(map[string]any)["facets"].(map[string]any), "airflow")
	noFacetBody, err := json.Marshal(noFacet)
	require.NoError(t, err)
	bomb := gzipped(t, bytes.Repeat([]byte(" "), 4096))
	tests := []struct {
		name     string
		opts     []func(*httpapi.Deps)
		body     []byte
		headers  []string
		status   int
		code     string
		field    string
		contains string
	}{
		{"malformed JSON", nil, []byte(`{"eventType":`), nil, http.StatusBadRequest, "invalid_payload", "", "not valid JSON"},
		{
			"no airflow facet", nil, noFacetBody, nil, http.StatusBadRequest, "invalid_payload",
			"run.facets.airflow", "run.facets.airflow is required",
		},
		{
			"wrong type", nil, []byte(`{"eventType":"FAIL","eventTime":1,"run":{},"job":{}}`), nil,
			http.StatusBadRequest, "invalid_payload", "eventTime", "RFC 3339",
		},
		{"not JSON content", nil, good, []string{"Content-Type", "text/plain"}, http.StatusUnsupportedMediaType, "unsupported_media_type", "", ""},
		{
			"body over the limit",
			[]func(*httpapi.Deps){func(d *httpapi.Deps) { d.MaxBodyBytes = 1024 }},
			good, nil,
			http.StatusRequestEntityTooLarge, "payload_too_large", "", "1024 bytes",
		},
		{
			"gzip expanding over the limit",
			[]func(*httpapi.Deps){func(d *httpapi.Deps) { d.MaxBodyBytes = 1024 }},
			bomb,
			[]string{"Content-Encoding", "gzip"},
			http.StatusRequestEntityTooLarge, "payload_too_large", "", "decompressed",
		},
		{"not gzip", nil, good, []string{"Content-Encoding", "gzip"}, http.StatusBadRequest, "invalid_payload", "", "not valid gzip"},
		{"other encoding", nil, good, []string{"Content-Encoding", "br"}, http.StatusUnsupportedMediaType, "unsupported_media_type", "", "br"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, tt.opts...)
			resp := b.postLineage(t, tt.body, tt.headers...)
			require.Equal(t, tt.status, resp.status, "body: %s", resp.raw)
			require.Equal(t, tt.code, resp.errorCode())
			require.Contains(t, resp.errorMessage(), tt.contains)
			if tt.field != "" {
				details := resp.body["error"].(map[string]any)["details"].(map[string]any)
				require.Equal(t, tt.field, details["field"])
			}
			require.Equal(t, stored{}, b.stored(t), "nothing is stored")
		})
	}
}
