package investigate

import (
	"context"
	"fmt"
	"maps"
	"slices"

	"github.com/medic-sh/medic/internal/incident"
	"github.com/medic-sh/medic/internal/investigate/agents"
)

// Engine runs one specialist's work in its session. The deterministic
// engines are built in (log-analyzer, query-profiler, owner-notifier); a
// model-driven engine comes from ModelEngines. An engine must return when
// ctx ends, record its findings through the Task's Reporter, and never
// write outside medic.
type Engine interface {
	// Spec says which role the engine serves and which tools it calls;
	// an agent that runs it must allow them all.
	Spec() agents.EngineSpec
	// Run does the work. A returned Result is kept even with an error (a
	// partial result); an error matching triage.ErrRetryLater asks for the
	// job to be retried unless Task.FinalAttempt.
	Run(ctx context.Context, t *Task) (*Result, error)
}

// ModelEngines is the hook for model-driven agents: it builds the tool
// loop (internal/llm) of an agent that has a model, over the tools its
// definition allows. Models implements it; medic wires it when an LLM is
// configured. Without it every agent runs its deterministic engine; with
// it an agent with a model runs the loop instead, and an agent with a
// model and no engine becomes valid.
type ModelEngines interface {
	ModelEngine(def *agents.Definition) (Engine, error)
}

// Task is one run of an engine.
type Task struct {
	Agent    *agents.Definition
	Incident *incident.Incident
	Session  *incident.Session
	Brief    Brief
	// Known are the commander's findings (its orientation), for engines
	// that read them.
	Known []*incident.Finding
	// FinalAttempt is set when a retry would come after the deadline, or
	// the job has no attempt left: retryable failures are then recorded.
	FinalAttempt bool
	Report       Reporter
}

// Reporter is how an engine tells its session what it does and finds.
type Reporter interface {
	// Progress posts one line for people following the investigation.
	Progress(ctx context.Context, message string)
	// Finding records one finding in the session (once per step) and
	// posts it as a finding event.
	Finding(ctx context.Context, f *incident.Finding) error
}

// CommanderEngine is the name of the commander's deterministic engine.
const CommanderEngine = agents.Commander

// CommanderSpec is what the commander's engine calls.
var CommanderSpec = agents.EngineSpec{
	Role:  agents.RoleCommander,
	Tools: []string{agents.ToolRunSummary, agents.ToolFailedTasks, agents.ToolInvokeAgent},
}

// Specs lists the engines' specs, with the commander's, for agents.Load.
func Specs(engines map[string]Engine) map[string]agents.EngineSpec {
	out := map[string]agents.EngineSpec{CommanderEngine: CommanderSpec}
	for name, e := range engines {
		out[name] = e.Spec()
	}
	return out
}

// engineFor picks what runs def: the model-driven engine when def has a
// model and one is wired, else its deterministic engine.
func (inv *Investigator) engineFor(def *agents.Definition) (Engine, error) {
	if def.Model != "" && inv.models != nil {
		e, err := inv.models.ModelEngine(def)
		if err != nil {
			return nil, fmt.Errorf("model engine of %s: %w", def.Name, err)
		}
		return e, nil
	}
	e, ok := inv.engines[def.Engine]
	if !ok {
		return nil, fmt.Errorf("agent %s: engine %q is not available (known: %v)", def.Name, def.Engine, sortedKeys(inv.engines))
	}
	return e, nil
}

func sortedKeys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }
