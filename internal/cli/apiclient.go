package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

// apiClient talks to a running medic daemon's REST API.
type apiClient struct {
	base  string
	token string
	hc    *http.Client
}

// serverFlags are the flags of every command that talks to the daemon.
type serverFlags struct {
	server string
	token  string
}

func (f *serverFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.server, "server", "", "medic API base URL (default $MEDIC_SERVER or http://127.0.0.1:8080)")
	cmd.Flags().StringVar(&f.token, "token", "", "API bearer token (default $MEDIC_TOKEN)")
}

func (f *serverFlags) client(streams IO) (*apiClient, error) {
	base, from := f.server, "--server"
	if base == "" {
		base, from = streams.Getenv("MEDIC_SERVER"), "MEDIC_SERVER"
	}
	if base == "" {
		base = "http://127.0.0.1:8080"
	}
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, usageError{fmt.Errorf("%s %q is not an http(s) URL: want one like http://127.0.0.1:8080", from, base)}
	}
	token := f.token
	if token == "" {
		token = streams.Getenv("MEDIC_TOKEN")
	}
	return &apiClient{base: strings.TrimRight(base, "/"), token: token, hc: &http.Client{Timeout: 30 * time.Second}}, nil
}

// apiError is the API's JSON error body.
type apiError struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// statusError turns an API refusal into an error with the exit code it
// means.
func statusError(method, path string, status int, data []byte) error {
	var ae apiError
	msg := strings.TrimSpace(string(data))
	if json.Unmarshal(data, &ae) == nil && ae.Error.Message != "" {
		msg = ae.Error.Message
	}
	err := fmt.Errorf("%s %s: %s (HTTP %d)", method, path, msg, status)
	switch status {
	case http.StatusNotFound:
		return withCode(ExitNotFound, err)
	case http.StatusBadRequest, http.StatusUnprocessableEntity:
		return withCode(ExitUsage, err)
	case http.StatusForbidden:
		if ae.Error.Code == selfApprovalCode {
			return fmt.Errorf("%w; your token is not the problem: ask someone else with an operator token to run medic approve, or reject it yourself with medic reject", err)
		}
		return fmt.Errorf("%w; pass a token with the right role via --token or MEDIC_TOKEN", err)
	case http.StatusUnauthorized:
		return fmt.Errorf("%w; pass a token with the right role via --token or MEDIC_TOKEN", err)
	}
	return err
}

// selfApprovalCode is the API's error code for an approval refused
// because its approver requested it (in production): no token of the
// requester's helps, so the hint differs from a role that is too low.
const selfApprovalCode = "self_approval"

// do sends a request and decodes a JSON answer into out (when not nil).
func (c *apiClient) do(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("encode request: %w", err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		var opErr *net.OpError
		if errors.As(err, &opErr) || errors.Is(err, context.DeadlineExceeded) {
			return withCode(ExitUnreachable, fmt.Errorf("cannot reach medic at %s: %w (start it with `medic serve`, or pass --server)", c.base, err))
		}
		return withCode(ExitUnreachable, fmt.Errorf("%s %s: %w", method, path, err))
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 32<<20))
	if err != nil {
		return fmt.Errorf("%s %s: read answer: %w", method, path, err)
	}
	if resp.StatusCode >= 300 {
		return statusError(method, path, resp.StatusCode, data)
	}
	if out == nil {
		return nil
	}
	if raw, ok := out.(*json.RawMessage); ok {
		*raw = data
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("%s %s: decode answer: %w", method, path, err)
	}
	return nil
}

// sseEvent is one Server-Sent Event.
type sseEvent struct {
	ID, Event, Data string
}

// streamIdle is how long a stream may stay silent before the client takes
// it for dead and reconnects: the server sends a heartbeat every 15s.
const streamIdle = 45 * time.Second

// maxSSELine bounds one line of an event stream.
const maxSSELine = 1 << 20

var errStreamIdle = errors.New("the event stream went silent")

// stream opens GET path as a Server-Sent Events stream, resuming after the
// event lastID when set, and hands each event to fn until the server ends
// the stream, the connection drops, fn fails or ctx ends. retry says
// whether opening the stream again may work (a drop, a busy or restarting
// server) rather than not (a refusal, fn's own error). A stream the server
// ended is (true, nil). retryAfter is the reconnection delay the server
// asked for, zero when it did not.
func (c *apiClient) stream(ctx context.Context, path, lastID string, fn func(sseEvent) error) (retryAfter time.Duration, retry bool, err error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	watchdog := time.AfterFunc(streamIdle, func() { cancel(errStreamIdle) })
	defer watchdog.Stop()

	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+path, nil)
	if err != nil {
		return 0, false, fmt.Errorf("GET %s: %w", path, err)
	}
	req.Header.Set("Accept", "text/event-stream")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	// No client timeout: the stream lasts as long as the investigation;
	// the watchdog catches a dead one.
	hc := &http.Client{Transport: c.hc.Transport, CheckRedirect: c.hc.CheckRedirect}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, true, streamCause(ctx, fmt.Errorf("GET %s: %w", path, err))
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		retry := resp.StatusCode == http.StatusServiceUnavailable || resp.StatusCode == http.StatusTooManyRequests ||
			resp.StatusCode >= 500
		return 0, retry, statusError(http.MethodGet, path, resp.StatusCode, data)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
		return 0, false, fmt.Errorf("GET %s: the answer is %q, not an event stream: is --server a medic?", path, ct)
	}

	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 64<<10), maxSSELine)
	var ev sseEvent
	for sc.Scan() {
		watchdog.Reset(streamIdle)
		line := sc.Text()
		field, value, _ := strings.Cut(line, ":")
		value = strings.TrimPrefix(value, " ")
		switch field {
		case "":
			if line != "" {
				continue // a comment: a heartbeat
			}
			if ev.Event == "" && ev.Data == "" {
				continue
			}
			if ev.Event == "" {
				ev.Event = "message"
			}
			if err := fn(ev); err != nil {
				return retryAfter, false, err
			}
			ev = sseEvent{}
		case "id":
			ev.ID = value
		case "event":
			ev.Event = value
		case "data":
			if ev.Data != "" {
				ev.Data += "\n"
			}
			ev.Data += value
		case "retry":
			if ms, err := strconv.Atoi(value); err == nil && ms >= 0 {
				retryAfter = time.Duration(ms) * time.Millisecond
			}
		}
	}
	if err := sc.Err(); err != nil {
		return retryAfter, true, streamCause(ctx, fmt.Errorf("GET %s: read the event stream: %w", path, err))
	}
	return retryAfter, true, nil
}

// streamCause names the watchdog when it is what cut the stream.
func streamCause(ctx context.Context, err error) error {
	if cause := context.Cause(ctx); errors.Is(cause, errStreamIdle) {
		return fmt.Errorf("%w for %s", errStreamIdle, streamIdle)
	}
	return err
}

// printJSON sends the request and prints the API's JSON answer exactly as
// it came, on one line: what every --json flag promises.
func (c *apiClient) printJSON(ctx context.Context, method, path string, body any, w io.Writer) error {
	var raw json.RawMessage
	if err := c.do(ctx, method, path, body, &raw); err != nil {
		return err
	}
	return writeRaw(w, raw)
}

// writeRaw prints an answer already read, trimmed, on one line.
func writeRaw(w io.Writer, raw json.RawMessage) error {
	_, err := fmt.Fprintln(w, strings.TrimSpace(string(raw)))
	return err
}
