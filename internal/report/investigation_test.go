package report_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/medic-sh/medic/internal/classify"
	"github.com/medic-sh/medic/internal/incident"
	"github.com/medic-sh/medic/internal/investigate"
	"github.com/medic-sh/medic/internal/memory"
	"github.com/medic-sh/medic/internal/report"
	"github.com/medic-sh/medic/internal/store"
	"github.com/medic-sh/medic/internal/store/sqlite"
	"github.com/medic-sh/medic/internal/store/storetest"
	"github.com/medic-sh/medic/internal/triage"
)

// composedReport is what the commander composes for the full findings;
// partial drops the query-profiler, timed out.
func composedReport(partial bool) *investigate.Report {
	failed := created.Add(-8 * time.Second)
	started := created.Add(time.Second)
	done := started.Add(40 * time.Millisecond)
	rep := &investigate.Report{
		Status: incident.SessionCompleted, Commander: "incident-commander", Severity: incident.SeverityHigh,
		Summary: "orders_etl.transform_orders failed · SCHEMA_CHANGE (83%)",
		RootCause: &investigate.RootCause{
			Label: classify.SchemaChange, Confidence: 0.83, Remediation: classify.SchemaMigration, Source: "log-analyzer",
			Summary: `psycopg2.errors.UndefinedColumn: column "customer_idd" does not exist`,
			Evidence: []incident.Evidence{
				{Source: "log", Ref: "transform_orders try 2", Line: 40, Text: `psycopg2.errors.UndefinedColumn: column "customer_idd" does not exist`},
				{Source: "signal.try_number", Text: "try 2"},
			},
			Similar: 1, Precedent: &memory.Precedent{RecordID: "inc_0000", Label: "SCHEMA_CHANGE", Action: "schema_migration", Outcome: memory.OutcomeFixed, Trust: 0.7, Exact: true},
		},
		Impact: &investigate.Impact{
			Blocked: []string{"audit", "publish_orders"}, Tier: "tier1", Severity: incident.SeverityHigh,
			Summary: "2 downstream task(s) blocked: audit, publish_orders; tier1 DAG", Source: "airflow_run",
		},
		Owner:      &investigate.Owner{Name: "data-eng", Contacts: []string{"data-eng", "analytics"}, Source: "airflow_dag_owners"},
		NextAction: "data-eng (analytics): migrate the schema, or update transform_orders's query to match it, then clear it (last time: schema_migration fixed it).",
		Warehouse: &investigate.WarehouseReport{Configured: true, Profiles: []investigate.WarehouseSummary{{
			Warehouse: "analytics", Kind: "postgres", Blocking: 1, Timeouts: []string{"lock_timeout"},
			Lines:  []string{"pid 4242 (etl) holds AccessExclusiveLock on staging.orders for 310s, blocking pid 4311"},
			Errors: []string{"warehouse statements: permission: permission denied for view pg_stat_statements"},
		}}},
		Diagnostic: investigate.Diagnostic{
			Stage:       "orders_etl › transform_orders (SQLExecuteQueryOperator), try 2, run scheduled__2026-05-02T02:00:00+00:00",
			FailureTime: &failed, ErrorSummary: `psycopg2.errors.UndefinedColumn: column "customer_idd" does not exist`,
			Steps: []investigate.Step{
				{Agent: "incident-commander", Step: "resolve", Result: "2 failure report(s) received"},
				{Agent: "log-analyzer", Step: "log_excerpt", Result: "log of transform_orders try 2: 44 line(s) read"},
				{Agent: "query-profiler", Step: "profile:analytics", Result: "failed: connection refused", Failed: true},
			},
			Classification: "SCHEMA_CHANGE (confidence 0.83)", RemediationAttempted: "none: medic reports, people act (no automatic remediation is enabled)",
			RemediationOutcome: "not applicable", RecommendedResolution: "schema_migration: migrate the schema, or update the task's query to match it, then clear it",
			RunbookLink: "https://wiki.example.com/runbooks/SCHEMA_CHANGE",
		},
		Specialists: []investigate.SpecialistRun{
			{Agent: "log-analyzer", Status: incident.SessionCompleted, Summary: "SCHEMA_CHANGE (confidence 0.83): psycopg2.errors.UndefinedColumn", StartedAt: &started, FinishedAt: &done, DurationMS: 40},
			{Agent: "query-profiler", Status: incident.SessionCompleted, Summary: "analytics: 1 blocking pair(s)", DurationMS: 12},
			{Agent: "owner-notifier", Status: incident.SessionCompleted, DurationMS: 3},
		},
	}
	if partial {
		rep.Status, rep.Partial, rep.Warehouse = incident.SessionPartial, true, nil
		rep.Specialists[1] = investigate.SpecialistRun{
			Agent: "query-profiler", Status: incident.SessionTimedOut, DurationMS: 2000,
			Error: "query-profiler did not report by the deadline 02:12:03.000Z",
		}
		rep.Missing = []investigate.Missing{{Agent: "query-profiler", Status: incident.SessionTimedOut, Reason: "query-profiler did not report by the deadline 02:12:03.000Z"}}
		rep.Impact, rep.Owner, rep.RootCause.Precedent = nil, nil, nil
		rep.Diagnostic.RunbookLink, rep.Diagnostic.FailureTime = "", nil
		rep.NextAction = "The on-call engineer: migrate the schema, then clear it; this report lacks query-profiler."
	}
	return rep
}

func TestReportWithInvestigation(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		composed  *investigate.Report
		wantOwner string
		contains  []string
		absent    []string
	}{
		{
			name: "complete", composed: composedReport(false), wantOwner: "data-eng",
			contains: []string{"Investigation: incident-commander → log-analyzer completed 40ms", "Next action: data-eng (analytics)", "Runbook: https://wiki"},
			absent:   []string{"PARTIAL REPORT"},
		},
		{
			name: "partial", composed: composedReport(true), wantOwner: "data-eng",
			contains: []string{"PARTIAL REPORT:\n    - query-profiler timed_out: query-profiler did not report by the deadline", "Runbook: none configured"},
		},
		{
			name: "model warnings and usage", composed: withModel(composedReport(false)), wantOwner: "data-eng",
			contains: []string{
				"WARNING: log-analyzer: possible prompt injection in task_log",
				"Models used 1200 input and 300 output tokens, cost at least $0.0004 (some models have no price)",
			},
		},
		{
			name: "no root cause", composed: &investigate.Report{Commander: "incident-commander", Specialists: []investigate.SpecialistRun{}},
			wantOwner: "data-eng", contains: []string{"→ no specialist", "Root cause: unknown", "Failure time: unknown"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			inc := baseIncident()
			r := report.New(inc, events(), fullFindings(t), "")
			r.Investigation = tt.composed
			require.Equal(t, tt.wantOwner, r.Owner())
			var b strings.Builder
			require.NoError(t, report.WriteText(&b, r))
			for _, s := range tt.contains {
				require.Contains(t, b.String(), s)
			}
			for _, s := range tt.absent {
				require.NotContains(t, b.String(), s)
			}
		})
	}
}

// TestLoadReadsTheSessionTree checks Load gathers the findings of the
// commander and of every specialist, and the composed report.
func TestLoadReadsTheSessionTree(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clock := storetest.NewClock(created)
	st, err := sqlite.Open(ctx, sqlite.Options{Path: filepath.Join(t.TempDir(), "medic.db"), Now: clock.Now})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, st.Close()) })
	res, err := st.EventRecord(ctx, &store.EventRecordParams{Event: storetest.Event("orders_etl", "manual__1", "load", 1), Window: time.Hour})
	require.NoError(t, err)
	inc := res.Incident
	kids, err := st.SessionSpawn(ctx, &store.SessionSpawnParams{
		ParentID: inc.TriageSessionID, Deadline: clock.Now().Add(time.Minute),
		Children: []store.SessionChild{{Agent: "log-analyzer"}, {Agent: "owner-notifier"}},
	})
	require.NoError(t, err)
	for _, f := range []*incident.Finding{
		{SessionID: inc.TriageSessionID, Step: triage.StepRunSummary, Data: data(t, triage.RunSummary{State: "failed", FirstFailingTask: "load"})},
		{SessionID: kids[0].ID, Step: triage.StepLogExcerpt, Data: data(t, triage.LogExcerpt{TaskID: "load", TryNumber: 1, Headline: "KeyError: 'x'"})},
		{SessionID: kids[1].ID, Step: "owners", Summary: "owner data-eng"},
	} {
		f.IncidentID = inc.ID
		_, err := st.FindingInsert(ctx, f)
		require.NoError(t, err)
	}
	composed, err := json.Marshal(composedReport(false))
	require.NoError(t, err)
	_, err = st.SessionFinish(ctx, &store.SessionFinishParams{ID: inc.TriageSessionID, Status: incident.SessionCompleted, Result: composed})
	require.NoError(t, err)

	r, err := report.Load(ctx, st, inc.ID, "")
	require.NoError(t, err)
	require.NotNil(t, r.Triage.Run, "the commander's finding")
	require.NotNil(t, r.Triage.Log, "the log-analyzer's finding")
	require.Equal(t, "KeyError: 'x'", r.Triage.Log.Headline)
	require.NotNil(t, r.Investigation)
	require.Equal(t, composedReport(false).NextAction, r.Investigation.NextAction)
	require.Equal(t, "data-eng", r.Owner(), "the investigation's owner")
}

func TestSetInvestigation(t *testing.T) {
	t.Parallel()
	composed, err := json.Marshal(composedReport(false))
	require.NoError(t, err)
	tests := []struct {
		name    string
		root    *incident.Session
		want    bool
		wantErr bool
	}{
		{name: "a composed report", root: &incident.Session{Result: composed}, want: true},
		{name: "no session", root: nil},
		{name: "not composed yet", root: &incident.Session{}},
		{name: "unreadable", root: &incident.Session{Result: []byte(`{"status": 3}`)}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := report.New(baseIncident(), nil, nil, "")
			err := r.SetInvestigation(tt.root)
			require.Equal(t, tt.wantErr, err != nil, "%v", err)
			require.Equal(t, tt.want, r.Investigation != nil)
		})
	}
}

func withModel(r *investigate.Report) *investigate.Report {
	r.Warnings = []string{"log-analyzer: possible prompt injection in task_log\nsecond line"}
	r.ModelUsage = &investigate.ModelUsage{InputTokens: 1200, OutputTokens: 300, CostUSD: 0.00036}
	return r
}

func TestDiagnosticShowsTheRemediationDecision(t *testing.T) {
	t.Parallel()
	composed, err := json.Marshal(composedReport(false))
	require.NoError(t, err)
	decision := func(data string) *incident.Finding {
		return &incident.Finding{Step: "remediate.decision", Kind: incident.FindingRemediation, Data: json.RawMessage(data)}
	}
	tests := []struct {
		name              string
		state             incident.State
		findings          []*incident.Finding
		attempted, state2 string
	}{
		{
			name: "proposed", state: incident.StateAwaitingApproval,
			findings:  []*incident.Finding{decision(`{"decision": {"outcome": "propose", "action": "clear_failed_tasks"}}`)},
			attempted: "the policy decided: propose clear_failed_tasks", state2: "awaiting a person's approval",
		},
		{
			name: "resolved", state: incident.StateResolved,
			findings:  []*incident.Finding{decision(`{"decision": {"outcome": "execute", "action": "retry_with_backoff"}}`)},
			attempted: "the policy decided: execute retry_with_backoff", state2: "resolved",
		},
		{
			name: "escalated", state: incident.StateEscalated,
			findings:  []*incident.Finding{decision(`{"decision": {"outcome": "escalate", "action": "escalate"}}`)},
			attempted: "the policy decided: escalate", state2: "escalated to a person",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			inc := baseIncident()
			inc.State = tt.state
			r := report.New(inc, nil, tt.findings, "")
			require.NoError(t, r.SetInvestigation(&incident.Session{Result: composed}))
			d := r.Investigation.Diagnostic
			require.Equal(t, tt.attempted, d.RemediationAttempted)
			require.Equal(t, tt.state2, d.RemediationOutcome)
		})
	}
}
