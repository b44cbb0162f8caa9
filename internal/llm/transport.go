package llm

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"time"
)

// poster sends JSON requests to one endpoint with per-attempt timeouts,
// bounded retries and a cap on response size. Both clients use it.
type poster struct {
	provider Provider
	url      string
	cfg      ClientConfig
	// header sets the provider's authentication and version headers.
	header func(h http.Header)
	// sleep waits between attempts; tests replace it to observe waits.
	sleep func(ctx context.Context, d time.Duration) error
}

func newPoster(p Provider, url string, cfg ClientConfig, header func(http.Header)) *poster {
	return &poster{provider: p, url: url, cfg: cfg, header: header, sleep: sleepContext}
}

// post sends body and returns the body of a 200 response. Failures are
// *APIError, except the caller's cancellation of ctx, which is returned as
// ctx's cause. It retries retryable failures up to cfg.MaxAttempts times,
// waiting an exponential backoff or the server's Retry-After, whichever is
// longer; it gives up at once when the wait would outlast ctx.
func (p *poster) post(ctx context.Context, body []byte) ([]byte, error) {
	for attempt := 1; ; attempt++ {
		raw, retryAfter, err := p.once(ctx, body)
		if err == nil {
			return raw, nil
		}
		var ae *APIError
		if !errors.As(err, &ae) {
			return nil, err
		}
		ae.Attempts = attempt
		if !ae.Retryable || attempt >= p.cfg.MaxAttempts {
			return nil, ae
		}
		wait := p.backoff(attempt)
		if retryAfter > p.cfg.RetryMaxDelay {
			ae.Err = fmt.Errorf("%w; the server asked to retry after %s, longer than retry_max_delay %s", ae.Err, retryAfter, p.cfg.RetryMaxDelay)
			return nil, ae
		}
		wait = max(wait, retryAfter)
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < wait {
			ae.Err = fmt.Errorf("%w; no time left to retry in %s", ae.Err, wait)
			return nil, ae
		}
		if p.sleep(ctx, wait) != nil {
			return nil, context.Cause(ctx)
		}
	}
}

// once sends one attempt. It returns the Retry-After the server asked for
// with a failed response, if any.
func (p *poster) once(ctx context.Context, body []byte) ([]byte, time.Duration, error) {
	ctx, cancel := context.WithTimeoutCause(ctx, p.cfg.Timeout, ErrTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.url, bytes.NewReader(body))
	if err != nil {
		return nil, 0, p.fail(0, false, fmt.Errorf("build request: %w", err))
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	p.header(req.Header)
	resp, err := p.cfg.HTTPClient.Do(req)
	if err != nil {
		return nil, 0, p.transportError(ctx, err)
	}
	defer resp.Body.Close()
	limit := p.cfg.MaxResponseBytes
	raw, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, 0, p.transportError(ctx, fmt.Errorf("read response: %w", err))
	}
	if resp.StatusCode != http.StatusOK {
		retry := resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500
		return nil, retryAfter(resp.Header, time.Now()), p.fail(resp.StatusCode, retry, fmt.Errorf("server said: %s", snippet(raw, p.cfg.APIKey)))
	}
	if int64(len(raw)) > limit {
		return nil, 0, p.fail(resp.StatusCode, false, fmt.Errorf("response larger than %d bytes: lower max_tokens or raise max_response_bytes", limit))
	}
	return raw, 0, nil
}

// transportError classifies a failure with no usable response. The
// caller's own cancellation passes through as its cause; our timeout and
// network errors are retryable.
func (p *poster) transportError(ctx context.Context, err error) error {
	if cause := context.Cause(ctx); cause != nil {
		if errors.Is(cause, ErrTimeout) {
			return p.fail(0, true, fmt.Errorf("no answer within %s: %w", p.cfg.Timeout, cause))
		}
		return cause
	}
	// Connection refused, reset, DNS: the server may come back. net/http
	// strips passwords from the URLs its errors quote, and the key travels
	// only in headers, which no error quotes.
	return p.fail(0, true, err)
}

func (p *poster) fail(status int, retry bool, err error) *APIError {
	return &APIError{Provider: p.provider, URL: p.url, Status: status, Retryable: retry, Attempts: 1, Err: err}
}

// backoff returns the wait before retry number attempt (1 for the first
// retry): the base delay doubled per attempt, capped, with equal jitter so
// that clients failing together do not retry together.
func (p *poster) backoff(attempt int) time.Duration {
	d := p.cfg.RetryBaseDelay
	for i := 1; i < attempt && d < p.cfg.RetryMaxDelay; i++ {
		d *= 2
	}
	d = min(d, p.cfg.RetryMaxDelay)
	half := d / 2
	return half + rand.N(half+1) //nolint:gosec // jitter needs no cryptographic randomness
}

// retryAfter reads how long a server asked the client to wait: OpenAI's
// retry-after-ms, else Retry-After in seconds or as an HTTP date. It returns
// 0 when the server said nothing usable.
func retryAfter(h http.Header, now time.Time) time.Duration {
	if v := h.Get("Retry-After-Ms"); v != "" {
		if ms, err := strconv.ParseFloat(v, 64); err == nil && ms > 0 && ms < 1e9 {
			return time.Duration(ms * float64(time.Millisecond))
		}
	}
	v := h.Get("Retry-After")
	if v == "" {
		return 0
	}
	if s, err := strconv.ParseInt(v, 10, 64); err == nil {
		if s <= 0 {
			return 0
		}
		return time.Duration(min(s, 1e6)) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

func sleepContext(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return context.Cause(ctx)
	case <-t.C:
		return nil
	}
}
