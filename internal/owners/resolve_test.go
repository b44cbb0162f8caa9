package owners_test

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/medic-sh/medic/internal/incident"
	"github.com/medic-sh/medic/internal/owners"
	"github.com/medic-sh/medic/internal/owners/dbt"
)

var (
	rulesFile    = filepath.Join("testdata", "owners.yaml")
	manifestFile = filepath.Join("dbt", "testdata", "manifest.json")
)

type testBundle struct {
	resolver *owners.Resolver
}

// setup opens the fixture ownership file and manifest (not validated: the
// validation path has its own tests).
func setup(t *testing.T, mod func(*owners.Config)) *testBundle {
	t.Helper()
	cfg := owners.Config{RulesFile: rulesFile, Manifest: manifestFile}
	if mod != nil {
		mod(&cfg)
	}
	return &testBundle{resolver: owners.Open(context.Background(), cfg)}
}

func (b *testBundle) resolve(t *testing.T, in owners.Input) *owners.Result {
	t.Helper()
	res, err := b.resolver.Resolve(context.Background(), in)
	require.NoError(t, err)
	// Every result must serialise: the specialist stores it as finding data.
	_, err = json.Marshal(res)
	require.NoError(t, err)
	return res
}

func sourceKinds(res *owners.Result) []owners.SourceKind {
	out := make([]owners.SourceKind, len(res.Sources))
	for i, s := range res.Sources {
		out[i] = s.Kind
	}
	return out
}

func noteKinds(res *owners.Result) []owners.NoteKind {
	var out []owners.NoteKind
	for _, n := range res.Notes {
		out = append(out, n.Kind)
	}
	return out
}

func TestResolveOwner(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	tests := []struct {
		name      string
		in        owners.Input
		owner     owners.Owner
		from      map[string]owners.SourceKind
		sources   []owners.SourceKind
		rule      string
		outranked []string
		severity  incident.Severity
		reason    string
	}{
		{
			name: "a rule beats tags and DAG owners, which still add contacts",
			in: owners.Input{
				DagID: "payments_daily", TaskID: "load_ledger",
				DagTags: []string{"team:ledger", "tier:3"}, DagOwners: []string{"alice", "airflow"},
			},
			owner: owners.Owner{
				Team: "payments", SlackChannel: "#payments-oncall", SlackUsers: []string{"U012PAYMT1"},
				Escalation: "payments-manager@shopfront.example", Tier: owners.Tier1,
				Runbook: "https://runbooks.shopfront.example/payments", Contacts: []string{"alice"},
			},
			from: map[string]owners.SourceKind{
				"team": owners.SourceRule, "slack_channel": owners.SourceRule, "slack_users": owners.SourceRule,
				"escalation": owners.SourceRule, "tier": owners.SourceRule, "runbook": owners.SourceRule,
				"contacts": owners.SourceDagOwners,
			},
			sources:  []owners.SourceKind{owners.SourceRule, owners.SourceDagTags, owners.SourceDagOwners, owners.SourceDefault},
			rule:     `rule "payments" (testdata/owners.yaml:11)`,
			severity: incident.SeverityHigh, reason: "high: the failed task is tier1 (from rule)",
		},
		{
			name: "more fields beat fewer; a longer literal prefix beats **",
			in:   owners.Input{DagID: "payments_daily", TaskID: "refund_batch"},
			// Only the winning rule speaks: the broader "payments" rule's
			// escalation and runbook do not leak into the refunds team's.
			owner: owners.Owner{
				Team: "refunds", SlackChannel: "#refunds", Escalation: "data-platform-lead@shopfront.example", Tier: owners.Tier2,
			},
			from: map[string]owners.SourceKind{
				"team": owners.SourceRule, "slack_channel": owners.SourceRule, "tier": owners.SourceRule,
				"escalation": owners.SourceDefault,
			},
			sources:   []owners.SourceKind{owners.SourceRule, owners.SourceDefault},
			rule:      `rule "payments-refunds" (testdata/owners.yaml:23)`,
			outranked: []string{`rule "any-dag-refunds" (testdata/owners.yaml:32)`, `rule "payments" (testdata/owners.yaml:11)`},
			severity:  incident.SeverityMedium, reason: "medium: the failed task is tier2 (from rule)",
		},
		{
			name: "tag conventions, with the default filling the gaps",
			in: owners.Input{
				DagID: "marketing_sync", TaskID: "push",
				DagTags:   []string{"nightly", "Team:growth", "tier=2", "slack:growth-alerts", "owner:@dana", "owner:U0DANA1234"},
				DagOwners: []string{"airflow"},
			},
			owner: owners.Owner{
				Team: "growth", SlackChannel: "#growth-alerts", SlackUsers: []string{"U0DANA1234"},
				Escalation: "data-platform-lead@shopfront.example", Tier: owners.Tier2, Contacts: []string{"@dana"},
			},
			from: map[string]owners.SourceKind{
				"team": owners.SourceDagTags, "slack_channel": owners.SourceDagTags, "slack_users": owners.SourceDagTags,
				"tier": owners.SourceDagTags, "contacts": owners.SourceDagTags, "escalation": owners.SourceDefault,
			},
			sources:  []owners.SourceKind{owners.SourceDagTags, owners.SourceDefault},
			severity: incident.SeverityMedium, reason: "medium: the failed task is tier2 (from dag_tags)",
		},
		{
			name: "DAG owners only, then the default",
			in:   owners.Input{DagID: "adhoc", TaskID: "t", DagOwners: []string{"bob,carol", "U0BOB12345"}},
			owner: owners.Owner{
				Team: "data-platform", SlackChannel: "#data-platform-oncall", SlackUsers: []string{"U0BOB12345"},
				Escalation: "data-platform-lead@shopfront.example", Tier: owners.Tier3, Contacts: []string{"bob", "carol"},
			},
			from: map[string]owners.SourceKind{
				"team": owners.SourceDefault, "slack_channel": owners.SourceDefault, "escalation": owners.SourceDefault,
				"tier": owners.SourceDefault, "slack_users": owners.SourceDagOwners, "contacts": owners.SourceDagOwners,
			},
			sources:  []owners.SourceKind{owners.SourceDagOwners, owners.SourceDefault},
			severity: incident.SeverityLow,
			reason:   "low: the failed task is tier3 (from default), with nothing of tier 1 or 2, no exposure and 0 item(s) downstream",
		},
		{
			name: "a dataset rule",
			in: owners.Input{
				DagID: "exports_daily", TaskID: "write",
				Datasets: []string{"postgres://db/analytics.orders", "s3://shopfront-lake/exports/orders/2026-11-20.parquet"},
			},
			owner: owners.Owner{
				Team: "data-exports", SlackChannel: "#data-platform-oncall",
				Escalation: "data-platform-lead@shopfront.example", Tier: owners.Tier2,
			},
			from: map[string]owners.SourceKind{
				"team": owners.SourceRule, "tier": owners.SourceRule,
				"slack_channel": owners.SourceDefault, "escalation": owners.SourceDefault,
			},
			sources:  []owners.SourceKind{owners.SourceRule, owners.SourceDefault},
			rule:     `rule "lake-exports" (testdata/owners.yaml:46)`,
			severity: incident.SeverityMedium, reason: "medium: the failed task is tier2 (from rule)",
		},
		{
			name: "a tier-only instance rule; the team from tags",
			in:   owners.Input{Instance: "prod", DagID: "reports_daily", TaskID: "publish_kpis", DagTags: []string{"team:bi"}},
			owner: owners.Owner{
				Team: "bi", SlackChannel: "#data-platform-oncall",
				Escalation: "data-platform-lead@shopfront.example", Tier: owners.Tier1,
			},
			from: map[string]owners.SourceKind{
				"tier": owners.SourceRule, "team": owners.SourceDagTags,
				"slack_channel": owners.SourceDefault, "escalation": owners.SourceDefault,
			},
			sources:  []owners.SourceKind{owners.SourceRule, owners.SourceDagTags, owners.SourceDefault},
			rule:     `rule "publish-tasks-tier-only" (testdata/owners.yaml:53)`,
			severity: incident.SeverityHigh, reason: "high: the failed task is tier1 (from rule)",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res := b.resolve(t, tt.in)
			require.Equal(t, tt.owner, res.Owner)
			require.Equal(t, tt.from, res.OwnerFrom)
			require.Equal(t, tt.sources, sourceKinds(res))
			for _, src := range res.Sources {
				require.NotEmpty(t, src.Evidence, "source %s has evidence", src.Kind)
			}
			if tt.rule != "" {
				m := res.Sources[0].Match
				require.NotNil(t, m)
				require.Equal(t, tt.rule, m.Rule)
				require.Equal(t, tt.outranked, m.Outranked)
				require.Contains(t, res.Sources[0].Evidence[0], tt.rule)
			}
			require.Equal(t, tt.severity, res.Severity)
			require.Equal(t, tt.reason, res.SeverityReason)
			require.Equal(t, []owners.NoteKind{owners.NoteManifestWarning, owners.NoteNoGraph}, noteKinds(res))
		})
	}
}

func TestResolveEvidenceExplainsSpecificity(t *testing.T) {
	t.Parallel()
	res := setup(t, nil).resolve(t, owners.Input{DagID: "payments_daily", TaskID: "refund_batch"})
	require.Equal(t,
		`rule "payments-refunds" (testdata/owners.yaml:23): dag "payments_daily" matches "payments_daily", task "refund_batch" matches "refund_*"; `+
			`more specific (2 fields, 1 exact, literal prefix 21, literal 21) than rule "any-dag-refunds" (testdata/owners.yaml:32), rule "payments" (testdata/owners.yaml:11)`,
		res.Sources[0].Evidence[0])
	require.Equal(t, owners.Specificity{Fields: 2, Exact: 1, Prefix: 21, Literal: 21}, res.Sources[0].Match.Specificity)
}

func TestResolveDbt(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	tests := []struct {
		name      string
		in        owners.Input
		models    []string // failed unique_ids
		how       string
		team      string
		teamFrom  owners.SourceKind
		tier      owners.Tier
		sources   []owners.SourceKind
		impacted  []string // downstream models then exposures
		severity  incident.Severity
		reason    string
		wantNotes []owners.NoteKind
	}{
		{
			name:   "cosmos task id; a table rule for the model's relation beats meta.owner",
			in:     owners.Input{DagID: "shop_dbt", TaskID: "marts.orders.run"},
			models: []string{"model.shopfront.orders"}, how: dbt.ByTaskID,
			team: "finance-analytics", teamFrom: owners.SourceRule, tier: owners.Tier1,
			sources:  []owners.SourceKind{owners.SourceRule, owners.SourceDbtModel, owners.SourceDbtGroup, owners.SourceDefault},
			impacted: []string{"model.shopfront.revenue_daily", "exposure.shopfront.courier_app", "exposure.shopfront.finance_dashboard"},
			severity: incident.SeverityCritical,
			reason:   "critical: tier1 exposure exposure.shopfront.finance_dashboard is downstream",
		},
		{
			name:   "the error text names the model",
			in:     owners.Input{DagID: "shop_dbt", TaskID: "dbt_build", ErrorText: "Database Error in model customers (models/marts/customers.sql)\n  permission denied"},
			models: []string{"model.shopfront.customers"}, how: dbt.ByErrorText,
			team: "finance-analytics", teamFrom: owners.SourceRule, tier: owners.Tier3,
			sources:  []owners.SourceKind{owners.SourceRule, owners.SourceDbtModel, owners.SourceDefault},
			impacted: []string{"exposure.shopfront.churn_notebook"},
			severity: incident.SeverityMedium,
			reason:   "medium: exposure exposure.shopfront.churn_notebook is downstream",
		},
		{
			name:   "a staging model without meta or rule: the default owns it, its downstream sets the severity",
			in:     owners.Input{DagID: "shop_dbt", TaskID: "stg_payments_run"},
			models: []string{"model.shopfront.stg_payments"}, how: dbt.ByTaskID,
			team: "data-platform", teamFrom: owners.SourceDefault, tier: owners.Tier3,
			sources: []owners.SourceKind{owners.SourceDefault},
			impacted: []string{
				"model.shopfront.orders", "model.shopfront.payments_summary", "model.shopfront.revenue_daily",
				"exposure.shopfront.courier_app", "exposure.shopfront.finance_dashboard",
			},
			severity: incident.SeverityCritical,
			reason:   "critical: tier1 exposure exposure.shopfront.finance_dashboard is downstream",
		},
		{
			name:   "an explicit dbt_models rule first, then what the error text names",
			in:     owners.Input{DagID: "analytics_hourly", TaskID: "transform", ErrorText: "Failure in test not_null_orders_order_id (models/marts/schema.yml)"},
			models: []string{"model.shopfront.revenue_daily", "model.shopfront.orders"}, how: dbt.ByRule,
			team: "finance-analytics", teamFrom: owners.SourceRule, tier: owners.Tier2,
			sources:  []owners.SourceKind{owners.SourceRule, owners.SourceDbtModel, owners.SourceDefault},
			impacted: []string{"exposure.shopfront.finance_dashboard", "exposure.shopfront.courier_app"},
			severity: incident.SeverityCritical,
			reason:   "critical: tier1 exposure exposure.shopfront.finance_dashboard is downstream",
		},
		{
			name: "a dbt_models rule naming an unknown model is a note",
			in:   owners.Input{DagID: "x", TaskID: "ghost_task"},
			team: "data-platform", teamFrom: owners.SourceDefault, tier: owners.Tier3,
			sources:   []owners.SourceKind{owners.SourceDefault},
			severity:  incident.SeverityLow,
			reason:    "low: the failed task is tier3 (from default), with nothing of tier 1 or 2, no exposure and 0 item(s) downstream",
			wantNotes: []owners.NoteKind{owners.NoteModelUnmapped},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res := b.resolve(t, tt.in)
			var got []string
			for _, m := range res.Models {
				got = append(got, m.UniqueID)
			}
			require.Equal(t, tt.models, got)
			if len(res.Models) > 0 {
				require.Equal(t, tt.how, res.Models[0].How)
				require.NotEmpty(t, res.Models[0].Evidence)
			}
			require.Equal(t, tt.team, res.Owner.Team)
			require.Equal(t, tt.teamFrom, res.OwnerFrom["team"])
			require.Equal(t, tt.tier, res.Owner.Tier)
			require.Equal(t, tt.sources, sourceKinds(res))
			var impacted []string
			for _, n := range res.Impact.Models {
				impacted = append(impacted, n.UniqueID)
			}
			for _, n := range res.Impact.Exposures {
				impacted = append(impacted, n.UniqueID)
			}
			require.Equal(t, tt.impacted, impacted)
			require.Equal(t, tt.severity, res.Severity)
			require.Equal(t, tt.reason, res.SeverityReason)
			want := append([]owners.NoteKind{owners.NoteManifestWarning}, tt.wantNotes...)
			require.Equal(t, append(want, owners.NoteNoGraph), noteKinds(res))
		})
	}
}

func TestResolveDbtImpactDetails(t *testing.T) {
	t.Parallel()
	res := setup(t, nil).resolve(t, owners.Input{DagID: "shop_dbt", TaskID: "marts.orders.run"})
	require.Equal(t, []owners.ImpactNode{{
		UniqueID: "model.shopfront.revenue_daily", Name: "revenue_daily", Kind: "model", Depth: 1,
		Via: "model.shopfront.orders", Tier: owners.Tier2, TierFrom: "meta.tier",
		Owner: owners.Owner{Contacts: []string{"@carol"}}, OwnerFrom: "meta.owner",
	}}, res.Impact.Models)
	require.Equal(t, []owners.ImpactNode{
		{
			UniqueID: "exposure.shopfront.courier_app", Name: "courier_app", Kind: "exposure", Depth: 1,
			Via: "model.shopfront.orders", Tier: owners.Tier2, TierFrom: "meta.tier",
			Owner:     owners.Owner{Team: "Logistics", Contacts: []string{"dispatch@shopfront.example", "logistics@shopfront.example"}},
			OwnerFrom: "exposure owner", URL: "https://bi.shopfront.example/courier_app",
		},
		{
			UniqueID: "exposure.shopfront.finance_dashboard", Name: "finance_dashboard", Kind: "exposure", Depth: 2,
			Via: "model.shopfront.revenue_daily", Tier: owners.Tier1, TierFrom: "maturity high",
			Owner:     owners.Owner{Team: "Finance Analytics", Contacts: []string{"finance-data@shopfront.example"}},
			OwnerFrom: "exposure owner", Maturity: "high", URL: "https://bi.shopfront.example/finance_dashboard",
		},
	}, res.Impact.Exposures)
	require.Equal(t, 1, res.Impact.OtherNodes, "the not_null test")

	model := res.Sources[1]
	require.Equal(t, owners.SourceDbtModel, model.Kind)
	require.Equal(t, "model.shopfront.orders", model.Ref)
	require.Equal(t, owners.Owner{Team: "finance-analytics", Tier: owners.Tier1}, model.Owner)
	require.Equal(t, []string{
		`task mapped to model.shopfront.orders by task_id: task "marts.orders.run": cosmos task group convention <model>.run`,
		`meta.owner "finance-analytics"`, `meta.tier "1"`,
	}, model.Evidence)
	require.Equal(t, owners.SourceDbtGroup, res.Sources[2].Kind)
	require.Equal(t, owners.Owner{Team: "Finance Analytics", Contacts: []string{"finance-data@shopfront.example"}}, res.Sources[2].Owner)
	require.Equal(t, []string{"finance-data@shopfront.example"}, res.Owner.Contacts)
}

func TestResolveDownstreamTasks(t *testing.T) {
	t.Parallel()
	graph := owners.TaskMap{
		"load_ledger":    {"refund_batch", "publish_report"},
		"refund_batch":   {"notify", "load_ledger"}, // a cycle no DAG has: walked once
		"publish_report": {"notify"},
	}
	res := setup(t, nil).resolve(t, owners.Input{DagID: "payments_daily", TaskID: "load_ledger", Graph: graph})
	refunds := owners.Owner{Team: "refunds", SlackChannel: "#refunds", Tier: owners.Tier2}
	require.Equal(t, []owners.ImpactTask{
		{TaskID: "refund_batch", Depth: 1, Owner: &refunds, Rule: `rule "payments-refunds" (testdata/owners.yaml:23)`, Tier: owners.Tier2},
		{TaskID: "publish_report", Depth: 1},
		{TaskID: "notify", Depth: 2},
	}, res.Impact.Tasks)
	require.False(t, res.Impact.TasksTruncated)
	require.Equal(t, []owners.NoteKind{owners.NoteManifestWarning}, noteKinds(res))
}

func TestResolveBroadAndBoundedImpact(t *testing.T) {
	t.Parallel()
	wide := owners.TaskMap{"extract": nil}
	for i := range 100 {
		wide["extract"] = append(wide["extract"], fmt.Sprintf("load_%03d", i))
	}
	tests := []struct {
		name      string
		max       int
		dagTags   []string
		tasks     int
		truncated bool
		severity  incident.Severity
		reason    string
	}{
		{
			name: "more than broad: high", max: 500, tasks: 100, dagTags: []string{"tier:3"},
			severity: incident.SeverityHigh, reason: "high: 100 items are downstream (more than 20)",
		},
		{
			name: "tier1 and broad: critical", max: 500, tasks: 100, dagTags: []string{"tier1"},
			severity: incident.SeverityCritical, reason: "critical: the failed task is tier1 (from dag_tags) and 100 items are downstream (more than 20)",
		},
		{
			name: "bounded walk", max: 10, tasks: 10, truncated: true, dagTags: []string{"tier:3"},
			severity: incident.SeverityLow, reason: "low: the failed task is tier3 (from dag_tags), with nothing of tier 1 or 2, no exposure and 10 item(s) downstream",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, func(c *owners.Config) { c.RulesFile = ""; c.MaxDownstream = tt.max })
			res := b.resolve(t, owners.Input{DagID: "wide", TaskID: "extract", DagTags: append(tt.dagTags, "team:ingest"), Graph: wide})
			require.Len(t, res.Impact.Tasks, tt.tasks)
			require.Equal(t, tt.truncated, res.Impact.TasksTruncated)
			require.Equal(t, tt.severity, res.Severity)
			require.Equal(t, tt.reason, res.SeverityReason)
			if tt.truncated {
				require.Contains(t, noteKinds(res), owners.NoteTruncated)
			}
		})
	}
}

func TestResolveErrors(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	_, err := b.resolver.Resolve(context.Background(), owners.Input{TaskID: "t"})
	require.ErrorIs(t, err, owners.ErrInvalid)

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = b.resolver.Resolve(ctx, owners.Input{DagID: "d", TaskID: "t"})
	require.ErrorIs(t, err, context.Canceled)
}
