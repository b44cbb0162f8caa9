package cli

import (
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/spf13/cobra"

	"github.com/medic-sh/medic/internal/mcpserver"
)

// newMCPCmd is `medic mcp`: medic's MCP tools over stdio, for assistants
// that start a local process (Claude Desktop, Claude Code, Cursor). It
// bridges to the daemon's /mcp, which holds the database, the Airflow
// clients and the approval flow, and knows the caller by the token: the
// same tools, roles and audit as over HTTP.
func newMCPCmd(streams IO) *cobra.Command {
	var f serverFlags
	cmd := &cobra.Command{
		Use:   "mcp",
		Short: "Serve medic's MCP tools over stdio, through the running daemon",
		Long: "Serves the Model Context Protocol on stdin and stdout, forwarding every message to the daemon's\n" +
			"/mcp endpoint (--server, default $MEDIC_SERVER or http://127.0.0.1:8080) with the bearer token\n" +
			"(--token, default $MEDIC_TOKEN). Logs go to stderr only. See docs/mcp.md.",
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := f.client(streams)
			if err != nil {
				return err
			}
			log := slog.New(slog.NewTextHandler(streams.Err, &slog.HandlerOptions{Level: slog.LevelWarn}))
			local := &mcp.IOTransport{Reader: io.NopCloser(streams.In), Writer: nopWriteCloser{streams.Out}}
			return mcpserver.Bridge(cmd.Context(), local, mcpserver.BridgeOptions{
				Endpoint: c.base + "/mcp", Token: c.token, Logger: log,
				HTTPClient: &http.Client{Timeout: 3 * time.Minute},
			})
		},
	}
	f.register(cmd)
	return cmd
}

type nopWriteCloser struct{ io.Writer }

func (nopWriteCloser) Close() error { return nil }
