package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/medic-sh/medic/internal/incident"
	"github.com/medic-sh/medic/internal/logscan"
	"github.com/medic-sh/medic/internal/store"
)

// maxGlobLen bounds a silence's DAG glob; a DAG id is at most 250
// characters in Airflow.
const maxGlobLen = 250

// silenceRequest is the body of POST /api/v1/silences. Times are strings so
// that a malformed one gets a message naming it.
type silenceRequest struct {
	// Dag is a path.Match glob on the DAG id: "*" for every DAG.
	Dag      string `json:"dag"`
	Instance string `json:"instance"`
	// Severity, when set, silences only incidents at or below it.
	Severity string `json:"severity"`
	Reason   string `json:"reason"`
	// StartsAt is RFC 3339; now when empty.
	StartsAt string `json:"starts_at"`
	// EndsAt (RFC 3339) or Duration (a Go duration such as "2h") ends the
	// silence; exactly one is required.
	EndsAt   string `json:"ends_at"`
	Duration string `json:"duration"`
}

// silencePage is the body of GET /api/v1/silences.
type silencePage struct {
	Silences []*incident.Silence `json:"silences"`
}

// silenceParams are the query parameters GET /api/v1/silences understands.
var silenceParams = []string{"active", "limit"}

func invalidField(field, message string) *apiError {
	return &apiError{
		status: http.StatusBadRequest, code: codeInvalidPayload, message: message,
		details: map[string]any{"field": field},
	}
}

// postSilence creates a silence as the caller: notifications about the
// incidents it matches are held until it ends, while the incidents are
// still recorded and triaged.
func (s *server) postSilence(w http.ResponseWriter, r *http.Request) error {
	body, err := s.readBody(w, r)
	if err != nil {
		return err
	}
	var req silenceRequest
	if err := decodeStrict(body, &req); err != nil {
		return err
	}
	sil, err := s.silenceFromRequest(&req)
	if err != nil {
		return err
	}
	ctx := r.Context()
	who, _ := IdentityFromContext(ctx)
	sil.CreatedBy = who.Name
	out, err := s.store.SilenceCreate(ctx, sil)
	switch {
	case errors.Is(err, incident.ErrInvalid):
		// The silence's own validation: the message is the caller's to fix.
		return &apiError{status: http.StatusBadRequest, code: codeInvalidPayload, message: err.Error(), err: err}
	case err != nil:
		return fmt.Errorf("create a silence of dag %q: %w", sil.Matcher.DagGlob, err)
	}
	s.log.InfoContext(ctx, "silence created", "silence_id", out.ID, "dag", out.Matcher.DagGlob, "instance", out.Matcher.Instance,
		"severity", out.Matcher.Severity, "ends_at", out.EndsAt, "actor", who.Name, "request_id", requestIDFrom(ctx))
	s.writeJSON(w, r, http.StatusCreated, out)
	return nil
}

// silenceFromRequest checks a request field by field, so that each mistake
// gets its own message, and builds the silence it asks for.
func (s *server) silenceFromRequest(req *silenceRequest) (*incident.Silence, error) {
	sil := &incident.Silence{Matcher: incident.SilenceMatcher{
		DagGlob: strings.TrimSpace(req.Dag), Instance: strings.TrimSpace(req.Instance), Severity: incident.Severity(req.Severity),
	}}
	reason := strings.TrimSpace(req.Reason)
	switch {
	case sil.Matcher.DagGlob == "":
		return nil, invalidField("dag", `dag is required: a glob on the DAG id, "*" for every DAG`)
	case len(sil.Matcher.DagGlob) > maxGlobLen:
		return nil, invalidField("dag", fmt.Sprintf("dag is longer than %d characters", maxGlobLen))
	case sil.Matcher.Severity != "" && !sil.Matcher.Severity.Valid():
		return nil, invalidField("severity", fmt.Sprintf("severity must be low, medium, high or critical, got %q", clip(req.Severity, 32)))
	case reason == "":
		return nil, invalidField("reason", "reason is required to silence notifications: say why, for the audit trail")
	case utf8.RuneCountInString(reason) > maxReasonLen:
		return nil, invalidField("reason", fmt.Sprintf("reason is longer than %d characters: summarise it", maxReasonLen))
	case req.EndsAt == "" && req.Duration == "":
		return nil, invalidField("ends_at", `ends_at (RFC 3339) or duration (such as "2h") is required`)
	case req.EndsAt != "" && req.Duration != "":
		return nil, invalidField("duration", "give ends_at or duration, not both")
	}
	if sil.Matcher.Instance != "" {
		if err := s.checkInstance(sil.Matcher.Instance); err != nil {
			return nil, err
		}
	}
	sil.Reason = logscan.Redact(reason)
	sil.StartsAt = s.now().UTC()
	if req.StartsAt != "" {
		t, err := time.Parse(time.RFC3339, req.StartsAt)
		if err != nil {
			return nil, invalidField("starts_at", fmt.Sprintf("starts_at must be an RFC 3339 time such as 2026-05-01T02:00:00Z, got %q", clip(req.StartsAt, 64)))
		}
		sil.StartsAt = t.UTC()
	}
	if req.EndsAt != "" {
		t, err := time.Parse(time.RFC3339, req.EndsAt)
		if err != nil {
			return nil, invalidField("ends_at", fmt.Sprintf("ends_at must be an RFC 3339 time such as 2026-05-01T04:00:00Z, got %q", clip(req.EndsAt, 64)))
		}
		sil.EndsAt = t.UTC()
	} else {
		d, err := time.ParseDuration(req.Duration)
		if err != nil || d <= 0 {
			return nil, invalidField("duration", fmt.Sprintf(`duration must be a positive duration such as "2h" or "90m", got %q`, clip(req.Duration, 64)))
		}
		sil.EndsAt = sil.StartsAt.Add(d)
	}
	return sil, nil
}

// listSilences lists silences, newest first; active=true keeps those
// holding notifications now.
func (s *server) listSilences(w http.ResponseWriter, r *http.Request) error {
	p, err := parseSilenceParams(r.URL.Query())
	if err != nil {
		return err
	}
	p.At = s.now()
	list, err := s.store.SilenceList(r.Context(), p)
	if err != nil {
		return fmt.Errorf("list silences: %w", err)
	}
	if list == nil {
		list = []*incident.Silence{}
	}
	s.writeJSON(w, r, http.StatusOK, silencePage{Silences: list})
	return nil
}

func parseSilenceParams(q url.Values) (*store.SilenceListParams, error) {
	if err := checkQuery(q, silenceParams); err != nil {
		return nil, err
	}
	p := &store.SilenceListParams{}
	if v := q.Get("active"); v != "" {
		active, err := strconv.ParseBool(v)
		if err != nil {
			return nil, badParam("active", fmt.Sprintf("active must be true or false, got %q", clip(v, 32)))
		}
		p.Active = active
	}
	limit, err := limitParam(q)
	if err != nil {
		return nil, err
	}
	p.Limit = limit
	return p, nil
}

// postExpireSilence ends a silence now, as the caller. The body is an
// empty JSON object: requiring one keeps a web page from expiring a
// silence with a plain cross-site POST.
func (s *server) postExpireSilence(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	body, err := s.readBody(w, r)
	if err != nil {
		return err
	}
	var members map[string]json.RawMessage
	if json.Unmarshal(body, &members) == nil && len(members) > 0 {
		names := slices.Sorted(maps.Keys(members))
		return &apiError{
			status: http.StatusBadRequest, code: codeInvalidPayload,
			message: fmt.Sprintf("expiring a silence takes no fields, got %q: send {}", clip(names[0], 64)),
		}
	}
	if err := decodeStrict(body, &struct{}{}); err != nil {
		return err
	}
	missing := notFound(fmt.Sprintf("silence %s not found", clip(id, 100)))
	if len(id) > 200 {
		return missing
	}
	ctx := r.Context()
	who, _ := IdentityFromContext(ctx)
	out, err := s.store.SilenceExpire(ctx, id, who.Name, s.now())
	switch {
	case errors.Is(err, store.ErrNotFound):
		return missing
	case errors.Is(err, store.ErrConflict):
		return &apiError{status: http.StatusConflict, code: codeConflict, message: err.Error(), err: err}
	case err != nil:
		return fmt.Errorf("expire silence %s: %w", id, err)
	}
	s.log.InfoContext(ctx, "silence expired", "silence_id", out.ID, "actor", who.Name, "request_id", requestIDFrom(ctx))
	s.writeJSON(w, r, http.StatusOK, out)
	return nil
}
