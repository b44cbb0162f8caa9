package agents

import (
	"slices"
	"strings"
)

// Tool names. A specialist's definition allowlists the tools it may use; the
// deterministic engines declare the tools they call, and a definition must
// allow every one of them.
const (
	ToolRunSummary    = "airflow_run_summary"
	ToolFailedTasks   = "airflow_failed_tasks"
	ToolTaskLog       = "airflow_task_log"
	ToolFrequency     = "failure_frequency"
	ToolExtractErrors = "extract_errors"
	ToolClassify      = "classify_failure"
	ToolHistory       = "failure_history"
	ToolSimilar       = "find_similar_failures"
	ToolWarehouse     = "warehouse_profile"
	ToolOwners        = "owners_lookup"
	ToolLineageImpact = "lineage_impact"
	ToolInvokeAgent   = "invoke_agent"
)

const commanderOnlyReason = "only the commander may start other agents (sessions are at most two deep)"

// Tool describes one tool an agent may be allowed. Every tool so far only
// reads: an agent never holds write power.
type Tool struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	// ReadOnly is true for a tool that changes nothing outside medic's own
	// records. Agents may only be given read-only tools.
	ReadOnly bool `json:"read_only"`
	// CommanderOnly marks a tool no specialist may have.
	CommanderOnly bool `json:"commander_only,omitempty"`
}

// Registry is the set of tools definitions may name.
type Registry struct {
	tools map[string]Tool
}

// NewRegistry returns a registry of tools. A later tool of the same name
// replaces an earlier one.
func NewRegistry(tools ...Tool) *Registry {
	r := &Registry{tools: make(map[string]Tool, len(tools))}
	for _, t := range tools {
		r.tools[t.Name] = t
	}
	return r
}

// Lookup returns the tool named name.
func (r *Registry) Lookup(name string) (Tool, bool) {
	t, ok := r.tools[name]
	return t, ok
}

// Names returns the tool names, sorted.
func (r *Registry) Names() []string {
	out := make([]string, 0, len(r.tools))
	for n := range r.tools {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// Tools returns the tools, sorted by name.
func (r *Registry) Tools() []Tool {
	out := make([]Tool, 0, len(r.tools))
	for _, n := range r.Names() {
		out = append(out, r.tools[n])
	}
	return out
}

// DefaultRegistry returns the tools medic's specialists may use.
func DefaultRegistry() *Registry {
	return NewRegistry(
		Tool{Name: ToolRunSummary, ReadOnly: true, Description: "The DAG run's state, task states, first failing task, and the DAG's owners and tags, from the Airflow REST API."},
		Tool{Name: ToolFailedTasks, ReadOnly: true, Description: "The run's failed and blocked tasks with operator, host, try and downstream tasks."},
		Tool{Name: ToolTaskLog, ReadOnly: true, Description: "The redacted tail of one task try's log."},
		Tool{Name: ToolFrequency, ReadOnly: true, Description: "How often the task failed over the lookback window, and whether that makes it recurring."},
		Tool{Name: ToolExtractErrors, ReadOnly: true, Description: "The root-cause error block of a log: exception, message, first user frame, SQL state."},
		Tool{Name: ToolClassify, ReadOnly: true, Description: "The failure's class in medic's taxonomy with calibrated confidence, retry-safety, remediation and evidence lines."},
		Tool{Name: ToolHistory, ReadOnly: true, Description: "Earlier incidents with the same failure signature."},
		Tool{Name: ToolSimilar, ReadOnly: true, Description: "Similar past failures from the failure memory, what was done about them, whether it worked and how far each is trusted."},
		Tool{Name: ToolWarehouse, ReadOnly: true, Description: "What the warehouse was doing when the task failed: busy and blocking sessions, lock waits, timeouts, table and statement statistics (SELECT-only, read-only role)."},
		Tool{Name: ToolOwners, ReadOnly: true, Description: "Who owns the DAG and task, and how to reach them."},
		Tool{Name: ToolLineageImpact, ReadOnly: true, Description: "What the failure blocks downstream: tasks and, where known, datasets and their tiers."},
		Tool{Name: ToolInvokeAgent, ReadOnly: true, CommanderOnly: true, Description: "Start a specialist as a child session with a deadline; " + commanderOnlyReason + "."},
	)
}

// describe lists tool names for error messages.
func (r *Registry) describe() string { return strings.Join(r.Names(), ", ") }
