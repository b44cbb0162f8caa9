package owners

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/medic-sh/medic/internal/incident"
	"github.com/medic-sh/medic/internal/owners/dbt"
)

func TestFromTags(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		tags      []string
		want      Owner
		evidence  int
		conflicts []string
	}{
		{
			name: "every convention",
			tags: []string{"team:payments", "TIER: 1", "owner:@alice", "owner=U012ALICE", "slack:#pay-alerts", "hourly", "pii"},
			want: Owner{Team: "payments", Tier: Tier1, Contacts: []string{"@alice"}, SlackUsers: []string{"U012ALICE"}, SlackChannel: "#pay-alerts"},
			// hourly and pii are not conventions
			evidence: 5,
		},
		{name: "bare tier tag", tags: []string{"tier-2"}, want: Owner{Tier: Tier2}, evidence: 1},
		{name: "bare number is not a tier", tags: []string{"1", "tier", "team:"}, want: Owner{}},
		{name: "channel without #, and a channel id", tags: []string{"slack:growth"}, want: Owner{SlackChannel: "#growth"}, evidence: 1},
		{name: "channel id", tags: []string{"slack:C0GROWTH12"}, want: Owner{SlackChannel: "C0GROWTH12"}, evidence: 1},
		{
			name: "first of a key wins, the rest are conflicts",
			tags: []string{"team:a", "team:b", "team:a", "tier:1", "tier:3", "tier:gold", "slack:#a", "slack:#b", "slack:Not A Channel"},
			want: Owner{Team: "a", Tier: Tier1, SlackChannel: "#a"}, evidence: 4,
			conflicts: []string{
				`tag "team:b" ignored: team is already "a" from an earlier tag`,
				`tag "tier:3" ignored: tier is already "tier1" from an earlier tag`,
				`tag "tier:gold" ignored: "gold" is not a tier (1, 2, 3 or tier1…tier3)`,
				`tag "slack:#b" ignored: slack_channel is already "#a" from an earlier tag`,
				`tag "slack:Not A Channel" ignored: "Not A Channel" is not a Slack channel`,
			},
		},
		{name: "nothing", tags: nil, want: Owner{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, evidence, conflicts := fromTags(tt.tags)
			require.Equal(t, tt.want, got)
			require.Len(t, evidence, tt.evidence)
			require.Equal(t, tt.conflicts, conflicts)
		})
	}
}

func TestFromDagOwners(t *testing.T) {
	t.Parallel()
	got, evidence := fromDagOwners([]string{"airflow", "Airflow", "alice, bob", "U0ALICE123", "alice", ""})
	require.Equal(t, Owner{Contacts: []string{"alice", "bob"}, SlackUsers: []string{"U0ALICE123"}}, got)
	require.Equal(t, []string{`DAG owner "alice"`, `DAG owner "bob"`, `DAG owner "U0ALICE123"`, `DAG owner "alice"`}, evidence)
}

func TestParseTier(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]Tier{
		"1": Tier1, "tier1": Tier1, "Tier 2": Tier2, "tier_3": Tier3, "TIER-1": Tier1, " 2 ": Tier2,
	} {
		got, ok := ParseTier(in)
		require.True(t, ok, in)
		require.Equal(t, want, got, in)
	}
	for _, in := range []string{"", "0", "4", "tier", "gold", "t1", "1.0"} {
		_, ok := ParseTier(in)
		require.False(t, ok, in)
	}
	require.Equal(t, "tier1", Tier1.String())
	require.Equal(t, "unknown", TierUnknown.String())
}

func TestSeverityRule(t *testing.T) {
	t.Parallel()
	exposure := func(tier Tier) ImpactNode {
		return ImpactNode{UniqueID: "exposure.p.dash", Kind: "exposure", Tier: tier}
	}
	model := func(tier Tier) ImpactNode { return ImpactNode{UniqueID: "model.p.m", Kind: "model", Tier: tier} }
	tests := []struct {
		name   string
		asset  Tier
		failed []FailedModel
		impact Impact
		want   incident.Severity
		reason string
	}{
		{
			name: "tier1 exposure downstream", asset: Tier3, impact: Impact{Exposures: []ImpactNode{exposure(Tier1)}},
			want: incident.SeverityCritical, reason: "critical: tier1 exposure exposure.p.dash is downstream",
		},
		{
			name: "tier1 asset and tier1 model", asset: Tier1, impact: Impact{Models: []ImpactNode{model(Tier1)}},
			want: incident.SeverityCritical, reason: "critical: the failed task is tier1 (from rule) and tier1 model model.p.m is downstream",
		},
		{
			name: "tier1 asset", asset: Tier1, impact: Impact{Models: []ImpactNode{model(Tier2)}},
			want: incident.SeverityHigh, reason: "high: the failed task is tier1 (from rule)",
		},
		{
			name: "tier1 failed model under a tier3 rule", asset: Tier3,
			failed: []FailedModel{{ModelRef: dbt.ModelRef{UniqueID: "model.p.f"}, Tier: Tier1}},
			want:   incident.SeverityHigh, reason: "high: tier1 model model.p.f failed",
		},
		{
			name: "tier1 downstream task", asset: Tier2, impact: Impact{Tasks: []ImpactTask{{TaskID: "publish", Tier: Tier1}}},
			want: incident.SeverityHigh, reason: "high: tier1 task publish is downstream",
		},
		{
			name: "tier2 asset", asset: Tier2, want: incident.SeverityMedium, reason: "medium: the failed task is tier2 (from rule)",
		},
		{
			name: "tier2 model downstream", asset: Tier3, impact: Impact{Models: []ImpactNode{model(Tier2)}},
			want: incident.SeverityMedium, reason: "medium: tier2 model model.p.m is downstream",
		},
		{
			name: "an untiered exposure downstream", asset: Tier3, impact: Impact{Exposures: []ImpactNode{exposure(TierUnknown)}},
			want: incident.SeverityMedium, reason: "medium: exposure exposure.p.dash is downstream",
		},
		{
			name: "no tier anywhere", asset: TierUnknown,
			want: incident.SeverityMedium, reason: "medium: no source gives the failed task a tier",
		},
		{
			name: "tier3, little downstream", asset: Tier3, impact: Impact{Models: []ImpactNode{model(Tier3)}},
			want:   incident.SeverityLow,
			reason: "low: the failed task is tier3 (from rule), with nothing of tier 1 or 2, no exposure and 1 item(s) downstream",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res := &Result{
				Owner: Owner{Tier: tt.asset}, OwnerFrom: map[string]SourceKind{FieldTier: SourceRule},
				Models: tt.failed, Impact: tt.impact,
			}
			got, reason := severityOf(res, 20)
			require.Equal(t, tt.want, got)
			require.Equal(t, tt.reason, reason)
		})
	}
}
