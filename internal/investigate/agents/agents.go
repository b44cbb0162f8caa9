// Package agents holds the definitions of medic's investigating agents: the
// incident-commander and its specialists. A definition is a small YAML file
// (name, role, instructions, model, tool allowlist, timeout, max steps,
// engine); the built-in ones are embedded, and files in a configured
// directory add specialists or override built-ins by name.
//
// Loading is strict and complete: unknown keys, unknown tools, unknown
// engines and out-of-range values are errors naming the file and line, all
// reported at once. Only the commander may hold invoke_agent, so the session
// tree stays two deep whatever a file says. This package only describes
// agents; it never runs one.
package agents

import (
	"fmt"
	"regexp"
	"slices"
	"time"
)

// Role is an agent's place in the investigation tree.
type Role string

// Roles.
const (
	// RoleCommander opens the investigation, starts the specialists and
	// composes their findings. There is exactly one.
	RoleCommander Role = "commander"
	// RoleSpecialist investigates one aspect in a child session and reports
	// to the commander. It cannot start agents.
	RoleSpecialist Role = "specialist"
)

// Built-in agent names.
const (
	Commander     = "incident-commander"
	LogAnalyzer   = "log-analyzer"
	QueryProfiler = "query-profiler"
	OwnerNotifier = "owner-notifier"
)

// Bounds a definition's values must keep.
const (
	MinTimeout      = time.Second
	MaxTimeout      = 30 * time.Minute
	DefaultMaxSteps = 20
	MaxMaxSteps     = 200
	maxNameLen      = 64
	maxInstructions = 16 << 10
	maxModelLen     = 200
)

var nameRE = regexp.MustCompile(`^[a-z][a-z0-9-]*$`)

// Definition is one agent.
type Definition struct {
	// Name identifies the agent; sessions are named after it.
	Name string `yaml:"name" json:"name"`
	Role Role   `yaml:"role" json:"role"`
	// Instructions say what the agent is for. A model-driven engine sends
	// them as the system prompt; for a deterministic engine they document it.
	Instructions string `yaml:"instructions" json:"instructions"`
	// Model, when set, asks for the model-driven engine (a tool loop over
	// the allowlisted tools). Without a configured LLM the deterministic
	// engine runs instead.
	Model string `yaml:"model,omitempty" json:"model,omitempty"`
	// Tools is the allowlist of tools the agent may use.
	Tools []string `yaml:"tools" json:"tools"`
	// Timeout bounds one run of the agent. For a specialist, zero means
	// investigate.specialist_timeout; for the commander it is the
	// investigation's deadline, and zero means investigate.deadline.
	Timeout time.Duration `yaml:"timeout,omitempty" json:"timeout,omitempty"`
	// MaxSteps bounds one run: tool calls for a model, steps (or, for the
	// commander, specialists started) for a deterministic engine.
	MaxSteps int `yaml:"max_steps,omitempty" json:"max_steps"`
	// Engine names the deterministic engine that runs the agent. A user's
	// agent with a model may leave it out, and then needs an LLM.
	Engine string `yaml:"engine,omitempty" json:"engine,omitempty"`
	// Delegates, for the commander, lists the specialists it starts, in
	// order. Empty means every specialist defined: the built-ins
	// (log-analyzer, query-profiler, owner-notifier), then the others by
	// name.
	Delegates []string `yaml:"delegates,omitempty" json:"delegates,omitempty"`

	// Source is where the definition came from: "builtin/NAME.yaml" or the
	// file's path.
	Source string `yaml:"-" json:"source"`
	// lines maps each key (and "tools[i]", "delegates[i]") to its line.
	lines map[string]int
}

// Line is the line of key in the definition's file, 0 when unknown.
func (d *Definition) Line(key string) int { return d.lines[key] }

// Allows reports whether the agent's allowlist holds tool.
func (d *Definition) Allows(tool string) bool { return slices.Contains(d.Tools, tool) }

// EngineSpec is what Load needs to know of a deterministic engine: the role
// it serves and the tools it calls, all of which its agents must allow.
type EngineSpec struct {
	Role  Role
	Tools []string
}

// Set is a validated set of definitions: one commander and its specialists.
type Set struct {
	defs      map[string]*Definition
	commander *Definition
	delegates []*Definition
}

// Get returns the definition named name.
func (s *Set) Get(name string) (*Definition, bool) {
	d, ok := s.defs[name]
	return d, ok
}

// Commander returns the commander's definition.
func (s *Set) Commander() *Definition { return s.commander }

// Delegates returns the specialists the commander starts, in order.
func (s *Set) Delegates() []*Definition { return slices.Clone(s.delegates) }

// All returns every definition, the commander first, then by name.
func (s *Set) All() []*Definition {
	out := []*Definition{s.commander}
	for _, n := range s.names() {
		if n != s.commander.Name {
			out = append(out, s.defs[n])
		}
	}
	return out
}

func (s *Set) names() []string {
	out := make([]string, 0, len(s.defs))
	for n := range s.defs {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// check validates one definition on its own, appending its problems.
func (d *Definition) check(reg *Registry, engines map[string]EngineSpec, models bool, errs *[]error) {
	fail := func(field string, err error) {
		*errs = append(*errs, &Error{File: d.Source, Line: d.lines[field], Field: field, Err: err})
	}
	switch {
	case d.Name == "":
		fail("name", problemf(ErrInvalid, "must be set"))
	case len(d.Name) > maxNameLen || !nameRE.MatchString(d.Name):
		fail("name", problemf(ErrInvalid, "want lower-case letters, digits and -, starting with a letter, at most %d characters; got %q", maxNameLen, d.Name))
	}
	if d.Role != RoleCommander && d.Role != RoleSpecialist {
		fail("role", problemf(ErrInvalid, "want %s or %s, got %q", RoleCommander, RoleSpecialist, d.Role))
	}
	switch {
	case d.Instructions == "":
		fail("instructions", problemf(ErrInvalid, "must say what the agent is for"))
	case len(d.Instructions) > maxInstructions:
		fail("instructions", problemf(ErrInvalid, "at most %d bytes, got %d", maxInstructions, len(d.Instructions)))
	}
	if len(d.Model) > maxModelLen {
		fail("model", problemf(ErrInvalid, "at most %d characters", maxModelLen))
	}
	if d.Timeout != 0 && (d.Timeout < MinTimeout || d.Timeout > MaxTimeout) {
		fail("timeout", problemf(ErrInvalid, "want from %s to %s (or leave it out for the configured default), got %s", MinTimeout, MaxTimeout, d.Timeout))
	}
	if d.MaxSteps < 0 || d.MaxSteps > MaxMaxSteps {
		fail("max_steps", problemf(ErrInvalid, "want from 1 to %d (or leave it out for %d), got %d", MaxMaxSteps, DefaultMaxSteps, d.MaxSteps))
	}
	if len(d.Tools) == 0 {
		fail("tools", problemf(ErrInvalid, "must list at least one tool; known tools: %s", reg.describe()))
	}
	seen := map[string]bool{}
	for i, name := range d.Tools {
		field := fmt.Sprintf("tools[%d]", i)
		t, ok := reg.Lookup(name)
		switch {
		case !ok:
			fail(field, problemf(ErrUnknownTool, "%q is not a tool; known tools: %s", name, reg.describe()))
		case seen[name]:
			fail(field, problemf(ErrInvalid, "%q is listed twice", name))
		case t.CommanderOnly && d.Role != RoleCommander:
			fail(field, problemf(ErrCommanderOnly, "%s: %s", name, commanderOnlyReason))
		case !t.ReadOnly:
			fail(field, problemf(ErrInvalid, "%s writes, and agents may only be given read-only tools", name))
		}
		seen[name] = true
	}
	if d.Role == RoleCommander && !d.Allows(ToolInvokeAgent) {
		fail("tools", problemf(ErrInvalid, "the commander must allow %s: it only delegates and composes", ToolInvokeAgent))
	}
	if len(d.Delegates) > 0 && d.Role != RoleCommander {
		fail("delegates", problemf(ErrCommanderOnly, "only the commander starts other agents"))
	}
	if d.Engine == "" {
		if d.Model == "" {
			fail("engine", problemf(ErrUnknownEngine, "set engine (one of %s) or model: the agent has nothing to run", engineNames(engines)))
		} else if !models {
			fail("model", problemf(ErrUnknownEngine, "%q needs an LLM, and none is configured; set engine (one of %s) to fall back on", d.Model, engineNames(engines)))
		}
		return
	}
	spec, ok := engines[d.Engine]
	if !ok {
		fail("engine", problemf(ErrUnknownEngine, "%q is not an engine; known engines: %s", d.Engine, engineNames(engines)))
		return
	}
	if spec.Role != d.Role {
		fail("engine", problemf(ErrInvalid, "engine %s runs a %s, and this agent is a %s", d.Engine, spec.Role, d.Role))
	}
	for _, tool := range spec.Tools {
		if !d.Allows(tool) {
			fail("tools", problemf(ErrInvalid, "engine %s calls %s, which the allowlist leaves out", d.Engine, tool))
		}
	}
}

func engineNames(engines map[string]EngineSpec) string {
	names := make([]string, 0, len(engines))
	for n := range engines {
		names = append(names, n)
	}
	slices.Sort(names)
	return fmt.Sprint(names)
}
