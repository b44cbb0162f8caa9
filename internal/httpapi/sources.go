package httpapi

import (
	"net/http"

	"github.com/medic-sh/medic/internal/ingest"
	"github.com/medic-sh/medic/internal/ingest/slackalert"
)

// Sources is what medic reads failures from and how reading goes: the REST
// poller of each Airflow instance and the Slack alert channels. Callbacks
// and OpenLineage events are pushed to medic, so only their endpoints'
// configuration is shown.
type Sources struct {
	Pollers []ingest.PollerState `json:"pollers"`
	// SlackAlerts is nil when ingest.slack_alerts is off.
	SlackAlerts *slackalert.State `json:"slack_alerts,omitempty"`
	// WebhookSigned says whether POST /api/v1/events requires the
	// callback's HMAC signature (ingest.webhook.secret is set).
	WebhookSigned bool `json:"webhook_signed"`
}

// getSources answers GET /api/v1/sources.
func (s *server) getSources(w http.ResponseWriter, r *http.Request) error {
	out := Sources{Pollers: []ingest.PollerState{}}
	if s.sources != nil {
		out = s.sources()
		if out.Pollers == nil {
			out.Pollers = []ingest.PollerState{}
		}
	}
	out.WebhookSigned = s.webhookSecret != nil
	s.writeJSON(w, r, http.StatusOK, out)
	return nil
}
