package httpapi

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"runtime/debug"
)

// Error codes, stable for clients to branch on.
const (
	codeBadRequest       = "bad_request"
	codeInvalidParameter = "invalid_parameter"
	codeInvalidPayload   = "invalid_payload"
	codeUnauthorized     = "unauthorized"
	codeForbidden        = "forbidden"
	codeSelfApproval     = "self_approval"
	codeNotFound         = "not_found"
	codeMethodNotAllowed = "method_not_allowed"
	codePayloadTooLarge  = "payload_too_large"
	codeUnsupportedMedia = "unsupported_media_type"
	codeUnknownInstance  = "unknown_instance"
	codeNotReady         = "not_ready"
	codeUnavailable      = "unavailable"
	codeMemoryDisabled   = "memory_disabled"
	codeInternal         = "internal"
)

// apiError is a failure with the status, code and message a client sees.
// The message must be safe to show to the caller; err, the cause, only goes
// to the log.
type apiError struct {
	status  int
	code    string
	message string
	details map[string]any
	headers map[string]string
	err     error
}

func (e *apiError) Error() string {
	if e.err != nil {
		return e.message + ": " + e.err.Error()
	}
	return e.message
}

func (e *apiError) Unwrap() error { return e.err }

// internalError is all a client learns of a failure that is medic's fault.
func internalError(rid string) *apiError {
	return &apiError{
		status: http.StatusInternalServerError, code: codeInternal,
		message: "internal error: quote request id " + rid + " when reporting it",
	}
}

func badParam(name, message string) *apiError {
	return &apiError{
		status: http.StatusBadRequest, code: codeInvalidParameter, message: message,
		details: map[string]any{"parameter": name},
	}
}

func notFound(message string) *apiError {
	return &apiError{status: http.StatusNotFound, code: codeNotFound, message: message}
}

// errorBody is the JSON shape of every error response.
type errorBody struct {
	Error errorObject `json:"error"`
}

type errorObject struct {
	Code      string         `json:"code"`
	Message   string         `json:"message"`
	RequestID string         `json:"request_id,omitempty"`
	Details   map[string]any `json:"details,omitempty"`
}

// writeError renders err. Anything that is not an *apiError is internal: it is
// logged with the request id, and the client gets only that id.
func (s *server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	ctx := r.Context()
	rid := requestIDFrom(ctx)
	var ae *apiError
	switch {
	case errors.As(err, &ae):
		if ae.status >= 500 && ae.err != nil {
			s.log.ErrorContext(ctx, "request failed", "route", r.Pattern, "request_id", rid, "status", ae.status, "err", err)
		}
	case errors.Is(err, context.Canceled) && ctx.Err() != nil:
		// The client went away; cancellation is not an error.
		s.log.DebugContext(ctx, "request cancelled", "route", r.Pattern, "request_id", rid)
		ae = &apiError{status: http.StatusServiceUnavailable, code: codeUnavailable, message: "request cancelled"}
	case errors.Is(err, context.DeadlineExceeded):
		s.log.WarnContext(ctx, "request timed out", "route", r.Pattern, "request_id", rid, "err", err)
		ae = &apiError{
			status: http.StatusServiceUnavailable, code: codeUnavailable,
			message: "medic is busy: retry shortly", headers: map[string]string{"Retry-After": "1"},
		}
	default:
		s.log.ErrorContext(ctx, "request failed", "route", r.Pattern, "request_id", rid, "err", err)
		ae = internalError(rid)
	}
	for k, v := range ae.headers {
		w.Header().Set(k, v)
	}
	s.writeJSON(w, r, ae.status, errorBody{Error: errorObject{Code: ae.code, Message: ae.message, RequestID: rid, Details: ae.details}})
}

// writeJSON writes v as the response body with status.
func (s *server) writeJSON(w http.ResponseWriter, r *http.Request, status int, v any) {
	// HTML escaping is off so that exception texts ("<class 'KeyError'>")
	// read as sent; nosniff and the JSON type keep browsers from rendering it.
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		s.log.ErrorContext(r.Context(), "encode response", "route", r.Pattern, "request_id", requestIDFrom(r.Context()), "err", err)
		status = http.StatusInternalServerError
		buf.Reset()
		buf.WriteString(`{"error":{"code":"internal","message":"internal error: could not encode the response"}}` + "\n")
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// Request ids: a client's own id is kept when it is short and plain, so logs
// on both sides line up; otherwise medic makes one.
const (
	requestIDHeader = "X-Request-Id"
	maxRequestIDLen = 64
)

func requestID(given string) string {
	if given != "" && len(given) <= maxRequestIDLen && plainID(given) {
		return given
	}
	var b [12]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	return "req_" + hex.EncodeToString(b[:])
}

func plainID(s string) bool {
	for _, c := range []byte(s) {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_', c == '.', c == ':':
		default:
			return false
		}
	}
	return true
}

// requestState is what the middleware and the handlers share about one
// request. Only the request's goroutine touches it.
type requestState struct {
	id       string
	identity Identity
}

type stateKey struct{}

func stateFrom(ctx context.Context) *requestState {
	st, _ := ctx.Value(stateKey{}).(*requestState)
	return st
}

func requestIDFrom(ctx context.Context) string {
	if st := stateFrom(ctx); st != nil {
		return st.id
	}
	return ""
}

// RequestIDFromContext returns the id of the API request ctx belongs to, or
// "" outside one.
func RequestIDFromContext(ctx context.Context) string { return requestIDFrom(ctx) }

func stack() string { return string(debug.Stack()) }
