package app

import (
	"fmt"
	"net/http"
	"time"

	"github.com/medic-sh/medic/internal/config"
	"github.com/medic-sh/medic/internal/mcpserver"
)

// mcpHandler is medic's MCP server over streamable HTTP, for /mcp: the
// same store, Airflow clients, failure memory and approval flow as the
// API, with the API's tokens and roles (loopback mode without tokens).
// Its sessions end when the HTTP server shuts down.
func (a *App) mcpHandler(cfg *config.Config, opts Options) (http.Handler, *mcpserver.Server, error) {
	clients := &mcpserver.ClientSet{}
	for _, name := range a.instances.names() {
		c, _ := a.instances.client(name)
		clients.Add(name, c)
	}
	deps := mcpserver.Deps{
		Store: a.store, Instances: clients,
		Limits: mcpserver.Limits{
			LogTailLines: cfg.Triage.LogTailLines, LogMaxBytes: cfg.Triage.LogMaxBytes,
			FrequencyLookback: cfg.Triage.FrequencyLookback, RecurringThreshold: cfg.Triage.RecurringThreshold,
		},
		Logger: opts.Logger, Now: opts.Now, Version: opts.Version,
	}
	if a.memory != nil {
		deps.Memory = a.memory
	}
	if a.remediator != nil {
		deps.Approvals = a.remediator
	}
	srv, err := mcpserver.New(deps)
	if err != nil {
		return nil, nil, fmt.Errorf("app: mcp: %w", err)
	}
	var auth mcpserver.Authenticator
	if !cfg.LoopbackOnly() {
		auth = mcpserver.ConfigTokens{Config: cfg}
	}
	return noWriteDeadline(srv.HTTPHandler(mcpserver.HTTPOptions{Auth: auth})), srv, nil
}

// mcpTimeout bounds one MCP request: a tool call has a minute
// (mcpserver.DefaultCallTimeout), and its answer may stream.
const mcpTimeout = 2 * time.Minute

// noWriteDeadline replaces the server's read and write timeouts for MCP,
// which would cut a call short (the read timeout ends a request's context
// when it passes, even after the body was read): a POST (a call) gets
// mcpTimeout for both, and a GET (the stream a client keeps open for the
// server's messages) neither, ending with its session instead.
func noWriteDeadline(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		deadline := time.Time{}
		if r.Method != http.MethodGet {
			deadline = time.Now().Add(mcpTimeout)
		}
		rc := http.NewResponseController(w)
		_ = rc.SetReadDeadline(deadline)
		_ = rc.SetWriteDeadline(deadline)
		h.ServeHTTP(w, r)
	})
}
