package httpapi_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/medic-sh/medic/internal/ingest"
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
