package config

import (
	"encoding/json"
	"fmt"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/medic-sh/medic/internal/classify"
)

// Remediate is the policy envelope around medic's actions
// (docs/remediation.md). Its defaults never act on their own: no DAG is
// allowed, every autonomy level is suggest, and production needs approval
// for everything. The environment it keys on is the top-level environment.
type Remediate struct {
	// Shadow records what medic would execute without executing it.
	Shadow bool `yaml:"shadow"`
	// KillSwitch stops every action when true; the runtime switch (set
	// from the CLI or API) can also stop them while this stays false.
	KillSwitch bool `yaml:"kill_switch"`
	// Allow lists DAG id globs medic may act on; empty allows none.
	Allow []string `yaml:"allow"`
	// Deny lists DAG id globs medic never acts on; deny beats allow.
	Deny []string `yaml:"deny"`
	// Environments holds the rules of each environment, by name.
	Environments map[string]RemediateEnvironment `yaml:"environments"`
	// Autonomy lists levels by DAG glob and failure class; the first rule
	// that matches wins, and with none the level is suggest.
	Autonomy []AutonomyRule `yaml:"autonomy"`
	// Budgets bound the actions per task instance and per DAG per day.
	Budgets RemediateBudgets `yaml:"budgets"`
	// RateLimit bounds the actions medic takes across all DAGs.
	RateLimit RemediateRateLimit `yaml:"rate_limit"`
	// Gate holds the per-class thresholds of the two-stage gate for auto.
	Gate RemediateGate `yaml:"gate"`
	// Approvals configures proposals awaiting a human.
	Approvals RemediateApprovals `yaml:"approvals"`
	// Backoff spaces retry_with_backoff attempts.
	Backoff RemediateBackoff `yaml:"backoff"`
	// Wait configures wait_for_upstream_then_retry.
	Wait RemediateWait `yaml:"wait"`
	// Verify configures how often an action's outcome is checked.
	Verify RemediateVerify `yaml:"verify"`
	// ConfSchemas maps DAG id globs to the JSON Schema that trigger_dag_run
	// conf must match: a file path (relative to the configuration file) or
	// an inline JSON object. A DAG with no schema cannot be triggered.
	ConfSchemas map[string]string `yaml:"conf_schemas"`
	// Resources maps DAG id globs to the override retry_with_more_resources
	// applies; a DAG with none escalates instead.
	Resources map[string]RemediateResources `yaml:"resources"`
}

// RemediateEnvironment is the rule of one environment.
type RemediateEnvironment struct {
	// ApprovalRequired makes every action a proposal unless its failure
	// class is in ExceptClasses.
	ApprovalRequired bool     `yaml:"approval_required"`
	ExceptClasses    []string `yaml:"except_classes"`
}

// AutonomyRule sets the autonomy level for DAGs matching DAG (a glob) and
// failures of Class (a label, or * for any).
type AutonomyRule struct {
	DAG   string `yaml:"dag"`
	Class string `yaml:"class"`
	Level string `yaml:"level"`
}

// Autonomy levels, from least to most autonomous.
const (
	AutonomyOff     = "off"
	AutonomySuggest = "suggest"
	AutonomyApprove = "approve"
	AutonomyAuto    = "auto"
)

// AutonomyLevels lists the autonomy levels from least to most autonomous.
var AutonomyLevels = []string{AutonomyOff, AutonomySuggest, AutonomyApprove, AutonomyAuto}

// RemediateBudgets bound how often medic acts.
type RemediateBudgets struct {
	PerTaskInstance int `yaml:"per_task_instance"`
	PerDagPerDay    int `yaml:"per_dag_per_day"`
}

// RemediateRateLimit allows at most Actions actions in any window of Per.
type RemediateRateLimit struct {
	Actions int           `yaml:"actions"`
	Per     time.Duration `yaml:"per"`
}

// RemediateGate holds the thresholds of the gate, each a mapping from
// "default" or a failure class to a number from 0 to 1.
type RemediateGate struct {
	// Similarity is the precedent's similarity times its trust that stage
	// 1 needs.
	Similarity map[string]float64 `yaml:"similarity"`
	// Confidence is the classifier confidence that stage 2 needs.
	Confidence map[string]float64 `yaml:"confidence"`
}

// GateDefault is the key of a gate mapping that applies to classes not
// listed.
const GateDefault = "default"

// Gate threshold defaults.
const (
	DefaultGateSimilarity = 0.82
	DefaultGateConfidence = 0.8
)

// RemediateApprovals configures proposals.
type RemediateApprovals struct {
	// Expiry is how long a proposal may wait for a human.
	Expiry time.Duration `yaml:"expiry"`
}

// RemediateBackoff is the delay before retry_with_backoff clears: Base
// doubled per earlier attempt, at most Max.
type RemediateBackoff struct {
	Base time.Duration `yaml:"base"`
	Max  time.Duration `yaml:"max"`
}

// RemediateVerify configures verification: Airflow is polled every
// PollInterval until the action's window (from the registry) passes.
type RemediateVerify struct {
	PollInterval time.Duration `yaml:"poll_interval"`
}

// RemediateWait configures how wait_for_upstream_then_retry polls.
type RemediateWait struct {
	PollInterval time.Duration `yaml:"poll_interval"`
	Timeout      time.Duration `yaml:"timeout"`
}

// RemediateResources is the override of retry_with_more_resources.
// ExecutorConfig is a JSON object, given as a string.
type RemediateResources struct {
	Pool           string `yaml:"pool"`
	Queue          string `yaml:"queue"`
	ExecutorConfig string `yaml:"executor_config"`
}

// Limits that Validate enforces on the remediate section.
const (
	MaxRemediateBudget = 1000
	MaxRemediateRate   = 10_000
)

func defaultRemediate() Remediate {
	return Remediate{
		Environments: map[string]RemediateEnvironment{"production": {ApprovalRequired: true}},
		Autonomy:     []AutonomyRule{{DAG: "*", Class: "*", Level: AutonomySuggest}},
		Budgets:      RemediateBudgets{PerTaskInstance: 2, PerDagPerDay: 10},
		RateLimit:    RemediateRateLimit{Actions: 20, Per: time.Minute},
		Gate: RemediateGate{
			Similarity: map[string]float64{GateDefault: DefaultGateSimilarity},
			Confidence: map[string]float64{GateDefault: DefaultGateConfidence},
		},
		Approvals: RemediateApprovals{Expiry: time.Hour},
		Backoff:   RemediateBackoff{Base: 5 * time.Minute, Max: time.Hour},
		Wait:      RemediateWait{PollInterval: time.Minute, Timeout: 2 * time.Hour},
		Verify:    RemediateVerify{PollInterval: 30 * time.Second},
	}
}

// InlineSchema reports whether a conf_schemas value is an inline JSON
// object rather than a file path.
func InlineSchema(s string) bool { return strings.HasPrefix(strings.TrimSpace(s), "{") }

// resolvePaths makes relative schema paths relative to dir, the
// configuration file's directory.
func (r *Remediate) resolvePaths(dir string) {
	for k, s := range r.ConfSchemas {
		if s != "" && dir != "" && !InlineSchema(s) && !filepath.IsAbs(s) {
			r.ConfSchemas[k] = filepath.Join(dir, s)
		}
	}
}

func (r Remediate) validate(v *validator) {
	const p = "remediate"
	globs := func(key string, list []string) {
		for i, g := range list {
			checkGlob(v, fmt.Sprintf("%s.%s[%d]", p, key, i), g)
		}
	}
	globs("allow", r.Allow)
	globs("deny", r.Deny)
	for _, name := range sortedKeys(r.Environments) {
		e := r.Environments[name]
		if name == "" {
			v.add(p+".environments", "environment names must not be empty")
		}
		for i, c := range e.ExceptClasses {
			checkClass(v, fmt.Sprintf("%s.environments.%s.except_classes[%d]", p, name, i), c, false)
		}
		if !e.ApprovalRequired && len(e.ExceptClasses) > 0 {
			v.add(fmt.Sprintf("%s.environments.%s.except_classes", p, name), "is only used with approval_required: true")
		}
	}
	for i, a := range r.Autonomy {
		rp := fmt.Sprintf("%s.autonomy[%d]", p, i)
		checkGlob(v, rp+".dag", a.DAG)
		checkClass(v, rp+".class", a.Class, true)
		v.oneOf(rp+".level", a.Level, AutonomyLevels)
	}
	budget := func(key string, n int) {
		if n < 1 || n > MaxRemediateBudget {
			v.add(p+".budgets."+key, "want from 1 to %d actions, got %d", MaxRemediateBudget, n)
		}
	}
	budget("per_task_instance", r.Budgets.PerTaskInstance)
	budget("per_dag_per_day", r.Budgets.PerDagPerDay)
	if n := r.RateLimit.Actions; n < 1 || n > MaxRemediateRate {
		v.add(p+".rate_limit.actions", "want from 1 to %d actions, got %d", MaxRemediateRate, n)
	}
	v.positive(p+".rate_limit.per", r.RateLimit.Per)
	checkThresholds(v, p+".gate.similarity", r.Gate.Similarity)
	checkThresholds(v, p+".gate.confidence", r.Gate.Confidence)
	v.positive(p+".approvals.expiry", r.Approvals.Expiry)
	v.positive(p+".backoff.base", r.Backoff.Base)
	if r.Backoff.Max < r.Backoff.Base {
		v.add(p+".backoff.max", "must be at least remediate.backoff.base (%s), got %s", r.Backoff.Base, r.Backoff.Max)
	}
	v.positive(p+".wait.poll_interval", r.Wait.PollInterval)
	v.positive(p+".verify.poll_interval", r.Verify.PollInterval)
	if r.Wait.Timeout < r.Wait.PollInterval {
		v.add(p+".wait.timeout", "must be at least remediate.wait.poll_interval (%s), got %s", r.Wait.PollInterval, r.Wait.Timeout)
	}
	for _, g := range sortedKeys(r.ConfSchemas) {
		kp := p + ".conf_schemas." + g
		checkGlob(v, kp, g)
		s := r.ConfSchemas[g]
		switch {
		case strings.TrimSpace(s) == "":
			v.add(kp, "want a JSON Schema file path or an inline JSON object, got nothing")
		case InlineSchema(s):
			var obj map[string]any
			if err := json.Unmarshal([]byte(s), &obj); err != nil {
				v.add(kp, "inline schema is not a JSON object: %v", err)
			}
		}
	}
	for _, g := range sortedKeys(r.Resources) {
		kp := p + ".resources." + g
		checkGlob(v, kp, g)
		res := r.Resources[g]
		if res.Pool == "" && res.Queue == "" && res.ExecutorConfig == "" {
			v.add(kp, "set at least one of pool, queue and executor_config")
		}
		if res.ExecutorConfig != "" {
			var obj map[string]any
			if err := json.Unmarshal([]byte(res.ExecutorConfig), &obj); err != nil {
				v.add(kp+".executor_config", "want a JSON object: %v", err)
			}
		}
	}
}

// checkGlob checks a DAG id glob (path.Match syntax).
func checkGlob(v *validator, at, g string) {
	if g == "" {
		v.add(at, "want a DAG id glob such as etl_* or *, got nothing")
		return
	}
	if _, err := path.Match(g, ""); err != nil {
		v.add(at, "malformed glob %q: %v", g, err)
	}
}

// checkClass checks a failure class label, and * when star is allowed.
func checkClass(v *validator, at, c string, star bool) {
	if star && c == "*" {
		return
	}
	if !classify.Label(c).Valid() {
		want := "one of the failure classes"
		if star {
			want += " or *"
		}
		v.add(at, "want %s %v, got %q", want, classify.Labels(), c)
	}
}

func checkThresholds(v *validator, at string, m map[string]float64) {
	for _, k := range sortedKeys(m) {
		if k != GateDefault && !classify.Label(k).Valid() {
			v.add(at+"."+k, "want %q or a failure class %v as the key", GateDefault, classify.Labels())
		}
		if x := m[k]; !(x >= 0 && x <= 1) {
			v.add(at+"."+k, "want a number from 0 to 1, got %v", x)
		}
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return slices.Clip(keys)
}
