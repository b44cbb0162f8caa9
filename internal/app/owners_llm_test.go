package app_test

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/medic-sh/medic/internal/airflow/airflowsim"
	"github.com/medic-sh/medic/internal/classify"
	"github.com/medic-sh/medic/internal/config"
	"github.com/medic-sh/medic/internal/incident"
	"github.com/medic-sh/medic/internal/investigate"
	"github.com/medic-sh/medic/internal/llm"
	"github.com/medic-sh/medic/internal/llm/llmtest"
)

const ordersRules = `rules:
  - name: orders
    match: {dag: "orders_*"}
    owner: {team: orders, slack_channel: "#orders-oncall", tier: 1}
`

const modelLogAnalyzer = `name: log-analyzer
role: specialist
engine: log-analyzer
model: local-model
instructions: Read the failed task's log and say why it failed.
tools: [failure_frequency, airflow_task_log, extract_errors, classify_failure, failure_history, find_similar_failures]
max_steps: 4
`

const refProposal = `{"root_cause": "The load query reads customer_ref, which staging.orders does not have.", "label": "SCHEMA_CHANGE",
"confidence": 0.8, "evidence": [{"source": "airflow_task_log", "quote": "column \"customer_ref\" does not exist"}],
"recommended_action": "schema_migration"}`

// TestOwnershipAndModelWiring starts medic with the owners and llm
// sections: the ownership file decides the owner, a model drives the
// log-analyzer, and a broken ownership file is a warning at start and a
// note on the report, never a refusal to start.
func TestOwnershipAndModelWiring(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		rules string
		model bool
		// owner and severity are the report's; modelUsed says whether its
		// root cause is the model's.
		owner     string
		severity  incident.Severity
		modelUsed bool
		logs      string
		partial   bool
	}{
		{name: "rules and a model", rules: ordersRules, model: true, owner: "orders", severity: incident.SeverityHigh, modelUsed: true},
		{
			name: "a broken ownership file", rules: "rules:\n  - name: orders\n    match: {dag: \"orders_[etl]\"}\n    owner: {team: orders}\n",
			owner: "data-eng", severity: incident.SeverityHigh, logs: "ownership data degraded", partial: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			sim, srv := newSim(t, 3)
			var (
				mu       sync.Mutex
				failures []airflowsim.TaskFailure
			)
			sim.OnTaskFailed(func(f airflowsim.TaskFailure) { mu.Lock(); failures = append(failures, f); mu.Unlock() })
			dir := t.TempDir()
			cfg := testConfig(filepath.Join(dir, "medic.db"), srv.URL, 3)
			cfg.Owners.File = filepath.Join(dir, "owners.yaml")
			require.NoError(t, os.WriteFile(cfg.Owners.File, []byte(tt.rules), 0o600))
			var model *llmtest.Server
			if tt.model {
				model = llmtest.New(t, llmtest.OpenAI, "", llmtest.Sequence(
					llmtest.Reply{ToolCalls: []llm.ToolCall{{ID: "c1", Name: "airflow_task_log", Arguments: json.RawMessage(`{}`)}}, Usage: llm.Usage{InputTokens: 900, OutputTokens: 40}},
					llmtest.Reply{Text: refProposal, Usage: llm.Usage{InputTokens: 1400, OutputTokens: 90}},
				))
				cfg.LLM.Provider, cfg.LLM.BaseURL, cfg.LLM.MaxAttempts = config.LLMProviderOpenAI, model.URL, 1
				cfg.LLM.Pricing = map[string]config.LLMPrice{"local-model": {}}
				agentsDir := filepath.Join(dir, "agents")
				require.NoError(t, os.Mkdir(agentsDir, 0o700))
				require.NoError(t, os.WriteFile(filepath.Join(agentsDir, "log-analyzer.yaml"), []byte(modelLogAnalyzer), 0o600))
				cfg.Investigate.AgentsDir = agentsDir
			}
			require.NoError(t, cfg.Validate())
			logs := &syncBuffer{}
			a, _ := runApp(t, cfg, logs)
			require.Contains(t, logs.String(), tt.logs)

			_, err := sim.StartRun("orders_etl", testRun, time.Date(2026, 5, 1, 2, 0, 0, 0, time.UTC), map[string][]airflowsim.Outcome{"load": {undefinedColumn}})
			require.NoError(t, err)
			mu.Lock()
			f := failures[0]
			mu.Unlock()
			require.Equal(t, http.StatusAccepted, postCallback(t, a.Addr(), failurePayload(f)))
			inc := waitTriaged(t, a.Store(), 1)[0]
			root, err := a.Store().SessionGetByID(context.Background(), inc.TriageSessionID)
			require.NoError(t, err)
			rep, err := investigate.ParseReport(root.Result)
			require.NoError(t, err)

			require.Equal(t, tt.owner, rep.Owner.Name)
			require.Equal(t, tt.severity, rep.Severity)
			require.Equal(t, tt.partial, rep.Partial)
			require.Equal(t, classify.SchemaChange, rep.RootCause.Label)
			if !tt.modelUsed {
				require.Empty(t, rep.RootCause.Model)
				require.Nil(t, rep.ModelUsage)
				require.Equal(t, "owner-notifier", rep.Missing[0].Agent)
				require.Contains(t, rep.Missing[0].Reason, "ownership file not used")
				return
			}
			require.Equal(t, "local-model", rep.RootCause.Model)
			require.Contains(t, rep.RootCause.Summary, "customer_ref")
			require.Equal(t, &investigate.ModelUsage{InputTokens: 2300, OutputTokens: 130, CostKnown: true}, rep.ModelUsage)
			require.Empty(t, model.Violations())
			require.Len(t, model.Requests(), 2)
		})
	}
}
