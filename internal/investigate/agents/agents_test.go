package agents_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/medic-sh/medic/internal/investigate/agents"
)

// engines are the deterministic engines medic has, as investigate declares
// them.
var engines = map[string]agents.EngineSpec{
	"incident-commander": {Role: agents.RoleCommander, Tools: []string{agents.ToolRunSummary, agents.ToolFailedTasks, agents.ToolInvokeAgent}},
	"log-analyzer":       {Role: agents.RoleSpecialist, Tools: []string{agents.ToolFrequency, agents.ToolTaskLog, agents.ToolExtractErrors, agents.ToolClassify}},
	"query-profiler":     {Role: agents.RoleSpecialist, Tools: []string{agents.ToolTaskLog, agents.ToolWarehouse}},
	"owner-notifier":     {Role: agents.RoleSpecialist, Tools: []string{agents.ToolOwners}},
}

func names(defs []*agents.Definition) []string {
	out := make([]string, len(defs))
	for i, d := range defs {
		out[i] = d.Name
	}
	return out
}

func TestLoadBuiltins(t *testing.T) {
	t.Parallel()
	set, err := agents.Load(agents.Options{Engines: engines})
	require.NoError(t, err)
	c := set.Commander()
	require.Equal(t, agents.Commander, c.Name)
	require.Equal(t, "builtin/incident-commander.yaml", c.Source)
	require.True(t, c.Allows(agents.ToolInvokeAgent))
	require.Equal(t, []string{agents.LogAnalyzer, agents.QueryProfiler, agents.OwnerNotifier}, names(set.Delegates()))
	require.Equal(t, []string{agents.Commander, agents.LogAnalyzer, agents.OwnerNotifier, agents.QueryProfiler}, names(set.All()))
	for _, d := range set.All() {
		require.NotEmpty(t, d.Instructions, d.Name)
		require.Positive(t, d.MaxSteps, d.Name)
		require.Zero(t, d.Timeout, "%s: built-ins leave timeouts to the configuration", d.Name)
		require.Equal(t, d.Name, d.Engine, "built-ins run the engine of their name")
	}
	la, ok := set.Get(agents.LogAnalyzer)
	require.True(t, ok)
	require.Equal(t, 13, la.Line("tools"), "lines are kept for later errors")
	require.Equal(t, 15, la.Line("tools[1]"))
}

const specialist = `name: dbt-checker
role: specialist
engine: log-analyzer
instructions: Look at the dbt log.
tools: [failure_frequency, airflow_task_log, extract_errors, classify_failure]
timeout: 20s
`

func writeDir(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600))
	}
	return dir
}

func TestLoadUserDefinitions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		files     map[string]string
		delegates []string
		check     func(t *testing.T, set *agents.Set)
	}{
		{
			name:      "a dropped-in specialist joins the commander's delegates",
			files:     map[string]string{"dbt.yaml": specialist, "README.md": "not a definition", ".hidden.yaml": "garbage: ["},
			delegates: []string{agents.LogAnalyzer, agents.QueryProfiler, agents.OwnerNotifier, "dbt-checker"},
			check: func(t *testing.T, set *agents.Set) {
				d, ok := set.Get("dbt-checker")
				require.True(t, ok)
				require.Equal(t, 20*time.Second, d.Timeout)
				require.Equal(t, agents.DefaultMaxSteps, d.MaxSteps)
			},
		},
		{
			name: "a file replaces the built-in of its name",
			files: map[string]string{"la.yml": strings.ReplaceAll(strings.ReplaceAll(specialist, "dbt-checker", "log-analyzer"),
				"timeout: 20s", "timeout: 5s\nmodel: llama3.1")},
			delegates: []string{agents.LogAnalyzer, agents.QueryProfiler, agents.OwnerNotifier},
			check: func(t *testing.T, set *agents.Set) {
				d, _ := set.Get(agents.LogAnalyzer)
				require.Equal(t, 5*time.Second, d.Timeout)
				require.Equal(t, "llama3.1", d.Model)
				require.Contains(t, d.Source, "la.yml")
			},
		},
		{
			name: "the commander's delegates choose and order the specialists",
			files: map[string]string{"commander.yaml": `name: incident-commander
role: commander
engine: incident-commander
instructions: Delegate.
tools: [airflow_run_summary, airflow_failed_tasks, invoke_agent]
delegates: [query-profiler, log-analyzer]
timeout: 90s
`},
			delegates: []string{agents.QueryProfiler, agents.LogAnalyzer},
			check: func(t *testing.T, set *agents.Set) {
				require.Equal(t, 90*time.Second, set.Commander().Timeout)
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			set, err := agents.Load(agents.Options{Dir: writeDir(t, tt.files), Engines: engines})
			require.NoError(t, err)
			require.Equal(t, tt.delegates, names(set.Delegates()))
			tt.check(t, set)
		})
	}
}

func TestLoadRejects(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		files  map[string]string
		models bool
		// want is the sentinel and the start of every message, in order.
		want []error
		msgs []string
	}{
		{
			name:  "unknown tool",
			files: map[string]string{"x.yaml": strings.Replace(specialist, "classify_failure]", "classify_failure, rm_rf]", 1)},
			want:  []error{agents.ErrUnknownTool},
			msgs:  []string{`x.yaml:5: tools[4]: "rm_rf" is not a tool; known tools: `},
		},
		{
			name:  "invoke_agent given to a specialist",
			files: map[string]string{"x.yaml": strings.Replace(specialist, "tools: [", "tools: [invoke_agent, ", 1)},
			want:  []error{agents.ErrCommanderOnly},
			msgs:  []string{"x.yaml:5: tools[0]: invoke_agent: only the commander may start other agents"},
		},
		{
			name:  "unknown key",
			files: map[string]string{"x.yaml": specialist + "temperature: 0.2\n"},
			want:  []error{agents.ErrUnknownKey},
			msgs:  []string{"x.yaml:7: temperature: unknown key"},
		},
		{
			name:  "wrong type",
			files: map[string]string{"x.yaml": strings.Replace(specialist, "timeout: 20s", "timeout: [20s]", 1)},
			want:  []error{agents.ErrInvalid},
			msgs:  []string{"x.yaml:6: timeout: want a duration such as 45s or 2m, got a list"},
		},
		{
			name: "timeout and max_steps out of range, every problem at once",
			files: map[string]string{
				"x.yaml": strings.Replace(specialist, "timeout: 20s", "timeout: 2h\nmax_steps: 1000", 1),
				"y.yaml": strings.ReplaceAll(strings.Replace(specialist, "timeout: 20s", "timeout: 10ms", 1), "dbt-checker", "other"),
			},
			want: []error{agents.ErrInvalid, agents.ErrInvalid, agents.ErrInvalid},
			msgs: []string{"x.yaml:6: timeout: want from 1s to 30m0s", "x.yaml:7: max_steps: want from 1 to 200", "y.yaml:6: timeout: want from 1s to 30m0s"},
		},
		{
			name:  "duplicate names in the directory",
			files: map[string]string{"a.yaml": specialist, "b.yaml": specialist},
			want:  []error{agents.ErrDuplicate},
			msgs:  []string{`b.yaml:1: name: "dbt-checker" is already defined in `},
		},
		{
			name:  "unknown engine",
			files: map[string]string{"x.yaml": strings.Replace(specialist, "engine: log-analyzer", "engine: magic", 1)},
			want:  []error{agents.ErrUnknownEngine},
			msgs:  []string{`x.yaml:3: engine: "magic" is not an engine; known engines: [incident-commander log-analyzer owner-notifier query-profiler]`},
		},
		{
			name:  "an engine's tool left out of the allowlist",
			files: map[string]string{"x.yaml": strings.Replace(specialist, ", classify_failure", "", 1)},
			want:  []error{agents.ErrInvalid},
			msgs:  []string{"x.yaml:5: tools: engine log-analyzer calls classify_failure, which the allowlist leaves out"},
		},
		{
			name:  "a model without an LLM or an engine",
			files: map[string]string{"x.yaml": strings.Replace(specialist, "engine: log-analyzer", "model: gpt-4o", 1)},
			want:  []error{agents.ErrUnknownEngine},
			msgs:  []string{`x.yaml:3: model: "gpt-4o" needs an LLM, and none is configured`},
		},
		{
			name:  "neither model nor engine",
			files: map[string]string{"x.yaml": strings.Replace(specialist, "engine: log-analyzer\n", "", 1)},
			want:  []error{agents.ErrUnknownEngine},
			msgs:  []string{"x.yaml: engine: set engine (one of [incident-commander log-analyzer owner-notifier query-profiler]) or model"},
		},
		{
			name: "a second commander",
			files: map[string]string{"x.yaml": `name: other-commander
role: commander
engine: incident-commander
instructions: Also command.
tools: [airflow_run_summary, airflow_failed_tasks, invoke_agent]
`},
			want: []error{agents.ErrDuplicate},
			msgs: []string{"x.yaml:2: role: incident-commander is already the commander (builtin/incident-commander.yaml)"},
		},
		{
			name: "a commander that cannot delegate, and an unknown delegate",
			files: map[string]string{"x.yaml": `name: incident-commander
role: commander
engine: incident-commander
instructions: Command.
tools: [airflow_run_summary, airflow_failed_tasks]
delegates: [log-analyzer, nobody]
`},
			want: []error{agents.ErrInvalid, agents.ErrInvalid, agents.ErrInvalid},
			msgs: []string{"x.yaml:5: tools: the commander must allow invoke_agent", "x.yaml:5: tools: engine incident-commander calls invoke_agent", `x.yaml:6: delegates[1]: no agent is named "nobody"`},
		},
		{
			name:  "a specialist on the commander's engine",
			files: map[string]string{"x.yaml": strings.Replace(specialist, "engine: log-analyzer", "engine: incident-commander", 1)},
			want:  []error{agents.ErrInvalid, agents.ErrInvalid, agents.ErrInvalid, agents.ErrInvalid},
			msgs:  []string{"x.yaml:3: engine: engine incident-commander runs a commander", "x.yaml:5: tools: engine incident-commander calls airflow_run_summary"},
		},
		{
			name:  "not YAML",
			files: map[string]string{"x.yaml": "name: [unclosed\n"},
			want:  []error{agents.ErrSyntax},
			msgs:  []string{"x.yaml: not valid YAML: line "},
		},
		{
			name:  "two documents",
			files: map[string]string{"x.yaml": specialist + "---\nname: second\n"},
			want:  []error{agents.ErrSyntax},
			msgs:  []string{"x.yaml:7: one definition per file"},
		},
		{
			name:  "a list, not a mapping",
			files: map[string]string{"x.yaml": "- name: x\n"},
			want:  []error{agents.ErrSyntax},
			msgs:  []string{"x.yaml:1: want one mapping of keys"},
		},
		{
			name:  "an empty file",
			files: map[string]string{"x.yaml": ""},
			want:  []error{agents.ErrSyntax},
			msgs:  []string{"x.yaml: want one mapping of keys"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := writeDir(t, tt.files)
			_, err := agents.Load(agents.Options{Dir: dir, Engines: engines, Models: tt.models})
			require.Error(t, err)
			var all []*agents.Error
			for _, e := range flatten(err) {
				var ae *agents.Error
				require.ErrorAs(t, e, &ae)
				all = append(all, ae)
			}
			require.Len(t, all, len(tt.want), "problems: %v", err)
			for i, want := range tt.want {
				require.ErrorIs(t, all[i], want)
			}
			for i, msg := range tt.msgs {
				require.True(t, strings.HasPrefix(all[i].Error(), dir+string(filepath.Separator)+msg),
					"problem %d:\n got %s\nwant %s…", i, all[i].Error(), msg)
			}
		})
	}
}

// flatten undoes errors.Join, however deeply nested.
func flatten(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok { //nolint:errorlint // walking the join itself
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, flatten(e)...)
		}
		return out
	}
	return []error{err}
}

func TestLoadMissingDir(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "absent")
	_, err := agents.Load(agents.Options{Dir: dir, Engines: engines})
	require.ErrorIs(t, err, os.ErrNotExist)
	require.ErrorContains(t, err, dir)
}

func TestModelWithLLMNeedsNoEngine(t *testing.T) {
	t.Parallel()
	dir := writeDir(t, map[string]string{"x.yaml": strings.Replace(specialist, "engine: log-analyzer", "model: gpt-4o", 1)})
	set, err := agents.Load(agents.Options{Dir: dir, Engines: engines, Models: true})
	require.NoError(t, err)
	d, ok := set.Get("dbt-checker")
	require.True(t, ok)
	require.Empty(t, d.Engine)
	require.Equal(t, "gpt-4o", d.Model)
}

func TestRegistryIsReadOnly(t *testing.T) {
	t.Parallel()
	reg := agents.DefaultRegistry()
	require.Len(t, reg.Tools(), 12)
	for _, tool := range reg.Tools() {
		require.True(t, tool.ReadOnly, tool.Name)
		require.NotEmpty(t, tool.Description, tool.Name)
		require.Equal(t, tool.Name == agents.ToolInvokeAgent, tool.CommanderOnly, tool.Name)
	}
	_, ok := reg.Lookup("clear_task")
	require.False(t, ok)
}

func TestWriteToolsAreRefused(t *testing.T) {
	t.Parallel()
	reg := agents.NewRegistry(append(agents.DefaultRegistry().Tools(), agents.Tool{Name: "clear_task", Description: "Clears a task."})...)
	dir := writeDir(t, map[string]string{"x.yaml": strings.Replace(specialist, "tools: [", "tools: [clear_task, ", 1)})
	_, err := agents.Load(agents.Options{Dir: dir, Engines: engines, Registry: reg})
	require.ErrorIs(t, err, agents.ErrInvalid)
	require.ErrorContains(t, err, "x.yaml:5: tools[0]: clear_task writes, and agents may only be given read-only tools")
	require.False(t, errors.Is(err, agents.ErrUnknownTool))
}

// TestReadmeExample keeps the README's agent example true: dropped into an
// agents directory, it loads and is started as a fourth specialist.
func TestReadmeExample(t *testing.T) {
	t.Parallel()
	doc, err := os.ReadFile(filepath.Join("..", "..", "..", "README.md"))
	require.NoError(t, err)
	_, rest, ok := strings.Cut(string(doc), "# agents/dbt-checker.yaml: a fourth specialist\n")
	require.True(t, ok, "the README has the agent example")
	example, _, ok := strings.Cut(rest, "```")
	require.True(t, ok)
	dir := writeDir(t, map[string]string{"dbt-checker.yaml": example})
	set, err := agents.Load(agents.Options{Dir: dir, Engines: engines})
	require.NoError(t, err)
	def, ok := set.Get("dbt-checker")
	require.True(t, ok)
	require.Equal(t, "log-analyzer", def.Engine)
	require.Contains(t, set.Delegates(), def)
}
