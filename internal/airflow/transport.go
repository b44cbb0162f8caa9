package airflow

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
)

// maxJSONBytes caps a JSON response body; maxErrorBodyBytes an error body.
const (
	maxJSONBytes      = 8 << 20
	maxErrorBodyBytes = 64 << 10
)

// request is one logical call; do turns it into one or more attempts.
type request struct {
	op      string // for errors and logs, with the input
	method  string
	rawPath string // escaped path from the base url, e.g. /api/v1/dags/x
	query   url.Values
	body    any // JSON-encoded when non-nil
	accept  string
	auth    authMode
	major   int // Airflow major version, for authAPI
	// idempotent requests may be retried after an ambiguous failure (a
	// timeout or 5xx after the request was sent). Others are retried only
	// when the server certainly did not act: 429, 503, or no connection.
	idempotent bool
}

// errAttemptTimeout is the cause of an attempt's context when Timeout fires.
var errAttemptTimeout = errors.New("attempt timed out")

// doJSON runs req and decodes a 2xx JSON body into out (which may be nil).
func (c *Client) doJSON(ctx context.Context, req *request, out any) error {
	return c.do(ctx, req, func(resp *http.Response) error {
		data, err := io.ReadAll(io.LimitReader(resp.Body, maxJSONBytes+1))
		if err != nil {
			return err
		}
		if len(data) > maxJSONBytes {
			return c.responseError(req, resp.StatusCode, fmt.Sprintf("response larger than %d MiB", maxJSONBytes>>20))
		}
		if out == nil {
			return nil
		}
		if err := json.Unmarshal(data, out); err != nil {
			return c.responseError(req, resp.StatusCode, "unexpected response body: "+err.Error())
		}
		return nil
	})
}

func (c *Client) responseError(req *request, status int, title string) *APIError {
	return &APIError{
		Op: req.op, Instance: c.name, Status: status, Title: title,
		hint: "is the base url an Airflow api-server/webserver of the configured version?",
	}
}

// do runs req with rate limiting, bounded concurrency, a timeout per attempt,
// authentication and retries, and calls handle with a 2xx response. handle
// may run more than once (it must reset its own state); a failure reading the
// body inside handle counts as a failed attempt.
func (c *Client) do(ctx context.Context, req *request, handle func(*http.Response) error) error {
	var payload []byte
	if req.body != nil {
		var err error
		if payload, err = json.Marshal(req.body); err != nil {
			return fmt.Errorf("airflow %s: %s: encode request: %w", c.name, req.op, err)
		}
	}
	target := c.base.String() + req.rawPath
	if len(req.query) > 0 {
		target += "?" + req.query.Encode()
	}
	stale, relogged := "", false
	for attempt := 0; ; attempt++ {
		cred, err := c.credentialFor(ctx, req.auth, req.major, stale)
		if err != nil {
			return withOp(req.op, err)
		}
		start := c.now()
		resp, sent, err := c.attempt(ctx, req, target, payload, cred)
		if err == nil && resp.StatusCode/100 == 2 {
			body := &watchedBody{ReadCloser: resp.Body}
			resp.Body = body
			err = handle(resp)
			resp.Body.Close()
			if err == nil {
				c.log.DebugContext(ctx, "airflow request", "op", req.op, "method", req.method, "path", req.rawPath,
					"status", resp.StatusCode, "attempt", attempt+1, "duration_ms", c.now().Sub(start).Milliseconds())
				return nil
			}
			readErr := body.err()
			if readErr == nil {
				// A decoding problem: another attempt would fail the same way.
				var ae *APIError
				if errors.As(err, &ae) {
					return err
				}
				return c.responseError(req, resp.StatusCode, "unexpected response body: "+err.Error())
			}
			err, sent = c.timeoutError(ctx, readErr), true
		}
		if err != nil {
			if ctx.Err() != nil {
				return fmt.Errorf("airflow %s: %s: %w", c.name, req.op, ctx.Err())
			}
			retryable := req.idempotent || !sent
			if retryable && attempt < c.maxRetries {
				c.retryWait(ctx, req, attempt, 0, "", err)
				if ctx.Err() != nil {
					return fmt.Errorf("airflow %s: %s: %w", c.name, req.op, ctx.Err())
				}
				continue
			}
			ae := &APIError{
				Op: req.op, Instance: c.name, Err: err, Retryable: retryable,
				hint: "is the instance reachable at the base url?",
			}
			if !retryable {
				ae.hint = "the request may have reached Airflow; check the current state before repeating it"
			}
			return ae
		}

		ae, relogin := c.statusError(ctx, req, resp, cred, relogged)
		if relogin {
			// Expired ("Token Expired") or rotated secret: log in again and
			// retry once, outside the retry budget.
			stale, relogged = cred.jwt, true
			attempt--
			continue
		}
		if ae.Retryable && attempt < c.maxRetries {
			c.retryWait(ctx, req, attempt, ae.Status, resp.Header.Get("Retry-After"), nil)
			if ctx.Err() != nil {
				return fmt.Errorf("airflow %s: %s: %w", c.name, req.op, ctx.Err())
			}
			continue
		}
		return ae
	}
}

// statusError reads a non-2xx response into an *APIError and decides whether
// it may be retried: 429 and 503 always (the server did not act), 500, 502
// and 504 only for idempotent requests. relogin asks for a new JWT: the
// cached one was refused as expired or invalid.
func (c *Client) statusError(ctx context.Context, req *request, resp *http.Response, cred credential, relogged bool) (ae *APIError, relogin bool) {
	status := resp.StatusCode
	errBody, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBodyBytes))
	resp.Body.Close()
	title, detail := parseErrorBody(errBody)
	title, detail = c.redact(title), c.redact(detail)
	refused := status == http.StatusUnauthorized ||
		status == http.StatusForbidden && strings.Contains(strings.ToLower(detail), "token")
	if cred.jwt != "" && refused && !cred.fresh && !relogged {
		c.log.InfoContext(ctx, "airflow token refused, logging in again", "op", req.op, "status", status)
		return nil, true
	}
	ae = &APIError{
		Op: req.op, Instance: c.name, Status: status, Title: cmpOr(title, http.StatusText(status)),
		Detail: detail, hint: statusHint(status, c.loginMode(req.major)),
		// Wrong or expired credentials: nothing will fix itself.
		config: status == http.StatusUnauthorized,
	}
	if cred.jwt != "" && cred.fresh && (status == http.StatusUnauthorized || status == http.StatusForbidden) {
		ae.config = true
		ae.hint = "a token just issued by /auth/token was refused: check that the user's role allows this, " +
			"that every api-server shares [api_auth] jwt_secret, and that clocks are in sync"
	}
	serverDidNotAct := status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable
	ae.Retryable = serverDidNotAct || (req.idempotent && (status == http.StatusInternalServerError ||
		status == http.StatusBadGateway || status == http.StatusGatewayTimeout))
	if !ae.Retryable && status >= 500 && !req.idempotent {
		ae.hint = "the request may have reached Airflow; check the current state before repeating it"
	}
	return ae, false
}

// withOp prefixes the operation an error happened under (a login or version
// probe made on behalf of op) while keeping it an *APIError.
func withOp(op string, err error) error {
	var ae *APIError
	if errors.As(err, &ae) {
		cp := *ae
		cp.Op = op + ": " + ae.Op
		return &cp
	}
	return fmt.Errorf("%s: %w", op, err)
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// attempt sends one HTTP request. sent is false when the connection was never
// established, so the server cannot have acted. On success the response body
// holds the concurrency slot and the attempt's timeout until it is closed.
func (c *Client) attempt(ctx context.Context, req *request, target string, payload []byte, cred credential) (resp *http.Response, sent bool, err error) {
	if err := c.limiter.Wait(ctx); err != nil {
		if ctx.Err() != nil {
			return nil, false, ctx.Err()
		}
		return nil, false, fmt.Errorf("rate limit: %w", err)
	}
	select {
	case c.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, false, ctx.Err()
	}
	actx, cancel := context.WithTimeoutCause(ctx, c.timeout, errAttemptTimeout)
	release := func() { cancel(); <-c.sem }
	var body io.Reader
	if payload != nil {
		body = bytes.NewReader(payload)
	}
	hreq, err := http.NewRequestWithContext(actx, req.method, target, body)
	if err != nil {
		release()
		return nil, false, err
	}
	hreq.Header.Set("Accept", cmpOr(req.accept, "application/json"))
	hreq.Header.Set("User-Agent", "medic")
	if payload != nil {
		hreq.Header.Set("Content-Type", "application/json")
	}
	if cred.header != "" {
		hreq.Header.Set("Authorization", cred.header)
	}
	resp, err = c.hc.Do(hreq)
	if err != nil {
		if ctx.Err() == nil && errors.Is(context.Cause(actx), errAttemptTimeout) {
			err = c.timeoutError(ctx, context.DeadlineExceeded)
		} else {
			err = unwrapURLError(err)
		}
		release()
		return nil, !notSent(err), err
	}
	resp.Body = &releasingBody{ReadCloser: resp.Body, release: release}
	return resp, true, nil
}

// releasingBody frees the concurrency slot and the attempt's context when
// the body is closed.
type releasingBody struct {
	io.ReadCloser
	once    sync.Once
	release func()
}

func (b *releasingBody) Close() error {
	err := b.ReadCloser.Close()
	b.once.Do(b.release)
	return err
}

// watchedBody remembers the first read error other than EOF, so do can tell
// a broken connection from a bad body.
type watchedBody struct {
	io.ReadCloser
	mu      sync.Mutex
	readErr error
}

func (b *watchedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err != nil && err != io.EOF {
		b.mu.Lock()
		if b.readErr == nil {
			b.readErr = err
		}
		b.mu.Unlock()
	}
	return n, err
}

func (b *watchedBody) err() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.readErr
}
