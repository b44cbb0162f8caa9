package httpapi_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestGetPostmortem(t *testing.T) {
	t.Parallel()
	b := setup(t)
	inc := b.record(t, "etl", "run1", "extract").Incident

	resp := b.do(t, http.MethodGet, "/api/v1/incidents/"+inc.ID+"/postmortem", viewerToken, nil)
	require.Equal(t, http.StatusOK, resp.status, "body: %s", resp.raw)
	require.Equal(t, "text/markdown; charset=utf-8", resp.header.Get("Content-Type"))
	md := string(resp.raw)
	require.Contains(t, md, "# Postmortem: etl.extract failed")
	require.Contains(t, md, "| time | what | who |")
	require.Contains(t, md, "failure: extract try 1 failed (reported by poller)")

	tests := []struct {
		name, id, token string
		status          int
		code            string
	}{
		{"unknown incident", "inc_x", viewerToken, http.StatusNotFound, "not_found"},
		{"no token", inc.ID, "", http.StatusUnauthorized, "unauthorized"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := b.do(t, http.MethodGet, "/api/v1/incidents/"+tt.id+"/postmortem", tt.token, nil)
			require.Equal(t, tt.status, resp.status, "body: %s", resp.raw)
			require.Equal(t, tt.code, resp.errorCode())
		})
	}
}
