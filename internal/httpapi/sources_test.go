package httpapi_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/medic-sh/medic/internal/httpapi"
	"github.com/medic-sh/medic/internal/ingest"
	"github.com/medic-sh/medic/internal/ingest/slackalert"
)

func TestGetSources(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 5, 2, 2, 0, 0, 0, time.UTC)
	b := setup(t, func(d *httpapi.Deps) {
		d.Sources = func() httpapi.Sources {
			return httpapi.Sources{
				Pollers: []ingest.PollerState{{Instance: "main", LastPoll: at, LastError: "poll main: connection refused"}},
				SlackAlerts: &slackalert.State{TokenError: "token_revoked", Channels: []slackalert.ChannelState{
					{Channel: "C0ALERTS", LastPoll: at, LastSuccess: at.Add(-time.Hour)},
				}},
			}
		}
	})
	resp := b.do(t, http.MethodGet, "/api/v1/sources", viewerToken, nil)
	require.Equal(t, http.StatusOK, resp.status, "body: %s", resp.raw)
	pollers := resp.body["pollers"].([]any)
	require.Len(t, pollers, 1)
	require.Equal(t, "poll main: connection refused", pollers[0].(map[string]any)["last_error"])
	require.Equal(t, "token_revoked", resp.body["slack_alerts"].(map[string]any)["token_error"])
	require.Equal(t, true, resp.body["webhook_signed"])

	resp = b.do(t, http.MethodGet, "/api/v1/sources", "", nil)
	require.Equal(t, http.StatusUnauthorized, resp.status)

	none := setup(t)
	resp = none.do(t, http.MethodGet, "/api/v1/sources", viewerToken, nil)
	require.Equal(t, http.StatusOK, resp.status)
	require.Equal(t, []any{}, resp.body["pollers"], "an empty list, not null")
	require.NotContains(t, resp.body, "slack_alerts")
}
