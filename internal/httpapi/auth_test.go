package httpapi_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/medic-sh/medic/internal/config"
	"github.com/medic-sh/medic/internal/httpapi"
	"github.com/medic-sh/medic/internal/store"
)

func TestAuthMatrix(t *testing.T) {
	t.Parallel()
	b := setup(t)
	rec := b.record(t, "etl", "run1", "load")
	endpoints := []struct {
		method, path string
		body         string
		need         config.Role
		ok           int
	}{
		{http.MethodGet, "/api/v1/incidents", "", config.RoleViewer, http.StatusOK},
		{http.MethodGet, "/api/v1/incidents/" + rec.Incident.ID, "", config.RoleViewer, http.StatusOK},
		{http.MethodGet, "/api/v1/sessions/" + rec.Incident.TriageSessionID, "", config.RoleViewer, http.StatusOK},
		{http.MethodPost, "/api/v1/triage", `{"dag_id":"etl","run_id":"run2"}`, config.RoleOperator, http.StatusAccepted},
	}
	callers := []struct {
		name  string
		token string
		role  config.Role
	}{
		{"no token", "", ""},
		{"unknown token", "not-a-token", ""},
		{"viewer", viewerToken, config.RoleViewer},
		{"operator", operatorToken, config.RoleOperator},
		{"admin", adminToken, config.RoleAdmin},
	}
	rank := map[config.Role]int{config.RoleViewer: 1, config.RoleOperator: 2, config.RoleAdmin: 3}
	for _, ep := range endpoints {
		for _, c := range callers {
			t.Run(ep.method+" "+ep.path+" as "+c.name, func(t *testing.T) {
				t.Parallel()
				var body []byte
				if ep.body != "" {
					body = []byte(ep.body)
				}
				resp := b.do(t, ep.method, ep.path, c.token, body)
				switch {
				case c.role == "":
					require.Equal(t, http.StatusUnauthorized, resp.status)
					require.Equal(t, "unauthorized", resp.errorCode())
					require.True(t, strings.HasPrefix(resp.header.Get("WWW-Authenticate"), "Bearer"))
				case rank[c.role] < rank[ep.need]:
					require.Equal(t, http.StatusForbidden, resp.status)
					require.Equal(t, "forbidden", resp.errorCode())
					require.Contains(t, resp.errorMessage(), "needs "+string(ep.need))
				default:
					require.Equal(t, ep.ok, resp.status, "body: %s", resp.raw)
				}
			})
		}
	}
	for _, path := range []string{"/healthz", "/readyz", "/metrics"} {
		t.Run(path+" needs no token", func(t *testing.T) {
			t.Parallel()
			require.Equal(t, http.StatusOK, b.do(t, http.MethodGet, path, "", nil).status)
		})
	}
}

func TestAuthHeaderForms(t *testing.T) {
	t.Parallel()
	b := setup(t)
	tests := []struct {
		header string
		status int
	}{
		{"Bearer " + viewerToken, http.StatusOK},
		{"bearer " + viewerToken, http.StatusOK},
		{"Bearer  " + viewerToken + " ", http.StatusOK},
		{"Basic " + viewerToken, http.StatusUnauthorized},
		{viewerToken, http.StatusUnauthorized},
		{"Bearer ", http.StatusUnauthorized},
		{"Bearer " + viewerToken[:len(viewerToken)-1], http.StatusUnauthorized},
		{"Bearer " + viewerToken + "x", http.StatusUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.header, func(t *testing.T) {
			t.Parallel()
			resp := b.do(t, http.MethodGet, "/api/v1/incidents", "", nil, "Authorization", tt.header)
			require.Equal(t, tt.status, resp.status)
		})
	}
}

func TestIdentityReachesTheAuditTrail(t *testing.T) {
	t.Parallel()
	b := setup(t)
	resp := b.do(t, http.MethodPost, "/api/v1/triage", operatorToken, []byte(`{"dag_id":"etl","run_id":"run9"}`))
	require.Equal(t, http.StatusAccepted, resp.status)
	audits, err := b.store.AuditList(context.Background(), &store.AuditListParams{IncidentID: resp.body["incident_id"].(string)})
	require.NoError(t, err)
	require.Len(t, audits, 1)
	require.Equal(t, "ci-operator", audits[0].Actor, "the token's name, never the token")
}

func TestTokensNeverLogged(t *testing.T) {
	t.Parallel()
	var logs syncBuffer
	b := setup(t, noSecret, func(d *httpapi.Deps) { d.Logger = newLogger(&logs) })
	for _, tok := range []string{viewerToken, operatorToken, adminToken, "wrong-token-abc"} {
		b.do(t, http.MethodGet, "/api/v1/incidents", tok, nil)
		b.do(t, http.MethodPost, "/api/v1/events", tok, callback(t, "etl", "run1", "load", 1))
	}
	require.Contains(t, logs.String(), `"actor":"ci-viewer"`, "the access log names the caller")
	for _, secret := range []string{viewerToken, operatorToken, adminToken, "wrong-token-abc", webhookSecret} {
		require.NotContains(t, logs.String(), secret)
	}
}

func TestLoopbackMode(t *testing.T) {
	t.Parallel()
	b := setup(t, loopbackMode)
	tests := []struct {
		name, method, path, remote, host string
		status                           int
	}{
		{"IPv4 loopback", http.MethodGet, "/api/v1/incidents", "127.0.0.1:40000", "127.0.0.1:8080", http.StatusOK},
		{"IPv6 loopback", http.MethodGet, "/api/v1/incidents", "[::1]:40000", "[::1]:8080", http.StatusOK},
		{"localhost by name", http.MethodGet, "/api/v1/incidents", "127.0.0.1:40000", "localhost:8080", http.StatusOK},
		{"another machine", http.MethodGet, "/api/v1/incidents", "192.0.2.10:40000", "127.0.0.1:8080", http.StatusForbidden},
		{"another machine posting an event", http.MethodPost, "/api/v1/events", "10.1.2.3:40000", "127.0.0.1:8080", http.StatusForbidden},
		{"another machine asking for triage", http.MethodPost, "/api/v1/triage", "10.1.2.3:40000", "127.0.0.1:8080", http.StatusForbidden},
		{"a rebound host name", http.MethodGet, "/api/v1/incidents", "127.0.0.1:40000", "attacker.example:8080", http.StatusForbidden},
		{"an unparseable peer", http.MethodGet, "/api/v1/incidents", "@", "127.0.0.1:8080", http.StatusForbidden},
		{"health from anywhere", http.MethodGet, "/healthz", "192.0.2.10:40000", "medic.internal", http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var body *strings.Reader
			switch tt.path {
			case "/api/v1/events":
				body = strings.NewReader(string(callback(t, "etl", "run1", "load", 1)))
			case "/api/v1/triage":
				body = strings.NewReader(`{"dag_id":"etl","run_id":"run1"}`)
			default:
				body = strings.NewReader("")
			}
			req := httptest.NewRequestWithContext(t.Context(), tt.method, tt.path, body)
			req.RemoteAddr = tt.remote
			req.Host = tt.host
			req.Header.Set("Content-Type", "application/json")
			w := httptest.NewRecorder()
			b.handler.ServeHTTP(w, req)
			require.Equal(t, tt.status, w.Code, "body: %s", w.Body)
			require.Equal(t, stored{}, b.stored(t), "nothing is stored from outside")
		})
	}
}

func TestTokenModeServesOtherHosts(t *testing.T) {
	t.Parallel()
	b := setup(t)
	req := httptest.NewRequestWithContext(t.Context(), http.MethodGet, "/api/v1/incidents", nil)
	req.RemoteAddr = "192.0.2.10:40000"
	req.Header.Set("Authorization", "Bearer "+viewerToken)
	w := httptest.NewRecorder()
	b.handler.ServeHTTP(w, req)
	require.Equal(t, http.StatusOK, w.Code)
}

func TestNewRefusesBadTokens(t *testing.T) {
	t.Parallel()
	st := setup(t).store
	base := httpapi.Deps{Store: st, Events: storeRecorder{st}, Triage: storeTriage{st}}
	tok := func(name string, role config.Role, value string) config.Token {
		return config.Token{Name: name, Role: role, Token: config.NewSecret(value)}
	}
	tests := []struct {
		name     string
		mutate   func(d *httpapi.Deps)
		contains string
	}{
		{"no store", func(d *httpapi.Deps) { d.Store = nil }, "Store is required"},
		{"no recorder", func(d *httpapi.Deps) { d.Events = nil }, "Events is required"},
		{"no triage", func(d *httpapi.Deps) { d.Triage = nil }, "Triage is required"},
		{"unnamed token", func(d *httpapi.Deps) { d.Tokens = []config.Token{tok("", config.RoleAdmin, "x")} }, "has no name"},
		{"empty token", func(d *httpapi.Deps) { d.Tokens = []config.Token{tok("a", config.RoleAdmin, "")} }, "empty value"},
		{"unknown role", func(d *httpapi.Deps) { d.Tokens = []config.Token{tok("a", "root", "x")} }, `unknown role "root"`},
		{"duplicate names", func(d *httpapi.Deps) {
			d.Tokens = []config.Token{tok("a", config.RoleAdmin, "x"), tok("a", config.RoleViewer, "y")}
		}, "named"},
		{"shared value", func(d *httpapi.Deps) {
			d.Tokens = []config.Token{tok("a", config.RoleAdmin, "same"), tok("b", config.RoleViewer, "same")}
		}, "same value"},
		{"default instance not configured", func(d *httpapi.Deps) { d.DefaultInstance = "x"; d.Instances = []string{"y"} }, "default instance"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d := base
			tt.mutate(&d)
			_, err := httpapi.New(d)
			require.ErrorContains(t, err, tt.contains)
		})
	}
}
