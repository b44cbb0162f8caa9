package dbt

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// How a failed task was tied to a dbt model.
const (
	ByRule      = "rule"       // a dbt_models rule of the ownership file
	ByErrorText = "error_text" // the error message names the model
	ByTaskID    = "task_id"    // the task id follows a dbt-in-Airflow convention
)

// ModelRef is a model that a failed task ran, and how medic knows.
type ModelRef struct {
	UniqueID string `json:"unique_id"`
	Name     string `json:"name"`
	How      string `json:"how"`
	Evidence string `json:"evidence"`
}

// runnable reports whether a node is something a task builds (and so can
// fail): models, snapshots and seeds.
func runnable(n *Node) bool {
	switch n.ResourceType {
	case "model", "snapshot", "seed":
		return true
	}
	return false
}

// Lookup finds a node by unique_id, or a model, snapshot or seed by name.
// When several packages define the name, the root project's wins, then the
// first unique_id in sort order.
func (m *Manifest) Lookup(nameOrID string) (*Node, bool) {
	if m == nil {
		return nil, false
	}
	if n, ok := m.Nodes[nameOrID]; ok {
		return n, true
	}
	var first *Node
	for _, id := range m.byName[nameOrID] {
		n := m.Nodes[id]
		if !runnable(n) {
			continue
		}
		if n.Package == m.ProjectName {
			return n, true
		}
		if first == nil {
			first = n
		}
	}
	return first, first != nil
}

// dbtVerbs are the dbt commands a task may be named after.
var dbtVerbs = []string{"run", "build", "test", "seed", "snapshot"}

// taskCandidates lists the model names a task id may stand for, most
// specific convention first:
//   - astronomer-cosmos task groups: "<group>.<model>.run", "<model>.test";
//   - cosmos without task groups: "<model>_run", "<model>_build";
//   - hand-written DAGs: "dbt_run_<model>", "dbt_<model>";
//   - the task id's last part itself.
func taskCandidates(taskID string) [][2]string {
	parts := strings.Split(taskID, ".")
	last := parts[len(parts)-1]
	var out [][2]string
	add := func(name, why string) {
		if name != "" {
			out = append(out, [2]string{name, why})
		}
	}
	if len(parts) >= 2 && slices.Contains(dbtVerbs, last) {
		add(parts[len(parts)-2], fmt.Sprintf("cosmos task group convention <model>.%s", last))
	}
	for _, v := range dbtVerbs {
		if name, ok := strings.CutSuffix(last, "_"+v); ok {
			add(name, fmt.Sprintf("cosmos convention <model>_%s", v))
		}
	}
	for _, v := range dbtVerbs {
		if name, ok := strings.CutPrefix(last, "dbt_"+v+"_"); ok {
			add(name, fmt.Sprintf("convention dbt_%s_<model>", v))
		}
	}
	if name, ok := strings.CutPrefix(last, "dbt_"); ok {
		add(name, "convention dbt_<model>")
	}
	add(last, "task id is the model name")
	return out
}

// ModelForTask maps a task id to the model it runs by naming convention;
// only names the manifest defines count.
func (m *Manifest) ModelForTask(taskID string) (ModelRef, bool) {
	if m == nil || taskID == "" {
		return ModelRef{}, false
	}
	for _, c := range taskCandidates(taskID) {
		if n, ok := m.Lookup(c[0]); ok && runnable(n) {
			return ModelRef{
				UniqueID: n.UniqueID, Name: n.Name, How: ByTaskID,
				Evidence: fmt.Sprintf("task %q: %s", clip(taskID, 200), c[1]),
			}, true
		}
	}
	return ModelRef{}, false
}

// Limits on scanning error text, which comes from logs.
const (
	maxErrorScan   = 1 << 20 // the last MiB of the text
	maxErrorModels = 20
)

var (
	// dbt prints "Database Error in model orders (models/marts/orders.sql)",
	// "Compilation Error in snapshot …", "Failure in test not_null_x (…)".
	inNodeRE = regexp.MustCompile(`\bin (model|snapshot|seed|test) ([A-Za-z0-9_]{1,256})(?:\.v[0-9]{1,6})?(?: \(([^()\r\n]{1,512})\))?`)
	// Unique ids such as model.shop.orders, printed by dbt and by cosmos.
	uniqueIDRE = regexp.MustCompile(`\b(?:model|snapshot|seed)\.[A-Za-z0-9_]{1,256}\.[A-Za-z0-9_]{1,256}(?:\.v[0-9]{1,6})?\b`)
)

// ModelsInError finds the models an error message names, in order of
// appearance: "… Error in model orders (models/marts/orders.sql)", a failed
// test (mapped to the model it tests) or a unique_id. Only names the
// manifest defines count; when dbt gives a path, a node with that path wins.
func (m *Manifest) ModelsInError(text string) []ModelRef {
	if m == nil || text == "" {
		return nil
	}
	if len(text) > maxErrorScan {
		text = text[len(text)-maxErrorScan:]
	}
	var out []ModelRef
	seen := map[string]bool{}
	add := func(n *Node, evidence string) {
		if n != nil && !seen[n.UniqueID] && len(out) < maxErrorModels {
			seen[n.UniqueID] = true
			out = append(out, ModelRef{UniqueID: n.UniqueID, Name: n.Name, How: ByErrorText, Evidence: evidence})
		}
	}
	for _, sm := range inNodeRE.FindAllStringSubmatch(text, 4*maxErrorModels) {
		quoted := fmt.Sprintf("error text %q", clip(sm[0], 200))
		typ, name, path := sm[1], sm[2], sm[3]
		n := m.byNameTypePath(name, typ, path)
		if n == nil {
			continue
		}
		if typ == "test" {
			add(m.testedModel(n), quoted+" (the test's model)")
			continue
		}
		add(n, quoted)
	}
	for _, id := range uniqueIDRE.FindAllString(text, 4*maxErrorModels) {
		if n, ok := m.Nodes[id]; ok && runnable(n) {
			add(n, fmt.Sprintf("error text names %q", id))
		}
	}
	return out
}

// byNameTypePath picks the node of a type and name, preferring one whose
// original_file_path is path.
func (m *Manifest) byNameTypePath(name, typ, path string) *Node {
	var first *Node
	for _, id := range m.byName[name] {
		n := m.Nodes[id]
		if n.ResourceType != typ {
			continue
		}
		if path != "" && n.Path == path {
			return n
		}
		if first == nil || (n.Package == m.ProjectName && first.Package != m.ProjectName) {
			first = n
		}
	}
	return first
}

// testedModel is the model a test checks: its attached node, else the first
// model it depends on.
func (m *Manifest) testedModel(test *Node) *Node {
	if n, ok := m.Nodes[test.AttachedNode]; ok && runnable(n) {
		return n
	}
	for _, id := range test.DependsOn {
		if n, ok := m.Nodes[id]; ok && runnable(n) {
			return n
		}
	}
	return nil
}
