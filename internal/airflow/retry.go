package airflow

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// retryDelay is the wait before retry number attempt+1: exponential from
// MinBackoff, capped at MaxBackoff, with jitter over its upper half so that
// many medic workers do not retry in step. A server's Retry-After (seconds or
// an HTTP date) replaces it, capped at MaxBackoff so a proxy cannot park a
// pipeline for an hour.
func (c *Client) retryDelay(attempt int, retryAfter string) time.Duration {
	if d, ok := parseRetryAfter(retryAfter, c.now()); ok {
		return min(d, c.maxBackoff)
	}
	d := c.maxBackoff
	if attempt < 30 {
		d = min(c.minBackoff<<attempt, c.maxBackoff)
	}
	if half := d / 2; half > 0 {
		d = half + rand.N(half+1)
	}
	return d
}

// parseRetryAfter reads a Retry-After header: delay-seconds or an HTTP date.
func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs < 0 {
			return 0, false
		}
		if secs > int64(24*time.Hour/time.Second) {
			secs = int64(24 * time.Hour / time.Second)
		}
		return time.Duration(secs) * time.Second, true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	return max(t.Sub(now), 0), true
}

// timeoutError names an attempt that ran out of time (while ctx itself is
// still alive) instead of reporting a bare "context deadline exceeded".
func (c *Client) timeoutError(ctx context.Context, err error) error {
	if ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%w after %s (Options.Timeout)", errAttemptTimeout, c.timeout)
	}
	return err
}

// unwrapURLError drops *url.Error's "Get \"http://…\":" prefix: the op
// already names the call.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// notSent reports whether err happened before the request could reach the
// server: dialing or resolving failed.
func notSent(err error) bool {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return true
	}
	var dns *net.DNSError
	return errors.As(err, &dns)
}

// retryWait logs and sleeps before the next attempt, honouring Retry-After.
func (c *Client) retryWait(ctx context.Context, req *request, attempt, status int, retryAfter string, cause error) {
	d := c.retryDelay(attempt, retryAfter)
	args := []any{"op", req.op, "attempt", attempt + 1, "delay_ms", d.Milliseconds()}
	if status != 0 {
		args = append(args, "status", status)
	}
	if cause != nil {
		args = append(args, "error", cause.Error())
	}
	c.log.InfoContext(ctx, "airflow request failed, retrying", args...)
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}
