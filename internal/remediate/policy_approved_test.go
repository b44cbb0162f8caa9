package remediate

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/medic-sh/medic/internal/config"
	"github.com/medic-sh/medic/internal/incident"
)

// TestEvaluateModelProposed: a language model's diagnosis never executes on
// its own; it is capped at propose, and lower outcomes stay as they are.
func TestEvaluateModelProposed(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		mut    func(*config.Remediate)
		in     func(*Input)
		want   Outcome
		capped bool // the model_proposed reason is present as a cap
	}{
		{name: "auto execute becomes propose", want: OutcomePropose, capped: true},
		{name: "shadow mode proposes too", mut: func(c *config.Remediate) { c.Shadow = true }, want: OutcomePropose, capped: true},
		{name: "suggest stays suggest", in: func(i *Input) { i.DagID = "etl_sugg" }, want: OutcomeSuggest, capped: true},
		{name: "not allowed stays suggest", in: func(i *Input) { i.DagID = "ml_train" }, want: OutcomeSuggest, capped: true},
		{name: "approve stays propose", in: func(i *Input) { i.DagID = "etl_appr" }, want: OutcomePropose, capped: true},
		{name: "autonomy off still refuses", in: func(i *Input) { i.DagID = "etl_off" }, want: OutcomeRefuse, capped: true},
		{name: "a refusal comes first", in: func(i *Input) { i.Facts.TaskState = "success" }, want: OutcomeRefuse},
		{name: "escalate is unchanged", in: func(i *Input) { i.Proposed = "fix_code" }, want: OutcomeEscalate},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := newPolicy(t, tt.mut, "staging")
			in := goodInput()
			if tt.in != nil {
				tt.in(&in)
			}
			without := p.Evaluate(in)
			_, ok := rule(without, RuleModel)
			require.False(t, ok, "no model_proposed reason when a model did not propose: %+v", without.Reasons)

			in.ModelProposed = true
			d := p.Evaluate(in)
			require.Equal(t, tt.want, d.Outcome, "reasons: %+v", d.Reasons)
			r, ok := rule(d, RuleModel)
			require.Equal(t, tt.capped, ok, "reasons: %+v", d.Reasons)
			if ok {
				require.Equal(t, "cap", r.Result)
				require.Contains(t, r.Detail, "language model")
			}
			if d.Outcome == OutcomePropose {
				require.Equal(t, now.Add(time.Hour), d.ExpiresAt)
				require.NotEmpty(t, d.IdempotencyKey)
			}
		})
	}
}

// approvedInput is goodInput approved by a person.
func approvedInput() Input {
	in := goodInput()
	in.ApprovedBy = "alice@example.com"
	return in
}

// TestEvaluateApproved: an approved action is evaluated again just before
// it runs. The safety rules still refuse; the autonomy rules (autonomy,
// environment, gate and the propose caps) are not consulted.
func TestEvaluateApproved(t *testing.T) {
	t.Parallel()
	autonomyRules := []string{RuleAutonomy, RuleEnvironment, RuleGate1, RuleGate2, RulePriorVerify, RuleApprovalOnly, RuleModel}
	tests := []struct {
		name   string
		env    string
		mut    func(*config.Remediate)
		in     func(*Input)
		want   Outcome
		action Name
		rule   string // the reason the outcome comes from
		result string
		detail []string // in that reason's detail
	}{
		{name: "approved executes", want: OutcomeExecute, action: ClearFailedTasks, rule: RuleApproved, result: "pass", detail: []string{"alice@example.com"}},
		{name: "autonomy off is not consulted", in: func(i *Input) { i.DagID = "etl_off" }, want: OutcomeExecute, rule: RuleApproved, result: "pass"},
		{name: "autonomy suggest is not consulted", in: func(i *Input) { i.DagID = "etl_sugg" }, want: OutcomeExecute, rule: RuleApproved, result: "pass"},
		{name: "autonomy approve is not consulted", in: func(i *Input) { i.DagID = "etl_appr" }, want: OutcomeExecute, rule: RuleApproved, result: "pass"},
		{name: "environment is not consulted", env: "production", in: func(i *Input) { i.Class = "TIMEOUT" }, want: OutcomeExecute, rule: RuleApproved, result: "pass"},
		{name: "gate is not consulted", in: func(i *Input) {
			i.Precedent, i.Confidence, i.RetrySafe = nil, 0, false
		}, want: OutcomeExecute, rule: RuleApproved, result: "pass"},
		{name: "prior failed verification is not a cap", in: func(i *Input) { i.PriorFailedVerification = true }, want: OutcomeExecute, rule: RuleApproved, result: "pass"},
		{name: "approval-only action runs", in: func(i *Input) { i.Proposed = "pause_dag" }, want: OutcomeExecute, action: PauseDag, rule: RuleApproved, result: "pass"},
		{name: "a model's proposal runs once approved", in: func(i *Input) { i.ModelProposed = true }, want: OutcomeExecute, rule: RuleApproved, result: "pass"},
		{name: "shadow mode", mut: func(c *config.Remediate) { c.Shadow = true }, want: OutcomeShadow, rule: RuleShadow, result: "cap"},
		{name: "kill switch input", in: func(i *Input) { i.KillSwitch = true }, want: OutcomeRefuse, rule: RuleKillSwitch, result: "fail"},
		{name: "kill switch config", mut: func(c *config.Remediate) { c.KillSwitch = true }, want: OutcomeRefuse, rule: RuleKillSwitch, result: "fail"},
		{name: "deny", in: func(i *Input) { i.DagID = "etl_finance_gl" }, want: OutcomeRefuse, rule: RuleDeny, result: "fail"},
		{name: "unknown action", in: func(i *Input) { i.Proposed = "rm_rf" }, want: OutcomeRefuse, rule: RuleAction, result: "fail"},
		{name: "precondition unmet", in: func(i *Input) { i.Facts.TaskState = "success" }, want: OutcomeRefuse, rule: RulePrecondition, result: "fail", detail: []string{"task_failed"}},
		{name: "paused DAG", in: func(i *Input) { i.Facts.DagPaused = true }, want: OutcomeRefuse, rule: RulePrecondition, result: "fail", detail: []string{"dag_active"}},
		{name: "edited trigger conf fails its schema", in: func(i *Input) {
			i.DagID, i.Proposed = "reports_daily", "trigger_dag_run"
			i.Params.Conf = map[string]any{"date": "yesterday", "extra": 1}
		}, want: OutcomeRefuse, action: TriggerDagRun, rule: RuleParams, result: "fail", detail: []string{"reports_daily", "conf.date", "extra"}},
		{name: "edited trigger conf that fits runs", in: func(i *Input) {
			i.DagID, i.Proposed = "reports_daily", "trigger_dag_run"
			i.Params.Conf = map[string]any{"date": "2026-11-30", "full": true}
		}, want: OutcomeExecute, action: TriggerDagRun, rule: RuleApproved, result: "pass"},
		{name: "trigger without a schema", in: func(i *Input) { i.Proposed = "trigger_dag_run" }, want: OutcomeRefuse, rule: RuleParams, result: "fail", detail: []string{"no schema"}},
		{name: "bad wait condition", in: func(i *Input) {
			i.Proposed = "wait_for_upstream_then_retry"
			i.Params.Condition = &Condition{Kind: "vibes"}
		}, want: OutcomeRefuse, rule: RuleParams, result: "fail", detail: []string{"vibes"}},
		{name: "task instance budget", in: func(i *Input) { i.Counters.TaskInstanceAttempts = 2 }, want: OutcomeRefuse, rule: RuleBudgetTI, result: "fail"},
		{name: "dag budget", in: func(i *Input) { i.Counters.DagToday = 10 }, want: OutcomeRefuse, rule: RuleBudgetDag, result: "fail"},
		{name: "rate limit", in: func(i *Input) { i.Counters.InRateWindow = 20 }, want: OutcomeRefuse, rule: RuleRate, result: "fail"},
		{name: "needs a person", in: func(i *Input) { i.Proposed = "fix_code" }, want: OutcomeEscalate, action: Escalate, rule: RuleAction, result: "info"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env := tt.env
			if env == "" {
				env = "staging"
			}
			p := newPolicy(t, tt.mut, env)
			in := approvedInput()
			if tt.in != nil {
				tt.in(&in)
			}
			d := p.Evaluate(in)
			require.Equal(t, tt.want, d.Outcome, "reasons: %+v", d.Reasons)
			if tt.action != "" {
				require.Equal(t, tt.action, d.Action)
			}
			r, ok := rule(d, tt.rule)
			require.True(t, ok, "no reason for %s in %+v", tt.rule, d.Reasons)
			require.Equal(t, tt.result, r.Result, r.Detail)
			for _, s := range tt.detail {
				require.Contains(t, r.Detail, s)
			}
			for _, name := range autonomyRules {
				_, ok := rule(d, name)
				require.False(t, ok, "%s consulted for an approved action: %+v", name, d.Reasons)
			}
			require.False(t, d.Gate.Evaluated, "the gate is not run for an approved action")
			require.True(t, d.ExpiresAt.IsZero(), "an approved action does not lapse")
			switch d.Outcome {
			case OutcomeExecute, OutcomeShadow:
				require.NotEmpty(t, d.IdempotencyKey)
				last := d.Reasons[len(d.Reasons)-1]
				if d.Outcome == OutcomeShadow {
					require.Equal(t, RuleShadow, last.Rule)
					_, ok := rule(d, RuleApproved)
					require.True(t, ok, "shadow follows the approval: %+v", d.Reasons)
				} else {
					require.Equal(t, RuleApproved, last.Rule, "approval is the last rule")
				}
			case OutcomeRefuse:
				_, ok := rule(d, RuleApproved)
				require.False(t, ok, "a refusal is not approved: %+v", d.Reasons)
			}
		})
	}
}

// TestEvaluateApprovedKeepsTheBackoffDelay: the delay an action was
// proposed with is the one it runs with, so the idempotency key of the
// approved action does not move when the counters do between proposal and
// execution.
func TestEvaluateApprovedKeepsTheBackoffDelay(t *testing.T) {
	t.Parallel()
	p := newPolicy(t, nil, "staging")
	backoffInput := func(c Counters) Input {
		in := goodInput()
		in.Proposed, in.Precedent.Action = "retry_with_backoff", "retry_with_backoff"
		in.Counters = c
		return in
	}
	proposed := p.Evaluate(backoffInput(Counters{}))
	require.Equal(t, OutcomeExecute, proposed.Outcome, "reasons: %+v", proposed.Reasons)
	require.Equal(t, RetryWithBackoff, proposed.Action)
	require.Equal(t, 5*time.Minute, proposed.Params.Delay)

	counters := []Counters{{}, {TaskInstanceAttempts: 1}, {TaskInstanceAttempts: 1, DagToday: 7, InRateWindow: 19}, {DagToday: 3}}
	for _, c := range counters {
		in := backoffInput(c)
		in.ApprovedBy = "alice@example.com"
		in.Params = proposed.Params
		d := p.Evaluate(in)
		require.Equal(t, OutcomeExecute, d.Outcome, "counters %+v: %+v", c, d.Reasons)
		require.Equal(t, proposed.Params.Delay, d.Params.Delay, "counters %+v", c)
		require.Equal(t, proposed.IdempotencyKey, d.IdempotencyKey, "counters %+v", c)
	}

	// Without an approval the delay follows the counters, and so does the key.
	again := p.Evaluate(backoffInput(Counters{TaskInstanceAttempts: 1}))
	require.Equal(t, 10*time.Minute, again.Params.Delay)
	require.NotEqual(t, proposed.IdempotencyKey, again.IdempotencyKey)
	withDelay := backoffInput(Counters{TaskInstanceAttempts: 1})
	withDelay.Params.Delay = 5 * time.Minute
	require.Equal(t, 10*time.Minute, p.Evaluate(withDelay).Params.Delay, "a proposed delay is not taken without an approval")

	tests := []struct {
		name     string
		delay    time.Duration
		attempts int
		want     time.Duration
	}{
		{"kept", 20 * time.Minute, 0, 20 * time.Minute},
		{"capped at backoff.max", 100 * time.Hour, 0, time.Hour},
		{"none given: from the counters", 0, 1, 10 * time.Minute},
		{"negative: from the counters", -time.Minute, 1, 10 * time.Minute},
	}
	for _, tt := range tests {
		in := backoffInput(Counters{TaskInstanceAttempts: tt.attempts})
		in.ApprovedBy = "alice@example.com"
		in.Params.Delay = tt.delay
		d := p.Evaluate(in)
		require.Equal(t, OutcomeExecute, d.Outcome, tt.name)
		require.Equal(t, tt.want, d.Params.Delay, tt.name)
	}
}

// TestEvaluateApprovedDropsOtherActionsDelay: only retry_with_backoff
// carries a delay, approved or not.
func TestEvaluateApprovedDropsOtherActionsDelay(t *testing.T) {
	t.Parallel()
	p := newPolicy(t, nil, "staging")
	in := approvedInput()
	in.Params.Delay = 20 * time.Minute
	d := p.Evaluate(in)
	require.Equal(t, OutcomeExecute, d.Outcome)
	require.Equal(t, ClearFailedTasks, d.Action)
	require.Zero(t, d.Params.Delay)
	require.Equal(t, IdempotencyKey(in.Target, ClearFailedTasks, Params{OnlyFailed: true}), d.IdempotencyKey)
}

func TestPolicyLimits(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		mut  func(*config.Remediate)
		want incident.ActionLimits
	}{
		{name: "defaults", want: incident.ActionLimits{PerTaskInstance: 2, PerDagPerDay: 10, RateActions: 20, RateWindow: time.Minute}},
		{name: "configured", mut: func(c *config.Remediate) {
			c.Budgets = config.RemediateBudgets{PerTaskInstance: 5, PerDagPerDay: 50}
			c.RateLimit = config.RemediateRateLimit{Actions: 7, Per: time.Hour}
		}, want: incident.ActionLimits{PerTaskInstance: 5, PerDagPerDay: 50, RateActions: 7, RateWindow: time.Hour}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := newPolicy(t, tt.mut, "staging")
			got := p.Limits()
			require.NotNil(t, got)
			require.Equal(t, tt.want, *got)
			require.Equal(t, got.RateWindow, p.RateWindow())
			require.NotSame(t, got, p.Limits(), "each caller gets its own copy")
		})
	}
}
