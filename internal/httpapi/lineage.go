package httpapi

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/medic-sh/medic/internal/incident"
	"github.com/medic-sh/medic/internal/ingest"
)

// lineageIgnored is the 202 body of POST /api/v1/lineage for an event that
// is not a failure.
type lineageIgnored struct {
	Ignored bool   `json:"ignored"`
	Reason  string `json:"reason"`
}

// postLineage receives OpenLineage events from Airflow's OpenLineage
// provider (its HTTP transport's default endpoint). A task's FAIL event is
// recorded as a failure exactly like a callback (and is the same failure
// when both report one try); every other event is acknowledged and
// dropped, since the transport sends them all here and retries on 5xx.
//
// The caller is authorized by route (s.api, operator role) with a bearer
// token, the only credential the transport can send (auth type api_key);
// it cannot sign bodies, so the callback's HMAC signature is not asked
// for, whether or not a webhook secret is set. In loopback mode the request
// must come from this machine, as everywhere.
func (s *server) postLineage(w http.ResponseWriter, r *http.Request) error {
	body, err := s.readLineageBody(w, r)
	if err != nil {
		return err
	}
	res, err := ingest.DecodeOpenLineage(body, s.defaultInstance, s.instances, s.now())
	if err != nil {
		ae := &apiError{status: http.StatusBadRequest, code: codeInvalidPayload, message: err.Error()}
		if de, ok := errors.AsType[*ingest.DecodeError](err); ok && de.Field != "" {
			ae.details = map[string]any{"field": de.Field}
		}
		return ae
	}
	if res.Event == nil {
		s.log.DebugContext(r.Context(), "openlineage event ignored", "reason", res.Ignored)
		s.writeJSON(w, r, http.StatusAccepted, lineageIgnored{Ignored: true, Reason: res.Ignored})
		return nil
	}
	ev := res.Event
	if err := s.checkInstance(ev.Instance); err != nil {
		return err
	}
	rec, err := s.events.RecordEvent(r.Context(), ev)
	if err != nil {
		if errors.Is(err, incident.ErrInvalid) {
			return &apiError{status: http.StatusBadRequest, code: codeInvalidPayload, message: err.Error()}
		}
		return fmt.Errorf("record openlineage event %s: %w", ev.Key, err)
	}
	s.log.DebugContext(r.Context(), "openlineage failure accepted", "event_id", rec.Event.ID, "incident_id", rec.Incident.ID,
		"duplicate", rec.Duplicate, "incident_created", rec.IncidentCreated)
	s.writeJSON(w, r, http.StatusAccepted, eventAccepted{
		EventID: rec.Event.ID, IncidentID: rec.Incident.ID, Duplicate: rec.Duplicate,
		IncidentCreated: rec.IncidentCreated, Deliveries: rec.Event.Deliveries,
	})
	return nil
}

// readLineageBody reads a JSON body, gunzipping it when the transport sends
// it compressed (its compression: gzip option). The limit applies to both
// the compressed and the decompressed size, so a small bomb cannot expand.
func (s *server) readLineageBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	body, err := s.readBody(w, r)
	if err != nil {
		return nil, err
	}
	switch enc := strings.ToLower(strings.TrimSpace(r.Header.Get("Content-Encoding"))); enc {
	case "", "identity":
		return body, nil
	case "gzip":
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			return nil, &apiError{status: http.StatusBadRequest, code: codeInvalidPayload, message: "body is not valid gzip", err: err}
		}
		out, err := io.ReadAll(io.LimitReader(zr, s.maxBody+1))
		if err != nil {
			return nil, &apiError{status: http.StatusBadRequest, code: codeInvalidPayload, message: "body is not valid gzip", err: err}
		}
		if int64(len(out)) > s.maxBody {
			return nil, &apiError{
				status: http.StatusRequestEntityTooLarge, code: codePayloadTooLarge,
				message: fmt.Sprintf("decompressed request body is larger than %d bytes", s.maxBody),
			}
		}
		return out, nil
	default:
		return nil, &apiError{
			status: http.StatusUnsupportedMediaType, code: codeUnsupportedMedia,
			message: fmt.Sprintf("Content-Encoding %s is not supported: send the body plain or gzip-compressed", clip(enc, 40)),
		}
	}
}
