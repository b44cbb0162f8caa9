package httpapi

import (
	"context"
	"errors"
	"net/http"
	"time"
)

// readyTimeout bounds one readiness check, so a hung database makes /readyz
// answer "not ready" rather than hang the probe.
const readyTimeout = 3 * time.Second

var errReadyTimeout = errors.New("readiness check timed out")

// healthBody is the body of /healthz and of a ready /readyz.
type healthBody struct {
	Status  string `json:"status"`
	Version string `json:"version,omitempty"`
}

// healthz answers while the process serves; it checks nothing else, so that
// a slow database never gets a live process restarted.
func (s *server) healthz(w http.ResponseWriter, r *http.Request) error {
	s.writeJSON(w, r, http.StatusOK, healthBody{Status: "ok", Version: s.version})
	return nil
}

// readyz reports whether medic can do its work (its database answers), so a
// load balancer sends traffic only to replicas that can.
func (s *server) readyz(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := context.WithTimeoutCause(r.Context(), readyTimeout, errReadyTimeout)
	defer cancel()
	if err := s.ready(ctx); err != nil {
		if r.Context().Err() != nil {
			return r.Context().Err()
		}
		s.log.WarnContext(r.Context(), "not ready", "err", err)
		reason := err.Error()
		if ctx.Err() != nil {
			reason = context.Cause(ctx).Error()
		}
		return &apiError{status: http.StatusServiceUnavailable, code: codeNotReady, message: "not ready: " + reason}
	}
	s.writeJSON(w, r, http.StatusOK, healthBody{Status: "ok", Version: s.version})
	return nil
}
