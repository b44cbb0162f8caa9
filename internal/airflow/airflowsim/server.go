package airflowsim

import (
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
)

// Options configures a Server.
type Options struct {
	// Version is the Airflow major version to imitate: 2 (REST API v1) or 3
	// (REST API v2). Anything else is treated as 2.
	Version int
	// Username and Password are the only accepted credentials (basic auth on
	// 2, POST /auth/token on 3). Both default to "admin".
	Username, Password string
	// TokenTTL is the lifetime of 3.x JWTs; default 24 h
	// ([api_auth] jwt_expiration_time).
	TokenTTL time.Duration
	// Clock returns the current time; default time.Now. Every timestamp the
	// server produces or checks (run times, token expiry) comes from it.
	Clock func() time.Time
	// Logger receives one debug line per request; default discards.
	Logger *slog.Logger

	// AirflowVersion is what GET /version reports; default "2.10.5" or
	// "3.1.6".
	AirflowVersion string
	// BaseURL is the UI base used in TaskFailure.LogURL; default
	// "http://localhost:8080".
	BaseURL string
	// MaxPageLimit is [api] maximum_page_limit: list endpoints silently
	// clamp larger limits to it (the 3.x POST batch endpoints do not);
	// default 100.
	MaxPageLimit int
	// LogPageBytes, when positive, makes the log endpoint return at most
	// about that many bytes of log per response and hand out a continuation
	// token for the rest, like a remote handler or a running task. Zero
	// returns the whole log at once, like the local file handler for a
	// finished task.
	LogPageBytes int
	// SecretKey signs JWTs and log continuation tokens; default random per
	// server, so tokens from another server are rejected.
	SecretKey []byte
	// ResourceHook simulates medic's task_instance_mutation_hook
	// (integrations/airflow/medic_policy.py): a task instance re-executed
	// after a clear takes its pool and queue from the Variable
	// medic_resources.<dag_id>.<task_id>. Without it a clear never changes
	// them, as on an Airflow without the policy.
	ResourceHook bool
}

// Server is an in-memory Airflow API server; it implements http.Handler.
// All methods are safe for concurrent use.
type Server struct {
	opts    Options
	version int
	prefix  string
	clock   func() time.Time
	log     *slog.Logger
	mux     *http.ServeMux
	secret  []byte

	mu        sync.Mutex
	dags      map[string]*dagState
	dagOrder  []string
	runs      []*runState // in creation order; index+1 is the run's id
	defaults  map[string]map[string][]Outcome
	callbacks []func(TaskFailure)
	requests  []RecordedRequest
	faults    []*Fault
	seq       int // job ids, pids, tokens: one deterministic counter

	variables     map[string]*simVariable // created on first write
	variableOrder []string                // keys in insertion (id) order
	tryResources  map[*tryRecord]resources
}

// New returns a Server with no DAGs.
func New(opts Options) *Server {
	if opts.Version != 3 {
		opts.Version = 2
	}
	if opts.Username == "" {
		opts.Username = "admin"
	}
	if opts.Password == "" {
		opts.Password = "admin"
	}
	if opts.TokenTTL <= 0 {
		opts.TokenTTL = 24 * time.Hour
	}
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.AirflowVersion == "" {
		opts.AirflowVersion = map[int]string{2: "2.10.5", 3: "3.1.6"}[opts.Version]
	}
	if opts.BaseURL == "" {
		opts.BaseURL = "http://localhost:8080"
	}
	opts.BaseURL = strings.TrimRight(opts.BaseURL, "/")
	if opts.MaxPageLimit <= 0 {
		opts.MaxPageLimit = 100
	}
	secret := slices.Clone(opts.SecretKey)
	if len(secret) == 0 {
		secret = make([]byte, 32)
		_, _ = rand.Read(secret)
	}
	s := &Server{
		opts:     opts,
		version:  opts.Version,
		prefix:   map[int]string{2: "/api/v1", 3: "/api/v2"}[opts.Version],
		clock:    opts.Clock,
		log:      opts.Logger.With("component", "airflowsim", "airflow_version", opts.Version),
		secret:   secret,
		dags:     map[string]*dagState{},
		defaults: map[string]map[string][]Outcome{},
		seq:      4100,
	}
	s.mux = s.routes()
	return s
}

// Version returns the Airflow major version the server imitates (2 or 3).
func (s *Server) Version() int { return s.version }

// APIPrefix returns the REST API path prefix: "/api/v1" or "/api/v2".
func (s *Server) APIPrefix() string { return s.prefix }

func (s *Server) now() time.Time { return s.clock().UTC().Truncate(time.Microsecond) }

// nextSeq returns the next value of the server's deterministic counter.
// Callers hold s.mu.
func (s *Server) nextSeq() int {
	s.seq++
	return s.seq
}

// AddDAG adds a scripted DAG. It fails for an empty or duplicate ID, duplicate
// task IDs, unknown downstream IDs or a dependency cycle.
func (s *Server) AddDAG(d DAG) error {
	if err := validateDAG(d); err != nil {
		return err
	}
	ds, err := newDagState(d, s.now())
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.dags[d.ID]; ok {
		return fmt.Errorf("airflowsim: DAG %s already exists", d.ID)
	}
	s.dags[d.ID] = ds
	s.dagOrder = append(s.dagOrder, d.ID)
	return nil
}

// SetDefaultOutcomes scripts the tries of runs created through the REST API
// (POST dagRuns) for one DAG; tasks without outcomes succeed.
func (s *Server) SetDefaultOutcomes(dagID string, outcomes map[string][]Outcome) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.defaults[dagID] = cloneOutcomes(outcomes)
}

// OnTaskFailed registers fn to be called once for every failed try (also the
// ones that will be retried; see TaskFailure.WillRetry), except tries scripted
// with SilentKill. Calls are made synchronously and in order on the goroutine
// that executed the run — StartRun's caller, or the HTTP handler serving a
// clear or a trigger — after the server's lock is released, so fn may call
// the Server (also over HTTP). A slow fn delays that StartRun or response.
func (s *Server) OnTaskFailed(fn func(TaskFailure)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.callbacks = append(s.callbacks, fn)
}

func (s *Server) notify(failures []TaskFailure) {
	if len(failures) == 0 {
		return
	}
	s.mu.Lock()
	cbs := slices.Clone(s.callbacks)
	s.mu.Unlock()
	for _, f := range failures {
		for _, cb := range cbs {
			cb(f)
		}
	}
}

// Requests returns every request answered so far, oldest first.
func (s *Server) Requests() []RecordedRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.requests)
}

// SetFault adds a fault; faults are checked in the order they were added and
// the first match applies.
func (s *Server) SetFault(f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &f)
}

// ClearFaults removes every fault.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
}

// takeFault returns a copy of the first fault matching r and consumes one of
// its uses.
func (s *Server) takeFault(r *http.Request) (Fault, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, f := range s.faults {
		if f.Method != "" && !strings.EqualFold(f.Method, r.Method) {
			continue
		}
		if !strings.HasPrefix(r.URL.Path, f.PathPrefix) {
			continue
		}
		out := *f
		if f.Count > 0 {
			f.Count--
			if f.Count == 0 {
				s.faults = slices.Delete(s.faults, i, i+1)
			}
		}
		return out, true
	}
	return Fault{}, false
}

// ServeHTTP records the request, applies faults, authenticates and routes.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	sw := &statusWriter{ResponseWriter: w}
	rec := RecordedRequest{Method: r.Method, Path: r.URL.EscapedPath(), Query: r.URL.RawQuery}
	defer func() {
		rec.Status = sw.status
		s.mu.Lock()
		s.requests = append(s.requests, rec)
		s.mu.Unlock()
		s.log.DebugContext(r.Context(), "request", "method", rec.Method, "path", rec.Path, "status", rec.Status, "fault", rec.Fault)
	}()
	if f, ok := s.takeFault(r); ok {
		rec.Fault = true
		if f.HangAfter {
			s.mux.ServeHTTP(&discardWriter{header: http.Header{}}, r)
			<-r.Context().Done()
			return
		}
		if s.applyFault(sw, r, f) {
			return
		}
	}
	s.mux.ServeHTTP(sw, r)
}

// discardWriter swallows a response nobody will receive.
type discardWriter struct{ header http.Header }

func (d *discardWriter) Header() http.Header         { return d.header }
func (d *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (d *discardWriter) WriteHeader(int)             {}

// applyFault performs f and reports whether the response is finished.
func (s *Server) applyFault(w http.ResponseWriter, r *http.Request, f Fault) bool {
	if f.Latency > 0 {
		t := time.NewTimer(f.Latency)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return true
		}
	}
	if f.Hang {
		// Read the body first: the server only notices a client hanging up
		// (and cancels the context) once the request body has been consumed.
		_, _ = io.Copy(io.Discard, io.LimitReader(r.Body, 1<<20))
		<-r.Context().Done()
		return true
	}
	if f.Status == 0 {
		return false
	}
	if f.RetryAfter > 0 {
		w.Header().Set("Retry-After", fmt.Sprint(int((f.RetryAfter+time.Second-1)/time.Second)))
	}
	switch {
	case f.Body != "":
		writeText(w, f.Status, f.Body)
	case f.Status == http.StatusInternalServerError:
		if s.version == 3 {
			writeJSON(w, f.Status, detailBody{Detail: "Internal Server Error"})
		} else {
			s.problem(w, f.Status, "Internal Server Error", nil, "Unknown")
		}
	default:
		writeText(w, f.Status, fmt.Sprintf("%d %s\n", f.Status, http.StatusText(f.Status)))
	}
	return true
}

// statusWriter remembers the status code for the request log.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(p)
}

func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
