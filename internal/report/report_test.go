package report_test

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/medic-sh/medic/internal/classify"
	"github.com/medic-sh/medic/internal/incident"
	"github.com/medic-sh/medic/internal/investigate"
	"github.com/medic-sh/medic/internal/logscan/extract"
	"github.com/medic-sh/medic/internal/logscan/signature"
	"github.com/medic-sh/medic/internal/memory"
	"github.com/medic-sh/medic/internal/report"
	"github.com/medic-sh/medic/internal/store"
	"github.com/medic-sh/medic/internal/store/sqlite"
	"github.com/medic-sh/medic/internal/store/storetest"
	"github.com/medic-sh/medic/internal/triage"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// golden compares got with testdata/name.golden, rewriting it under -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		require.NoError(t, os.MkdirAll("testdata", 0o750))
		require.NoError(t, os.WriteFile(path, []byte(got), 0o600))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run go test -update to create %s", path)
	require.Equal(t, string(want), got)
}

var (
	created = time.Date(2026, 5, 2, 2, 11, 3, 0, time.UTC)
	triaged = created.Add(42 * time.Second)
)

func ptr[T any](v T) *T { return &v }

func data(t *testing.T, v any) json.RawMessage {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return b
}

func baseIncident() *incident.Incident {
	return &incident.Incident{
		ID: "inc_0001", State: incident.StateEscalated, Severity: incident.SeverityHigh,
		Title:    "orders_etl.transform_orders failed (run scheduled__2026-05-02T02:00:00+00:00)",
		Instance: "main", DagID: "orders_etl", RunID: "scheduled__2026-05-02T02:00:00+00:00",
		FirstTaskID: "transform_orders", EventCount: 2, CreatedAt: created, UpdatedAt: triaged,
		TriagedAt: ptr(triaged), TriageSessionID: "ses_0001",
	}
}

func events() []*incident.FailureEvent {
	return []*incident.FailureEvent{{
		ID:     "evt_0001",
		Key:    incident.Key{Instance: "main", DagID: "orders_etl", RunID: "scheduled__2026-05-02T02:00:00+00:00", TaskID: "transform_orders", TryNumber: 2},
		Source: incident.SourceCallback, OccurredAt: created, ReceivedAt: created, IncidentID: "inc_0001", Deliveries: 1,
	}}
}

// longLine is a quoted log line of 250 bytes whose byte 200 falls inside
// "é": clipping must not split it.
var longLine = strings.Repeat("x", 199) + "é" + strings.Repeat("y", 49)

func fullFindings(t *testing.T) []*incident.Finding {
	start := created.Add(-2 * time.Minute)
	return []*incident.Finding{
		{Step: triage.StepResolve, Summary: "2 failure report(s) received"},
		{Step: triage.StepRunSummary, Data: data(t, triage.RunSummary{
			DagID: "orders_etl", RunID: "scheduled__2026-05-02T02:00:00+00:00", State: "failed",
			StartDate: &start, EndDate: &created, DurationSec: ptr(121.6), Tasks: 7,
			// States outside the usual list come last, sorted.
			TaskStates:       map[string]int{"success": 2, "failed": 1, "upstream_failed": 1, "removed": 1, "deferred": 1, "queued": 1, "skipped": 0},
			FirstFailingTask: "transform_orders", FirstFailingTry: 2, Owners: []string{"data-eng", "analytics"},
		})},
		{Step: triage.StepFailedTasks, Data: data(t, triage.FailedTasks{
			Failed: []triage.FailedTask{
				{TaskID: "transform_orders", State: "failed", TryNumber: 2, Operator: "SQLExecuteQueryOperator", Downstream: []string{"publish_orders", "audit"}},
				{TaskID: "extract_refunds", State: "up_for_retry", TryNumber: 1},
			},
			UpstreamFailed: []string{"audit", "publish_orders"},
		})},
		{Step: triage.StepFrequency, Data: data(t, triage.Frequency{
			TaskID: "transform_orders", Lookback: 7 * 24 * time.Hour, LookbackHuman: "7d", Failures: 3, FailedRuns: 3,
			Recurring: true, Pattern: "recurring", LastFailure: ptr(created.Add(-24 * time.Hour)),
		})},
		{Step: triage.StepLogExcerpt, Data: data(t, triage.LogExcerpt{
			TaskID: "transform_orders", TryNumber: 2, FirstLine: 38, TailLines: 44, Truncated: true,
			Lines: []string{
				"[2026-05-02, 02:11:01 UTC] {taskinstance.py:2905} ERROR - Task failed with exception",
				"Traceback (most recent call last):",
				`psycopg2.errors.UndefinedColumn: column "customer_idd" does not exist`,
				"HINT:  Perhaps you meant to reference the column \"orders.customer_id\" — voir la clé «client».",
				longLine,
			},
			Headline: `psycopg2.errors.UndefinedColumn: column "customer_idd" does not exist`,
			Error: &extract.Block{
				Kind: "postgres", ExceptionType: "psycopg2.errors.UndefinedColumn", Message: `column "customer_idd" does not exist`,
				FirstUserFrame: &extract.Frame{File: "/opt/airflow/dags/orders.py", Line: 41, Function: "transform", User: true},
				Details:        map[string]string{"sqlstate": "42703", "hint": `Perhaps you meant to reference the column "orders.customer_id".`, "format": "python_traceback"},
				Confidence:     0.95,
			},
			Signature: &signature.Signature{ID: "sig_0123456789abcdef"},
			Diagnosis: &classify.Diagnosis{
				Label: classify.SchemaChange, Confidence: 0.83, Remediation: classify.Remediation("schema_migration"),
				Reason: "SCHEMA_CHANGE: rule undefined_column matched in the root error block",
			},
		})},
	}
}

// memoryFindings are fullFindings with the classifier's evidence and
// runners-up, and what the failure memory recalled: an exact match that a
// retry fixed, which changed the diagnosis, and a similar record from
// elsewhere that nobody resolved.
func memoryFindings(t *testing.T) []*incident.Finding {
	fs := fullFindings(t)
	cold := &classify.Diagnosis{
		Label: classify.CodeError, Confidence: 0.41, RetrySafe: false, Remediation: classify.FixCode,
		Reason: "CODE_ERROR: rule python_key_error matched in the root error block",
		Evidence: []classify.Evidence{
			{Line: 40, Rule: "python_key_error", Text: "KeyError: 'currency_code'"},
			{Line: -1, Rule: "signal.try_number", Text: "try 2"},
		},
		RunnersUp: []classify.Scored{{Label: classify.DataQuality, Score: 0.9, Rule: "missing_key"}},
	}
	final := *cold
	final.Label, final.Confidence, final.RetrySafe, final.Remediation = classify.Infra, 0.75, true, classify.Retry
	final.Reason = "INFRA recalled from memory (the same failure signature was INFRA, trust 0.75, retry fixed); the rules said CODE_ERROR"
	final.Evidence = append(final.Evidence, classify.Evidence{Line: -1, Rule: memory.RecallRule, Text: "the same failure signature was INFRA, trust 0.75, retry fixed"})
	final.RunnersUp = []classify.Scored{{Label: classify.CodeError, Score: 0.41, Rule: memory.RecallRule}, {Label: classify.DataQuality, Score: 0.9, Rule: "missing_key"}}
	for _, f := range fs {
		if f.Step == triage.StepLogExcerpt {
			var ex triage.LogExcerpt
			require.NoError(t, json.Unmarshal(f.Data, &ex))
			ex.Diagnosis = cold
			f.Data = data(t, ex)
		}
	}
	return append(fs, &incident.Finding{Step: triage.StepMemory, Data: data(t, triage.Memory{
		Similar: []triage.SimilarFailure{
			{
				RecordID: "inc_0000", IncidentID: "inc_0000", DagID: "orders_etl", RunID: "scheduled__2026-05-01T02:00:00+00:00",
				Signature: "sig_0123456789abcdef", Label: "INFRA", Action: "retry", Outcome: memory.OutcomeFixed, Verdict: memory.VerdictUp,
				Trust: 0.75, Similarity: 1, Exact: true, CreatedAt: created.Add(-24 * time.Hour), Excerpt: "KeyError: 'currency_code'",
			},
			{
				RecordID: "0b7c0de0-import", Signature: "sig_fedcba9876543210", Label: "CODE_ERROR", Outcome: memory.OutcomeUnknown,
				Verdict: memory.VerdictNone, Trust: 0.5, Similarity: 0.9123, CreatedAt: created.Add(-48 * time.Hour),
				Excerpt: longLine + "\nsecond line",
			},
		},
		Diagnosis: &final,
		Precedent: &memory.Precedent{RecordID: "inc_0000", Label: "INFRA", Action: "retry", Outcome: memory.OutcomeFixed, Trust: 0.75, Similarity: 1, Exact: true, Agreement: 1, Counted: 1},
		Degraded:  "similarity search skipped, signature-only lookup: embedder ollama/nomic-embed-text failed: connection refused",
	})})
}

func TestWriteTextGolden(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		inc      func() *incident.Incident
		findings func(t *testing.T) []*incident.Finding
		baseURL  string
		composed func() *investigate.Report
	}{
		{
			name: "investigation",
			inc: func() *incident.Incident {
				inc := baseIncident()
				inc.Summary = `orders_etl.transform_orders failed: psycopg2.errors.UndefinedColumn: column "customer_idd" does not exist · SCHEMA_CHANGE (83%)`
				return inc
			},
			findings: fullFindings,
			baseURL:  "https://medic.example.com",
			composed: func() *investigate.Report { return composedReport(false) },
		},
		{
			name:     "investigation partial",
			inc:      baseIncident,
			findings: fullFindings,
			composed: func() *investigate.Report { return composedReport(true) },
		},
		{
			name: "full",
			inc: func() *incident.Incident {
				inc := baseIncident()
				inc.Summary = `orders_etl.transform_orders failed: psycopg2.errors.UndefinedColumn: column "customer_idd" does not exist · recurring (3 run(s) in 7d) · 2 downstream task(s) blocked`
				return inc
			},
			findings: fullFindings,
			baseURL:  "https://medic.example.com",
		},
		{
			name: "memory",
			inc: func() *incident.Incident {
				inc := baseIncident()
				inc.Summary = "orders_etl.transform_orders failed: KeyError: 'currency_code' · INFRA (75%) · seen before: retry fixed it, trust 0.75"
				return inc
			},
			findings: memoryFindings,
			baseURL:  "https://medic.example.com",
		},
		{
			name: "memory empty",
			inc:  baseIncident,
			findings: func(t *testing.T) []*incident.Finding {
				return []*incident.Finding{
					{Step: triage.StepMemory, Data: data(t, triage.Memory{Similar: []triage.SimilarFailure{}})},
					{Step: triage.StepHistory, Error: "database is locked"},
				}
			},
		},
		{
			name: "partial",
			inc: func() *incident.Incident {
				inc := baseIncident()
				inc.Severity = incident.SeverityMedium
				inc.Owner = "data-eng"
				inc.Summary = "orders_etl.transform_orders failed · 3 step(s) incomplete"
				return inc
			},
			findings: func(t *testing.T) []*incident.Finding {
				return []*incident.Finding{
					{Step: triage.StepResolve, Summary: "1 failure report(s) received"},
					{Step: triage.StepLogExcerpt, Error: "fetch log of transform_orders try 2: airflow main: fetch log orders_etl/scheduled__2026-05-02T02:00:00+00:00/transform_orders try 2: 503 Service Unavailable " +
						"(Airflow is overloaded or restarting; medic retries) " + strings.Repeat("détail ", 20)},
					{Step: triage.StepFrequency, Error: "triage step frequency took longer than 30s: context deadline exceeded"},
					{Step: triage.StepRunSummary, Data: data(t, triage.RunSummary{
						RunID: "scheduled__2026-05-02T02:00:00+00:00", State: "failed", TaskStates: map[string]int{"failed": 1, "success": 3},
					})},
					{Step: triage.StepFailedTasks, Error: "list task instances of orders_etl/scheduled__2026-05-02T02:00:00+00:00: airflow main: 500 Internal Server Error"},
				}
			},
		},
		{
			name: "no findings",
			inc: func() *incident.Incident {
				inc := baseIncident()
				inc.State, inc.Severity, inc.TriagedAt, inc.EventCount = incident.StateOpen, incident.SeverityMedium, nil, 1
				return inc
			},
			findings: func(*testing.T) []*incident.Finding { return nil },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := report.New(tt.inc(), events(), tt.findings(t), tt.baseURL)
			if tt.composed != nil {
				r.Investigation = tt.composed()
			}
			var b strings.Builder
			require.NoError(t, report.WriteText(&b, r))
			got := b.String()
			require.True(t, utf8.ValidString(got))
			golden(t, strings.ReplaceAll(tt.name, " ", "_"), got)
			for range 20 {
				var again strings.Builder
				again2 := report.New(tt.inc(), events(), tt.findings(t), tt.baseURL)
				if tt.composed != nil {
					again2.Investigation = tt.composed()
				}
				require.NoError(t, report.WriteText(&again, again2))
				require.Equal(t, got, again.String(), "the same report renders the same text")
			}
		})
	}
}

func TestWriteTextClipsLongLines(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, line, want string
	}{
		{"fits", strings.Repeat("a", 200), strings.Repeat("a", 200)},
		{"one byte over", strings.Repeat("a", 201), strings.Repeat("a", 200) + "…"},
		{"two-byte rune across the edge", strings.Repeat("a", 199) + "é" + "b", strings.Repeat("a", 199) + "…"},
		{"three-byte rune across the edge", strings.Repeat("a", 198) + "日本", strings.Repeat("a", 198) + "…"},
		{"four-byte rune across the edge", strings.Repeat("a", 197) + "😀😀", strings.Repeat("a", 197) + "…"},
		{"rune ending at the edge", strings.Repeat("a", 198) + "é" + "b", strings.Repeat("a", 198) + "é…"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			inc := baseIncident()
			r := report.New(inc, nil, []*incident.Finding{
				{Step: triage.StepLogExcerpt, Data: data(t, triage.LogExcerpt{TaskID: "t", TryNumber: 1, FirstLine: 1, Lines: []string{tt.line}})},
				{Step: triage.StepFrequency, Error: tt.line},
			}, "")
			var b strings.Builder
			require.NoError(t, report.WriteText(&b, r))
			out := b.String()
			require.True(t, utf8.ValidString(out))
			require.Contains(t, out, "    │ "+tt.want+"\n")
			require.Contains(t, out, "  ! frequency: "+tt.want+"\n")
		})
	}
}

type failingWriter struct{}

var errDiskFull = errors.New("disk full")

func (failingWriter) Write([]byte) (int, error) { return 0, errDiskFull }

func TestWriteTextReportsWriteErrors(t *testing.T) {
	t.Parallel()
	err := report.WriteText(failingWriter{}, report.New(baseIncident(), nil, nil, ""))
	require.ErrorIs(t, err, errDiskFull)
}

func TestReportOwnerAndFocus(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name          string
		owner         string
		run           *triage.RunSummary
		wantOwner     string
		wantFocusTask string
	}{
		{"owner of the event", "alice", &triage.RunSummary{Owners: []string{"data-eng"}, FirstFailingTask: "extract"}, "alice", "extract"},
		{"owner of the dag", "", &triage.RunSummary{Owners: []string{"data-eng", "ml"}}, "data-eng", "transform_orders"},
		{"nobody known", "", nil, "unknown", "transform_orders"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			inc := baseIncident()
			inc.Owner = tt.owner
			var fs []*incident.Finding
			if tt.run != nil {
				fs = append(fs, &incident.Finding{Step: triage.StepRunSummary, Data: data(t, tt.run)})
			}
			r := report.New(inc, nil, fs, "")
			require.Equal(t, tt.wantOwner, r.Owner())
			require.Equal(t, tt.wantFocusTask, r.FocusTask())
			require.Empty(t, r.Link)
		})
	}
}

func TestLoad(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clock := storetest.NewClock(created)
	st, err := sqlite.Open(ctx, sqlite.Options{Path: filepath.Join(t.TempDir(), "medic.db"), Now: clock.Now})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, st.Close()) })

	ev := storetest.Event("orders_etl", "manual__1", "load", 1)
	ev.Owner = "data-eng"
	res, err := st.EventRecord(ctx, &store.EventRecordParams{Event: ev, Window: time.Hour})
	require.NoError(t, err)
	inc := res.Incident

	before, err := report.Load(ctx, st, inc.ID, "")
	require.NoError(t, err)
	require.Zero(t, before.TriageDuration, "not triaged yet")
	require.Empty(t, before.Triage.Errors)
	require.Nil(t, before.Triage.Run)

	for _, f := range []*incident.Finding{
		{Step: triage.StepRunSummary, Kind: incident.FindingRunSummary, Data: data(t, triage.RunSummary{State: "failed", FirstFailingTask: "load", Tasks: 3})},
		{Step: triage.StepLogExcerpt, Kind: incident.FindingLogExcerpt, Error: "fetch log: 503"},
	} {
		f.SessionID, f.IncidentID = inc.TriageSessionID, inc.ID
		_, err := st.FindingInsert(ctx, f)
		require.NoError(t, err)
	}
	clock.Advance(42 * time.Second)
	_, err = st.TriageComplete(ctx, &store.TriageCompleteParams{
		IncidentID: inc.ID, SessionID: inc.TriageSessionID, Status: incident.SessionPartial,
		Summary: "orders_etl.load failed · 1 step(s) incomplete", State: incident.StateEscalated,
	})
	require.NoError(t, err)

	r, err := report.Load(ctx, st, inc.ID, "https://medic.example.com")
	require.NoError(t, err)
	require.Equal(t, inc.ID, r.Incident.ID)
	require.Equal(t, incident.StateEscalated, r.Incident.State)
	require.Len(t, r.Events, 1)
	require.Equal(t, "load", r.Events[0].TaskID)
	require.NotNil(t, r.Triage.Run)
	require.Equal(t, "failed", r.Triage.Run.State)
	require.Equal(t, map[string]string{triage.StepLogExcerpt: "fetch log: 503"}, r.Triage.Errors)
	require.Equal(t, "https://medic.example.com/api/v1/incidents/"+inc.ID, r.Link)
	require.Equal(t, 42*time.Second, r.TriageDuration)
	require.Equal(t, "data-eng", r.Owner())

	var b strings.Builder
	require.NoError(t, report.WriteText(&b, r))
	require.Contains(t, b.String(), "INCIDENT "+inc.ID+"  [MEDIUM · escalated]")
	require.Contains(t, b.String(), "  ! log_excerpt: fetch log: 503\n")

	_, err = report.Load(ctx, st, "inc_missing", "")
	require.ErrorIs(t, err, store.ErrNotFound)
	require.ErrorContains(t, err, "load report")
}

// brokenReader is a Reader whose every read but the incident fails.
type brokenReader struct {
	inc        *incident.Incident
	eventErr   error
	findErr    error
	sessionErr error
}

func (b brokenReader) SessionGetByID(context.Context, string) (*incident.Session, error) {
	return &incident.Session{ID: b.inc.TriageSessionID}, b.sessionErr
}

func (b brokenReader) SessionListChildren(context.Context, string) ([]*incident.Session, error) {
	return nil, b.sessionErr
}

func (b brokenReader) IncidentGetByID(context.Context, string) (*incident.Incident, error) {
	return b.inc, nil
}

func (b brokenReader) EventListByIncident(context.Context, string) ([]*incident.FailureEvent, error) {
	return nil, b.eventErr
}

func (b brokenReader) FindingListBySession(context.Context, string) ([]*incident.Finding, error) {
	return nil, b.findErr
}

func TestLoadReportsReadErrors(t *testing.T) {
	t.Parallel()
	errDB := errors.New("database is locked")
	_, err := report.Load(context.Background(), brokenReader{inc: baseIncident(), eventErr: errDB}, "inc_0001", "")
	require.ErrorIs(t, err, errDB)
	_, err = report.Load(context.Background(), brokenReader{inc: baseIncident(), findErr: errDB}, "inc_0001", "")
	require.ErrorIs(t, err, errDB)
	_, err = report.Load(context.Background(), brokenReader{inc: baseIncident(), sessionErr: errDB}, "inc_0001", "")
	require.ErrorIs(t, err, errDB)
	noSession := baseIncident()
	noSession.TriageSessionID = ""
	r, err := report.Load(context.Background(), brokenReader{inc: noSession, findErr: errDB}, "inc_0001", "")
	require.NoError(t, err, "an incident without a session has no findings to read")
	require.Empty(t, r.Triage.Errors)
}
