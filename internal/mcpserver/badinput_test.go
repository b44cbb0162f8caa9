package mcpserver_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/stretchr/testify/require"

	"github.com/medic-sh/medic/internal/store"
)

// TestEveryToolRefusesBadInput sends each tool the server lists, writes
// included, the bad input every tool must refuse: an unknown argument, a
// value of the wrong type for each argument, and a URL or a path in place
// of each id. Each is a tool error, nothing is proposed, and each attempt
// is audited.
func TestEveryToolRefusesBadInput(t *testing.T) {
	t.Parallel()
	b := setup(t)
	cs := b.connect(t, writer)
	tools, err := cs.ListTools(context.Background(), nil)
	require.NoError(t, err)
	require.Len(t, tools.Tools, 21)
	// valid are arguments that pass, so that each case breaks one thing.
	valid := map[string]any{
		"dag_id": dagID, "run_id": runID, "task_id": "load", "incident_id": b.inc.ID,
		"action": "retry", "reason": "checking", "instance": "main",
	}
	idArgs := map[string]bool{"dag_id": true, "run_id": true, "task_id": true, "incident_id": true, "instance": true}
	before, err := b.store.AuditList(context.Background(), &store.AuditListParams{ActionPrefix: "mcp.", Limit: 1000})
	require.NoError(t, err)
	calls := 0
	for _, tool := range tools.Tools {
		schema := schemaOf(t, tool)
		base := map[string]any{}
		for _, name := range schema.Required {
			v, ok := valid[name]
			require.True(t, ok, "%s requires %s: give the test a valid value for it", tool.Name, name)
			base[name] = v
		}
		with := func(k string, v any) map[string]any {
			args := map[string]any{}
			for bk, bv := range base {
				args[bk] = bv
			}
			args[k] = v
			return args
		}
		cases := map[string]map[string]any{"unknown argument": with("callback_url", "http://169.254.169.254/")}
		for name, p := range schema.Properties {
			wrong := any("not a number")
			if p.Type == "string" {
				wrong = 12345
			}
			cases["wrong type for "+name] = with(name, wrong)
			if idArgs[name] {
				cases["URL as "+name] = with(name, "https://169.254.169.254/latest/meta-data")
				cases["path as "+name] = with(name, "../../etc/passwd")
			}
		}
		for what, args := range cases {
			t.Run(fmt.Sprintf("%s: %s", tool.Name, what), func(t *testing.T) {
				calls++
				res, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: tool.Name, Arguments: args})
				require.NoError(t, err, "a tool error, not a protocol error")
				require.True(t, res.IsError, "%s accepted %v: %s", tool.Name, args, text(res))
				require.NotContains(t, text(res), "goroutine")
			})
		}
	}
	require.Zero(t, b.jobs.count(), "nothing was proposed or run")
	after, err := b.store.AuditList(context.Background(), &store.AuditListParams{ActionPrefix: "mcp.", Limit: 1000})
	require.NoError(t, err)
	require.Equal(t, calls, len(after)-len(before), "every attempt is audited")
	for _, e := range after[len(before):] {
		require.Contains(t, []string{"mcp.tool_refused", "mcp.tool_call"}, e.Action)
		require.Equal(t, writer.Name, e.Actor)
		var d struct {
			Decision string `json:"decision"`
		}
		require.NoError(t, json.Unmarshal(e.Detail, &d))
		require.NotEqual(t, "ok", d.Decision, "recorded as refused or failed: %s", e.Detail)
	}
	t.Logf("%d bad calls across %d tools, all refused and audited", calls, len(tools.Tools))
}

type inputSchema struct {
	Required   []string `json:"required"`
	Properties map[string]struct {
		Type string `json:"type"`
	} `json:"properties"`
}

func schemaOf(t *testing.T, tool *mcp.Tool) inputSchema {
	t.Helper()
	raw, err := json.Marshal(tool.InputSchema)
	require.NoError(t, err)
	var s inputSchema
	require.NoError(t, json.Unmarshal(raw, &s))
	return s
}
