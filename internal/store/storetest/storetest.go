// Package storetest is the conformance suite every store.Store implementation
// must pass. It checks behaviour through the interface only, so the SQLite
// and PostgreSQL stores are held to the same contract; extend it whenever
// store behaviour changes.
package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/medic-sh/medic/internal/incident"
	"github.com/medic-sh/medic/internal/store"
)

// Harness is one fresh, empty store plus the hooks the suite needs.
type Harness struct {
	Store store.Store
	// Clock is the store's clock; the suite moves it.
	Clock *Clock
	// PendingJobs counts jobs of a kind that are waiting to run.
	PendingJobs func(ctx context.Context, kind string) (int, error)
	// SetMemoryEmbedding overwrites the stored embedding bytes of a memory
	// record, so that the suite can check a corrupt one is survived; the
	// case is skipped when nil.
	SetMemoryEmbedding func(ctx context.Context, id string, blob []byte) error
	// Jobs lists the jobs of a kind, oldest first, so that the suite can
	// check what was enqueued and when it is due; job checks are skipped
	// when nil.
	Jobs func(ctx context.Context, kind string) ([]Job, error)
	// TamperAudit rewrites the stored detail of an audit entry behind the
	// store's back, so that the suite can check the chain exposes it; the
	// case is skipped when nil.
	TamperAudit func(ctx context.Context, id int64, detail string) error
}

// Job is one enqueued job as the suite sees it.
type Job struct {
	Args json.RawMessage
	// State is River's job state: scheduled, available, running, ….
	State       string
	ScheduledAt time.Time
}

// Clock is a settable clock safe for concurrent use.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a clock at t.
func NewClock(t time.Time) *Clock { return &Clock{t: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

// Advance moves the clock forward.
func (c *Clock) Advance(d time.Duration) { c.mu.Lock(); defer c.mu.Unlock(); c.t = c.t.Add(d) }

// Run runs the whole suite. newHarness must return an empty store each call.
func Run(t *testing.T, newHarness func(t *testing.T) *Harness) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(t *testing.T, h *Harness)
	}{
		{"EventDedupOnIdentity", testEventDedup},
		{"EventDuplicateFillsMissingFields", testEventDuplicateFills},
		{"EventGroupsByRun", testEventGroupsByRun},
		{"EventWindowOpensNewIncident", testEventWindow},
		{"EventRejectsInvalid", testEventInvalid},
		{"EventConcurrentDeliveries", testEventConcurrent},
		{"TriageRequestIdempotent", testTriageRequest},
		{"TriageCompleteOnce", testTriageCompleteOnce},
		{"IncidentTransition", testIncidentTransition},
		{"IncidentListFiltersAndPages", testIncidentList},
		{"IncidentMarkNotifiedOnce", testMarkNotified},
		{"FindingInsertOncePerStep", testFindingOnce},
		{"SessionStatusFinalSticks", testSessionStatus},
		{"PollerMarkMovesForward", testPollerMark},
		{"NotFound", testNotFound},
		{"MinerSnapshotRoundTrip", testMinerSnapshot},
		{"IncidentSignature", testIncidentSignature},
		{"MemoryRecordRoundTrip", testMemoryRoundTrip},
		{"MemoryRecordUpsertKeepsEvidence", testMemoryUpsertKeepsEvidence},
		{"MemoryRecordUpsertKeepsCorrectedLabel", testMemoryUpsertKeepsCorrectedLabel},
		{"MemoryRecordUpsertRejectsInvalid", testMemoryUpsertInvalid},
		{"MemoryRecordApply", testMemoryApply},
		{"MemoryRecordApplyConcurrent", testMemoryApplyConcurrent},
		{"MemoryRecordCorruptEmbedding", testMemoryCorruptEmbedding},
		{"MemoryRecordListPages", testMemoryList},
		{"SessionSpawnCreatesChildrenAndJobs", testSpawn},
		{"SessionSpawnIdempotent", testSpawnIdempotent},
		{"SessionSpawnRefused", testSpawnRefused},
		{"SessionFinishOnce", testFinishOnce},
		{"SessionFinishLastSiblingComposes", testFinishLastSibling},
		{"SessionFinishConcurrent", testFinishConcurrent},
		{"SessionLifecycleEvents", testLifecycleEvents},
		{"SessionEventsOrderedAndPaged", testEventsPaged},
		{"SessionEventRejectsInvalid", testEventInvalidSession},
		{"SessionEventsTree", testEventsTree},
		{"SessionListUnfinished", testListUnfinished},
		{"AuditAppendChains", testAuditAppendChains},
		{"AuditAppendRejectsInvalid", testAuditAppendInvalid},
		{"AuditAppendConcurrent", testAuditAppendConcurrent},
		{"AuditListFilters", testAuditListFilters},
		{"AuditTamperDetected", testAuditTamperDetected},
		{"ApprovalCreateIdempotent", testApprovalCreateIdempotent},
		{"ApprovalDecide", testApprovalDecide},
		{"ApprovalReplayRefused", testApprovalReplay},
		{"ApprovalListFilters", testApprovalList},
		{"ActionLifecycle", testActionLifecycle},
		{"ActionBeginConcurrent", testActionBeginConcurrent},
		{"ActionListByIncident", testActionListByIncident},
		{"RemediationCounters", testRemediationCounters},
		{"KillSwitch", testKillSwitch},
	}
	tests = append(tests, remediationFlowTests...)
	tests = append(tests, coalesceTests...)
	tests = append(tests, silenceTests...)
	tests = append(tests, eventDatasetTests...)
	tests = append(tests, slackAlertTests...)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.fn(t, newHarness(t))
		})
	}
}

// Event builds a valid callback event for a task try.
func Event(dag, run, task string, try int) *incident.FailureEvent {
	return &incident.FailureEvent{
		Key:      incident.Key{Instance: "main", DagID: dag, RunID: run, TaskID: task, TryNumber: try},
		MapIndex: -1, Source: incident.SourceCallback,
	}
}

func record(t *testing.T, h *Harness, ev *incident.FailureEvent) *store.EventRecordResult {
	t.Helper()
	res, err := h.Store.EventRecord(context.Background(), &store.EventRecordParams{Event: ev, Window: time.Hour})
	require.NoError(t, err)
	return res
}

func testEventDedup(t *testing.T, h *Harness) {
	ctx := context.Background()
	first := record(t, h, Event("etl", "run1", "load", 1))
	require.True(t, first.IncidentCreated)
	require.False(t, first.Duplicate)

	for _, src := range []incident.Source{incident.SourceCallback, incident.SourceCallback, incident.SourcePoller} {
		ev := Event("etl", "run1", "load", 1)
		ev.Source = src
		res := record(t, h, ev)
		require.True(t, res.Duplicate)
		require.False(t, res.IncidentCreated)
		require.Equal(t, first.Event.ID, res.Event.ID)
		require.Equal(t, first.Incident.ID, res.Incident.ID)
	}
	events, err := h.Store.EventListByIncident(ctx, first.Incident.ID)
	require.NoError(t, err)
	require.Len(t, events, 1)
	require.Equal(t, 4, events[0].Deliveries)

	inc, err := h.Store.IncidentGetByID(ctx, first.Incident.ID)
	require.NoError(t, err)
	require.Equal(t, 1, inc.EventCount)
	list, err := h.Store.IncidentList(ctx, &store.IncidentListParams{})
	require.NoError(t, err)
	require.Equal(t, 1, list.Total)
	if h.PendingJobs != nil {
		n, err := h.PendingJobs(ctx, store.TriageJobArgs{}.Kind())
		require.NoError(t, err)
		require.Equal(t, 1, n, "one incident, one triage job")
	}
}

func testEventDuplicateFills(t *testing.T, h *Harness) {
	ctx := context.Background()
	polled := Event("etl", "run1", "load", 2)
	polled.Source = incident.SourcePoller
	first := record(t, h, polled)
	cb := Event("etl", "run1", "load", 2)
	cb.Exception = "psycopg2.errors.UndefinedColumn: column \"x\" does not exist"
	cb.Owner = "data-eng"
	record(t, h, cb)
	events, err := h.Store.EventListByIncident(ctx, first.Incident.ID)
	require.NoError(t, err)
	require.Len(t, events, 1)
	require.Equal(t, cb.Exception, events[0].Exception)
	require.Equal(t, "data-eng", events[0].Owner)
	require.Equal(t, incident.SourcePoller, events[0].Source, "the first source is kept")
}

func testEventGroupsByRun(t *testing.T, h *Harness) {
	ctx := context.Background()
	a := record(t, h, Event("etl", "run1", "extract", 1))
	b := record(t, h, Event("etl", "run1", "load", 1))
	c := record(t, h, Event("etl", "run1", "extract", 2))
	other := record(t, h, Event("etl", "run2", "extract", 1))
	require.False(t, b.IncidentCreated)
	require.Equal(t, a.Incident.ID, b.Incident.ID)
	require.Equal(t, a.Incident.ID, c.Incident.ID)
	require.NotEqual(t, a.Incident.ID, other.Incident.ID)
	inc, err := h.Store.IncidentGetByID(ctx, a.Incident.ID)
	require.NoError(t, err)
	require.Equal(t, 3, inc.EventCount)
	require.Equal(t, "extract", inc.FirstTaskID)
	events, err := h.Store.EventListByIncident(ctx, a.Incident.ID)
	require.NoError(t, err)
	require.Len(t, events, 3)
}

func testEventWindow(t *testing.T, h *Harness) {
	a := record(t, h, Event("etl", "run1", "extract", 1))
	h.Clock.Advance(2 * time.Hour)
	b := record(t, h, Event("etl", "run1", "extract", 2))
	require.True(t, b.IncidentCreated, "a failure after the window opens a new incident")
	require.NotEqual(t, a.Incident.ID, b.Incident.ID)
}

func testEventInvalid(t *testing.T, h *Harness) {
	ctx := context.Background()
	for name, ev := range map[string]*incident.FailureEvent{
		"no dag":      Event("", "r", "t", 1),
		"try zero":    Event("d", "r", "t", 0),
		"pipe in run": Event("d", "r|x", "t", 1),
		"bad source":  func() *incident.FailureEvent { e := Event("d", "r", "t", 1); e.Source = "carrier-pigeon"; return e }(),
	} {
		_, err := h.Store.EventRecord(ctx, &store.EventRecordParams{Event: ev, Window: time.Hour})
		require.ErrorIs(t, err, incident.ErrInvalid, name)
	}
	list, err := h.Store.IncidentList(ctx, &store.IncidentListParams{})
	require.NoError(t, err)
	require.Zero(t, list.Total, "nothing half-stored")
}

func testEventConcurrent(t *testing.T, h *Harness) {
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, 40)
	for i := range 40 {
		wg.Go(func() {
			_, err := h.Store.EventRecord(ctx, &store.EventRecordParams{Event: Event("etl", "run1", fmt.Sprintf("t%d", i%4), 1), Window: time.Hour})
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	list, err := h.Store.IncidentList(ctx, &store.IncidentListParams{})
	require.NoError(t, err)
	require.Equal(t, 1, list.Total)
	events, err := h.Store.EventListByIncident(ctx, list.Incidents[0].ID)
	require.NoError(t, err)
	require.Len(t, events, 4)
	total := 0
	for _, e := range events {
		total += e.Deliveries
	}
	require.Equal(t, 40, total)
}

func testTriageRequest(t *testing.T, h *Harness) {
	ctx := context.Background()
	p := &store.TriageRequestParams{Instance: "main", DagID: "etl", RunID: "run9", Actor: "alice", Window: time.Hour}
	a, err := h.Store.TriageRequest(ctx, p)
	require.NoError(t, err)
	require.True(t, a.Created)
	require.Equal(t, a.Incident.TriageSessionID, a.Session.ID)
	b, err := h.Store.TriageRequest(ctx, p)
	require.NoError(t, err)
	require.False(t, b.Created)
	require.Equal(t, a.Session.ID, b.Session.ID)
	ev := record(t, h, Event("etl", "run9", "load", 1))
	require.Equal(t, a.Incident.ID, ev.Incident.ID, "a later event joins the requested incident")

	_, err = h.Store.TriageRequest(ctx, &store.TriageRequestParams{Instance: "main", DagID: "", RunID: "r"})
	require.ErrorIs(t, err, incident.ErrInvalid)
}

func testTriageCompleteOnce(t *testing.T, h *Harness) {
	ctx := context.Background()
	r := record(t, h, Event("etl", "run1", "load", 1))
	p := &store.TriageCompleteParams{
		IncidentID: r.Incident.ID, SessionID: r.Incident.TriageSessionID,
		Status: incident.SessionCompleted, Summary: "load failed", State: incident.StateEscalated, Severity: incident.SeverityHigh,
	}
	res, err := h.Store.TriageComplete(ctx, p)
	require.NoError(t, err)
	require.True(t, res.Done)
	require.Equal(t, incident.StateEscalated, res.Incident.State)
	require.NotNil(t, res.Incident.TriagedAt)
	again, err := h.Store.TriageComplete(ctx, p)
	require.NoError(t, err)
	require.False(t, again.Done)

	ss, err := h.Store.SessionGetByID(ctx, r.Incident.TriageSessionID)
	require.NoError(t, err)
	require.Equal(t, incident.SessionCompleted, ss.Status)
	require.NotNil(t, ss.FinishedAt)
	audit, err := h.Store.AuditList(ctx, &store.AuditListParams{IncidentID: r.Incident.ID})
	require.NoError(t, err)
	triaged := 0
	for _, e := range audit {
		if e.Action == "incident.triaged" {
			triaged++
		}
	}
	require.Equal(t, 1, triaged)
	if h.PendingJobs != nil {
		n, err := h.PendingJobs(ctx, store.NotifyJobArgs{}.Kind())
		require.NoError(t, err)
		require.Equal(t, 1, n)
	}
	_, err = h.Store.TriageComplete(ctx, &store.TriageCompleteParams{IncidentID: r.Incident.ID, Status: incident.SessionRunning})
	require.Error(t, err, "a non-final status cannot complete triage")
}

func testIncidentTransition(t *testing.T, h *Harness) {
	ctx := context.Background()
	r := record(t, h, Event("etl", "run1", "load", 1))
	inc, err := h.Store.IncidentTransition(ctx, &store.IncidentTransitionParams{ID: r.Incident.ID, To: incident.StateInvestigating, Actor: "medic"})
	require.NoError(t, err)
	require.Equal(t, incident.StateInvestigating, inc.State)
	_, err = h.Store.IncidentTransition(ctx, &store.IncidentTransitionParams{ID: r.Incident.ID, To: incident.StateInvestigating})
	require.NoError(t, err, "same state is a no-op")
	_, err = h.Store.IncidentTransition(ctx, &store.IncidentTransitionParams{ID: r.Incident.ID, To: incident.StateVerifying})
	require.ErrorIs(t, err, incident.ErrTransition)
	got, err := h.Store.IncidentGetByID(ctx, r.Incident.ID)
	require.NoError(t, err)
	require.Equal(t, incident.StateInvestigating, got.State)
}

func testIncidentList(t *testing.T, h *Harness) {
	ctx := context.Background()
	var ids []string
	for i := range 7 {
		dag := "etl"
		if i%2 == 1 {
			dag = "dbt"
		}
		r := record(t, h, Event(dag, fmt.Sprintf("run%d", i), "t", 1))
		ids = append(ids, r.Incident.ID)
		h.Clock.Advance(time.Second)
	}
	var seen []string
	cursor := ""
	for {
		page, err := h.Store.IncidentList(ctx, &store.IncidentListParams{Limit: 3, Cursor: cursor})
		require.NoError(t, err)
		require.Equal(t, 7, page.Total)
		for _, in := range page.Incidents {
			seen = append(seen, in.ID)
		}
		if page.NextCursor == "" {
			break
		}
		cursor = page.NextCursor
	}
	require.Len(t, seen, 7)
	for i := range seen {
		require.Equal(t, ids[len(ids)-1-i], seen[i], "newest first")
	}
	dbt, err := h.Store.IncidentList(ctx, &store.IncidentListParams{DagID: "dbt"})
	require.NoError(t, err)
	require.Equal(t, 3, dbt.Total)
	open, err := h.Store.IncidentList(ctx, &store.IncidentListParams{States: []incident.State{incident.StateResolved}})
	require.NoError(t, err)
	require.Zero(t, open.Total)
	_, err = h.Store.IncidentList(ctx, &store.IncidentListParams{Cursor: "not-a-cursor!"})
	require.ErrorIs(t, err, store.ErrInvalidCursor)
}

func testMarkNotified(t *testing.T, h *Harness) {
	ctx := context.Background()
	r := record(t, h, Event("etl", "run1", "load", 1))
	ok, err := h.Store.IncidentMarkNotified(ctx, &store.IncidentMarkNotifiedParams{IncidentID: r.Incident.ID, Channel: "console"})
	require.NoError(t, err)
	require.True(t, ok)
	ok, err = h.Store.IncidentMarkNotified(ctx, &store.IncidentMarkNotifiedParams{IncidentID: r.Incident.ID, Channel: "console"})
	require.NoError(t, err)
	require.False(t, ok)
	_, err = h.Store.IncidentMarkNotified(ctx, &store.IncidentMarkNotifiedParams{IncidentID: "inc_missing"})
	require.ErrorIs(t, err, store.ErrNotFound)
}

func testFindingOnce(t *testing.T, h *Harness) {
	ctx := context.Background()
	r := record(t, h, Event("etl", "run1", "load", 1))
	f := &incident.Finding{
		SessionID: r.Incident.TriageSessionID, IncidentID: r.Incident.ID, Kind: incident.FindingRunSummary,
		Step: "run_summary", Summary: "run failed", Data: []byte(`{"state":"failed"}`),
		Evidence: []incident.Evidence{{Source: "airflow_api", Ref: "/dags/etl/dagRuns/run1", Text: "state=failed"}},
	}
	ok, err := h.Store.FindingInsert(ctx, f)
	require.NoError(t, err)
	require.True(t, ok)
	dup := *f
	dup.ID, dup.Summary = "", "second attempt"
	ok, err = h.Store.FindingInsert(ctx, &dup)
	require.NoError(t, err)
	require.False(t, ok)
	list, err := h.Store.FindingListBySession(ctx, r.Incident.TriageSessionID)
	require.NoError(t, err)
	require.Len(t, list, 1)
	require.Equal(t, "run failed", list[0].Summary)
	require.JSONEq(t, `{"state":"failed"}`, string(list[0].Data))
	require.Equal(t, f.Evidence, list[0].Evidence)
}

func testSessionStatus(t *testing.T, h *Harness) {
	ctx := context.Background()
	r := record(t, h, Event("etl", "run1", "load", 1))
	id := r.Incident.TriageSessionID
	ss, err := h.Store.SessionSetStatus(ctx, &store.SessionSetStatusParams{ID: id, Status: incident.SessionRunning})
	require.NoError(t, err)
	require.Equal(t, incident.SessionRunning, ss.Status)
	_, err = h.Store.SessionSetStatus(ctx, &store.SessionSetStatusParams{ID: id, Status: incident.SessionFailed, Error: "boom"})
	require.NoError(t, err)
	ss, err = h.Store.SessionSetStatus(ctx, &store.SessionSetStatusParams{ID: id, Status: incident.SessionRunning})
	require.NoError(t, err)
	require.Equal(t, incident.SessionFailed, ss.Status, "a final status sticks")
	require.Equal(t, "boom", ss.Error)
	kids, err := h.Store.SessionListChildren(ctx, id)
	require.NoError(t, err)
	require.Empty(t, kids)
}

func testPollerMark(t *testing.T, h *Harness) {
	ctx := context.Background()
	_, ok, err := h.Store.PollerMarkGet(ctx, "main")
	require.NoError(t, err)
	require.False(t, ok)
	t1 := time.Date(2026, 5, 1, 2, 0, 0, 0, time.UTC)
	require.NoError(t, h.Store.PollerMarkSet(ctx, "main", t1))
	require.NoError(t, h.Store.PollerMarkSet(ctx, "main", t1.Add(-time.Hour)))
	got, ok, err := h.Store.PollerMarkGet(ctx, "main")
	require.NoError(t, err)
	require.True(t, ok)
	require.True(t, t1.Equal(got), "the mark never moves back: got %s", got)
	require.NoError(t, h.Store.PollerMarkSet(ctx, "main", t1.Add(time.Minute)))
	got, _, err = h.Store.PollerMarkGet(ctx, "main")
	require.NoError(t, err)
	require.True(t, t1.Add(time.Minute).Equal(got))
}

func testNotFound(t *testing.T, h *Harness) {
	ctx := context.Background()
	_, err := h.Store.IncidentGetByID(ctx, "inc_missing")
	require.ErrorIs(t, err, store.ErrNotFound)
	_, err = h.Store.SessionGetByID(ctx, "ses_missing")
	require.ErrorIs(t, err, store.ErrNotFound)
	_, err = h.Store.IncidentTransition(ctx, &store.IncidentTransitionParams{ID: "inc_missing", To: incident.StateResolved})
	require.ErrorIs(t, err, store.ErrNotFound)
}

func testMinerSnapshot(t *testing.T, h *Harness) {
	ctx := context.Background()
	got, err := h.Store.MinerSnapshotGet(ctx, "logs")
	require.NoError(t, err)
	require.Nil(t, got, "nothing saved yet")
	require.NoError(t, h.Store.MinerSnapshotSave(ctx, "logs", []byte(`{"version":1}`)))
	require.NoError(t, h.Store.MinerSnapshotSave(ctx, "logs", []byte(`{"version":1,"templates":[]}`)))
	require.NoError(t, h.Store.MinerSnapshotSave(ctx, "other", []byte(`x`)))
	got, err = h.Store.MinerSnapshotGet(ctx, "logs")
	require.NoError(t, err)
	require.JSONEq(t, `{"version":1,"templates":[]}`, string(got), "the last save wins")
}

func testIncidentSignature(t *testing.T, h *Harness) {
	ctx := context.Background()
	a := record(t, h, Event("etl", "run1", "load", 1))
	b := record(t, h, Event("etl", "run2", "load", 1))
	c := record(t, h, Event("dbt", "run1", "test", 1))
	for _, r := range []*store.EventRecordResult{a, b} {
		require.NoError(t, h.Store.IncidentSetSignature(ctx, &store.IncidentSetSignatureParams{ID: r.Incident.ID, Signature: "sig_same"}))
	}
	require.NoError(t, h.Store.IncidentSetSignature(ctx, &store.IncidentSetSignatureParams{ID: c.Incident.ID, Signature: "sig_other"}))
	got, err := h.Store.IncidentGetByID(ctx, a.Incident.ID)
	require.NoError(t, err)
	require.Equal(t, "sig_same", got.Signature)
	same, err := h.Store.IncidentList(ctx, &store.IncidentListParams{Signature: "sig_same"})
	require.NoError(t, err)
	require.Equal(t, 2, same.Total)
	err = h.Store.IncidentSetSignature(ctx, &store.IncidentSetSignatureParams{ID: "inc_missing", Signature: "x"})
	require.ErrorIs(t, err, store.ErrNotFound)
}
