package investigate_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/medic-sh/medic/internal/incident"
	"github.com/medic-sh/medic/internal/investigate"
	"github.com/medic-sh/medic/internal/investigate/agents"
	"github.com/medic-sh/medic/internal/owners"
	"github.com/medic-sh/medic/internal/sharedtest"
	"github.com/medic-sh/medic/internal/triage"
)

var (
	validatedOnce sync.Once
	validated     *owners.Resolver
)

// validatedResolver opens testdata's ownership file and dbt manifest, the
// manifest checked against the shared v12 schema, once per test binary
// (compiling the schema takes most of a second). It skips without the
// shared data, and fails under CI=true.
func validatedResolver(t *testing.T) *owners.Resolver {
	t.Helper()
	schema := sharedtest.Dir(t, "specs", "dbt", "manifest-v12.json")
	validatedOnce.Do(func() {
		validated = owners.Open(context.Background(), owners.Config{
			RulesFile: filepath.Join("testdata", "owners.yaml"), Manifest: filepath.Join("testdata", "manifest.json"), ManifestSchema: schema,
		})
	})
	require.Empty(t, validated.Notes(), "testdata's ownership file and manifest load cleanly and validate")
	return validated
}

// ordersBrief is the brief of load's failure in orders_etl, as the
// commander writes it.
var ordersBrief = investigate.Brief{
	Instance: "main", DagID: "orders_etl", RunID: testRun, TaskID: "load", TryNumber: 1,
	DagOwners: []string{"data-eng"}, Tags: []string{"orders", "tier1"}, Failed: []string{"load"},
	Downstream: []string{"report"}, Blocked: []string{"report"},
	ReportedError: `psycopg2.errors.UndefinedColumn: column "customer_idd" does not exist (password=hunter2)`,
}

func TestOwnerNotifierWithOwnershipData(t *testing.T) {
	t.Parallel()
	_, client := newAirflow(t)
	in := instances{"main": client}
	tests := []struct {
		name     string
		resolver func(t *testing.T) *owners.Resolver
		brief    func(b *investigate.Brief)
		owner    string
		source   string
		channel  string
		notify   []string
		severity incident.Severity
		assets   []string
		// unavailable are substrings of the result's Incomplete entries;
		// none means a complete answer.
		unavailable []string
		notes       []string
	}{
		{
			name: "the rule owns the task, dbt lineage reaches a tier-1 exposure", resolver: validatedResolver,
			owner: "orders", source: `rule "orders" (testdata/owners.yaml:10)`, channel: "#orders-oncall",
			notify:   []string{"#orders-oncall", "U0ORDERS01", "orders-lead@shop.example"},
			severity: incident.SeverityCritical, assets: []string{"model.shop.fct_orders", "exposure.shop.finance_dashboard"},
		},
		{
			name: "a broken ownership file is a marked note, and Airflow's owners answer",
			resolver: func(*testing.T) *owners.Resolver {
				return owners.Open(context.Background(), owners.Config{RulesFile: filepath.Join("testdata", "owners_broken.yaml")})
			},
			owner: "data-eng", source: "airflow_dag_owners", notify: []string{"data-eng"}, severity: incident.SeverityHigh,
			unavailable: []string{"ownership file not used", "owners_broken.yaml:4", "match.dag"},
			notes:       []string{"rules_unavailable: ownership file not used", "nobody to notify"},
		},
		{
			name: "a missing manifest is a marked note; the rules still answer",
			resolver: func(*testing.T) *owners.Resolver {
				return owners.Open(context.Background(), owners.Config{
					RulesFile: filepath.Join("testdata", "owners.yaml"), Manifest: filepath.Join("testdata", "absent.json"),
				})
			},
			owner: "orders", source: `rule "orders" (testdata/owners.yaml:10)`, channel: "#orders-oncall",
			notify: []string{"#orders-oncall", "U0ORDERS01", "orders-lead@shop.example"}, severity: incident.SeverityMedium,
			unavailable: []string{"dbt manifest not used"},
			notes:       []string{"manifest_unavailable: dbt manifest not used", "model_unmapped"},
		},
		{
			name: "no task graph when the instance is unknown", resolver: validatedResolver,
			brief: func(b *investigate.Brief) { b.Instance = "elsewhere" },
			owner: "orders", source: `rule "orders" (testdata/owners.yaml:10)`, channel: "#orders-oncall",
			notify:   []string{"#orders-oncall", "U0ORDERS01", "orders-lead@shop.example"},
			severity: incident.SeverityCritical, assets: []string{"model.shop.fct_orders", "exposure.shop.finance_dashboard"},
			unavailable: []string{`Airflow instance "elsewhere" is not configured`},
			notes:       []string{"no_graph"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			brief := ordersBrief
			if tt.brief != nil {
				tt.brief(&brief)
			}
			rep := &recordingReporter{}
			engine := investigate.NewOwnerNotifier(investigate.NewResolverOwners(tt.resolver(t), in))
			def := &agents.Definition{Name: agents.OwnerNotifier, MaxSteps: 4}
			res, err := engine.Run(context.Background(), &investigate.Task{Agent: def, Brief: brief, Report: rep})
			require.NoError(t, err)

			got := res.Owners
			require.Equal(t, tt.owner, got.Owner.Name)
			require.Equal(t, tt.source, got.Owner.Source)
			require.Equal(t, tt.channel, got.Owner.Channel)
			require.Equal(t, tt.notify, got.Notify)
			require.Equal(t, tt.severity, got.Impact.Severity)
			require.Equal(t, tt.assets, got.Impact.Assets)
			require.Nil(t, got.Resolution, "the session result keeps the condensed answer")
			if len(tt.unavailable) == 0 {
				require.Empty(t, res.Incomplete)
			}
			for _, u := range tt.unavailable {
				require.Contains(t, joinAll(res.Incomplete), u)
			}
			for _, n := range tt.notes {
				require.Contains(t, joinAll(got.Notes), n)
			}
			if brief.Instance == "main" {
				require.Equal(t, []string{"report"}, got.Impact.Downstream, "downstream tasks come from the DAG's task graph")
			}

			require.Len(t, rep.findings, 1)
			f := rep.findings[0]
			require.Equal(t, "owners", f.Step)
			require.Empty(t, f.Error, "degraded ownership data is a note, not a failed step")
			var recorded investigate.OwnersResult
			require.NoError(t, json.Unmarshal(f.Data, &recorded))
			require.NotNil(t, recorded.Resolution, "the finding records the resolver's whole answer")
			require.Equal(t, tt.severity, recorded.Resolution.Severity)
			require.NotEmpty(t, recorded.Resolution.SeverityReason)
			require.NotContains(t, string(f.Data), "hunter2", "the error text is redacted before the resolver sees it")
		})
	}
}

func joinAll(lines []string) string { return strings.Join(lines, "\n") }

// TestInvestigationWithOwnershipData runs a whole investigation with the
// ownership file and manifest: the report's owner, impact and severity are
// the resolver's.
func TestInvestigationWithOwnershipData(t *testing.T) {
	t.Parallel()
	resolver := validatedResolver(t)
	b := setup(t, func(o *bundleOpts) {
		o.ownersFor = func(in triage.Instances) investigate.Owners { return investigate.NewResolverOwners(resolver, in) }
	})
	inc := b.fail(t, testRun, undefinedColumn)
	got := b.waitTriaged(t, inc.ID, 20*time.Second)
	_, rep, kids := b.tree(t, inc)
	require.Equal(t, incident.SessionCompleted, kids[agents.OwnerNotifier].Status)
	require.NotNil(t, rep.Owner)
	require.Equal(t, "orders", rep.Owner.Name)
	require.Equal(t, incident.SeverityCritical, rep.Impact.Severity)
	require.Contains(t, rep.Impact.Summary, "tier1 exposure exposure.shop.finance_dashboard is downstream")
	require.Equal(t, incident.SeverityCritical, rep.Severity, "the impact's severity wins over triage's")
	require.Equal(t, incident.SeverityCritical, got.Severity)
	require.Equal(t, "orders (#orders-oncall, U0ORDERS01, commerce@shop.example, data-eng): migrate the schema, or update load's query to match it, then clear it.",
		rep.NextAction, "the rule's team first, then its channel and users, then the dbt group's and the DAG's people")
	require.False(t, rep.Partial)
}
