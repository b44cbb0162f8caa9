// Package airflow is medic's client for the Airflow REST API, both the 2.x
// stable API (/api/v1, basic auth or a static bearer token) and the 3.x public
// API (/api/v2, a JWT from POST /auth/token). Every operation returns the same
// version-independent domain structs (DagRun, TaskInstance, Dag, Log), so the
// rest of medic never branches on the Airflow version.
//
// The client watches production schedulers on behalf of an incident
// commander, so it must never:
//
//   - log or return secrets: passwords, static tokens and JWTs never appear in
//     logs, errors or metrics, and error bodies are scrubbed of them;
//   - block a pipeline or overload an instance: every attempt has a timeout,
//     each instance has a rate limit and a bound on in-flight requests, retries
//     are bounded and back off with jitter, and cancellation is honoured
//     everywhere, including while waiting to retry;
//   - load an unbounded response into memory: JSON bodies are capped, and task
//     logs are streamed through a tail buffer that keeps only the last
//     MaxBytes / MaxLines and stops reading at a hard limit;
//   - retry writes unsafely: ClearTaskInstances (unless it is a dry run) and
//     TriggerDagRun are retried only when the server says it did not act (429,
//     503) or the connection was never made. A timeout, a reset connection or a
//     500/502/504 after the request was sent leaves the outcome unknown, so the
//     error is returned as not retryable and the caller must re-read the state
//     (the run or the task instances) before acting again.
package airflow

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Options configures one Airflow instance. Zero values take the defaults
// noted on each field.
type Options struct {
	Name     string // instance name, used in errors, logs and metrics
	BaseURL  string // e.g. https://airflow.example.com (no /api suffix)
	Version  string // "auto" (default), "2" or "3"
	Username string
	Password string
	// Token is a static bearer token (Astronomer, a proxy). When set it is
	// sent instead of basic auth or a login.
	Token string
	// Timeout bounds each attempt, including reading the body. Default 30s.
	Timeout time.Duration
	// RateLimit is requests per second to this instance (default 10; negative
	// means unlimited) with Burst (default 10).
	RateLimit float64
	Burst     int
	// MaxConcurrency bounds in-flight requests (default 4).
	MaxConcurrency int
	// MaxRetries is how many times a failed attempt is retried; 0 (or
	// negative) means never. medic's configuration defaults it to 3.
	MaxRetries int
	// MinBackoff and MaxBackoff shape the exponential backoff (defaults 500ms
	// and 30s). MaxBackoff also caps a server's Retry-After.
	MinBackoff time.Duration
	MaxBackoff time.Duration

	HTTPClient *http.Client     // default: a client with no overall timeout
	Logger     *slog.Logger     // default: discard
	Clock      func() time.Time // default: time.Now
}

// Client talks to one Airflow instance. It is safe for concurrent use.
type Client struct {
	name       string
	base       *url.URL
	username   string
	password   string
	static     string // static bearer token
	timeout    time.Duration
	maxRetries int
	minBackoff time.Duration
	maxBackoff time.Duration
	hc         *http.Client
	log        *slog.Logger
	now        func() time.Time
	limiter    *rate.Limiter
	sem        chan struct{}

	verMu   sync.Mutex
	version int // 0 until known

	tokens tokenSource
}

// New validates opts and returns a client. It makes no request: the version
// is detected on first use.
func New(opts Options) (*Client, error) {
	if opts.Name == "" {
		return nil, fmt.Errorf("airflow: instance name is required")
	}
	fail := func(format string, args ...any) error {
		return fmt.Errorf("airflow %s: "+format, append([]any{opts.Name}, args...)...)
	}
	u, err := url.Parse(strings.TrimSpace(opts.BaseURL))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fail("base url must be an absolute http(s) URL like https://airflow.example.com")
	}
	if u.User != nil {
		return nil, fail("base url must not contain credentials; set username/password or token instead")
	}
	u.Path = strings.TrimRight(u.Path, "/")
	if strings.HasSuffix(u.Path, "/api/v1") || strings.HasSuffix(u.Path, "/api/v2") {
		return nil, fail("base url must not end in /api/v1 or /api/v2; give the Airflow root URL")
	}
	u.RawPath, u.RawQuery, u.Fragment = "", "", ""
	c := &Client{
		name:       opts.Name,
		base:       u,
		username:   opts.Username,
		password:   opts.Password,
		static:     opts.Token,
		timeout:    cmp.Or(opts.Timeout, 30*time.Second),
		maxRetries: opts.MaxRetries,
		minBackoff: cmp.Or(opts.MinBackoff, 500*time.Millisecond),
		maxBackoff: cmp.Or(opts.MaxBackoff, 30*time.Second),
		hc:         opts.HTTPClient,
		log:        opts.Logger,
		now:        opts.Clock,
	}
	switch strings.TrimSpace(opts.Version) {
	case "", "auto":
	case "2":
		c.version = 2
	case "3":
		c.version = 3
	default:
		return nil, fail("version %q is not one of auto, 2, 3", opts.Version)
	}
	if c.static == "" && (c.username == "") != (c.password == "") {
		return nil, fail("set both username and password, or neither")
	}
	c.maxRetries = max(c.maxRetries, 0)
	if c.minBackoff > c.maxBackoff {
		c.minBackoff = c.maxBackoff
	}
	if c.hc == nil {
		c.hc = &http.Client{}
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	c.log = c.log.With("component", "airflow", "instance", c.name)
	if c.now == nil {
		c.now = time.Now
	}
	limit, burst := rate.Limit(cmp.Or(opts.RateLimit, 10)), cmp.Or(opts.Burst, 10)
	if opts.RateLimit < 0 {
		limit = rate.Inf
	}
	c.limiter = rate.NewLimiter(limit, max(burst, 1))
	c.sem = make(chan struct{}, max(cmp.Or(opts.MaxConcurrency, 4), 1))
	c.tokens.c = c
	return c, nil
}

// Name returns the instance name.
func (c *Client) Name() string { return c.name }

// Version returns the Airflow major version, 2 or 3. With Options.Version
// "auto" it is detected once (GET /api/v2/version, then /api/v1/version; a 404
// on /api/v2 means Airflow 2) and cached; a failed detection is retried on the
// next call.
func (c *Client) Version(ctx context.Context) (int, error) {
	c.verMu.Lock()
	defer c.verMu.Unlock()
	if c.version != 0 {
		return c.version, nil
	}
	v, err := c.detectVersion(ctx)
	if err != nil {
		return 0, err
	}
	c.version = v
	c.log.InfoContext(ctx, "airflow version detected", "airflow_major", v)
	return v, nil
}

type versionInfo struct {
	Version string `json:"version"`
}

func (c *Client) detectVersion(ctx context.Context) (int, error) {
	var info versionInfo
	err := c.doJSON(ctx, &request{
		op: "detect version", method: http.MethodGet, rawPath: "/api/v2/version",
		auth: authDetect, idempotent: true,
	}, &info)
	switch {
	case err == nil:
		return majorOf(info.Version, 3), nil
	case errors.Is(err, ErrUnauthorized) || errors.Is(err, ErrForbidden):
		// Only Airflow 3 serves /api/v2; a proxy demanding auth still
		// proves the route exists.
		return 3, nil
	case !errors.Is(err, ErrNotFound):
		return 0, err
	}
	err = c.doJSON(ctx, &request{
		op: "detect version", method: http.MethodGet, rawPath: "/api/v1/version",
		auth: authBasicOrStatic, idempotent: true,
	}, &info)
	switch {
	case err == nil:
		return majorOf(info.Version, 2), nil
	case errors.Is(err, ErrNotFound):
		return 0, &APIError{
			Op: "detect version", Instance: c.name, Status: http.StatusNotFound,
			Title: "Not Found", config: true,
			hint: "neither /api/v2/version nor /api/v1/version exists; check the base url (the Airflow root, without /api) and that the REST API is enabled",
		}
	case errors.Is(err, ErrUnauthorized) || errors.Is(err, ErrForbidden):
		return 2, nil
	}
	return 0, err
}

// majorOf parses the major version of "2.10.5" or "3.0.1"; fallback when
// unparsable.
func majorOf(v string, fallback int) int {
	major, _, _ := strings.Cut(strings.TrimPrefix(strings.TrimSpace(v), "v"), ".")
	if n, err := strconv.Atoi(major); err == nil && n >= 2 {
		return n
	}
	return fallback
}

// apiPrefix is the REST root for an Airflow major version.
func apiPrefix(major int) string {
	if major >= 3 {
		return "/api/v2"
	}
	return "/api/v1"
}

// escapeSegment percent-encodes one path segment. Everything but RFC 3986
// unreserved characters is encoded, like Python's quote(safe=""): run ids
// contain "+" (which some servers decode as a space), ":" and "/".
func escapeSegment(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		ch := s[i]
		if 'a' <= ch && ch <= 'z' || 'A' <= ch && ch <= 'Z' || '0' <= ch && ch <= '9' ||
			ch == '-' || ch == '.' || ch == '_' || ch == '~' {
			b.WriteByte(ch)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[ch>>4])
		b.WriteByte(hex[ch&15])
	}
	return b.String()
}

// apiPath joins escaped segments under the version's REST root.
func apiPath(major int, segments ...string) string {
	var b strings.Builder
	b.WriteString(apiPrefix(major))
	for _, s := range segments {
		b.WriteByte('/')
		b.WriteString(escapeSegment(s))
	}
	return b.String()
}

// formatTime renders a query or body timestamp: UTC, RFC 3339.
func formatTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }
