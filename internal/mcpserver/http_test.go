package mcpserver_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/stretchr/testify/require"

	"github.com/medic-sh/medic/internal/config"
	"github.com/medic-sh/medic/internal/mcpserver"
	"github.com/medic-sh/medic/internal/store"
)

const (
	viewerToken = "viewer-token-0123456789"
	writerToken = "writer-token-0123456789"
)

// bearer adds a token to every request.
type bearer struct {
	token string
	base  http.RoundTripper
}

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	return b.base.RoundTrip(r)
}

func httpServer(t *testing.T, b *testBundle) *httptest.Server {
	t.Helper()
	cfg := &config.Config{Auth: config.Auth{Tokens: []config.Token{
		{Name: "dashboard", Role: config.RoleViewer, Token: config.NewSecret(viewerToken)},
		{Name: "bot", Role: config.RoleOperator, Token: config.NewSecret(writerToken), MCPWrites: true},
	}}}
	srv := httptest.NewServer(b.server.HTTPHandler(mcpserver.HTTPOptions{Auth: mcpserver.ConfigTokens{Config: cfg}}))
	t.Cleanup(srv.Close)
	return srv
}

func connectHTTP(t *testing.T, url, token string) *mcp.ClientSession {
	t.Helper()
	transport := &http.Transport{}
	t.Cleanup(transport.CloseIdleConnections)
	client := mcp.NewClient(&mcp.Implementation{Name: "http-client", Version: "1"}, nil)
	cs, err := client.Connect(context.Background(), &mcp.StreamableClientTransport{
		Endpoint: url, HTTPClient: &http.Client{Transport: bearer{token: token, base: transport}}, MaxRetries: -1,
		DisableStandaloneSSE: true,
	}, nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = cs.Close() })
	return cs
}

func TestHTTP(t *testing.T) {
	t.Parallel()
	b := setup(t)
	srv := httpServer(t, b)

	t.Run("a viewer token sees the read tools and reads", func(t *testing.T) {
		cs := connectHTTP(t, srv.URL, viewerToken)
		tools := toolNames(t, cs)
		require.Contains(t, tools, "get_incident")
		require.NotContains(t, tools, "trigger_dag")
		out, res := call(t, cs, "get_incident", map[string]any{"incident_id": b.inc.ID})
		require.False(t, res.IsError, text(res))
		require.Equal(t, b.inc.ID, out["incident"].(map[string]any)["id"])
		entries, err := b.store.AuditList(context.Background(), &store.AuditListParams{Actor: "dashboard", ActionPrefix: "mcp.tool_call", Limit: 10})
		require.NoError(t, err)
		require.NotEmpty(t, entries, "the call is audited with the token's name")
	})

	t.Run("a viewer token is refused a write tool, audited", func(t *testing.T) {
		cs := connectHTTP(t, srv.URL, viewerToken)
		_, res := call(t, cs, "clear_failed_tasks", map[string]any{"incident_id": b.inc.ID, "reason": "go"})
		require.True(t, res.IsError)
		require.Contains(t, text(res), "read-only for MCP")
		entries, err := b.store.AuditList(context.Background(), &store.AuditListParams{Actor: "dashboard", ActionPrefix: "mcp.tool_refused", Limit: 10})
		require.NoError(t, err)
		require.Len(t, entries, 1)
	})

	t.Run("a writes token sees the write tools", func(t *testing.T) {
		cs := connectHTTP(t, srv.URL, writerToken)
		tools := toolNames(t, cs)
		require.Contains(t, tools, "trigger_dag")
		require.Contains(t, tools, "clear_failed_tasks")
	})

	tests := []struct {
		name   string
		header map[string]string
		host   string
		want   int
	}{
		{"no token", map[string]string{}, "", http.StatusUnauthorized},
		{"unknown token", map[string]string{"Authorization": "Bearer nope-nope-nope-nope"}, "", http.StatusUnauthorized},
		{"cross-origin page", map[string]string{"Authorization": "Bearer " + viewerToken, "Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}, "", http.StatusForbidden},
		{"DNS rebinding", map[string]string{"Authorization": "Bearer " + viewerToken}, "evil.example", http.StatusForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, srv.URL,
				strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"x","version":"1"}}}`))
			require.NoError(t, err)
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Accept", "application/json, text/event-stream")
			for k, v := range tt.header {
				req.Header.Set(k, v)
			}
			if tt.host != "" {
				req.Host = tt.host
			}
			resp, err := srv.Client().Do(req)
			require.NoError(t, err)
			require.NoError(t, resp.Body.Close())
			require.Equal(t, tt.want, resp.StatusCode)
		})
	}
	t.Run("refused requests are audited without the token", func(t *testing.T) {
		entries, err := b.store.AuditList(context.Background(), &store.AuditListParams{Actor: "anonymous", Limit: 10})
		require.NoError(t, err)
		require.Len(t, entries, 2)
		for _, e := range entries {
			require.NotContains(t, string(e.Detail), "nope-nope")
		}
	})
}

func TestHTTPLoopbackMode(t *testing.T) {
	t.Parallel()
	b := setup(t)
	srv := httptest.NewServer(b.server.HTTPHandler(mcpserver.HTTPOptions{}))
	t.Cleanup(srv.Close)
	cs := connectHTTP(t, srv.URL, "")
	tools := toolNames(t, cs)
	require.Contains(t, tools, "list_incidents")
	require.NotContains(t, tools, "trigger_dag", "loopback mode is read-only for MCP")
}
