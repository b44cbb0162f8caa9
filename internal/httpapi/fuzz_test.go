package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/medic-sh/medic/internal/httpapi"
	"github.com/medic-sh/medic/internal/incident"
	"github.com/medic-sh/medic/internal/ingest"
	"github.com/medic-sh/medic/internal/store"
)

// FuzzAPI sends arbitrary requests to every write and read route (feedback
// to a remembered incident, or to any id) and checks
// that the API never fails with a 500 and answers JSON (path-cleaning
// redirects aside), whatever the body, query or id.
func FuzzAPI(f *testing.F) {
	mem := newMemory()
	b := setup(f, withMemory(mem))
	inc := remembered(f, b, mem)
	for _, seed := range []struct {
		route uint8
		query string
		body  string
	}{
		{0, "", `{"dag_id":"d","run_id":"r","task_id":"t","try_number":1}`},
		{0, "", `{"dag_id":"d","run_id":"r","task_id":"t","try_number":"1"}`},
		{1, "", `{"dag_id":"d","run_id":"r"}`},
		{1, "", `{"dag_id":"d","run_id":"r","extra":1}`},
		{2, "state=open,escalated&limit=5", ""},
		{2, "cursor=%ff%00&since=yesterday", ""},
		{3, "", ""},
		{4, "", ""},
		{5, "", `{"outcome":"fixed","action":"retry"}`},
		{5, "", `{"label":"PERMISSION","verdict":"down"}`},
		{5, "", `{"reason":"` + "\xff" + `"}`},
	} {
		f.Add(seed.route, seed.query, []byte(seed.body))
	}
	f.Fuzz(func(t *testing.T, route uint8, query string, body []byte) {
		var req *http.Request
		switch route % 6 {
		case 0:
			req = httptest.NewRequest(http.MethodPost, "/api/v1/events", bytes.NewReader(body))
			req.Header.Set(ingest.SignatureHeader, ingest.Sign([]byte(webhookSecret), body))
		case 1:
			req = httptest.NewRequest(http.MethodPost, "/api/v1/triage", bytes.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+adminToken)
		case 2:
			req = httptest.NewRequest(http.MethodGet, "/api/v1/incidents", nil)
			req.URL.RawQuery = query
			req.Header.Set("Authorization", "Bearer "+viewerToken)
		case 3:
			req = httptest.NewRequest(http.MethodGet, "/api/v1/incidents/x", nil)
			req.URL.Path = "/api/v1/incidents/" + strings.ReplaceAll(query, "/", "")
			req.Header.Set("Authorization", "Bearer "+viewerToken)
		case 5:
			id := inc.ID
			if query != "" {
				id = strings.ReplaceAll(query, "/", "")
			}
			req = httptest.NewRequest(http.MethodPost, "/api/v1/incidents/x/feedback", bytes.NewReader(body))
			req.URL.Path = "/api/v1/incidents/" + id + "/feedback"
			req.Header.Set("Authorization", "Bearer "+operatorToken)
		default:
			req = httptest.NewRequest(http.MethodGet, "/api/v1/sessions/x", nil)
			req.URL.Path = "/api/v1/sessions/" + strings.ReplaceAll(query, "/", "")
			req.Header.Set("Authorization", "Bearer "+viewerToken)
		}
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		b.handler.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("%s %s → %d: %s", req.Method, req.URL, rec.Code, rec.Body.String())
		}
		if rec.Code >= 300 && rec.Code < 400 {
			return // the mux redirects unclean paths ("/x/../y") to their clean form
		}
		if !json.Valid(rec.Body.Bytes()) {
			t.Fatalf("%s %s → %d with a non-JSON body: %q", req.Method, req.URL, rec.Code, rec.Body.String())
		}
	})
}

// FuzzSessionEvents sends arbitrary session ids and resume cursors to the
// event stream of a finished investigation and checks that it either
// streams to the end or refuses in JSON, never with a 500.
func FuzzSessionEvents(f *testing.F) {
	b := setup(f, fastStreams(httpapi.StreamOptions{}))
	inc := b.record(f, "etl", "run1", "load").Incident
	ctx := context.Background()
	_, err := b.store.SessionSetStatus(ctx, &store.SessionSetStatusParams{ID: inc.TriageSessionID, Status: incident.SessionRunning})
	require.NoError(f, err)
	_, err = b.store.SessionFinish(ctx, &store.SessionFinishParams{ID: inc.TriageSessionID, Status: incident.SessionCompleted})
	require.NoError(f, err)
	for _, seed := range []struct{ id, query, lastEventID string }{
		{"", "", ""},
		{"", "after=1", ""},
		{"", "after=99999999999999999999", ""},
		{"", "after=-1&after=2", "x"},
		{"", "", "1"},
		{"ses_missing", "after=%zz", " 2 "},
		{"ses_x", "since=1", "\xff"},
	} {
		f.Add(seed.id, seed.query, seed.lastEventID)
	}
	f.Fuzz(func(t *testing.T, id, query, lastEventID string) {
		if id == "" {
			id = inc.TriageSessionID
		}
		req := httptest.NewRequest(http.MethodGet, "/api/v1/sessions/x/events", nil)
		req.URL.Path = "/api/v1/sessions/" + strings.ReplaceAll(id, "/", "") + "/events"
		req.URL.RawQuery = query
		req.Header.Set("Authorization", "Bearer "+viewerToken)
		req.Header.Set("Last-Event-ID", lastEventID)
		rec := httptest.NewRecorder()
		b.handler.ServeHTTP(rec, req)
		switch {
		case rec.Code >= 500:
			t.Fatalf("%s (Last-Event-ID %q) → %d: %s", req.URL, lastEventID, rec.Code, rec.Body.String())
		case rec.Code >= 300 && rec.Code < 400:
			// the mux redirects unclean paths to their clean form
		case rec.Code == http.StatusOK:
			if !strings.HasSuffix(rec.Body.String(), "event: end\ndata: {\"session_id\":\""+inc.TriageSessionID+"\",\"status\":\"completed\"}\n\n") {
				t.Fatalf("%s → a stream that does not end: %q", req.URL, rec.Body.String())
			}
		case !json.Valid(rec.Body.Bytes()):
			t.Fatalf("%s → %d with a non-JSON body: %q", req.URL, rec.Code, rec.Body.String())
		}
	})
}
