package remediate

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/medic-sh/medic/internal/config"
	"github.com/medic-sh/medic/internal/incident"
)

// Outcome is what the policy decided.
type Outcome string

// Outcomes, from least to most autonomous (escalate stands apart).
const (
	// OutcomeRefuse: medic does nothing and says why.
	OutcomeRefuse Outcome = "refuse"
	// OutcomeSuggest: medic tells people the action, offers no button.
	OutcomeSuggest Outcome = "suggest"
	// OutcomePropose: the action awaits a human's approval.
	OutcomePropose Outcome = "propose"
	// OutcomeShadow: medic would have executed; it records that and acts not.
	OutcomeShadow Outcome = "shadow"
	// OutcomeExecute: medic runs the action now.
	OutcomeExecute Outcome = "execute"
	// OutcomeEscalate: medic pages the owner with the diagnostic report.
	OutcomeEscalate Outcome = "escalate"
)

var rank = map[Outcome]int{OutcomeRefuse: 0, OutcomeSuggest: 1, OutcomePropose: 2, OutcomeExecute: 3}

// Precedent is the memory record behind the diagnosis.
type Precedent struct {
	RecordID   string  `json:"record_id"`
	Action     string  `json:"action"`
	Outcome    string  `json:"outcome"` // memory.Outcome: fixed, failed, unknown
	Trust      float64 `json:"trust"`
	Similarity float64 `json:"similarity"`
	Exact      bool    `json:"exact"`
}

// Counters are the caller's counts of medic's earlier actions, from the
// store.
type Counters struct {
	// TaskInstanceAttempts counts actions on this DAG, run and task.
	TaskInstanceAttempts int `json:"task_instance_attempts"`
	// DagToday counts actions on this DAG since UTC midnight.
	DagToday int `json:"dag_today"`
	// InRateWindow counts actions on any DAG in the last RateWindow.
	InRateWindow int `json:"in_rate_window"`
}

// Input is everything a decision depends on.
type Input struct {
	Target
	Class      string  `json:"class"`
	Confidence float64 `json:"confidence"`
	RetrySafe  bool    `json:"retry_safe"`
	// Proposed is the diagnosis' remediation or an action name.
	Proposed  string     `json:"proposed"`
	Params    Params     `json:"params"`
	Facts     Facts      `json:"facts"`
	Precedent *Precedent `json:"precedent,omitempty"`
	Counters  Counters   `json:"counters"`
	// KillSwitch is the runtime kill switch.
	KillSwitch bool `json:"kill_switch"`
	// PriorFailedVerification reports that this action already ran for
	// this incident and its verification failed.
	PriorFailedVerification bool `json:"prior_failed_verification"`
	// ModelProposed reports that the diagnosis came from a language model:
	// a model never holds write power, so its proposal needs a person.
	ModelProposed bool `json:"model_proposed,omitempty"`
	// ApprovedBy, when set, is the person who approved this action: it is
	// evaluated again just before it runs, and everything but the autonomy
	// rules (kill switch, deny, allow, preconditions, parameters, budgets,
	// rate limit and shadow mode) still applies.
	ApprovedBy string    `json:"approved_by,omitempty"`
	Now        time.Time `json:"now"`
}

// Reason is one rule consulted and what it found.
type Reason struct {
	Rule   string `json:"rule"`
	Result string `json:"result"` // pass, fail, cap, skip, info
	Detail string `json:"detail"`
}

// Gate is the two-stage gate's arithmetic, for the record.
type Gate struct {
	Evaluated           bool    `json:"evaluated"`
	Similarity          float64 `json:"similarity"`
	Trust               float64 `json:"trust"`
	WeightedSimilarity  float64 `json:"weighted_similarity"`
	SimilarityThreshold float64 `json:"similarity_threshold"`
	Confidence          float64 `json:"confidence"`
	ConfidenceThreshold float64 `json:"confidence_threshold"`
	RetrySafe           bool    `json:"retry_safe"`
	Stage1              bool    `json:"stage1"`
	Stage2              bool    `json:"stage2"`
}

// Decision is the policy's answer.
type Decision struct {
	Outcome        Outcome  `json:"outcome"`
	Action         Name     `json:"action,omitempty"`
	Params         Params   `json:"params"`
	IdempotencyKey string   `json:"idempotency_key,omitempty"`
	Verify         Verify   `json:"verify"`
	Reasons        []Reason `json:"reasons"`
	Gate           Gate     `json:"gate"`
	// ExpiresAt is when a proposal lapses; zero for other outcomes.
	ExpiresAt time.Time `json:"expires_at,omitzero"`
}

// Rule names, as they appear in reasons.
const (
	RuleKillSwitch   = "kill_switch"
	RuleDeny         = "deny"
	RuleAllow        = "allow"
	RuleAction       = "action"
	RulePrecondition = "preconditions"
	RuleParams       = "params"
	RuleBudgetTI     = "budget.per_task_instance"
	RuleBudgetDag    = "budget.per_dag_per_day"
	RuleRate         = "rate_limit"
	RulePriorVerify  = "prior_failed_verification"
	RuleEnvironment  = "environment"
	RuleApprovalOnly = "approval_only"
	RuleAutonomy     = "autonomy"
	RuleGate1        = "gate.stage1"
	RuleGate2        = "gate.stage2"
	RuleShadow       = "shadow"
	RuleModel        = "model_proposed"
	RuleApproved     = "approved"
)

// Policy evaluates inputs against the remediate configuration.
type Policy struct {
	cfg       config.Remediate
	env       string
	schemas   []globbed[*jsonschema.Schema]
	resources []globbed[Resources]
}

// New builds a policy from a validated configuration and the deployment's
// environment name; it compiles the conf schemas once.
func New(cfg config.Remediate, environment string) (*Policy, error) {
	schemas, err := compileSchemas(cfg.ConfSchemas)
	if err != nil {
		return nil, err
	}
	res, err := parseResources(cfg.Resources)
	if err != nil {
		return nil, err
	}
	return &Policy{cfg: cfg, env: environment, schemas: schemas, resources: res}, nil
}

// Limits are the budgets and rate limit, for the ledger to enforce as each
// run begins.
func (p *Policy) Limits() *incident.ActionLimits {
	return &incident.ActionLimits{
		PerTaskInstance: p.cfg.Budgets.PerTaskInstance, PerDagPerDay: p.cfg.Budgets.PerDagPerDay,
		RateActions: p.cfg.RateLimit.Actions, RateWindow: p.cfg.RateLimit.Per,
	}
}

// RateWindow is the window Counters.InRateWindow must count over.
func (p *Policy) RateWindow() time.Duration { return p.cfg.RateLimit.Per }

type eval struct {
	d   Decision
	cap Outcome
}

func (e *eval) note(rule, result, format string, args ...any) {
	e.d.Reasons = append(e.d.Reasons, Reason{Rule: rule, Result: result, Detail: fmt.Sprintf(format, args...)})
}

func (e *eval) capAt(o Outcome) {
	if rank[o] < rank[e.cap] {
		e.cap = o
	}
}

// Evaluate decides what to do about in. It consults, in order: the kill
// switch, deny and allow, the action (escalating classes and actions
// that need a person), preconditions and parameters, the budgets and rate
// limit, a prior failed verification, the environment rule, approval-only
// actions, the autonomy level and, for auto, the two-stage gate; shadow
// mode turns execute into shadow last. Every rule consulted is a reason.
// The result depends only on in.
func (p *Policy) Evaluate(in Input) Decision {
	e := &eval{cap: OutcomeExecute}
	e.d.Reasons = []Reason{}
	stop := func(o Outcome) Decision {
		e.d.Outcome = o
		return e.d
	}
	if in.KillSwitch || p.cfg.KillSwitch {
		e.note(RuleKillSwitch, "fail", "the kill switch is on: medic takes no action")
		return stop(OutcomeRefuse)
	}
	e.note(RuleKillSwitch, "pass", "off")
	if g, ok := matchAny(p.cfg.Deny, in.DagID); ok {
		e.note(RuleDeny, "fail", "DAG %q matches remediate.deny %q", in.DagID, g)
		return stop(OutcomeRefuse)
	}
	e.note(RuleDeny, "pass", "no deny glob matches DAG %q", in.DagID)
	if g, ok := matchAny(p.cfg.Allow, in.DagID); ok {
		e.note(RuleAllow, "pass", "DAG %q matches remediate.allow %q", in.DagID, g)
	} else {
		e.note(RuleAllow, "cap", "DAG %q matches no remediate.allow glob: suggest at most", in.DagID)
		e.capAt(OutcomeSuggest)
	}

	name, ok := Resolve(in.Proposed)
	if !ok {
		e.note(RuleAction, "fail", "%q is neither a remediation nor an action of the registry", in.Proposed)
		return stop(OutcomeRefuse)
	}
	params := in.Params
	if name == RetryWithMoreResources {
		r, g, found := firstMatch(p.resources, in.DagID)
		if !found {
			e.note(RuleAction, "info", "no remediate.resources entry matches DAG %q: escalate instead", in.DagID)
			name = Escalate
		} else {
			params.Resources = &r
			e.note(RuleParams, "pass", "resources from remediate.resources %q", g)
		}
	}
	act := registry[name]
	e.d.Action = name
	e.d.Verify = act.Verify
	if name == Escalate {
		e.d.Params = Params{}
		e.d.IdempotencyKey = IdempotencyKey(in.Target, name, e.d.Params)
		e.note(RuleAction, "info", "%q needs a person: escalate to the owner with the diagnostic report", in.Proposed)
		return stop(OutcomeEscalate)
	}
	e.note(RuleAction, "pass", "%q resolves to %s (blast radius %s, reversible %t)", in.Proposed, name, act.Radius, act.Reversible)
	if unmet := act.Unmet(in.Facts); len(unmet) > 0 {
		e.note(RulePrecondition, "fail", "unmet: %v", unmet)
		return stop(OutcomeRefuse)
	}
	e.note(RulePrecondition, "pass", "all met")
	if err := p.fillParams(name, &params, in); err != nil {
		e.note(RuleParams, "fail", "%v", err)
		return stop(OutcomeRefuse)
	}
	e.d.Params = params
	e.d.IdempotencyKey = IdempotencyKey(in.Target, name, params)

	b := p.cfg.Budgets
	if in.Counters.TaskInstanceAttempts >= b.PerTaskInstance {
		e.note(RuleBudgetTI, "fail", "%d of %d actions on this task instance used", in.Counters.TaskInstanceAttempts, b.PerTaskInstance)
		return stop(OutcomeRefuse)
	}
	e.note(RuleBudgetTI, "pass", "%d of %d used", in.Counters.TaskInstanceAttempts, b.PerTaskInstance)
	if in.Counters.DagToday >= b.PerDagPerDay {
		e.note(RuleBudgetDag, "fail", "%d of %d actions on DAG %q today used", in.Counters.DagToday, b.PerDagPerDay, in.DagID)
		return stop(OutcomeRefuse)
	}
	e.note(RuleBudgetDag, "pass", "%d of %d used", in.Counters.DagToday, b.PerDagPerDay)
	r := p.cfg.RateLimit
	if in.Counters.InRateWindow >= r.Actions {
		e.note(RuleRate, "fail", "%d actions in the last %s; the limit is %d", in.Counters.InRateWindow, r.Per, r.Actions)
		return stop(OutcomeRefuse)
	}
	e.note(RuleRate, "pass", "%d of %d per %s", in.Counters.InRateWindow, r.Actions, r.Per)
	if in.ApprovedBy != "" {
		if rank[e.cap] < rank[OutcomePropose] {
			e.note(RuleApproved, "fail", "approved by %s, but DAG %q is no longer on remediate.allow", in.ApprovedBy, in.DagID)
			return stop(OutcomeRefuse)
		}
		e.note(RuleApproved, "pass", "approved by %s", in.ApprovedBy)
		return stop(p.shadow(e, OutcomeExecute))
	}

	if in.PriorFailedVerification {
		e.note(RulePriorVerify, "cap", "%s already failed verification for this incident: never again without a human", name)
		e.capAt(OutcomePropose)
	} else {
		e.note(RulePriorVerify, "pass", "none")
	}
	if env, ok := p.cfg.Environments[p.env]; ok && env.ApprovalRequired {
		if slices.Contains(env.ExceptClasses, in.Class) {
			e.note(RuleEnvironment, "pass", "%s requires approval except for %s", p.env, in.Class)
		} else {
			e.note(RuleEnvironment, "cap", "%s requires approval for class %q", p.env, in.Class)
			e.capAt(OutcomePropose)
		}
	} else {
		e.note(RuleEnvironment, "pass", "%s requires no approval", p.env)
	}
	if act.ApprovalOnly {
		e.note(RuleApprovalOnly, "cap", "%s is approval-only", name)
		e.capAt(OutcomePropose)
	}
	if in.ModelProposed {
		e.note(RuleModel, "cap", "a language model proposed this diagnosis: a person decides")
		e.capAt(OutcomePropose)
	}

	level, rule := p.autonomy(in.DagID, in.Class)
	var base Outcome
	switch level {
	case config.AutonomyAuto:
		base = OutcomeExecute
	case config.AutonomyApprove:
		base = OutcomePropose
	case config.AutonomySuggest:
		base = OutcomeSuggest
	default:
		base = OutcomeRefuse
	}
	e.note(RuleAutonomy, "info", "level %s from %s", level, rule)
	if level == config.AutonomyAuto {
		if !p.gate(e, name, in) {
			base = OutcomePropose
		}
	}
	out := base
	if rank[e.cap] < rank[out] {
		out = e.cap
	}
	out = p.shadow(e, out)
	if out == OutcomePropose {
		e.d.ExpiresAt = in.Now.Add(p.cfg.Approvals.Expiry)
	}
	return stop(out)
}

// shadow turns execute into shadow in shadow mode.
func (p *Policy) shadow(e *eval, out Outcome) Outcome {
	if out == OutcomeExecute && p.cfg.Shadow {
		e.note(RuleShadow, "cap", "shadow mode: recorded as would execute")
		return OutcomeShadow
	}
	return out
}

func matchAny(globs []string, dagID string) (string, bool) {
	for _, g := range globs {
		if match(g, dagID) {
			return g, true
		}
	}
	return "", false
}

func (p *Policy) autonomy(dagID, class string) (string, string) {
	for i, r := range p.cfg.Autonomy {
		if match(r.DAG, dagID) && (r.Class == "*" || r.Class == class) {
			return r.Level, fmt.Sprintf("remediate.autonomy[%d] (dag %q, class %q)", i, r.DAG, r.Class)
		}
	}
	return config.AutonomySuggest, "the default (no autonomy rule matches)"
}

func threshold(m map[string]float64, class string, def float64) float64 {
	if v, ok := m[class]; ok {
		return v
	}
	if v, ok := m[config.GateDefault]; ok {
		return v
	}
	return def
}

// gate runs the two stages for auto and records both.
func (p *Policy) gate(e *eval, name Name, in Input) bool {
	g := Gate{
		Evaluated: true, Confidence: in.Confidence, RetrySafe: in.RetrySafe,
		SimilarityThreshold: threshold(p.cfg.Gate.Similarity, in.Class, config.DefaultGateSimilarity),
		ConfidenceThreshold: threshold(p.cfg.Gate.Confidence, in.Class, config.DefaultGateConfidence),
	}
	if pr := in.Precedent; pr == nil {
		e.note(RuleGate1, "fail", "no precedent in memory")
	} else {
		g.Similarity, g.Trust = pr.Similarity, pr.Trust
		if pr.Exact {
			g.Similarity = 1
		}
		g.WeightedSimilarity = g.Similarity * g.Trust
		same, _ := Resolve(pr.Action)
		switch {
		case same != name:
			e.note(RuleGate1, "fail", "precedent %s took action %q, not %s", pr.RecordID, pr.Action, name)
		case pr.Outcome != "fixed":
			e.note(RuleGate1, "fail", "precedent %s outcome is %q, not fixed", pr.RecordID, pr.Outcome)
		case !(g.WeightedSimilarity >= g.SimilarityThreshold) || math.IsNaN(g.WeightedSimilarity):
			e.note(RuleGate1, "fail", "similarity %.3f × trust %.3f = %.3f is below %.3f", g.Similarity, g.Trust, g.WeightedSimilarity, g.SimilarityThreshold)
		default:
			g.Stage1 = true
			e.note(RuleGate1, "pass", "precedent %s fixed by %s; %.3f ≥ %.3f", pr.RecordID, name, g.WeightedSimilarity, g.SimilarityThreshold)
		}
	}
	switch {
	case !(in.Confidence >= g.ConfidenceThreshold):
		e.note(RuleGate2, "fail", "confidence %.3f is below %.3f", in.Confidence, g.ConfidenceThreshold)
	case !in.RetrySafe:
		e.note(RuleGate2, "fail", "the diagnosis is not retry-safe")
	default:
		g.Stage2 = true
		e.note(RuleGate2, "pass", "confidence %.3f ≥ %.3f and retry-safe", in.Confidence, g.ConfidenceThreshold)
	}
	e.d.Gate = g
	return g.Stage1 && g.Stage2
}

// fillParams sets what configuration decides and validates the rest.
func (p *Policy) fillParams(name Name, params *Params, in Input) error {
	switch name {
	case ClearFailedTasks, RetryWithBackoff, WaitForUpstreamThenRetry, RetryWithMoreResources:
		params.OnlyFailed = true
		params.Conf = nil
	}
	if name != RetryWithBackoff {
		params.Delay = 0
	}
	if name != WaitForUpstreamThenRetry {
		params.Condition = nil
	}
	if name != RetryWithMoreResources {
		params.Resources = nil
	}
	switch name {
	case RetryWithBackoff:
		if in.ApprovedBy == "" || params.Delay <= 0 {
			params.Delay = backoff(p.cfg.Backoff, in.Counters.TaskInstanceAttempts)
		}
		// Confirming a decision keeps the delay it was decided with, so
		// that its idempotency key does not move with the counters.
		params.Delay = min(params.Delay, p.cfg.Backoff.Max)
	case WaitForUpstreamThenRetry:
		c := Condition{Kind: "upstream_tasks"}
		if params.Condition != nil {
			c = *params.Condition
		}
		switch c.Kind {
		case "upstream_tasks", "dag_run_success", "task_success":
		default:
			return fmt.Errorf("condition kind %q: want upstream_tasks, dag_run_success or task_success", c.Kind)
		}
		if c.Kind != "upstream_tasks" && c.DagID == "" {
			return errors.New("condition needs dag_id")
		}
		if c.Kind == "task_success" && c.TaskID == "" {
			return errors.New("condition task_success needs task_id")
		}
		c.PollInterval, c.Timeout = p.cfg.Wait.PollInterval, p.cfg.Wait.Timeout
		params.Condition = &c
	case TriggerDagRun:
		params.IncludeDownstream = false
		if err := p.validateConf(in.DagID, params.Conf); err != nil {
			return err
		}
	case PauseDag:
		params.IncludeDownstream = false
	}
	return nil
}

// backoff is base doubled per earlier attempt, at most max.
func backoff(b config.RemediateBackoff, attempts int) time.Duration {
	d := b.Base
	for range max(attempts, 0) {
		if d >= b.Max/2 {
			return b.Max
		}
		d *= 2
	}
	return min(d, b.Max)
}

// ApprovalExpiry is how long a proposal waits for a person before it lapses.
func (p *Policy) ApprovalExpiry() time.Duration { return p.cfg.Approvals.Expiry }
