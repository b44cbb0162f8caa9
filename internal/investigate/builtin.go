package investigate

import (
	"github.com/medic-sh/medic/internal/investigate/agents"
	"github.com/medic-sh/medic/internal/triage"
	"github.com/medic-sh/medic/internal/warehouse"
)

// BuiltinEngines returns the deterministic engines of the built-in
// specialists, by the names their definitions use: the log-analyzer over
// the triage runner, the query-profiler over the warehouses (none is
// fine), and the owner-notifier over owners (nil: Airflow's owners only).
func BuiltinEngines(runner *triage.Runner, instances triage.Instances, connectors []warehouse.Connector, owners Owners) map[string]Engine {
	return map[string]Engine{
		agents.LogAnalyzer:   NewLogAnalyzer(runner),
		agents.QueryProfiler: NewQueryProfiler(connectors, instances),
		agents.OwnerNotifier: NewOwnerNotifier(owners),
	}
}
