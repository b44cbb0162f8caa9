package owners

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/medic-sh/medic/internal/incident"
	"github.com/medic-sh/medic/internal/owners/dbt"
)

// Input describes one failed task.
type Input struct {
	// Instance is the Airflow instance's name in medic.yaml.
	Instance string
	DagID    string
	TaskID   string
	// Tables and Datasets the task reads or writes (from OpenLineage or the
	// SQL), matched by table and dataset rules.
	Tables   []string
	Datasets []string
	// ErrorText is the redacted error block, searched for dbt model names.
	ErrorText string
	// DagOwners and DagTags are the DAG's owners and tags from Airflow.
	DagOwners []string
	DagTags   []string
	// Graph gives downstream tasks; nil when unknown.
	Graph TaskGraph
}

// SourceKind names where an owner came from.
type SourceKind string

// Owner sources, from strongest to weakest: each field of the result comes
// from the first source that sets it.
const (
	SourceRule      SourceKind = "rule"       // an ownership-file rule
	SourceDbtModel  SourceKind = "dbt_model"  // the failed model's meta.owner / meta.tier
	SourceDbtGroup  SourceKind = "dbt_group"  // the failed model's dbt group owner
	SourceDagTags   SourceKind = "dag_tags"   // team:, tier:, owner:, slack: tags
	SourceDagOwners SourceKind = "dag_owners" // the DAG's owners list
	SourceDefault   SourceKind = "default"    // the ownership file's default owner
)

// Source is one source's say about the owner, with its evidence.
type Source struct {
	Kind SourceKind `json:"kind"`
	// Ref names the rule, model, group or DAG the source is.
	Ref      string   `json:"ref"`
	Owner    Owner    `json:"owner"`
	Evidence []string `json:"evidence"`
	// Match explains a rule source's match.
	Match *RuleMatch `json:"match,omitempty"`
}

// FailedModel is a dbt model the failed task ran.
type FailedModel struct {
	dbt.ModelRef
	Tier     Tier   `json:"tier,omitempty"`
	TierFrom string `json:"tier_from,omitempty"`
}

// Result is the answer for one failed task.
type Result struct {
	Instance string `json:"instance,omitempty"`
	DagID    string `json:"dag_id"`
	TaskID   string `json:"task_id,omitempty"`
	// Owner is the merged owner: each field from the strongest source
	// setting it.
	Owner Owner `json:"owner"`
	// OwnerFrom maps each set field of Owner to the source it came from.
	OwnerFrom map[string]SourceKind `json:"owner_from"`
	// Sources lists every source that said something, strongest first.
	Sources []Source `json:"sources"`
	// Models are the dbt models the task ran, primary first.
	Models []FailedModel `json:"models,omitempty"`
	Impact Impact        `json:"impact"`
	// Severity follows the rule in severity.go; SeverityReason says which
	// part of it applied.
	Severity       incident.Severity `json:"severity"`
	SeverityReason string            `json:"severity_reason"`
	Notes          []Note            `json:"notes,omitempty"`
}

func (res *Result) notef(kind NoteKind, format string, args ...any) {
	res.Notes = append(res.Notes, Note{Kind: kind, Message: fmt.Sprintf(format, args...)})
}

// Resolve finds the owner of the failed task, what its failure affects
// downstream, and a severity. Missing or broken data sources give Notes,
// not errors: the error is only for an input without a DAG id and for a
// context that ended.
func (r *Resolver) Resolve(ctx context.Context, in Input) (*Result, error) {
	if in.DagID == "" {
		return nil, fmt.Errorf("resolve owners: %w: the input names no DAG", ErrInvalid)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("resolve owners of %s.%s: %w", in.DagID, in.TaskID, context.Cause(ctx))
	}
	res := &Result{
		Instance: in.Instance, DagID: in.DagID, TaskID: in.TaskID,
		OwnerFrom: map[string]SourceKind{}, Notes: slices.Clone(r.notes),
	}
	res.Models = r.failedModels(&in, res)
	subject := Subject{
		Instance: in.Instance, Dag: in.DagID, Task: in.TaskID,
		Tables: normalizeTables(in.Tables), Datasets: in.Datasets,
	}
	for _, fm := range res.Models {
		if n, ok := r.manifest.Lookup(fm.UniqueID); ok {
			subject.Tables = append(subject.Tables, nodeTables(n)...)
		}
	}
	res.Sources = r.ownerSources(&subject, &in, res)
	for _, src := range res.Sources {
		res.Owner.fill(&src.Owner, func(field string) {
			if _, ok := res.OwnerFrom[field]; !ok {
				res.OwnerFrom[field] = src.Kind
			}
		})
	}
	if !res.Owner.Reachable() {
		res.notef(NoteNoOwner, "nobody to notify: no rule, dbt owner, DAG tag or DAG owner names a team, channel, user or escalation; give the ownership file a default owner")
	}
	if err := r.impact(ctx, &in, res); err != nil {
		return nil, fmt.Errorf("resolve impact of %s.%s: %w", in.DagID, in.TaskID, err)
	}
	res.Severity, res.SeverityReason = severityOf(res, r.cfg.BroadImpact)
	return res, nil
}

// failedModels ties the task to dbt models: an explicit dbt_models rule
// first, then models the error text names (those really failed), and only
// when neither gave one, the task id conventions.
func (r *Resolver) failedModels(in *Input, res *Result) []FailedModel {
	var refs []dbt.ModelRef
	if mm := r.rules.MatchModel(Subject{Instance: in.Instance, Dag: in.DagID, Task: in.TaskID}); mm != nil {
		n, ok := r.manifest.Lookup(mm.Model)
		switch {
		case r.manifest == nil:
			res.notef(NoteModelUnmapped, "%s maps the task to dbt model %q, but no dbt manifest is loaded", mm.Rule, mm.Model)
		case !ok:
			res.notef(NoteModelUnmapped, "%s maps the task to dbt model %q, which manifest %s does not define", mm.Rule, mm.Model, r.manifest.Source)
		default:
			refs = append(refs, dbt.ModelRef{UniqueID: n.UniqueID, Name: n.Name, How: dbt.ByRule, Evidence: mm.Rule})
		}
	}
	for _, ref := range r.manifest.ModelsInError(in.ErrorText) {
		if !slices.ContainsFunc(refs, func(have dbt.ModelRef) bool { return have.UniqueID == ref.UniqueID }) {
			refs = append(refs, ref)
		}
	}
	if len(refs) == 0 {
		if ref, ok := r.manifest.ModelForTask(in.TaskID); ok {
			refs = append(refs, ref)
		}
	}
	out := make([]FailedModel, 0, len(refs))
	for _, ref := range refs {
		fm := FailedModel{ModelRef: ref}
		if n, ok := r.manifest.Lookup(ref.UniqueID); ok {
			fm.Tier, fm.TierFrom = r.dbtTier(n.Tier, n.UniqueID, res)
		}
		out = append(out, fm)
	}
	return out
}

// dbtTier reads a tier from dbt meta, noting values that are not one.
func (r *Resolver) dbtTier(raw, id string, res *Result) (Tier, string) {
	if raw == "" {
		return TierUnknown, ""
	}
	t, ok := ParseTier(raw)
	if !ok {
		res.notef(NoteBadValue, "%s: meta.tier %s is not a tier (1, 2, 3 or tier1…tier3); ignored", id, quoteShort(raw))
		return TierUnknown, ""
	}
	return t, "meta.tier"
}

// ownerSources lists what each source says about the failed task's owner,
// strongest first; sources that say nothing are left out.
func (r *Resolver) ownerSources(s *Subject, in *Input, res *Result) []Source {
	var out []Source
	add := func(src Source) {
		if !src.Owner.IsZero() {
			out = append(out, src)
		}
	}
	if m := r.rules.Match(*s); m != nil {
		add(Source{Kind: SourceRule, Ref: m.Rule, Owner: m.rule.Owner, Evidence: []string{m.Why()}, Match: m})
	}
	if len(res.Models) > 0 {
		if n, ok := r.manifest.Lookup(res.Models[0].UniqueID); ok {
			add(r.modelSource(n, &res.Models[0]))
			if g := r.manifest.Groups[n.Group]; n.Group != "" && g != nil {
				add(Source{
					Kind: SourceDbtGroup, Ref: g.UniqueID, Owner: groupOwner(g),
					Evidence: []string{fmt.Sprintf("%s is in dbt group %q owned by %q", n.UniqueID, g.Name, g.OwnerName)},
				})
			}
		}
	}
	tagOwner, tagEvidence, conflicts := fromTags(in.DagTags)
	for _, c := range conflicts {
		res.notef(NoteBadValue, "DAG %s: %s", in.DagID, c)
	}
	add(Source{Kind: SourceDagTags, Ref: "dag " + in.DagID, Owner: tagOwner, Evidence: tagEvidence})
	dagOwner, dagEvidence := fromDagOwners(in.DagOwners)
	add(Source{Kind: SourceDagOwners, Ref: "dag " + in.DagID, Owner: dagOwner, Evidence: dagEvidence})
	if r.rules != nil && r.rules.Default != nil {
		where := fmt.Sprintf("%s:%d", r.rules.File, r.rules.DefaultLine)
		add(Source{
			Kind: SourceDefault, Ref: "default (" + where + ")", Owner: *r.rules.Default,
			Evidence: []string{"the ownership file's default owner, used for whatever no other source sets"},
		})
	}
	return out
}

func (r *Resolver) modelSource(n *dbt.Node, fm *FailedModel) Source {
	o := dbtOwner(n.Owners)
	o.Tier = fm.Tier
	ev := []string{fmt.Sprintf("task mapped to %s by %s: %s", n.UniqueID, fm.How, fm.Evidence)}
	if len(n.Owners) > 0 {
		ev = append(ev, fmt.Sprintf("meta.owner %q", strings.Join(n.Owners, ", ")))
	}
	if fm.Tier != TierUnknown {
		ev = append(ev, fmt.Sprintf("meta.tier %q", n.Tier))
	}
	return Source{Kind: SourceDbtModel, Ref: n.UniqueID, Owner: o, Evidence: ev}
}

// dbtOwner reads dbt meta.owner values: a Slack member id is a Slack user,
// a person (an @handle or an email address) a contact, anything else the
// team. The first team wins.
func dbtOwner(owners []string) Owner {
	var o Owner
	for _, s := range owners {
		switch {
		case isSlackUserID(s):
			o.SlackUsers = appendNew(o.SlackUsers, s)
		case strings.Contains(s, "@"):
			o.Contacts = appendNew(o.Contacts, s)
		case o.Team == "":
			o.Team = s
		default:
			o.Contacts = appendNew(o.Contacts, s)
		}
	}
	return o
}

func groupOwner(g *dbt.Group) Owner {
	o := Owner{Team: g.OwnerName}
	for _, e := range g.OwnerEmails {
		o.Contacts = appendNew(o.Contacts, e)
	}
	return o
}

// normalizeTables unquotes identifiers ("analytics"."marts"."orders",
// `proj`.`ds`.`t`, [db].[dbo].[t]) so rules see analytics.marts.orders.
func normalizeTables(tables []string) []string {
	out := make([]string, 0, len(tables))
	for _, t := range tables {
		t = strings.Map(func(r rune) rune {
			if strings.ContainsRune("\"`[]", r) {
				return -1
			}
			return r
		}, strings.TrimSpace(t))
		if t != "" {
			out = append(out, t)
		}
	}
	return out
}

// nodeTables names a dbt node's relation for table rules, both as
// database.schema.alias and as schema.alias.
func nodeTables(n *dbt.Node) []string {
	var out []string
	if n.RelationName != "" {
		out = normalizeTables([]string{n.RelationName})
	}
	alias := cmp.Or(n.Alias, n.Name)
	if n.Schema != "" && alias != "" {
		full := n.Schema + "." + alias
		if n.Database != "" {
			out = appendNew(out, n.Database+"."+full)
		}
		out = appendNew(out, full)
	}
	return out
}
