package investigate

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/medic-sh/medic/internal/incident"
	"github.com/medic-sh/medic/internal/logscan"
	"github.com/medic-sh/medic/internal/owners"
	"github.com/medic-sh/medic/internal/triage"
)

// ResolverOwners is Owners over internal/owners: the ownership file's
// rules, the dbt manifest and Airflow's tag conventions, with impact walked
// through the DAG's task graph (read from Airflow) and the manifest's
// lineage. It only reads: Airflow's DAG definition and the files the
// resolver loaded at start.
type ResolverOwners struct {
	resolver  *owners.Resolver
	instances triage.Instances
}

var _ Owners = (*ResolverOwners)(nil)

// NewResolverOwners returns Owners answered by r, reading task graphs
// through instances.
func NewResolverOwners(r *owners.Resolver, instances triage.Instances) *ResolverOwners {
	return &ResolverOwners{resolver: r, instances: instances}
}

// unavailableNotes are the note kinds that mean an ownership source could
// not be used at all, rather than that the answer is doubtful.
var unavailableNotes = []owners.NoteKind{owners.NoteRulesUnavailable, owners.NoteManifestUnavailable, owners.NoteManifestInvalid}

// maxListed bounds the names an impact summary lists.
const maxListed = 5

// Resolve implements Owners. Only a context that ended, or an input
// without a DAG, is an error: an unreadable task graph or ownership file
// is a note in the answer.
func (o *ResolverOwners) Resolve(ctx context.Context, in OwnersInput) (*OwnersResult, error) {
	graph, graphProblem, err := o.taskGraph(ctx, in)
	if err != nil {
		return nil, err
	}
	res, err := o.resolver.Resolve(ctx, owners.Input{
		Instance: in.Instance, DagID: in.DagID, TaskID: in.TaskID, ErrorText: logscan.Redact(in.ErrorText),
		DagOwners: in.DagOwners, DagTags: in.Tags, Graph: graph,
	})
	if err != nil {
		return nil, err
	}
	out := fromResolution(res, in)
	if graphProblem != "" {
		out.Unavailable = append(out.Unavailable, graphProblem)
	}
	return out, nil
}

// taskGraph reads the DAG's task dependencies from Airflow. A graph that
// cannot be read is described, not returned as an error: the resolver then
// notes that downstream tasks are unknown.
func (o *ResolverOwners) taskGraph(ctx context.Context, in OwnersInput) (owners.TaskGraph, string, error) {
	af, ok := o.instances.Instance(in.Instance)
	if !ok {
		return nil, fmt.Sprintf("task graph of %s: Airflow instance %q is not configured", in.DagID, in.Instance), nil
	}
	dag, err := af.GetDag(ctx, in.DagID)
	switch {
	case err != nil && ctx.Err() != nil:
		return nil, "", fmt.Errorf("task graph of %s: %w", in.DagID, context.Cause(ctx))
	case err != nil:
		return nil, fmt.Sprintf("task graph of %s not read (%v): downstream tasks are the run's blocked ones only", in.DagID, err), nil
	}
	graph := owners.TaskMap{}
	for _, t := range dag.Tasks {
		graph[t.ID] = t.Downstream
	}
	return graph, "", nil
}

// fromResolution condenses the resolver's answer into the owner-notifier's.
func fromResolution(res *owners.Result, in OwnersInput) *OwnersResult {
	o := res.Owner
	name := o.Team
	if name == "" {
		name = cmp.Or(o.SlackChannel, first(o.SlackUsers), o.Escalation)
	}
	out := &OwnersResult{
		Owner: Owner{
			Name: name, Channel: o.SlackChannel, Escalation: o.Escalation, Source: ownerSource(res, name),
			Contacts: dedupe(append(append([]string{name, o.SlackChannel}, o.SlackUsers...), o.Contacts...)),
		},
		Notify:     dedupe(append(append([]string{o.SlackChannel}, o.SlackUsers...), o.Escalation)),
		Resolution: res,
	}
	if len(out.Notify) == 0 && name != "" {
		out.Notify = []string{name}
	}
	for _, src := range res.Sources {
		for _, ev := range src.Evidence {
			out.Evidence = append(out.Evidence, incident.Evidence{Source: "owners:" + string(src.Kind), Ref: src.Ref, Text: ev})
		}
	}
	if res.SeverityReason != "" {
		out.Evidence = append(out.Evidence, incident.Evidence{Source: "owners:severity", Text: res.SeverityReason})
	}
	for _, n := range res.Notes {
		out.Notes = append(out.Notes, string(n.Kind)+": "+n.Message)
		if slices.Contains(unavailableNotes, n.Kind) {
			out.Unavailable = append(out.Unavailable, n.Message)
		}
	}
	imp := Impact{Blocked: in.Blocked, Severity: res.Severity, Source: "ownership rules, dbt lineage and the DAG's task graph"}
	for _, t := range res.Impact.Tasks {
		imp.Downstream = append(imp.Downstream, t.TaskID)
	}
	if len(imp.Downstream) == 0 {
		imp.Downstream = in.Downstream
	}
	for _, m := range res.Impact.Models {
		imp.Assets = append(imp.Assets, m.UniqueID)
	}
	for _, e := range res.Impact.Exposures {
		imp.Assets = append(imp.Assets, e.UniqueID)
	}
	if o.Tier != owners.TierUnknown {
		imp.Tier = o.Tier.String()
	}
	imp.Summary = resolvedImpactSummary(imp, res)
	out.Impact = imp
	return out
}

// ownerSource says which source named the owner.
func ownerSource(res *owners.Result, name string) string {
	if name == "" {
		return "none"
	}
	var kind owners.SourceKind
	for _, field := range []string{owners.FieldTeam, owners.FieldSlackChannel, owners.FieldSlackUsers, owners.FieldEscalation} {
		if k, ok := res.OwnerFrom[field]; ok {
			kind = k
			break
		}
	}
	for _, src := range res.Sources {
		if src.Kind != kind {
			continue
		}
		switch kind {
		case owners.SourceRule:
			return src.Ref
		case owners.SourceDbtModel:
			return "dbt meta.owner of " + src.Ref
		case owners.SourceDbtGroup:
			return "dbt group " + src.Ref
		case owners.SourceDagTags:
			return "airflow_dag_tags"
		case owners.SourceDagOwners:
			return "airflow_dag_owners"
		case owners.SourceDefault:
			return "ownership file " + src.Ref
		}
	}
	return string(kind)
}

func resolvedImpactSummary(imp Impact, res *owners.Result) string {
	var parts []string
	switch {
	case len(imp.Blocked) > 0:
		parts = append(parts, fmt.Sprintf("%d downstream task(s) blocked: %s", len(imp.Blocked), listSome(imp.Blocked)))
	case len(imp.Downstream) > 0:
		parts = append(parts, fmt.Sprintf("%d task(s) downstream: %s", len(imp.Downstream), listSome(imp.Downstream)))
	default:
		parts = append(parts, "blocks no other task in the run")
	}
	if n, e := len(res.Impact.Models), len(res.Impact.Exposures); n+e > 0 {
		parts = append(parts, fmt.Sprintf("%d dbt model(s) and %d exposure(s) downstream: %s", n, e, listSome(imp.Assets)))
	}
	if imp.Tier != "" {
		parts = append(parts, imp.Tier)
	}
	if res.SeverityReason != "" {
		parts = append(parts, res.SeverityReason)
	}
	return strings.Join(parts, "; ")
}

func listSome(names []string) string {
	if len(names) <= maxListed {
		return strings.Join(names, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(names[:maxListed], ", "), len(names)-maxListed)
}

func first(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}

// dedupe drops empty and repeated strings, keeping the first of each.
func dedupe(in []string) []string {
	var out []string
	for _, s := range in {
		if s != "" && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}
