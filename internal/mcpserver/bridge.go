package mcpserver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// BridgeOptions configure Bridge.
type BridgeOptions struct {
	// Endpoint is the daemon's MCP endpoint, such as
	// http://127.0.0.1:8080/mcp.
	Endpoint string
	// Token is the bearer token the daemon knows the caller by; "" for a
	// daemon in loopback mode.
	Token string
	// HTTPClient sends the requests; a default client when nil.
	HTTPClient *http.Client
	Logger     *slog.Logger
}

// Bridge serves an MCP client on local (stdio) through the daemon's
// streamable HTTP endpoint, message for message, until either side hangs
// up. The daemon does all the work, with its own authentication, roles
// and audit: `medic mcp` holds no logic of its own and never opens the
// database, which the daemon holds.
func Bridge(ctx context.Context, local mcp.Transport, opts BridgeOptions) error {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	hc := opts.HTTPClient
	if hc == nil {
		hc = &http.Client{}
	}
	if opts.Token != "" {
		base := hc.Transport
		if base == nil {
			base = http.DefaultTransport
		}
		c := *hc
		c.Transport = bearer{token: opts.Token, base: base}
		hc = &c
	}
	// The daemon sends nothing unasked (no list changes, no sampling), so
	// the standalone stream is not needed.
	remote, err := (&mcp.StreamableClientTransport{Endpoint: opts.Endpoint, HTTPClient: hc, MaxRetries: -1, DisableStandaloneSSE: true}).Connect(ctx)
	if err != nil {
		return fmt.Errorf("mcp: connect to %s: %w", opts.Endpoint, err)
	}
	near, err := local.Connect(ctx)
	if err != nil {
		_ = remote.Close()
		return fmt.Errorf("mcp: stdio: %w", err)
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, 2)
	pump := func(from, to mcp.Connection, what string) {
		for {
			msg, err := from.Read(ctx)
			if err != nil {
				errc <- ended(err, what)
				return
			}
			if err := to.Write(ctx, msg); err != nil {
				errc <- fmt.Errorf("mcp: %s: %w", what, err)
				return
			}
		}
	}
	go pump(near, remote, "to "+opts.Endpoint)
	go pump(remote, near, "from "+opts.Endpoint)
	err = <-errc
	cancel()
	_ = near.Close()
	_ = remote.Close()
	// The other side stops too, unless it is blocked reading a stdin that
	// cannot be interrupted; the process ends then anyway.
	select {
	case other := <-errc:
		_ = other // only the closing's
	case <-time.After(time.Second):
	}
	if err != nil {
		log.ErrorContext(ctx, "mcp bridge stopped", "endpoint", opts.Endpoint, "error", err)
	}
	return err
}

// ended turns the end of a side into nil when it simply hung up.
func ended(err error, what string) error {
	if errors.Is(err, io.EOF) || errors.Is(err, context.Canceled) {
		return nil
	}
	return fmt.Errorf("mcp: %s: %w", what, err)
}

// bearer adds the token to every request to the daemon.
type bearer struct {
	token string
	base  http.RoundTripper
}

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	return b.base.RoundTrip(r)
}
