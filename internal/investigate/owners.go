package investigate

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/medic-sh/medic/internal/incident"
	"github.com/medic-sh/medic/internal/investigate/agents"
	"github.com/medic-sh/medic/internal/logscan"
	"github.com/medic-sh/medic/internal/owners"
	"github.com/medic-sh/medic/internal/triage"
)

// Owners answers who owns a failed task and what its failure blocks. The
// ownership rules and lineage (internal/owners) implement it; AirflowOwners
// is the fallback that uses only what Airflow says.
type Owners interface {
	Resolve(ctx context.Context, in OwnersInput) (*OwnersResult, error)
}

// OwnersInput is what the owner-notifier knows of the failure.
type OwnersInput struct {
	Instance string `json:"instance"`
	DagID    string `json:"dag_id"`
	TaskID   string `json:"task_id"`
	RunID    string `json:"run_id"`
	// DagOwners and Tags are the DAG's; TaskOwner is the owner the failure
	// report named.
	DagOwners []string `json:"dag_owners,omitempty"`
	Tags      []string `json:"tags,omitempty"`
	TaskOwner string   `json:"task_owner,omitempty"`
	// Downstream are the tasks the failed task feeds; Blocked the tasks
	// left upstream_failed in the run.
	Downstream []string `json:"downstream,omitempty"`
	Blocked    []string `json:"blocked,omitempty"`
	// ErrorText is the failure's redacted error text (the reported
	// exception, and the log's error block when known), searched for the
	// dbt models that failed.
	ErrorText string `json:"error_text,omitempty"`
}

// OwnersResult is who owns the failure and what it blocks.
type OwnersResult struct {
	Owner  Owner  `json:"owner"`
	Impact Impact `json:"impact"`
	// Notify are the people and channels to tell, most direct first.
	Notify   []string            `json:"notify,omitempty"`
	Evidence []incident.Evidence `json:"evidence,omitempty"`
	// Notes are what is degraded or doubtful about the answer ("kind:
	// message"), to be shown with it.
	Notes []string `json:"notes,omitempty"`
	// Unavailable are the ownership sources that could not be used (a
	// broken ownership file or manifest, no task graph): the answer came
	// from the others, and the owner-notifier's result is partial.
	Unavailable []string `json:"unavailable,omitempty"`
	// Resolution is the ownership resolver's whole answer (every source
	// with its evidence, the downstream tasks, models and exposures, the
	// severity rule that applied), when one answered. It is recorded in
	// the owner-notifier's finding, not in its session result.
	Resolution *owners.Result `json:"resolution,omitempty"`
}

// Owner is who answers for the failed work.
type Owner struct {
	// Name is a team or person; "" when nothing names one.
	Name       string   `json:"name"`
	Contacts   []string `json:"contacts,omitempty"`
	Channel    string   `json:"channel,omitempty"`
	Escalation string   `json:"escalation,omitempty"`
	// Source says where the answer came from: "airflow_dag_owners",
	// "failure_report", an ownership rule.
	Source string `json:"source"`
}

// Impact is what the failure blocks.
type Impact struct {
	Downstream []string `json:"downstream,omitempty"`
	Blocked    []string `json:"blocked,omitempty"`
	// Assets are datasets or models downstream, where lineage knows them.
	Assets []string `json:"assets,omitempty"`
	// Tier is "tier1".."tier3", "" when no source says.
	Tier     string            `json:"tier,omitempty"`
	Severity incident.Severity `json:"severity"`
	Summary  string            `json:"summary"`
	Source   string            `json:"source"`
}

// AirflowOwners resolves owners from Airflow alone: the owner the failure
// report named, else the DAG's owners; the tier from the DAG's tags
// (tier1, tier-2, tier_3, tier:1); the impact from the run's blocked tasks.
// It never fails and makes no call.
type AirflowOwners struct{}

var _ Owners = AirflowOwners{}

// airflowDefaultOwner is the owner Airflow gives a DAG that names none.
const airflowDefaultOwner = "airflow"

// Resolve implements Owners.
func (AirflowOwners) Resolve(_ context.Context, in OwnersInput) (*OwnersResult, error) {
	var owners []string
	for _, o := range append([]string{in.TaskOwner}, in.DagOwners...) {
		if o = strings.TrimSpace(o); o != "" && o != airflowDefaultOwner && !slices.Contains(owners, o) {
			owners = append(owners, o)
		}
	}
	res := &OwnersResult{Owner: Owner{Source: "airflow_dag_owners"}}
	switch {
	case len(owners) == 0:
		res.Owner.Source = "none"
	case in.TaskOwner != "" && owners[0] == in.TaskOwner:
		res.Owner.Source = "failure_report"
	}
	if len(owners) > 0 {
		res.Owner.Name, res.Owner.Contacts, res.Notify = owners[0], owners, owners
		res.Evidence = append(res.Evidence, incident.Evidence{Source: "airflow_api", Ref: "dags/" + in.DagID, Text: "owners: " + strings.Join(owners, ", ")})
	}
	imp := Impact{Downstream: in.Downstream, Blocked: in.Blocked, Tier: tierFromTags(in.Tags), Source: "airflow_run"}
	imp.Severity = impactSeverity(imp.Tier, len(in.Blocked))
	imp.Summary = impactSummary(imp)
	if imp.Tier != "" {
		res.Evidence = append(res.Evidence, incident.Evidence{Source: "airflow_api", Ref: "dags/" + in.DagID, Text: "tags: " + strings.Join(in.Tags, ", ")})
	}
	res.Impact = imp
	return res, nil
}

// tierFromTags reads a tier from DAG tags: tier1, tier-1, tier_1, tier:1,
// tier 1 (any case).
func tierFromTags(tags []string) string {
	best := ""
	for _, t := range tags {
		rest, ok := strings.CutPrefix(strings.ToLower(strings.TrimSpace(t)), "tier")
		if !ok {
			continue
		}
		rest = strings.TrimLeft(rest, "-_: ")
		if rest == "1" || rest == "2" || rest == "3" {
			if best == "" || "tier"+rest < best {
				best = "tier" + rest
			}
		}
	}
	return best
}

// impactSeverity ranks a failure by what it blocks: a tier-1 DAG or three
// blocked tasks rank high, both critical; a tier-3 DAG that blocks nothing
// low.
func impactSeverity(tier string, blocked int) incident.Severity {
	switch {
	case tier == "tier1" && blocked >= 3:
		return incident.SeverityCritical
	case tier == "tier1", blocked >= 3:
		return incident.SeverityHigh
	case tier == "tier3" && blocked == 0:
		return incident.SeverityLow
	}
	return incident.SeverityMedium
}

func impactSummary(imp Impact) string {
	var parts []string
	switch n := len(imp.Blocked); n {
	case 0:
		parts = append(parts, "blocks no other task in the run")
	default:
		parts = append(parts, fmt.Sprintf("%d downstream task(s) blocked: %s", n, strings.Join(imp.Blocked, ", ")))
	}
	if imp.Tier != "" {
		parts = append(parts, imp.Tier+" DAG")
	}
	return strings.Join(parts, "; ")
}

// OwnerNotifier is the owner-notifier's engine: it asks Owners, and falls
// back on AirflowOwners when they cannot answer (not configured, failing,
// or naming no owner).
type OwnerNotifier struct {
	owners Owners
}

// maxOwnersErrorText bounds the error text handed to Owners: the dbt model
// names it looks for are in the error block, not in megabytes of log.
const maxOwnersErrorText = 64 << 10

var _ Engine = (*OwnerNotifier)(nil)

// NewOwnerNotifier returns the owner-notifier engine; owners may be nil.
func NewOwnerNotifier(owners Owners) *OwnerNotifier { return &OwnerNotifier{owners: owners} }

// Spec implements Engine.
func (*OwnerNotifier) Spec() agents.EngineSpec {
	return agents.EngineSpec{Role: agents.RoleSpecialist, Tools: []string{agents.ToolOwners, agents.ToolLineageImpact}}
}

// Run implements Engine.
func (e *OwnerNotifier) Run(ctx context.Context, t *Task) (*Result, error) {
	b := t.Brief
	in := OwnersInput{
		Instance: b.Instance, DagID: b.DagID, TaskID: b.TaskID, RunID: b.RunID, DagOwners: b.DagOwners, Tags: b.Tags,
		TaskOwner: b.TaskOwner, Downstream: b.Downstream, Blocked: b.Blocked, ErrorText: ownersErrorText(t),
	}
	res := &Result{}
	var got *OwnersResult
	if e.owners != nil {
		var err error
		got, err = e.owners.Resolve(ctx, in)
		switch {
		case err != nil && ctx.Err() != nil:
			return nil, err
		case err != nil:
			res.Incomplete = append(res.Incomplete, "ownership rules: "+err.Error()+" (fell back on Airflow's owners)")
			got = nil
		case got != nil && got.Owner.Name == "":
			t.Report.Progress(ctx, "the ownership data names no owner: using Airflow's")
			fallback, _ := AirflowOwners{}.Resolve(ctx, in)
			got.Owner, got.Notify = fallback.Owner, fallback.Notify
			got.Evidence = append(got.Evidence, fallback.Evidence...)
			got.Notes = append(got.Notes, "the ownership data names nobody to notify: the owner is Airflow's")
		}
	}
	if got == nil {
		got, _ = AirflowOwners{}.Resolve(ctx, in)
	}
	for _, u := range got.Unavailable {
		res.Incomplete = append(res.Incomplete, "ownership data: "+u)
	}
	for _, n := range got.Notes {
		t.Report.Progress(ctx, "owners note: "+n)
	}
	brief := *got
	brief.Resolution = nil // the finding holds it; the session result stays small
	res.Owners, res.Evidence = &brief, got.Evidence
	owner := got.Owner.Name
	if owner == "" {
		owner = "no owner known"
	}
	res.Summary = fmt.Sprintf("owner %s (%s); %s", owner, got.Owner.Source, got.Impact.Summary)
	f := &incident.Finding{Step: "owners", Kind: "owners", Summary: res.Summary, Data: mustJSON(got), Evidence: got.Evidence}
	if err := t.Report.Finding(ctx, f); err != nil {
		return res, err
	}
	return res, nil
}

// ownersErrorText is the failure's error text as far as the owner-notifier
// knows it: the exception the failure report carried and, when an earlier
// session recorded one, the log excerpt; redacted and bounded.
func ownersErrorText(t *Task) string {
	parts := []string{}
	if t.Brief.ReportedError != "" {
		parts = append(parts, t.Brief.ReportedError)
	}
	if lg := triage.Decode(t.Known).Log; lg != nil && len(lg.Lines) > 0 {
		parts = append(parts, strings.Join(lg.Lines, "\n"))
	}
	text := logscan.Redact(strings.Join(parts, "\n"))
	if len(text) > maxOwnersErrorText {
		// The error is at the end of a log; keep the end.
		cut := len(text) - maxOwnersErrorText
		for cut < len(text) && text[cut]&0xC0 == 0x80 {
			cut++
		}
		text = text[cut:]
	}
	return text
}
