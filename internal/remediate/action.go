// Package remediate decides what medic does about a diagnosed failure: the
// server-side registry of actions (where reversibility and blast radius are
// declared, never taken from a model) and the policy envelope that turns a
// proposed remediation into an outcome (execute, shadow, propose, suggest,
// refuse or escalate).
//
// It is pure decision logic: it must never call Airflow, read a store or a
// clock of its own. Callers supply the facts, counters and time.
package remediate

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/medic-sh/medic/internal/classify"
)

// Name names an action of the registry.
type Name string

// The actions of the registry.
const (
	ClearFailedTasks         Name = "clear_failed_tasks"
	RetryWithBackoff         Name = "retry_with_backoff"
	WaitForUpstreamThenRetry Name = "wait_for_upstream_then_retry"
	TriggerDagRun            Name = "trigger_dag_run"
	RetryWithMoreResources   Name = "retry_with_more_resources"
	PauseDag                 Name = "pause_dag"
	Escalate                 Name = "escalate"
)

// BlastRadius is how much of Airflow an action can change.
type BlastRadius string

// Blast radii, from smallest to largest.
const (
	RadiusTask BlastRadius = "task"
	RadiusRun  BlastRadius = "run"
	RadiusDag  BlastRadius = "dag"
)

// VerifyKind is what verification polls after an action ran.
type VerifyKind string

// Verification kinds.
const (
	VerifyTaskSuccess VerifyKind = "task_instance_success"
	VerifyRunSuccess  VerifyKind = "new_run_success"
	VerifyDagPaused   VerifyKind = "dag_paused"
	VerifyDelivered   VerifyKind = "page_delivered"
)

// Verify says how to tell whether an action worked: poll Kind for at most
// Window (after the action's own delay or wait).
type Verify struct {
	Kind   VerifyKind    `json:"kind"`
	Window time.Duration `json:"window"`
}

// Facts are what Airflow says about the failure when the decision is made.
type Facts struct {
	RunState  string `json:"run_state"`  // queued, running, success, failed
	TaskState string `json:"task_state"` // failed, upstream_failed, success, ...
	TryNumber int    `json:"try_number"`
	MaxTries  int    `json:"max_tries"`
	DagPaused bool   `json:"dag_paused"`
}

// Precondition is one condition an action needs, described for people and
// checkable against Facts.
type Precondition struct {
	Name  string
	Desc  string
	Check func(Facts) bool
}

// Action is one entry of the registry.
type Action struct {
	Name Name
	// Reversible reports whether a person can undo the action's effect.
	Reversible bool
	Radius     BlastRadius
	// ApprovalOnly actions are never executed without a human.
	ApprovalOnly  bool
	Preconditions []Precondition
	Verify        Verify
	// Writes reports whether the action changes Airflow (escalate only
	// pages a person).
	Writes bool
}

func taskFailed(f Facts) bool {
	return f.TaskState == "failed" || f.TaskState == "upstream_failed"
}

var (
	preFailed = Precondition{"task_failed", "the task instance is failed or upstream_failed", taskFailed}
	preActive = Precondition{
		"dag_active", "the DAG is not paused (a cleared task would never be scheduled)",
		func(f Facts) bool { return !f.DagPaused },
	}
	preRunDone = Precondition{
		"run_not_running", "the DAG run is not still running",
		func(f Facts) bool { return f.RunState != "running" && f.RunState != "queued" },
	}
	preNotPaused = Precondition{
		"dag_not_paused", "the DAG is not already paused",
		func(f Facts) bool { return !f.DagPaused },
	}
)

var registry = map[Name]Action{
	ClearFailedTasks: {
		Name: ClearFailedTasks, Reversible: false, Radius: RadiusRun, Writes: true,
		Preconditions: []Precondition{preFailed, preActive},
		Verify:        Verify{VerifyTaskSuccess, time.Hour},
	},
	RetryWithBackoff: {
		Name: RetryWithBackoff, Reversible: false, Radius: RadiusRun, Writes: true,
		Preconditions: []Precondition{preFailed, preActive},
		Verify:        Verify{VerifyTaskSuccess, time.Hour},
	},
	WaitForUpstreamThenRetry: {
		Name: WaitForUpstreamThenRetry, Reversible: false, Radius: RadiusRun, Writes: true,
		Preconditions: []Precondition{preFailed, preActive},
		Verify:        Verify{VerifyTaskSuccess, time.Hour},
	},
	RetryWithMoreResources: {
		Name: RetryWithMoreResources, Reversible: false, Radius: RadiusTask, Writes: true,
		Preconditions: []Precondition{preFailed, preActive},
		Verify:        Verify{VerifyTaskSuccess, time.Hour},
	},
	TriggerDagRun: {
		Name: TriggerDagRun, Reversible: false, Radius: RadiusDag, Writes: true,
		Preconditions: []Precondition{preActive, preRunDone},
		Verify:        Verify{VerifyRunSuccess, 2 * time.Hour},
	},
	PauseDag: {
		Name: PauseDag, Reversible: true, Radius: RadiusDag, Writes: true, ApprovalOnly: true,
		Preconditions: []Precondition{preNotPaused},
		Verify:        Verify{VerifyDagPaused, 5 * time.Minute},
	},
	Escalate: {
		Name: Escalate, Reversible: true, Radius: RadiusTask,
		Verify: Verify{VerifyDelivered, 5 * time.Minute},
	},
}

// Lookup returns the registry's action named n.
func Lookup(n Name) (Action, bool) {
	a, ok := registry[n]
	return a, ok
}

// Actions returns every action of the registry, ordered by name.
func Actions() []Action {
	out := make([]Action, 0, len(registry))
	for _, a := range registry {
		out = append(out, a)
	}
	slices.SortFunc(out, func(a, b Action) int { return compareStr(string(a.Name), string(b.Name)) })
	return out
}

func compareStr(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Resolve maps a remediation of the diagnosis vocabulary, or an action
// name, to an action. Remediations that need a person's work (fix_code,
// fix_permissions, schema_migration, quarantine_bad_rows) map to escalate.
// Anything else is unknown: there is no silent fallback.
func Resolve(s string) (Name, bool) {
	if _, ok := registry[Name(s)]; ok {
		return Name(s), true
	}
	switch classify.Remediation(s) {
	case classify.Retry:
		return ClearFailedTasks, true
	case classify.RetryWithBackoff:
		return RetryWithBackoff, true
	case classify.RetryWithMoreResources:
		return RetryWithMoreResources, true
	case classify.WaitForUpstreamThenRetry:
		return WaitForUpstreamThenRetry, true
	case classify.FixCode, classify.FixPermissions, classify.SchemaMigration, classify.QuarantineBadRows, classify.Escalate:
		return Escalate, true
	}
	return "", false
}

// Remediation names action n in the diagnosis vocabulary that the failure
// memory records (clear_failed_tasks is a "retry"); actions with no
// equivalent keep their own name.
func Remediation(n Name) string {
	if n == ClearFailedTasks {
		return string(classify.Retry)
	}
	return string(n)
}

// Unmet returns the names of a's preconditions that f does not meet.
func (a Action) Unmet(f Facts) []string {
	var out []string
	for _, p := range a.Preconditions {
		if !p.Check(f) {
			out = append(out, p.Name)
		}
	}
	return out
}

// Resources is the override retry_with_more_resources applies.
type Resources struct {
	Pool           string         `json:"pool,omitempty"`
	Queue          string         `json:"queue,omitempty"`
	ExecutorConfig map[string]any `json:"executor_config,omitempty"`
}

// Condition is what wait_for_upstream_then_retry waits for.
type Condition struct {
	// Kind is "upstream_tasks" (the failed task's upstream tasks in its run
	// succeed), "dag_run_success" or "task_success" (a sensor).
	Kind   string `json:"kind"`
	DagID  string `json:"dag_id,omitempty"`
	TaskID string `json:"task_id,omitempty"`
	// PollInterval and Timeout come from configuration.
	PollInterval time.Duration `json:"poll_interval"`
	Timeout      time.Duration `json:"timeout"`
}

// Params are an action's parameters. Proposed parameters come from the
// diagnosis; Evaluate fills what configuration decides (delay, resources,
// wait timing) and never takes those from the proposal.
type Params struct {
	// OnlyFailed is always true for the clear actions; DryRun previews
	// precede every clear.
	OnlyFailed        bool           `json:"only_failed,omitempty"`
	IncludeDownstream bool           `json:"include_downstream,omitempty"`
	Delay             time.Duration  `json:"delay,omitempty"`
	Condition         *Condition     `json:"condition,omitempty"`
	Resources         *Resources     `json:"resources,omitempty"`
	Conf              map[string]any `json:"conf,omitempty"`
}

// Target names the failure an action is about.
type Target struct {
	IncidentID string `json:"incident_id"`
	DagID      string `json:"dag_id"`
	RunID      string `json:"run_id"`
	TaskID     string `json:"task_id"`
	TryNumber  int    `json:"try_number"`
}

// IdempotencyKey is the stable key of running action n with params p on
// t: the same inputs always give the same key, and any difference in
// incident, action, DAG, run, task, try or parameters gives another. It is
// the action name followed by a SHA-256 over length-prefixed fields.
func IdempotencyKey(t Target, n Name, p Params) string {
	pj, err := json.Marshal(p) // map keys are sorted
	if err != nil {
		// Params that do not marshal (a NaN in conf) still need a stable
		// key; their printed form is one.
		pj = fmt.Appendf(nil, "%#v", p)
	}
	ph := sha256.Sum256(pj)
	h := sha256.New()
	for _, f := range []string{t.IncidentID, string(n), t.DagID, t.RunID, t.TaskID, strconv.Itoa(t.TryNumber), hex.EncodeToString(ph[:])} {
		fmt.Fprintf(h, "%d:%s;", len(f), f)
	}
	return string(n) + ":" + hex.EncodeToString(h.Sum(nil))[:40]
}
