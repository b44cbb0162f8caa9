package investigate_test

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/medic-sh/medic/internal/classify"
	"github.com/medic-sh/medic/internal/incident"
	"github.com/medic-sh/medic/internal/investigate"
	"github.com/medic-sh/medic/internal/investigate/agents"
)

func TestAirflowOwners(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		in       investigate.OwnersInput
		owner    string
		source   string
		contacts []string
		tier     string
		severity incident.Severity
		summary  string
	}{
		{
			name: "the DAG's owners", in: investigate.OwnersInput{DagOwners: []string{"data-eng", "analytics"}, Tags: []string{"orders", "Tier-1"}, Blocked: []string{"report"}},
			owner: "data-eng", source: "airflow_dag_owners", contacts: []string{"data-eng", "analytics"}, tier: "tier1",
			severity: incident.SeverityHigh, summary: "1 downstream task(s) blocked: report; tier1 DAG",
		},
		{
			name: "the failure report's owner first", in: investigate.OwnersInput{TaskOwner: "alice", DagOwners: []string{"data-eng", "alice"}, Blocked: []string{"a", "b", "c"}, Tags: []string{"tier:1"}},
			owner: "alice", source: "failure_report", contacts: []string{"alice", "data-eng"}, tier: "tier1", severity: incident.SeverityCritical,
			summary: "3 downstream task(s) blocked: a, b, c; tier1 DAG",
		},
		{
			name: "Airflow's default owner is nobody", in: investigate.OwnersInput{DagOwners: []string{"airflow"}, Tags: []string{"tier_3"}},
			source: "none", tier: "tier3", severity: incident.SeverityLow, summary: "blocks no other task in the run; tier3 DAG",
		},
		{
			name: "no tags, many blocked", in: investigate.OwnersInput{DagOwners: []string{"ml"}, Tags: []string{"tiering", "tier9"}, Blocked: []string{"a", "b", "c"}},
			owner: "ml", source: "airflow_dag_owners", contacts: []string{"ml"}, severity: incident.SeverityHigh, summary: "3 downstream task(s) blocked: a, b, c",
		},
		{
			name: "the most critical tier wins", in: investigate.OwnersInput{DagOwners: []string{"ml"}, Tags: []string{"tier2", "tier1"}},
			owner: "ml", source: "airflow_dag_owners", contacts: []string{"ml"}, tier: "tier1", severity: incident.SeverityHigh, summary: "blocks no other task in the run; tier1 DAG",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := investigate.AirflowOwners{}.Resolve(context.Background(), tt.in)
			require.NoError(t, err)
			require.Equal(t, tt.owner, got.Owner.Name)
			require.Equal(t, tt.source, got.Owner.Source)
			require.Equal(t, tt.contacts, got.Owner.Contacts)
			require.Equal(t, tt.contacts, got.Notify)
			require.Equal(t, tt.tier, got.Impact.Tier)
			require.Equal(t, tt.severity, got.Impact.Severity)
			require.Equal(t, tt.summary, got.Impact.Summary)
		})
	}
}

// fakeOwners is an Owners that answers as scripted and records its input.
type fakeOwners struct {
	res *investigate.OwnersResult
	err error
	got []investigate.OwnersInput
}

func (f *fakeOwners) Resolve(_ context.Context, in investigate.OwnersInput) (*investigate.OwnersResult, error) {
	f.got = append(f.got, in)
	return f.res, f.err
}

// recordingReporter keeps what an engine reports.
type recordingReporter struct {
	progress []string
	findings []*incident.Finding
}

func (r *recordingReporter) Progress(_ context.Context, msg string) {
	r.progress = append(r.progress, msg)
}

func (r *recordingReporter) Finding(_ context.Context, f *incident.Finding) error {
	r.findings = append(r.findings, f)
	return nil
}

func TestOwnerNotifier(t *testing.T) {
	t.Parallel()
	brief := investigate.Brief{Instance: "main", DagID: "orders_etl", TaskID: "load", DagOwners: []string{"data-eng"}, Blocked: []string{"report"}, Tags: []string{"tier2"}}
	rules := &investigate.OwnersResult{
		Owner:  investigate.Owner{Name: "orders-team", Channel: "#orders", Source: "owners.yaml rule orders"},
		Impact: investigate.Impact{Assets: []string{"mart.orders"}, Tier: "tier1", Severity: incident.SeverityHigh, Summary: "feeds mart.orders (tier1)", Source: "dbt"},
	}
	tests := []struct {
		name       string
		owners     investigate.Owners
		owner      string
		source     string
		incomplete bool
	}{
		{name: "no ownership rules: Airflow's owners", owner: "data-eng", source: "airflow_dag_owners"},
		{name: "the rules answer", owners: &fakeOwners{res: rules}, owner: "orders-team", source: "owners.yaml rule orders"},
		{name: "the rules fail", owners: &fakeOwners{err: errors.New("manifest unreadable")}, owner: "data-eng", source: "airflow_dag_owners", incomplete: true},
		{
			name: "the rules name nobody", owners: &fakeOwners{res: &investigate.OwnersResult{Impact: rules.Impact}},
			owner: "data-eng", source: "airflow_dag_owners",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			def := &agents.Definition{Name: agents.OwnerNotifier, MaxSteps: 4}
			rep := &recordingReporter{}
			res, err := investigate.NewOwnerNotifier(tt.owners).Run(context.Background(), &investigate.Task{Agent: def, Brief: brief, Report: rep})
			require.NoError(t, err)
			require.Equal(t, tt.owner, res.Owners.Owner.Name)
			require.Equal(t, tt.source, res.Owners.Owner.Source)
			require.Equal(t, tt.incomplete, len(res.Incomplete) > 0)
			require.Len(t, rep.findings, 1)
			require.Equal(t, "owners", rep.findings[0].Step)
			require.Contains(t, res.Summary, "owner "+tt.owner)
			if f, ok := tt.owners.(*fakeOwners); ok {
				require.Equal(t, []investigate.OwnersInput{{
					Instance: "main", DagID: "orders_etl", TaskID: "load", DagOwners: []string{"data-eng"}, Blocked: []string{"report"}, Tags: []string{"tier2"},
				}}, f.got)
			}
		})
	}
}

func TestNextActionSaysWhoDoesWhat(t *testing.T) {
	t.Parallel()
	b, _ := manual(t)
	ctx := context.Background()
	inc := b.fail(t, testRun, undefinedColumn)
	require.NoError(t, b.inv.Command(ctx, inc.ID, inc.TriageSessionID, false))
	_, _, kids := b.tree(t, inc)
	for _, k := range kids {
		require.NoError(t, b.inv.Specialist(ctx, storeArgs(inc, k), 1, 5, farFuture))
	}
	require.NoError(t, b.inv.Compose(ctx, inc.ID, inc.TriageSessionID))
	_, rep, _ := b.tree(t, inc)
	require.Equal(t, classify.SchemaChange, rep.RootCause.Label)
	require.Equal(t, "data-eng: migrate the schema, or update load's query to match it, then clear it.", rep.NextAction)
	require.Nil(t, rep.RootCause.Precedent, "no failure memory in this bundle")
}
