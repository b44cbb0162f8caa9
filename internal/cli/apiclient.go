package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
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
		var ae apiError
		msg := strings.TrimSpace(string(data))
		if json.Unmarshal(data, &ae) == nil && ae.Error.Message != "" {
			msg = ae.Error.Message
		}
		err := fmt.Errorf("%s %s: %s (HTTP %d)", method, path, msg, resp.StatusCode)
		switch resp.StatusCode {
		case http.StatusNotFound:
			return withCode(ExitNotFound, err)
		case http.StatusBadRequest, http.StatusUnprocessableEntity:
			return withCode(ExitUsage, err)
		case http.StatusUnauthorized, http.StatusForbidden:
			return fmt.Errorf("%w; pass a token with the right role via --token or MEDIC_TOKEN", err)
		}
		return err
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
