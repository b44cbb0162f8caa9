package report_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/medic-sh/medic/internal/incident"
	"github.com/medic-sh/medic/internal/investigate"
	"github.com/medic-sh/medic/internal/report"
	"github.com/medic-sh/medic/internal/store"
	"github.com/medic-sh/medic/internal/store/sqlite"
	"github.com/medic-sh/medic/internal/store/storetest"
)

func TestPostmortemMarkdown(t *testing.T) {
	t.Parallel()
	written := created.Add(3 * time.Hour)
	resolvedAt := created.Add(25 * time.Minute)
	tests := []struct {
		name     string
		postmort func(t *testing.T) *report.Postmortem
		contains []string
	}{
		{
			name: "postmortem_resolved",
			postmort: func(t *testing.T) *report.Postmortem {
				inc := baseIncident()
				inc.State = incident.StateResolved
				r := report.New(inc, events(), fullFindings(t), "https://medic.example.com")
				r.Investigation = composedReport(false)
				// Text from a log must not become Markdown structure.
				r.Investigation.RootCause.Reason = "column renamed by *migration* `0042` | see <script>"
				return &report.Postmortem{
					Report: r, RootCause: r.RootCause(), Prevention: report.Prevent(r), WrittenAt: written,
					Timeline: []report.TimelineEntry{
						{At: created, Kind: "incident", What: "incident opened for orders_etl run scheduled__2026-05-02T02:00:00+00:00"},
						{At: created, Kind: "failure", What: "transform_orders try 2 failed (reported by callback)"},
						{At: triaged, Kind: "audit", What: "incident investigating → awaiting_approval: medic proposes clear_failed_tasks", Actor: "medic", To: incident.StateAwaitingApproval},
						{At: resolvedAt, Kind: "audit", What: "incident verifying → resolved: clear_failed_tasks verified", Actor: "medic", To: incident.StateResolved},
					},
					Approvals: []*incident.Approval{{ID: "apr_0001", Action: "clear_failed_tasks", RequestedBy: "medic", Status: incident.ApprovalExecuted, DecidedBy: "alice", Reason: "schema fixed"}},
					Actions:   []*incident.ActionRun{{Action: "clear_failed_tasks", Status: incident.RunSucceeded, StartedAt: triaged.Add(time.Minute), Response: "cleared 1 task instance"}},
				}
			},
			contains: []string{
				"# Postmortem: orders\\_etl.transform\\_orders failed",
				"- **Outcome:** resolved at 2026-05-02T02:36:03Z, 25m0s after the incident opened",
				"**SCHEMA_CHANGE**, 83% confidence",
				"column renamed by \\*migration\\* \\`0042\\` \\| see &lt;script&gt;",
				"| 2026-05-02 02:36:03 | audit: incident verifying → resolved: clear\\_failed\\_tasks verified | medic |",
				"- Approval `apr_0001` of `clear_failed_tasks`, asked by medic: executed by alice (schema fixed).",
				"medic's full record: https://medic.example.com/api/v1/incidents/inc_0001",
			},
		},
		{
			name: "postmortem_no_diagnosis",
			postmort: func(t *testing.T) *report.Postmortem {
				inc := baseIncident()
				r := report.New(inc, events(), nil, "")
				r.Investigation = &investigate.Report{
					Commander: "incident-commander", Partial: true,
					Missing: []investigate.Missing{{Agent: "log-analyzer", Status: incident.SessionTimedOut, Reason: "did not report by the deadline"}},
				}
				return &report.Postmortem{Report: r, RootCause: r.RootCause(), Prevention: report.Prevent(r), WrittenAt: written}
			},
			contains: []string{
				"medic found no root cause",
				"- What was the root cause? medic's specialists gave no diagnosis.",
				"- What would log-analyzer have found? It timed out: did not report by the deadline.",
				"- Nothing was done by medic; people handled the incident.",
				"- **Outcome:** escalated to a person; not resolved yet",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var b strings.Builder
			require.NoError(t, tt.postmort(t).WriteMarkdown(&b))
			for _, s := range tt.contains {
				require.Contains(t, b.String(), s)
			}
			golden(t, tt.name, b.String())
		})
	}
}

// TestLoadPostmortem reads a postmortem off a real store: the timeline
// holds the failure, the moves with their states and reasons, and no
// assistant's reads.
func TestLoadPostmortem(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, sqlite.Options{Path: filepath.Join(t.TempDir(), "medic.db")})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, st.Close()) })
	res, err := st.EventRecord(ctx, &store.EventRecordParams{Event: storetest.Event("orders_etl", "scheduled__1", "load", 1), Window: time.Hour})
	require.NoError(t, err)
	inc := res.Incident
	_, err = st.IncidentTransition(ctx, &store.IncidentTransitionParams{ID: inc.ID, To: incident.StateEscalated, Actor: "alice", Reason: "the warehouse team is on it"})
	require.NoError(t, err)
	_, err = st.AuditAppend(ctx, &incident.AuditEntry{At: time.Now().UTC(), Actor: "claude", Action: "mcp.tool_call", IncidentID: inc.ID, Detail: []byte(`{}`)})
	require.NoError(t, err)

	pm, err := report.LoadPostmortem(ctx, st, inc.ID, "", time.Now())
	require.NoError(t, err)
	var kinds []string
	var moved *report.TimelineEntry
	for i, e := range pm.Timeline {
		kinds = append(kinds, e.Kind)
		require.NotContains(t, e.What, "mcp.", "an assistant's reads are not the incident's story")
		if e.To == incident.StateEscalated {
			moved = &pm.Timeline[i]
		}
	}
	require.Contains(t, kinds, "failure")
	require.NotNil(t, moved)
	require.Equal(t, "alice", moved.Actor)
	require.Contains(t, moved.What, "open → escalated: the warehouse team is on it")
	var b strings.Builder
	require.NoError(t, pm.WriteMarkdown(&b))
	require.Contains(t, b.String(), "the warehouse team is on it")

	_, err = report.LoadPostmortem(ctx, st, "inc_missing", "", time.Now())
	require.ErrorIs(t, err, store.ErrNotFound)
}
