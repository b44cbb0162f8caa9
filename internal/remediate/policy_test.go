package remediate

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/medic-sh/medic/internal/config"
)

var now = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

func testConfig() config.Remediate {
	c := config.Default().Remediate
	c.Allow = []string{"etl_*", "reports_*", "prod_*"}
	c.Deny = []string{"etl_finance_*"}
	c.Autonomy = []config.AutonomyRule{
		{DAG: "etl_off", Class: "*", Level: config.AutonomyOff},
		{DAG: "etl_sugg", Class: "*", Level: config.AutonomySuggest},
		{DAG: "etl_appr", Class: "*", Level: config.AutonomyApprove},
		{DAG: "*", Class: "*", Level: config.AutonomyAuto},
	}
	c.Environments = map[string]config.RemediateEnvironment{
		"production": {ApprovalRequired: true, ExceptClasses: []string{"INFRA", "UPSTREAM_UNAVAILABLE"}},
	}
	c.Gate.Similarity = map[string]float64{"default": 0.82, "TIMEOUT": 0.95}
	c.ConfSchemas = map[string]string{
		"reports_*": `{"type":"object","required":["date"],"properties":{"date":{"type":"string","pattern":"^\\d{4}-\\d{2}-\\d{2}$"},"full":{"type":"boolean"}},"additionalProperties":false}`,
	}
	c.Resources = map[string]config.RemediateResources{"etl_heavy*": {Pool: "big", ExecutorConfig: `{"KubernetesExecutor":{"request_memory":"8Gi"}}`}}
	return c
}

func newPolicy(t *testing.T, mut func(*config.Remediate), env string) *Policy {
	t.Helper()
	c := testConfig()
	if mut != nil {
		mut(&c)
	}
	full := config.Default()
	full.Remediate = c
	require.NoError(t, full.Validate())
	p, err := New(c, env)
	require.NoError(t, err)
	return p
}

// goodInput passes every rule for auto.
func goodInput() Input {
	return Input{
		Target:     Target{IncidentID: "inc-1", DagID: "etl_orders", RunID: "scheduled__1", TaskID: "load", TryNumber: 2},
		Class:      "INFRA",
		Confidence: 0.9, RetrySafe: true, Proposed: "retry",
		Facts:     Facts{RunState: "failed", TaskState: "failed", TryNumber: 2, MaxTries: 2},
		Precedent: &Precedent{RecordID: "rec-1", Action: "retry", Outcome: "fixed", Trust: 0.9, Similarity: 0.95},
		Now:       now,
	}
}

func rule(d Decision, name string) (Reason, bool) {
	for _, r := range d.Reasons {
		if r.Rule == name {
			return r, true
		}
	}
	return Reason{}, false
}

func TestEvaluate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		env    string
		mut    func(*config.Remediate)
		in     func(*Input)
		want   Outcome
		action Name
		rule   string // a reason that must be present
		result string
		stage1 *bool
		stage2 *bool
	}{
		{name: "auto passes the gate", want: OutcomeExecute, action: ClearFailedTasks, rule: RuleGate2, result: "pass"},
		{name: "kill switch input", in: func(i *Input) { i.KillSwitch = true }, want: OutcomeRefuse, rule: RuleKillSwitch, result: "fail"},
		{name: "kill switch config beats deny", mut: func(c *config.Remediate) { c.KillSwitch = true }, in: func(i *Input) { i.DagID = "etl_finance_x" }, want: OutcomeRefuse, rule: RuleKillSwitch, result: "fail"},
		{name: "kill switch beats escalate", in: func(i *Input) { i.KillSwitch = true; i.Proposed = "fix_code" }, want: OutcomeRefuse, rule: RuleKillSwitch, result: "fail"},
		{name: "deny beats allow", in: func(i *Input) { i.DagID = "etl_finance_gl" }, want: OutcomeRefuse, rule: RuleDeny, result: "fail"},
		{name: "not allowed suggests", in: func(i *Input) { i.DagID = "ml_train" }, want: OutcomeSuggest, rule: RuleAllow, result: "cap"},
		{name: "class needs a person", in: func(i *Input) { i.Class = "CODE_ERROR"; i.Proposed = "fix_code" }, want: OutcomeEscalate, action: Escalate, rule: RuleAction, result: "info"},
		{name: "unknown remediation refused", in: func(i *Input) { i.Proposed = "rm_rf" }, want: OutcomeRefuse, rule: RuleAction, result: "fail"},
		{name: "resources not configured escalates", in: func(i *Input) { i.Proposed = "retry_with_more_resources" }, want: OutcomeEscalate, action: Escalate},
		{name: "resources configured", in: func(i *Input) {
			i.DagID = "etl_heavy_join"
			i.Proposed = "retry_with_more_resources"
			i.Precedent.Action = "retry_with_more_resources"
		}, want: OutcomeExecute, action: RetryWithMoreResources, rule: RuleParams, result: "pass"},
		{name: "precondition unmet", in: func(i *Input) { i.Facts.TaskState = "success" }, want: OutcomeRefuse, rule: RulePrecondition, result: "fail"},
		{name: "paused DAG not cleared", in: func(i *Input) { i.Facts.DagPaused = true }, want: OutcomeRefuse, rule: RulePrecondition, result: "fail"},
		{name: "task instance budget", in: func(i *Input) { i.Counters.TaskInstanceAttempts = 2 }, want: OutcomeRefuse, rule: RuleBudgetTI, result: "fail"},
		{name: "dag budget", in: func(i *Input) { i.Counters.DagToday = 10 }, want: OutcomeRefuse, rule: RuleBudgetDag, result: "fail"},
		{name: "rate limit", in: func(i *Input) { i.Counters.InRateWindow = 20 }, want: OutcomeRefuse, rule: RuleRate, result: "fail"},
		{name: "prior failed verification proposes", in: func(i *Input) { i.PriorFailedVerification = true }, want: OutcomePropose, rule: RulePriorVerify, result: "cap"},
		{name: "production requires approval", env: "production", in: func(i *Input) {
			i.Class = "TIMEOUT"
			i.Proposed = "retry"
			i.Confidence = 0.99
			i.Precedent.Exact = true
			i.Precedent.Trust = 0.99
		}, want: OutcomePropose, rule: RuleEnvironment, result: "cap"},
		{name: "production except class executes", env: "production", want: OutcomeExecute, rule: RuleEnvironment, result: "pass"},
		{name: "autonomy off refuses", in: func(i *Input) { i.DagID = "etl_off" }, want: OutcomeRefuse, rule: RuleAutonomy, result: "info"},
		{name: "autonomy suggest", in: func(i *Input) { i.DagID = "etl_sugg" }, want: OutcomeSuggest, rule: RuleAutonomy},
		{name: "autonomy approve", in: func(i *Input) { i.DagID = "etl_appr" }, want: OutcomePropose, rule: RuleAutonomy},
		{name: "default autonomy is suggest", mut: func(c *config.Remediate) { c.Autonomy = nil }, want: OutcomeSuggest, rule: RuleAutonomy},
		{name: "stage 1 fails: no precedent", in: func(i *Input) { i.Precedent = nil }, want: OutcomePropose, rule: RuleGate1, result: "fail", stage1: new(false), stage2: new(true)},
		{name: "stage 1 fails: other action", in: func(i *Input) { i.Precedent.Action = "retry_with_backoff" }, want: OutcomePropose, rule: RuleGate1, result: "fail", stage1: new(false), stage2: new(true)},
		{name: "stage 1 fails: not fixed", in: func(i *Input) { i.Precedent.Outcome = "failed" }, want: OutcomePropose, rule: RuleGate1, result: "fail", stage1: new(false)},
		{name: "stage 1 fails: low trust", in: func(i *Input) { i.Precedent.Trust = 0.6 }, want: OutcomePropose, rule: RuleGate1, result: "fail", stage1: new(false), stage2: new(true)},
		{name: "stage 1 per-class threshold", in: func(i *Input) { i.Class = "TIMEOUT" }, want: OutcomePropose, rule: RuleGate1, result: "fail", stage1: new(false)},
		{name: "stage 2 fails: confidence", in: func(i *Input) { i.Confidence = 0.5 }, want: OutcomePropose, rule: RuleGate2, result: "fail", stage1: new(true), stage2: new(false)},
		{name: "stage 2 fails: not retry safe", in: func(i *Input) { i.RetrySafe = false }, want: OutcomePropose, rule: RuleGate2, result: "fail", stage1: new(true), stage2: new(false)},
		{name: "shadow", mut: func(c *config.Remediate) { c.Shadow = true }, want: OutcomeShadow, rule: RuleShadow, result: "cap"},
		{name: "shadow leaves proposals", mut: func(c *config.Remediate) { c.Shadow = true }, in: func(i *Input) { i.Confidence = 0 }, want: OutcomePropose},
		{name: "pause_dag never auto", in: func(i *Input) { i.Proposed = "pause_dag"; i.Precedent.Action = "pause_dag" }, want: OutcomePropose, action: PauseDag, rule: RuleApprovalOnly, result: "cap"},
		{name: "trigger with valid conf", in: func(i *Input) {
			i.DagID, i.Proposed, i.Precedent.Action = "reports_daily", "trigger_dag_run", "trigger_dag_run"
			i.Params.Conf = map[string]any{"date": "2026-11-30"}
		}, want: OutcomeExecute, action: TriggerDagRun},
		{name: "trigger with bad conf", in: func(i *Input) {
			i.DagID, i.Proposed = "reports_daily", "trigger_dag_run"
			i.Params.Conf = map[string]any{"date": "yesterday"}
		}, want: OutcomeRefuse, rule: RuleParams, result: "fail"},
		{name: "trigger without schema", in: func(i *Input) { i.Proposed = "trigger_dag_run" }, want: OutcomeRefuse, rule: RuleParams, result: "fail"},
		{name: "backoff", in: func(i *Input) { i.Proposed = "retry_with_backoff"; i.Precedent.Action = "retry_with_backoff" }, want: OutcomeExecute, action: RetryWithBackoff},
		{name: "wait for upstream", in: func(i *Input) {
			i.Proposed = "wait_for_upstream_then_retry"
			i.Precedent.Action = "wait_for_upstream_then_retry"
		}, want: OutcomeExecute, action: WaitForUpstreamThenRetry},
		{name: "wait with bad condition", in: func(i *Input) {
			i.Proposed = "wait_for_upstream_then_retry"
			i.Params.Condition = &Condition{Kind: "vibes"}
		}, want: OutcomeRefuse, rule: RuleParams, result: "fail"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env := tt.env
			if env == "" {
				env = "staging"
			}
			p := newPolicy(t, tt.mut, env)
			in := goodInput()
			if tt.in != nil {
				tt.in(&in)
			}
			d := p.Evaluate(in)
			require.Equal(t, tt.want, d.Outcome, "reasons: %+v", d.Reasons)
			require.NotEmpty(t, d.Reasons)
			if tt.action != "" {
				require.Equal(t, tt.action, d.Action)
			}
			if tt.rule != "" {
				r, ok := rule(d, tt.rule)
				require.True(t, ok, "no reason for %s in %+v", tt.rule, d.Reasons)
				if tt.result != "" {
					require.Equal(t, tt.result, r.Result, r.Detail)
				}
			}
			if tt.stage1 != nil {
				require.Equal(t, *tt.stage1, d.Gate.Stage1)
			}
			if tt.stage2 != nil {
				require.Equal(t, *tt.stage2, d.Gate.Stage2)
			}
			if d.Outcome == OutcomePropose {
				require.Equal(t, now.Add(time.Hour), d.ExpiresAt)
			}
			if d.Outcome == OutcomeExecute || d.Outcome == OutcomeShadow {
				require.NotEmpty(t, d.IdempotencyKey)
			}
		})
	}
}

func TestConfErrorsNameTheField(t *testing.T) {
	t.Parallel()
	p := newPolicy(t, nil, "dev")
	tests := []struct {
		conf map[string]any
		want string
	}{
		{map[string]any{"date": "yesterday"}, "conf.date"},
		{map[string]any{"date": "2026-01-01", "full": "yes"}, "conf.full"},
		{map[string]any{}, "date"},
		{map[string]any{"date": "2026-01-01", "extra": 1}, "extra"},
	}
	for _, tt := range tests {
		err := p.validateConf("reports_daily", tt.conf)
		require.Error(t, err)
		require.True(t, errors.Is(err, ErrConf))
		require.Contains(t, err.Error(), tt.want)
	}
	require.NoError(t, p.validateConf("reports_daily", map[string]any{"date": "2026-01-01", "full": true}))
}

func TestBackoffGrows(t *testing.T) {
	t.Parallel()
	b := config.RemediateBackoff{Base: 5 * time.Minute, Max: time.Hour}
	tests := []struct {
		attempts int
		want     time.Duration
	}{{0, 5 * time.Minute}, {1, 10 * time.Minute}, {2, 20 * time.Minute}, {3, 40 * time.Minute}, {4, time.Hour}, {1 << 30, time.Hour}, {-1, 5 * time.Minute}}
	for _, tt := range tests {
		require.Equal(t, tt.want, backoff(b, tt.attempts), "attempts %d", tt.attempts)
	}
}
