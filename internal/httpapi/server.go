// Package httpapi is medic's REST API: the Airflow callback webhook, triage
// requests, read access to incidents and sessions, a live stream of an
// investigation's progress (Server-Sent Events), feedback on what fixed an
// incident's failure, and the health, readiness and metrics endpoints, all
// JSON under /api/v1 with bearer-token roles.
//
// A handler here only checks, records and answers. It must never do work
// inline on the request path (triage, Airflow calls and notifications are
// durable jobs the store enqueues in the same transaction as the record), so
// a reporter is never slowed by medic's work. It must never leak secrets
// (tokens are compared as hashes and never logged) or internals (a 500 says
// only "internal error" and a request id; the cause goes to the log). Server
// timeouts and listening belong to the caller.
package httpapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/medic-sh/medic/internal/config"
	"github.com/medic-sh/medic/internal/incident"
	"github.com/medic-sh/medic/internal/memory"
	"github.com/medic-sh/medic/internal/store"
)

// DefaultMaxBodyBytes bounds request bodies when Deps.MaxBodyBytes is zero.
const DefaultMaxBodyBytes int64 = 1 << 20

// EventRecorder records one failure event: deduplicated, attached to an
// incident, with any follow-up work enqueued, in one transaction.
type EventRecorder interface {
	RecordEvent(ctx context.Context, ev *incident.FailureEvent) (*store.EventRecordResult, error)
}

// TriageRequester opens (or finds) the incident for a DAG run a person asked
// to triage. It applies the coalescing window; the API fills in the rest.
type TriageRequester interface {
	RequestTriage(ctx context.Context, p *store.TriageRequestParams) (*store.TriageRequestResult, error)
}

// MemoryFeedback is the failure memory's read and feedback side: outcomes,
// verdicts and label corrections on the record of an incident's failure.
type MemoryFeedback interface {
	Get(id string) (*memory.Record, bool)
	Feedback(ctx context.Context, id string, u memory.Update) (*memory.Record, error)
}

// Deps is everything the API needs. Store, Events and Triage are required.
type Deps struct {
	Store  store.Store
	Events EventRecorder
	Triage TriageRequester
	// Tokens are the API bearer tokens. With none the API runs in loopback
	// mode: no token is asked for, the caller must listen on loopback only,
	// and requests from any other address (or naming any other host, which
	// defeats DNS rebinding) are refused as well.
	Tokens []config.Token
	// WebhookSecret, when set, is the HMAC key POST /api/v1/events must be
	// signed with; otherwise that endpoint takes an operator token.
	WebhookSecret config.Secret
	// MaxBodyBytes bounds request bodies; DefaultMaxBodyBytes when zero.
	MaxBodyBytes int64
	// DefaultInstance names the Airflow instance of callbacks that name none.
	DefaultInstance string
	// Instances are the configured Airflow instance names. When set, events
	// and requests for any other instance are refused.
	Instances []string
	Logger    *slog.Logger
	// Registry receives the HTTP metrics and is served on /metrics; a private
	// registry when nil.
	Registry *prometheus.Registry
	// Ready reports whether medic can do its work, for /readyz; a store ping
	// when nil.
	Ready func(ctx context.Context) error
	// Memory, when set, takes feedback on remembered failures.
	Memory MemoryFeedback
	// Streams bounds the session event streams.
	Streams StreamOptions
	// Environment names the deployment (dev, staging, production); in
	// production nobody may approve an action they requested.
	Environment string
	// Slack, with a signing secret, serves Slack's button clicks.
	Slack SlackInteractions
	// Sources reports how reading failures goes, for GET
	// /api/v1/sources; nil reports no pollers and no alert channels.
	Sources func() Sources
	// Now is the clock; time.Now when nil.
	Now     func() time.Time
	Version string
}

// server holds the resolved Deps.
type server struct {
	slack           *slackConfig
	store           store.Store
	events          EventRecorder
	triage          TriageRequester
	memory          MemoryFeedback
	auth            *authenticator
	webhookSecret   []byte
	maxBody         int64
	defaultInstance string
	instances       []string
	log             *slog.Logger
	metrics         *metrics
	ready           func(ctx context.Context) error
	sources         func() Sources
	now             func() time.Time
	version         string
	environment     string
	streams         StreamOptions
	// streamSlots holds a token per open event stream.
	streamSlots chan struct{}
	mux         *http.ServeMux
}

var _ http.Handler = (*server)(nil)

// New builds the API handler, or says which dependency is missing or wrong.
func New(d Deps) (http.Handler, error) {
	switch {
	case d.Store == nil:
		return nil, errors.New("httpapi: Deps.Store is required")
	case d.Events == nil:
		return nil, errors.New("httpapi: Deps.Events is required")
	case d.Triage == nil:
		return nil, errors.New("httpapi: Deps.Triage is required")
	case d.MaxBodyBytes < 0:
		return nil, fmt.Errorf("httpapi: MaxBodyBytes must not be negative, got %d", d.MaxBodyBytes)
	case d.DefaultInstance != "" && len(d.Instances) > 0 && !slices.Contains(d.Instances, d.DefaultInstance):
		return nil, fmt.Errorf("httpapi: default instance %q is not one of the configured instances (%s)",
			d.DefaultInstance, strings.Join(d.Instances, ", "))
	}
	auth, err := newAuthenticator(d.Tokens)
	if err != nil {
		return nil, err
	}
	streams := d.Streams
	if err := streams.resolve(); err != nil {
		return nil, err
	}
	s := &server{
		store: d.Store, events: d.Events, triage: d.Triage, memory: d.Memory, auth: auth,
		maxBody: d.MaxBodyBytes, defaultInstance: d.DefaultInstance, instances: slices.Clone(d.Instances),
		log: d.Logger, ready: d.Ready, sources: d.Sources, now: d.Now, version: d.Version, environment: d.Environment, mux: http.NewServeMux(),
		streams: streams, streamSlots: make(chan struct{}, streams.MaxConcurrent), slack: newSlackConfig(d.Slack),
	}
	if d.WebhookSecret.IsSet() {
		s.webhookSecret = []byte(d.WebhookSecret.Reveal())
	}
	if s.maxBody == 0 {
		s.maxBody = DefaultMaxBodyBytes
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.log = s.log.With("component", "httpapi")
	if s.ready == nil {
		s.ready = d.Store.Ping
	}
	if s.now == nil {
		s.now = time.Now
	}
	reg := d.Registry
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	if s.metrics, err = newMetrics(reg); err != nil {
		return nil, err
	}
	s.routes(reg)
	return s, nil
}

func (s *server) routes(reg *prometheus.Registry) {
	s.mux.Handle("POST /api/v1/events", s.handle(s.postEvent))
	s.mux.Handle("POST /api/v1/lineage", s.api(config.RoleOperator, s.postLineage))
	if s.slack != nil {
		s.mux.Handle("POST /api/v1/slack/interactions", s.handle(s.postSlackInteraction))
	}
	s.mux.Handle("POST /api/v1/triage", s.api(config.RoleOperator, s.postTriage))
	s.mux.Handle("GET /api/v1/incidents", s.api(config.RoleViewer, s.listIncidents))
	s.mux.Handle("GET /api/v1/incidents/{id}", s.api(config.RoleViewer, s.getIncident))
	s.mux.Handle("POST /api/v1/incidents/{id}/feedback", s.api(config.RoleOperator, s.postFeedback))
	s.mux.Handle("GET /api/v1/incidents/{id}/postmortem", s.api(config.RoleViewer, s.getPostmortem))
	s.mux.Handle("GET /api/v1/audit", s.api(config.RoleOperator, s.listAudit))
	s.mux.Handle("GET /api/v1/audit/verify", s.api(config.RoleAdmin, s.verifyAudit))
	s.mux.Handle("POST /api/v1/actions/pause", s.api(config.RoleOperator, s.postPause))
	s.mux.Handle("POST /api/v1/actions/resume", s.api(config.RoleOperator, s.postResume))
	s.mux.Handle("GET /api/v1/actions/status", s.api(config.RoleViewer, s.getActionsStatus))
	s.mux.Handle("GET /api/v1/sources", s.api(config.RoleViewer, s.getSources))
	s.mux.Handle("GET /api/v1/approvals", s.api(config.RoleViewer, s.listApprovals))
	s.mux.Handle("GET /api/v1/approvals/{id}", s.api(config.RoleViewer, s.getApproval))
	s.mux.Handle("POST /api/v1/approvals/{id}/approve", s.api(config.RoleOperator, s.postApprove))
	s.mux.Handle("POST /api/v1/approvals/{id}/reject", s.api(config.RoleOperator, s.postReject))
	s.mux.Handle("GET /api/v1/silences", s.api(config.RoleViewer, s.listSilences))
	s.mux.Handle("POST /api/v1/silences", s.api(config.RoleOperator, s.postSilence))
	s.mux.Handle("POST /api/v1/silences/{id}/expire", s.api(config.RoleOperator, s.postExpireSilence))
	s.mux.Handle("GET /api/v1/sessions/{id}", s.api(config.RoleViewer, s.getSession))
	s.mux.Handle("GET /api/v1/sessions/{id}/events", s.api(config.RoleViewer, s.streamSessionEvents))
	s.mux.Handle("GET /healthz", s.handle(s.healthz))
	s.mux.Handle("GET /readyz", s.handle(s.readyz))
	s.mux.Handle("GET /metrics", metricsHandler(reg))
}

// handlerFunc is an endpoint that returns its failure instead of writing it,
// so every error leaves in the same shape.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

func (s *server) handle(h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			s.writeError(w, r, err)
		}
	})
}

// ServeHTTP is the one middleware layer: request id, panic recovery, metrics
// by route pattern and the access log, around the router.
func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	st := &requestState{id: requestID(r.Header.Get(requestIDHeader))}
	r = r.WithContext(context.WithValue(r.Context(), stateKey{}, st))
	rec := &statusRecorder{ResponseWriter: w}
	rec.Header().Set(requestIDHeader, st.id)
	s.metrics.inFlight.Inc()
	defer func() { s.finish(rec, r, st, start, recover()) }()
	h, pattern := s.mux.Handler(r)
	if pattern == "" {
		s.unrouted(rec, r, h)
		return
	}
	s.mux.ServeHTTP(rec, r)
}

// finish runs after every request: it turns a panic into a 500 (the
// response is lost if it had begun), then counts and logs the request.
func (s *server) finish(rec *statusRecorder, r *http.Request, st *requestState, start time.Time, recovered any) {
	s.metrics.inFlight.Dec()
	ctx := r.Context()
	aborted := false
	if recovered != nil {
		if err, ok := recovered.(error); ok && errors.Is(err, http.ErrAbortHandler) {
			aborted = true // the server's own way to abort a response; let it through
		} else {
			s.log.ErrorContext(ctx, "handler panicked", "panic", fmt.Sprint(recovered), "route", r.Pattern,
				"request_id", st.id, "stack", stack())
			if !rec.wroteHeader() {
				s.writeError(rec, r, internalError(st.id))
			}
		}
	}
	route := routeLabel(r.Pattern)
	took := time.Since(start)
	s.metrics.observe(route, rec.statusCode(), took)
	s.log.DebugContext(ctx, "http request", "method", r.Method, "route", route, "path", r.URL.Path,
		"status", rec.statusCode(), "bytes", rec.bytes, "duration_ms", took.Milliseconds(),
		"request_id", st.id, "remote_addr", r.RemoteAddr, "actor", st.identity.Name)
	if aborted {
		panic(recovered)
	}
}

// unrouted answers a request no pattern matched, in JSON: 405 with Allow when
// the path exists for other methods, 404 otherwise.
func (s *server) unrouted(w http.ResponseWriter, r *http.Request, muxHandler http.Handler) {
	probe := &probeWriter{header: http.Header{}}
	muxHandler.ServeHTTP(probe, r)
	if probe.status == http.StatusMethodNotAllowed {
		allow := probe.header.Get("Allow")
		w.Header().Set("Allow", allow)
		s.writeError(w, r, &apiError{
			status: http.StatusMethodNotAllowed, code: codeMethodNotAllowed,
			message: fmt.Sprintf("method %s is not allowed here; allowed: %s", clip(r.Method, 20), allow),
		})
		return
	}
	s.writeError(w, r, &apiError{
		status: http.StatusNotFound, code: codeNotFound,
		message: fmt.Sprintf("no route for %s %s", clip(r.Method, 20), clip(r.URL.Path, 200)),
	})
}

// probeWriter captures what the router's own fallback handlers would write.
type probeWriter struct {
	header http.Header
	status int
}

func (p *probeWriter) Header() http.Header { return p.header }

func (p *probeWriter) Write(b []byte) (int, error) {
	if p.status == 0 {
		p.status = http.StatusOK
	}
	return len(b), nil
}

func (p *probeWriter) WriteHeader(code int) {
	if p.status == 0 {
		p.status = code
	}
}

// statusRecorder remembers the status and size of a response.
type statusRecorder struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (r *statusRecorder) WriteHeader(code int) {
	if r.status == 0 && code >= 200 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	n, err := r.ResponseWriter.Write(b)
	r.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach Flush and deadlines.
func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

func (r *statusRecorder) wroteHeader() bool { return r.status != 0 }

func (r *statusRecorder) statusCode() int {
	if r.status == 0 {
		return http.StatusOK
	}
	return r.status
}

// clip bounds a client-supplied string quoted in a message.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && n < len(s) && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n] + "…"
}
