package mcpserver_test

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/stretchr/testify/require"

	"github.com/medic-sh/medic/internal/incident"
	"github.com/medic-sh/medic/internal/store"
)

var readTools = []string{
	"list_recent_failures", "list_failed_runs", "get_run_summary", "get_failed_tasks", "failure_frequency",
	"task_log", "extract_errors", "classify_failure", "find_similar_failures", "get_incident", "list_incidents",
	"get_latest_run", "get_task_states", "check_recovery_rules",
	"build_timeline", "summarize_root_cause", "suggest_prevention_actions",
}

var approvalTools = []string{"propose_action", "request_approval"}

var writeTools = []string{"trigger_dag", "clear_failed_tasks"}

func toolNames(t *testing.T, cs *mcp.ClientSession) map[string]*mcp.Tool {
	t.Helper()
	res, err := cs.ListTools(context.Background(), nil)
	require.NoError(t, err)
	out := map[string]*mcp.Tool{}
	for _, tl := range res.Tools {
		out[tl.Name] = tl
	}
	return out
}

func TestToolsListedByIdentity(t *testing.T) {
	t.Parallel()
	b := setup(t)
	tests := []struct {
		name   string
		id     func() (cs *mcp.ClientSession)
		writes bool
	}{
		{"read-only operator", func() *mcp.ClientSession { return b.connect(t, operator) }, false},
		{"viewer", func() *mcp.ClientSession { return b.connect(t, viewer) }, false},
		{"writes enabled", func() *mcp.ClientSession { return b.connect(t, writer) }, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tools := toolNames(t, tt.id())
			for _, n := range slices.Concat(readTools, approvalTools) {
				require.Contains(t, tools, n)
			}
			for _, n := range writeTools {
				_, ok := tools[n]
				require.Equal(t, tt.writes, ok, "tool %s", n)
			}
			want := len(readTools) + len(approvalTools)
			if tt.writes {
				want += len(writeTools)
			}
			require.Len(t, tools, want)
		})
	}
}

func TestToolSchemasAndAnnotations(t *testing.T) {
	t.Parallel()
	b := setup(t)
	tools := toolNames(t, b.connect(t, writer))
	for name, tl := range tools {
		t.Run(name, func(t *testing.T) {
			require.NotEmpty(t, tl.Description)
			require.NotNil(t, tl.Annotations)
			require.NotNil(t, tl.Annotations.DestructiveHint)
			in, err := json.Marshal(tl.InputSchema)
			require.NoError(t, err)
			var schema struct {
				Type                 string         `json:"type"`
				Properties           map[string]any `json:"properties"`
				AdditionalProperties any            `json:"additionalProperties"`
			}
			require.NoError(t, json.Unmarshal(in, &schema))
			require.Equal(t, "object", schema.Type)
			require.Equal(t, false, schema.AdditionalProperties, "unknown arguments must be refused")
			require.NotNil(t, tl.OutputSchema)
			switch {
			case slices.Contains(readTools, name):
				require.True(t, tl.Annotations.ReadOnlyHint)
				require.False(t, *tl.Annotations.DestructiveHint)
			case slices.Contains(approvalTools, name):
				require.False(t, tl.Annotations.ReadOnlyHint)
				require.False(t, *tl.Annotations.DestructiveHint)
			case slices.Contains(writeTools, name):
				require.False(t, tl.Annotations.ReadOnlyHint)
				require.True(t, *tl.Annotations.DestructiveHint)
			default:
				t.Fatalf("unexpected tool %s", name)
			}
		})
	}
}

// call calls a tool and decodes its structured answer.
func call(t *testing.T, cs *mcp.ClientSession, name string, args map[string]any) (map[string]any, *mcp.CallToolResult) {
	t.Helper()
	res, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: name, Arguments: args})
	require.NoError(t, err)
	out := map[string]any{}
	if res.StructuredContent != nil {
		raw, err := json.Marshal(res.StructuredContent)
		require.NoError(t, err)
		require.NoError(t, json.Unmarshal(raw, &out))
	}
	return out, res
}

func text(res *mcp.CallToolResult) string {
	var b strings.Builder
	for _, c := range res.Content {
		if tc, ok := c.(*mcp.TextContent); ok {
			b.WriteString(tc.Text)
		}
	}
	return b.String()
}

func TestReadToolsHappyPath(t *testing.T) {
	t.Parallel()
	b := setup(t)
	cs := b.connect(t, viewer)
	run := map[string]any{"dag_id": dagID, "run_id": runID}
	task := map[string]any{"dag_id": dagID, "run_id": runID, "task_id": "load"}
	inc := map[string]any{"incident_id": b.inc.ID}
	tests := []struct {
		tool  string
		args  map[string]any
		check func(t *testing.T, out map[string]any, raw string)
	}{
		{"list_recent_failures", map[string]any{"hours": 48}, func(t *testing.T, out map[string]any, _ string) {
			require.Len(t, out["incidents"], 1)
			require.InDelta(t, 1, out["total"], 0)
		}},
		{"list_failed_runs", map[string]any{"instance": instance, "dag_id": dagID}, func(t *testing.T, out map[string]any, raw string) {
			require.Len(t, out["runs"], 1)
			require.Contains(t, raw, runID)
		}},
		{"get_run_summary", run, func(t *testing.T, out map[string]any, _ string) {
			require.Equal(t, "failed", out["state"])
			require.Equal(t, "load", out["first_failing_task"])
			require.Equal(t, instance, out["instance"])
		}},
		{"get_failed_tasks", run, func(t *testing.T, out map[string]any, raw string) {
			require.Len(t, out["failed"], 1)
			require.Contains(t, raw, `"upstream_failed":["report"]`)
		}},
		{"failure_frequency", map[string]any{"dag_id": dagID, "task_id": "load", "run_id": runID}, func(t *testing.T, out map[string]any, _ string) {
			require.InDelta(t, 1, out["failed_runs"], 0)
			require.Equal(t, "one-off", out["pattern"])
		}},
		{"task_log", task, func(t *testing.T, out map[string]any, raw string) {
			require.Equal(t, true, out["redacted"])
			require.Contains(t, raw, "UndefinedColumn")
			require.NotContains(t, raw, "hunter2secret", "the log must be redacted")
			require.Equal(t, false, out["output_truncated"])
		}},
		{"extract_errors", task, func(t *testing.T, out map[string]any, raw string) {
			require.Equal(t, true, out["found"])
			require.Contains(t, raw, "UndefinedColumn")
			require.NotNil(t, out["signature"])
		}},
		{"classify_failure", task, func(t *testing.T, out map[string]any, _ string) {
			d := out["diagnosis"].(map[string]any)
			require.Equal(t, "SCHEMA_CHANGE", d["label"])
		}},
		{"get_incident", inc, func(t *testing.T, out map[string]any, raw string) {
			require.Equal(t, b.inc.ID, out["incident"].(map[string]any)["id"])
			require.NotNil(t, out["diagnosis"])
			require.Contains(t, raw, "UndefinedColumn")
		}},
		{"list_incidents", map[string]any{"state": "escalated"}, func(t *testing.T, out map[string]any, _ string) {
			require.Len(t, out["incidents"], 1)
		}},
		{"get_latest_run", map[string]any{"dag_id": dagID}, func(t *testing.T, out map[string]any, _ string) {
			require.Equal(t, true, out["found"])
			require.Equal(t, runID, out["run"].(map[string]any)["run_id"])
		}},
		{"get_task_states", run, func(t *testing.T, out map[string]any, _ string) {
			counts := out["counts"].(map[string]any)
			require.InDelta(t, 1, counts["failed"], 0)
			require.InDelta(t, 1, counts["success"], 0)
			require.Len(t, out["tasks"], 3)
		}},
		{"check_recovery_rules", inc, func(t *testing.T, out map[string]any, _ string) {
			require.Equal(t, "task_instance_success", out["rule"])
			require.Equal(t, "default", out["source"])
			require.Equal(t, "pending", out["outcome"])
			require.Equal(t, false, out["settled"])
		}},
		{"build_timeline", inc, func(t *testing.T, out map[string]any, raw string) {
			require.NotEmpty(t, out["entries"])
			require.Contains(t, raw, `"kind":"failure"`)
			require.Contains(t, raw, `"kind":"finding"`)
		}},
		{"summarize_root_cause", inc, func(t *testing.T, out map[string]any, _ string) {
			require.Contains(t, out["summary"], "orders_etl.load failed")
			require.Contains(t, out["summary"], "SCHEMA_CHANGE")
		}},
		{"suggest_prevention_actions", inc, func(t *testing.T, out map[string]any, raw string) {
			require.Equal(t, "SCHEMA_CHANGE", out["label"])
			require.Contains(t, raw, "schema contract")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.tool, func(t *testing.T) {
			out, res := call(t, cs, tt.tool, tt.args)
			require.False(t, res.IsError, text(res))
			tt.check(t, out, text(res))
		})
	}
	t.Run("find_similar_failures without a memory", func(t *testing.T) {
		_, res := call(t, cs, "find_similar_failures", task)
		require.True(t, res.IsError)
		require.Contains(t, text(res), "failure memory is off")
	})
	t.Run("every call is audited with the caller", func(t *testing.T) {
		entries, err := b.store.AuditList(context.Background(), &store.AuditListParams{Actor: viewer.Name, ActionPrefix: "mcp.", Limit: 500})
		require.NoError(t, err)
		require.GreaterOrEqual(t, len(entries), len(tests))
		var d struct {
			RequestedBy string            `json:"requested_by"`
			Update      map[string]string `json:"update"`
		}
		require.NoError(t, json.Unmarshal(entries[0].Detail, &d))
		require.Equal(t, viewer.Name, d.RequestedBy)
		require.Equal(t, "viewer", d.Update["role"])
		require.NotEmpty(t, d.Update["tool"])
	})
}

func TestBadInput(t *testing.T) {
	t.Parallel()
	b := setup(t)
	cs := b.connect(t, operator)
	tests := []struct {
		name string
		tool string
		args map[string]any
		want string
	}{
		{"wrong type", "task_log", map[string]any{"dag_id": dagID, "run_id": runID, "task_id": "load", "tail_lines": "many"}, "tail_lines"},
		{"unknown argument", "get_run_summary", map[string]any{"dag_id": dagID, "run_id": runID, "url": "http://evil"}, "url"},
		{"missing required", "get_run_summary", map[string]any{"dag_id": dagID}, "run_id"},
		{"negative limit", "list_incidents", map[string]any{"limit": -1}, "limit must not be negative"},
		{"unknown instance", "get_run_summary", map[string]any{"instance": "prod", "dag_id": dagID, "run_id": runID}, `instance "prod" is not configured: known instances are main`},
		{"URL as instance", "list_failed_runs", map[string]any{"instance": "http://169.254.169.254/latest"}, "looks like a path or URL"},
		{"path as dag", "get_run_summary", map[string]any{"dag_id": "../../admin", "run_id": runID}, "looks like a path or URL"},
		{"URL as run", "task_log", map[string]any{"dag_id": dagID, "run_id": "https://other.host/x", "task_id": "load"}, "looks like a path or URL"},
		{"forbidden character", "get_task_states", map[string]any{"dag_id": "a|b", "run_id": runID}, "forbidden character"},
		{"unknown DAG", "get_latest_run", map[string]any{"dag_id": "no_such_dag"}, `has no DAG no_such_dag`},
		{"unknown run", "get_failed_tasks", map[string]any{"dag_id": dagID, "run_id": "manual__nope"}, "has no run manual__nope"},
		{"unknown incident", "get_incident", map[string]any{"incident_id": "inc_nope"}, `incident "inc_nope" not found`},
		{"bad state", "list_incidents", map[string]any{"state": "burning"}, "not an incident state"},
		{"bad level", "task_log", map[string]any{"dag_id": dagID, "run_id": runID, "task_id": "load", "level": "LOUD"}, "not a log level"},
		{"unknown action", "propose_action", map[string]any{"incident_id": b.inc.ID, "action": "rm -rf", "reason": "x"}, "neither an action"},
		{"no reason", "request_approval", map[string]any{"incident_id": b.inc.ID, "reason": " "}, "reason is required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, res := call(t, cs, tt.tool, tt.args)
			require.True(t, res.IsError, "want a tool error, got %s", text(res))
			require.Contains(t, text(res), tt.want)
			require.NotContains(t, text(res), "goroutine")
		})
	}
	t.Run("huge limits are clamped and say so", func(t *testing.T) {
		out, res := call(t, cs, "task_log", map[string]any{"dag_id": dagID, "run_id": runID, "task_id": "load", "tail_lines": 1_000_000, "max_bytes": 1 << 40})
		require.False(t, res.IsError, text(res))
		require.Equal(t, true, out["tail_lines_clamped"])
		require.Equal(t, true, out["max_bytes_clamped"])
		out, res = call(t, cs, "list_incidents", map[string]any{"limit": 100000})
		require.False(t, res.IsError, text(res))
		require.Equal(t, true, out["limit_clamped"])
		require.InDelta(t, 100, out["limit"], 0)
	})
	t.Run("a small byte cap truncates the log and says so", func(t *testing.T) {
		out, res := call(t, cs, "task_log", map[string]any{"dag_id": dagID, "run_id": runID, "task_id": "load", "max_bytes": 80})
		require.False(t, res.IsError, text(res))
		require.Equal(t, true, out["output_truncated"])
		lines := out["lines"].([]any)
		require.NotEmpty(t, lines)
		total := 0
		for _, l := range lines {
			total += len(l.(string)) + 1
		}
		require.LessOrEqual(t, total, 80+len("…"))
	})
	t.Run("the level filter keeps errors and their traceback", func(t *testing.T) {
		out, res := call(t, cs, "task_log", map[string]any{"dag_id": dagID, "run_id": runID, "task_id": "load", "level": "error"})
		require.False(t, res.IsError, text(res))
		raw := text(res)
		require.Contains(t, raw, "UndefinedColumn")
		require.NotContains(t, raw, "Executing <Task")
		require.Positive(t, out["filtered"])
	})
}

func TestApprovals(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()

	t.Run("request_approval creates a pending approval that nothing executes", func(t *testing.T) {
		cs := b.connect(t, operator)
		out, res := call(t, cs, "propose_action", map[string]any{
			"incident_id": b.inc.ID, "action": "clear_failed_tasks", "reason": "the column was added back",
		})
		require.False(t, res.IsError, text(res))
		require.Equal(t, false, out["executed"])
		require.Equal(t, true, out["created"])
		ap := out["approval"].(map[string]any)
		require.Equal(t, "pending", ap["status"])
		require.Equal(t, operator.Name, ap["requested_by"])

		stored, err := b.store.ApprovalGet(ctx, ap["id"].(string))
		require.NoError(t, err)
		require.Equal(t, incident.ApprovalPending, stored.Status)
		runs, err := b.store.ActionListByIncident(ctx, b.inc.ID)
		require.NoError(t, err)
		require.Empty(t, runs, "nothing may run before a person approves")
		require.Zero(t, b.jobs.count(), "no action job may be enqueued")

		// Asking again returns the same pending approval.
		out, res = call(t, cs, "propose_action", map[string]any{
			"incident_id": b.inc.ID, "action": "clear_failed_tasks", "reason": "again",
		})
		require.False(t, res.IsError, text(res))
		require.Equal(t, false, out["created"])
		require.Equal(t, ap["id"], out["approval"].(map[string]any)["id"])
	})

	t.Run("a viewer may not request, and the attempt is audited", func(t *testing.T) {
		cs := b.connect(t, viewer)
		_, res := call(t, cs, "request_approval", map[string]any{"incident_id": b.inc.ID, "reason": "please"})
		require.True(t, res.IsError)
		require.Contains(t, text(res), "needs a token with role operator")
		entries, err := b.store.AuditList(ctx, &store.AuditListParams{Actor: viewer.Name, ActionPrefix: "mcp.tool_refused", Limit: 10})
		require.NoError(t, err)
		require.Len(t, entries, 1)
		require.Equal(t, b.inc.ID, entries[0].IncidentID)
	})

	t.Run("a write tool is refused to a read-only token, audited, nothing created", func(t *testing.T) {
		before, err := b.store.ApprovalList(ctx, &store.ApprovalListParams{IncidentID: b.inc.ID, Limit: 100})
		require.NoError(t, err)
		cs := b.connect(t, operator)
		_, res := call(t, cs, "trigger_dag", map[string]any{"incident_id": b.inc.ID, "reason": "rerun"})
		require.True(t, res.IsError)
		require.Contains(t, text(res), "read-only for MCP")
		after, err := b.store.ApprovalList(ctx, &store.ApprovalListParams{IncidentID: b.inc.ID, Limit: 100})
		require.NoError(t, err)
		require.Len(t, after, len(before))
		entries, err := b.store.AuditList(ctx, &store.AuditListParams{Actor: operator.Name, ActionPrefix: "mcp.tool_refused", Limit: 10})
		require.NoError(t, err)
		require.Len(t, entries, 1)
		require.Contains(t, string(entries[0].Detail), `"tool":"trigger_dag"`)
		require.Equal(t, b.inc.ID, entries[0].IncidentID)
	})

	t.Run("with writes, trigger_dag only asks for approval", func(t *testing.T) {
		cs := b.connect(t, writer)
		_, res := call(t, cs, "trigger_dag", map[string]any{"incident_id": b.inc.ID, "conf": map[string]any{"x": 1}, "reason": "rerun"})
		require.True(t, res.IsError, "a conf the DAG's schema refuses is refused by the policy")
		require.Contains(t, text(res), "policy refuses")
		out, res := call(t, cs, "trigger_dag", map[string]any{"incident_id": b.inc.ID, "reason": "rerun the day"})
		require.False(t, res.IsError, text(res))
		ap := out["approval"].(map[string]any)
		require.Equal(t, "trigger_dag_run", ap["action"])
		require.Equal(t, "pending", ap["status"])
		require.Equal(t, false, out["executed"])
		require.Zero(t, b.jobs.count())
		require.Len(t, b.sim.DagRuns(), 1, "no DAG run may be triggered")
	})
}
