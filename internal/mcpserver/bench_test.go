package mcpserver_test

import (
	"context"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/stretchr/testify/require"
)

// BenchmarkToolCall measures one tool call end to end over the SDK's
// in-memory transport: argument validation, the tool's reads (the store,
// and for task_log Airflow's stand-in over HTTP and redaction), the output
// bound and the audit entry each call appends.
func BenchmarkToolCall(b *testing.B) {
	bb := setup(b)
	cs := bb.connect(b, operator)
	for _, tc := range []struct {
		name string
		args map[string]any
	}{
		{"get_incident", map[string]any{"incident_id": bb.inc.ID}},
		{"list_incidents", map[string]any{}},
		{"task_log", map[string]any{"dag_id": dagID, "run_id": runID, "task_id": "load"}},
		{"classify_failure", map[string]any{"dag_id": dagID, "run_id": runID, "task_id": "load"}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			for b.Loop() {
				res, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: tc.name, Arguments: tc.args})
				require.NoError(b, err)
				require.False(b, res.IsError, text(res))
			}
		})
	}
}
