package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/medic-sh/medic/internal/airflow/airflowsim"
	"github.com/medic-sh/medic/internal/cli"
	"github.com/medic-sh/medic/internal/config"
	"github.com/medic-sh/medic/internal/incident"
	"github.com/medic-sh/medic/internal/store"
)

// mcpClientDir holds the official TypeScript MCP client and the script
// that drives it (test/mcpclient).
var mcpClientDir = filepath.Join("..", "..", "test", "mcpclient")

// mcpClient finds node and installs the TypeScript client when it is not
// installed yet (.ci/run installs it beforehand). Without node the test
// is skipped, and fails under CI=true.
func mcpClient(t *testing.T) string {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("node is needed for the MCP client test under CI=true: %v", err)
		}
		t.Skipf("node is not installed (%v): the MCP TypeScript client test needs Node.js 18+", err)
	}
	if _, err := os.Stat(filepath.Join(mcpClientDir, "node_modules", "@modelcontextprotocol", "sdk")); err != nil {
		npm, err := exec.LookPath("npm")
		require.NoError(t, err, "npm is needed to install @modelcontextprotocol/sdk in %s", mcpClientDir)
		cmd := exec.Command(npm, "ci", "--no-audit", "--no-fund")
		cmd.Dir = mcpClientDir
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "npm ci in %s: %s", mcpClientDir, out)
	}
	return node
}

// mcpRun is what the TypeScript client saw.
type mcpRun struct {
	Connected bool   `json:"connected"`
	Error     string `json:"error"`
	Stderr    string `json:"stderr"`
	Server    struct {
		Name    string `json:"name"`
		Version string `json:"version"`
	} `json:"server"`
	Tools []mcpTool `json:"tools"`
	Calls []struct {
		Name   string `json:"name"`
		Error  string `json:"error"`
		Result struct {
			IsError           bool            `json:"isError"`
			StructuredContent json.RawMessage `json:"structuredContent"`
			Content           []struct {
				Type string `json:"type"`
				Text string `json:"text"`
			} `json:"content"`
		} `json:"result"`
	} `json:"calls"`
}

type mcpTool struct {
	Name         string         `json:"name"`
	Description  string         `json:"description"`
	InputSchema  map[string]any `json:"inputSchema"`
	OutputSchema map[string]any `json:"outputSchema"`
	Annotations  struct {
		ReadOnlyHint    *bool `json:"readOnlyHint"`
		DestructiveHint *bool `json:"destructiveHint"`
	} `json:"annotations"`
}

func (r *mcpRun) tool(name string) *mcpTool {
	for i := range r.Tools {
		if r.Tools[i].Name == name {
			return &r.Tools[i]
		}
	}
	return nil
}

type mcpCall struct {
	Name      string         `json:"name"`
	Arguments map[string]any `json:"arguments"`
}

// runMCPClient drives medic's MCP server with the TypeScript client over
// the plan's transport.
func runMCPClient(t *testing.T, node string, plan map[string]any) *mcpRun {
	t.Helper()
	raw, err := json.Marshal(plan)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "client.mjs")
	cmd.Dir = mcpClientDir
	cmd.Stdin = bytes.NewReader(raw)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "the client failed: %s", stderr.String())
	var run mcpRun
	require.NoError(t, json.Unmarshal(out, &run), "the client's output: %s", out)
	return &run
}

// sigterm is a worker killed from outside: INFRA, retry-safe.
var sigterm = airflowsim.Failure("{taskinstance.py:1157} INFO - Starting attempt 1 of 1\n" +
	"{local_task_job_runner.py:123} ERROR - Received SIGTERM. Terminating subprocesses.\n" +
	"{taskinstance.py:2905} ERROR - Task failed with exception\n" +
	"Traceback (most recent call last):\n" +
	"  File \"/usr/local/lib/python3.11/site-packages/airflow/models/taskinstance.py\", line 465, in _execute_task\n" +
	"    result = _execute_callable(context=context, **execute_callable_kwargs)\n" +
	"airflow.exceptions.AirflowTaskTerminated: Task received SIGTERM signal\n")

// readTools are every read-only tool medic serves.
var readTools = []string{
	"list_recent_failures", "list_failed_runs", "get_run_summary", "get_failed_tasks", "failure_frequency",
	"task_log", "extract_errors", "classify_failure", "find_similar_failures", "get_incident", "list_incidents",
	"get_latest_run", "get_task_states", "check_recovery_rules",
	"build_timeline", "summarize_root_cause", "suggest_prevention_actions",
}

// TestMCPWithTheTypeScriptClient connects the official TypeScript client
// to a real medic, over streamable HTTP at /mcp and over stdio through
// `medic mcp`: it checks the tools, their schemas and annotations, calls
// every read tool against the stand-in's data, and shows that a write tool
// is absent for a read-only token and that request_approval only creates
// a pending approval.
func TestMCPWithTheTypeScriptClient(t *testing.T) {
	node := mcpClient(t)
	const writerToken = "writer-token-0123456789abcdef"
	b := setup(t, setupOpts{tokens: []config.Token{
		{Name: "viewer", Role: config.RoleViewer, Token: config.NewSecret(viewerToken)},
		{Name: "operator", Role: config.RoleOperator, Token: config.NewSecret(operatorToken)},
		{Name: "assistant", Role: config.RoleOperator, Token: config.NewSecret(writerToken), MCPWrites: true},
	}, edit: func(cfg *config.Config) {
		// medic may act on every DAG, but the default autonomy only
		// suggests: the policy hands each incident to a person.
		cfg.Remediate.Allow = []string{"*"}
	}})
	// A worker killed from outside: INFRA, which a retry fixes.
	require.NoError(t, b.sim.AddDAG(airflowsim.DAG{ID: "events_ingest", Owners: []string{"platform"}, Tasks: []airflowsim.Task{{ID: "consume"}}}))
	_, err := b.sim.StartRun("events_ingest", testRun, simEpoch, map[string][]airflowsim.Outcome{"consume": {sigterm}})
	require.NoError(t, err)
	env := map[string]string{"MEDIC_SERVER": b.url, "MEDIC_TOKEN": operatorToken}
	triaged := func(dag string) string {
		res := medic(t, env, "triage", "--dag", dag, "--run", testRun, "--wait")
		require.Equal(t, cli.ExitOK, res.code, res.stderr)
		m := regexp.MustCompile(`INCIDENT (inc_[0-9a-f]{32})`).FindStringSubmatch(res.stdout)
		require.NotNil(t, m)
		return m[1]
	}
	incID := triaged("orders_etl")
	killedID := triaged("events_ingest")
	task := map[string]any{"dag_id": "orders_etl", "run_id": testRun, "task_id": "load"}
	inc := map[string]any{"incident_id": incID}
	var reads []mcpCall
	argsOf := map[string]map[string]any{
		"list_recent_failures": {"hours": 24 * 365 * 10}, "list_failed_runs": {"hours": 720}, "get_run_summary": {"dag_id": "orders_etl", "run_id": testRun},
		"get_failed_tasks": {"dag_id": "orders_etl", "run_id": testRun}, "failure_frequency": {"dag_id": "orders_etl", "task_id": "load"},
		"task_log": task, "extract_errors": task, "classify_failure": task, "find_similar_failures": inc, "get_incident": inc,
		"list_incidents": {}, "get_latest_run": {"dag_id": "orders_etl"}, "get_task_states": {"dag_id": "orders_etl", "run_id": testRun},
		"check_recovery_rules": inc, "build_timeline": inc, "summarize_root_cause": inc, "suggest_prevention_actions": inc,
	}
	for _, name := range readTools {
		reads = append(reads, mcpCall{Name: name, Arguments: argsOf[name]})
	}

	t.Run("http, operator", func(t *testing.T) {
		run := runMCPClient(t, node, map[string]any{
			"http":  map[string]any{"url": b.url + "/mcp", "token": operatorToken},
			"calls": append(slices.Clone(reads), mcpCall{Name: "request_approval", Arguments: map[string]any{"incident_id": killedID, "reason": "the node was replaced"}}),
		})
		require.True(t, run.Connected, run.Error)
		require.Equal(t, "medic", run.Server.Name)
		for _, name := range readTools {
			tool := run.tool(name)
			require.NotNil(t, tool, "%s is offered", name)
			require.NotEmpty(t, tool.Description, name)
			require.Equal(t, "object", tool.InputSchema["type"], "%s has an input schema", name)
			require.Equal(t, "object", tool.OutputSchema["type"], "%s has an output schema", name)
			require.NotNil(t, tool.Annotations.ReadOnlyHint, name)
			require.True(t, *tool.Annotations.ReadOnlyHint, "%s is read-only", name)
			require.NotNil(t, tool.Annotations.DestructiveHint, name)
			require.False(t, *tool.Annotations.DestructiveHint, name)
		}
		for _, name := range []string{"propose_action", "request_approval"} {
			tool := run.tool(name)
			require.NotNil(t, tool, name)
			require.False(t, *tool.Annotations.ReadOnlyHint, "%s changes medic's state", name)
		}
		require.Nil(t, run.tool("trigger_dag"), "no write tool without mcp_writes")
		require.Nil(t, run.tool("clear_failed_tasks"), "no write tool without mcp_writes")

		require.Len(t, run.Calls, len(reads)+1)
		for _, c := range run.Calls[:len(reads)] {
			require.Empty(t, c.Error, "%s: the client accepted the result against its output schema", c.Name)
			if c.Name == "find_similar_failures" {
				continue // the memory may know nothing yet; either answer is a result
			}
			require.False(t, c.Result.IsError, "%s: %+v", c.Name, c.Result.Content)
			require.NotEmpty(t, c.Result.StructuredContent, c.Name)
		}
		byName := map[string]json.RawMessage{}
		for _, c := range run.Calls {
			byName[c.Name] = c.Result.StructuredContent
		}
		require.Contains(t, string(byName["get_incident"]), incID)
		require.Contains(t, string(byName["task_log"]), "UndefinedColumn")
		require.Contains(t, string(byName["classify_failure"]), "SCHEMA_CHANGE")

		approval := run.Calls[len(reads)]
		require.Empty(t, approval.Error)
		require.False(t, approval.Result.IsError, "%+v", approval.Result.Content)
		var out struct {
			Approval struct {
				ID     string `json:"id"`
				Status string `json:"status"`
			} `json:"approval"`
		}
		require.NoError(t, json.Unmarshal(approval.Result.StructuredContent, &out))
		require.Equal(t, "pending", out.Approval.Status)
		a, err := b.app.Store().ApprovalGet(context.Background(), out.Approval.ID)
		require.NoError(t, err)
		require.Equal(t, incident.ApprovalPending, a.Status, "waiting for a person")
		require.Equal(t, "operator", a.RequestedBy)
		runs, err := b.app.Store().ActionListByIncident(context.Background(), killedID)
		require.NoError(t, err)
		require.Empty(t, runs, "nothing executed")
		killed, err := b.app.Store().IncidentGetByID(context.Background(), killedID)
		require.NoError(t, err)
		require.Equal(t, incident.StateAwaitingApproval, killed.State, "the escalated incident waits for a person's decision")
		audited, err := b.app.Store().AuditList(context.Background(), &store.AuditListParams{Actor: "operator", ActionPrefix: "mcp.", Limit: 500})
		require.NoError(t, err)
		require.Len(t, audited, len(reads)+1, "every call is audited with the token's name")
	})

	t.Run("http, viewer", func(t *testing.T) {
		run := runMCPClient(t, node, map[string]any{
			"http":  map[string]any{"url": b.url + "/mcp", "token": viewerToken},
			"calls": []mcpCall{{Name: "request_approval", Arguments: map[string]any{"incident_id": killedID, "reason": "try"}}},
		})
		require.True(t, run.Connected, run.Error)
		require.Nil(t, run.tool("trigger_dag"))
		require.Len(t, run.Calls, 1)
		c := run.Calls[0]
		require.True(t, c.Result.IsError || c.Error != "", "a viewer cannot ask for an approval")
	})

	t.Run("http, writes enabled", func(t *testing.T) {
		run := runMCPClient(t, node, map[string]any{
			"http":  map[string]any{"url": b.url + "/mcp", "token": writerToken},
			"calls": []mcpCall{{Name: "clear_failed_tasks", Arguments: map[string]any{"incident_id": killedID, "reason": "rerun after the fix"}}},
		})
		require.True(t, run.Connected, run.Error)
		for _, name := range []string{"trigger_dag", "clear_failed_tasks"} {
			tool := run.tool(name)
			require.NotNil(t, tool, "%s is offered with mcp_writes", name)
			require.True(t, *tool.Annotations.DestructiveHint, name)
		}
		c := run.Calls[0]
		require.Empty(t, c.Error)
		require.False(t, c.Result.IsError, "%+v", c.Result.Content)
		require.Contains(t, string(c.Result.StructuredContent), `"status":"pending"`, "even a write tool only asks")
		runs, err := b.app.Store().ActionListByIncident(context.Background(), killedID)
		require.NoError(t, err)
		require.Empty(t, runs, "nothing executed")
		dr, ok := b.sim.DagRun("events_ingest", testRun)
		require.True(t, ok)
		ti := dr.TaskInstance("consume")
		require.Equal(t, []any{1, "failed"}, []any{ti.TryNumber, ti.State}, "the task was not cleared")
	})

	t.Run("http, no token", func(t *testing.T) {
		run := runMCPClient(t, node, map[string]any{"http": map[string]any{"url": b.url + "/mcp"}})
		require.False(t, run.Connected)
		require.Contains(t, run.Error, "bearer token", "refused before any tool: %s", run.Error)
	})

	t.Run("stdio through medic mcp", func(t *testing.T) {
		exe, err := os.Executable()
		require.NoError(t, err)
		run := runMCPClient(t, node, map[string]any{
			"stdio": map[string]any{
				"command": exe, "args": []string{"mcp", "--server", b.url},
				"env": map[string]string{runMedicEnv: "1", "MEDIC_TOKEN": operatorToken},
			},
			"calls": []mcpCall{{Name: "get_incident", Arguments: inc}, {Name: "list_incidents", Arguments: map[string]any{}}},
		})
		require.True(t, run.Connected, run.Error+run.Stderr)
		require.Equal(t, "medic", run.Server.Name)
		require.NotNil(t, run.tool("task_log"))
		require.Nil(t, run.tool("trigger_dag"))
		require.Len(t, run.Calls, 2)
		for _, c := range run.Calls {
			require.Empty(t, c.Error)
			require.False(t, c.Result.IsError, "%s: %+v", c.Name, c.Result.Content)
		}
		require.Contains(t, string(run.Calls[0].Result.StructuredContent), incID)
		require.False(t, strings.Contains(run.Stderr, "level=ERROR"), run.Stderr)
	})
}
