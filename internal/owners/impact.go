package owners

import (
	"context"
	"fmt"

	"github.com/medic-sh/medic/internal/owners/dbt"
)

// TaskGraph gives a DAG's task dependencies; airflow.Dag.Tasks carries
// them as Task.Downstream.
type TaskGraph interface {
	// Downstream returns the ids of the tasks directly downstream of id.
	Downstream(taskID string) []string
}

// TaskMap is a TaskGraph held as task id → direct downstream task ids.
type TaskMap map[string][]string

var _ TaskGraph = TaskMap(nil)

// Downstream returns m[taskID].
func (m TaskMap) Downstream(taskID string) []string { return m[taskID] }

// Impact is what the failure holds up downstream.
type Impact struct {
	// Tasks are the DAG's tasks downstream of the failed one, nearest
	// first.
	Tasks []ImpactTask `json:"tasks,omitempty"`
	// Models are dbt models, snapshots and seeds downstream of the failed
	// models, nearest first.
	Models []ImpactNode `json:"models,omitempty"`
	// Exposures are dashboards and applications downstream.
	Exposures []ImpactNode `json:"exposures,omitempty"`
	// OtherNodes counts dbt nodes walked through but not listed (tests,
	// metrics, semantic models, saved queries).
	OtherNodes int `json:"other_nodes,omitempty"`
	// TasksTruncated and NodesTruncated report a walk that hit its bound.
	TasksTruncated bool `json:"tasks_truncated,omitempty"`
	NodesTruncated bool `json:"nodes_truncated,omitempty"`
}

// Count is the number of listed downstream items.
func (im *Impact) Count() int { return len(im.Tasks) + len(im.Models) + len(im.Exposures) }

// ImpactTask is one downstream task.
type ImpactTask struct {
	TaskID string `json:"task_id"`
	// Depth is 1 for a direct downstream task.
	Depth int `json:"depth"`
	// Owner, Rule and Tier are set when an ownership rule other than the
	// failed task's claims the task; otherwise it shares the failed task's
	// owner.
	Owner *Owner `json:"owner,omitempty"`
	Rule  string `json:"rule,omitempty"`
	Tier  Tier   `json:"tier,omitempty"`
}

// ImpactNode is one downstream dbt model or exposure.
type ImpactNode struct {
	UniqueID string `json:"unique_id"`
	Name     string `json:"name"`
	// Kind is model, snapshot, seed or exposure.
	Kind  string `json:"kind"`
	Depth int    `json:"depth"`
	// Via is the node it was reached from.
	Via      string `json:"via"`
	Tier     Tier   `json:"tier,omitempty"`
	TierFrom string `json:"tier_from,omitempty"`
	Owner    Owner  `json:"owner,omitzero"`
	// OwnerFrom says where Owner came from: meta.owner, a group, a rule.
	OwnerFrom string `json:"owner_from,omitempty"`
	// Maturity and URL are set for exposures.
	Maturity string `json:"maturity,omitempty"`
	URL      string `json:"url,omitempty"`
}

// impact fills res.Impact; only the context's end is an error.
func (r *Resolver) impact(ctx context.Context, in *Input, res *Result) error {
	im := &res.Impact
	switch {
	case in.Graph == nil:
		res.notef(NoteNoGraph, "no task graph for DAG %s: downstream tasks are unknown", in.DagID)
	case in.TaskID != "":
		tasks, truncated, err := downstreamTasks(ctx, in.Graph, in.TaskID, r.cfg.MaxDownstream)
		if err != nil {
			return err
		}
		im.TasksTruncated = truncated
		own := "" // the rule that owns the failed task: tasks it also owns share its owner
		for _, src := range res.Sources {
			if src.Kind == SourceRule {
				own = src.Ref
			}
		}
		for _, t := range tasks {
			if m := r.rules.Match(Subject{Instance: in.Instance, Dag: in.DagID, Task: t.TaskID}); m != nil && m.Rule != own {
				o := m.rule.Owner
				t.Owner, t.Rule, t.Tier = &o, m.Rule, o.Tier
			}
			im.Tasks = append(im.Tasks, t)
		}
		if truncated {
			res.notef(NoteTruncated, "more than %d tasks downstream of %s; listed the nearest", r.cfg.MaxDownstream, in.TaskID)
		}
	}
	if len(res.Models) == 0 || r.manifest == nil {
		return nil
	}
	roots := make([]string, len(res.Models))
	for i, fm := range res.Models {
		roots[i] = fm.UniqueID
	}
	reached, truncated, err := r.manifest.Downstream(ctx, roots, r.cfg.MaxDownstream)
	if err != nil {
		return err
	}
	im.NodesTruncated = truncated
	if truncated {
		res.notef(NoteTruncated, "more than %d dbt nodes downstream of %s; listed the nearest", r.cfg.MaxDownstream, roots[0])
	}
	for _, rc := range reached {
		if e, ok := r.manifest.Exposures[rc.ID]; ok {
			im.Exposures = append(im.Exposures, r.exposureImpact(e, rc, res))
			continue
		}
		n, ok := r.manifest.Nodes[rc.ID]
		if !ok || !isBuilt(n.ResourceType) {
			im.OtherNodes++
			continue
		}
		im.Models = append(im.Models, r.nodeImpact(n, rc, res, in.Instance))
	}
	return nil
}

func isBuilt(resourceType string) bool {
	switch resourceType {
	case "model", "snapshot", "seed":
		return true
	}
	return false
}

// downstreamTasks walks the task graph breadth-first from start, each task
// once, at most limit of them.
func downstreamTasks(ctx context.Context, g TaskGraph, start string, limit int) ([]ImpactTask, bool, error) {
	seen := map[string]bool{start: true}
	queue := []ImpactTask{{TaskID: start}}
	var out []ImpactTask
	for len(queue) > 0 {
		if err := ctx.Err(); err != nil {
			return nil, false, err
		}
		cur := queue[0]
		queue = queue[1:]
		for _, id := range g.Downstream(cur.TaskID) {
			if id == "" || seen[id] {
				continue
			}
			if len(out) == limit {
				return out, true, nil
			}
			seen[id] = true
			t := ImpactTask{TaskID: id, Depth: cur.Depth + 1}
			out = append(out, t)
			queue = append(queue, t)
		}
	}
	return out, false, nil
}

// nodeImpact describes a downstream model: its owner from meta.owner, else
// its group, else a table rule; its tier from meta.tier, else that rule.
func (r *Resolver) nodeImpact(n *dbt.Node, rc dbt.Reached, res *Result, instance string) ImpactNode {
	in := ImpactNode{UniqueID: n.UniqueID, Name: n.Name, Kind: n.ResourceType, Depth: rc.Depth, Via: rc.Parent}
	in.Tier, in.TierFrom = r.dbtTier(n.Tier, n.UniqueID, res)
	if len(n.Owners) > 0 {
		in.Owner, in.OwnerFrom = dbtOwner(n.Owners), "meta.owner"
	} else if g := r.manifest.Groups[n.Group]; n.Group != "" && g != nil {
		in.Owner, in.OwnerFrom = groupOwner(g), fmt.Sprintf("dbt group %q", g.Name)
	}
	if in.OwnerFrom != "" && in.Tier != TierUnknown {
		return in
	}
	m := r.rules.Match(Subject{Instance: instance, Tables: nodeTables(n)})
	if m == nil {
		return in
	}
	if in.OwnerFrom == "" {
		in.Owner, in.OwnerFrom = m.rule.Owner, m.Rule
		in.Owner.Tier = TierUnknown // shown once, as the node's tier
	}
	if in.Tier == TierUnknown && m.rule.Owner.Tier != TierUnknown {
		in.Tier, in.TierFrom = m.rule.Owner.Tier, m.Rule
	}
	return in
}

// maturityTier is the tier an exposure's maturity suggests.
var maturityTier = map[string]Tier{"high": Tier1, "medium": Tier2, "low": Tier3}

// exposureImpact describes a downstream exposure: its tier from meta.tier,
// else its maturity (high → 1, medium → 2, low → 3).
func (r *Resolver) exposureImpact(e *dbt.Exposure, rc dbt.Reached, res *Result) ImpactNode {
	in := ImpactNode{
		UniqueID: e.UniqueID, Name: e.Name, Kind: "exposure", Depth: rc.Depth, Via: rc.Parent,
		Maturity: e.Maturity, URL: e.URL,
	}
	in.Tier, in.TierFrom = r.dbtTier(e.Tier, e.UniqueID, res)
	if t, ok := maturityTier[e.Maturity]; ok && in.Tier == TierUnknown {
		in.Tier, in.TierFrom = t, "maturity "+e.Maturity
	}
	if e.OwnerName != "" || len(e.OwnerEmails) > 0 {
		in.Owner = Owner{Team: e.OwnerName}
		for _, m := range e.OwnerEmails {
			in.Owner.Contacts = appendNew(in.Owner.Contacts, m)
		}
		in.OwnerFrom = "exposure owner"
	}
	return in
}
