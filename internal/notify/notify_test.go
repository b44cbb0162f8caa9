package notify_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/medic-sh/medic/internal/incident"
	"github.com/medic-sh/medic/internal/notify"
	"github.com/medic-sh/medic/internal/report"
	"github.com/medic-sh/medic/internal/store"
	"github.com/medic-sh/medic/internal/store/sqlite"
	"github.com/medic-sh/medic/internal/store/storetest"
	"github.com/medic-sh/medic/internal/triage"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// recordingNotifier keeps every report it is asked to send and fails while
// err is set.
type recordingNotifier struct {
	name string

	mu      sync.Mutex
	reports []*report.Report
	reasons []string
	err     error
}

var _ notify.Notifier = (*recordingNotifier)(nil)

func (n *recordingNotifier) Name() string { return n.name }

func (n *recordingNotifier) Notify(_ context.Context, u notify.Update) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.err != nil {
		return n.err
	}
	n.reports = append(n.reports, u.Report)
	n.reasons = append(n.reasons, u.Reason)
	return nil
}

func (n *recordingNotifier) setErr(err error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.err = err
}

func (n *recordingNotifier) sent() []*report.Report {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]*report.Report(nil), n.reports...)
}

type testBundle struct {
	clock *storetest.Clock
	store *sqlite.Store
}

func setup(t *testing.T, opts sqlite.Options) *testBundle {
	t.Helper()
	b := &testBundle{clock: storetest.NewClock(time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC))}
	opts.Path, opts.Now = filepath.Join(t.TempDir(), "medic.db"), b.clock.Now
	var err error
	b.store, err = sqlite.Open(context.Background(), opts)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, b.store.Close()) })
	return b
}

// triagedIncident records a failure and completes its triage, which is
// what enqueues a notification.
func (b *testBundle) triagedIncident(t *testing.T, run string) *incident.Incident {
	t.Helper()
	ctx := context.Background()
	res, err := b.store.EventRecord(ctx, &store.EventRecordParams{Event: storetest.Event("orders_etl", run, "load", 1), Window: time.Hour})
	require.NoError(t, err)
	inc := res.Incident
	data, err := json.Marshal(triage.RunSummary{State: "failed", FirstFailingTask: "load", Owners: []string{"data-eng"}})
	require.NoError(t, err)
	_, err = b.store.FindingInsert(ctx, &incident.Finding{
		SessionID: inc.TriageSessionID, IncidentID: inc.ID, Kind: incident.FindingRunSummary, Step: triage.StepRunSummary, Data: data,
	})
	require.NoError(t, err)
	b.clock.Advance(30 * time.Second)
	done, err := b.store.TriageComplete(ctx, &store.TriageCompleteParams{
		IncidentID: inc.ID, SessionID: inc.TriageSessionID, Status: incident.SessionCompleted,
		Summary: "orders_etl.load failed", State: incident.StateEscalated,
	})
	require.NoError(t, err)
	require.True(t, done.Done)
	return done.Incident
}

func notifyJob(incidentID string) *river.Job[store.NotifyJobArgs] {
	return &river.Job[store.NotifyJobArgs]{
		JobRow: &rivertype.JobRow{Attempt: 1, MaxAttempts: 5},
		Args:   store.NotifyJobArgs{IncidentID: incidentID, Reason: "triaged"},
	}
}

func (b *testBundle) audit(t *testing.T, incidentID, action string) []*incident.AuditEntry {
	t.Helper()
	entries, err := b.store.AuditList(context.Background(), &store.AuditListParams{IncidentID: incidentID})
	require.NoError(t, err)
	var out []*incident.AuditEntry
	for _, e := range entries {
		if e.Action == action {
			out = append(out, e)
		}
	}
	return out
}

func TestWorkNotifiesOnce(t *testing.T) {
	t.Parallel()
	b := setup(t, sqlite.Options{})
	ctx := context.Background()
	inc := b.triagedIncident(t, "manual__1")
	console, slack := &recordingNotifier{name: "console"}, &recordingNotifier{name: "slack"}
	w := &notify.Worker{Store: b.store, Notifiers: []notify.Notifier{console, slack}, BaseURL: "https://medic.example.com", Logger: slog.New(slog.DiscardHandler)}

	require.NoError(t, w.Work(ctx, notifyJob(inc.ID)))

	for _, n := range []*recordingNotifier{console, slack} {
		sent := n.sent()
		require.Len(t, sent, 1, n.name)
		r := sent[0]
		require.Equal(t, inc.ID, r.Incident.ID)
		require.Equal(t, "orders_etl.load failed", r.Incident.Summary)
		require.Equal(t, "https://medic.example.com/api/v1/incidents/"+inc.ID, r.Link)
		require.Len(t, r.Events, 1)
		require.NotNil(t, r.Triage.Run, "the report carries what triage found")
		require.Equal(t, "data-eng", r.Owner())
		require.Equal(t, 30*time.Second, r.TriageDuration)
	}
	got, err := b.store.IncidentGetByID(ctx, inc.ID)
	require.NoError(t, err)
	require.NotNil(t, got.NotifiedAt)
	notified := b.audit(t, inc.ID, "incident.notified")
	require.Len(t, notified, 1)
	require.JSONEq(t, `{"channel": "console,slack"}`, string(notified[0].Detail))

	// A redelivered job finds the report sent.
	require.NoError(t, w.Work(ctx, notifyJob(inc.ID)))
	require.Len(t, console.sent(), 1)
	require.Len(t, slack.sent(), 1)
	require.Len(t, b.audit(t, inc.ID, "incident.notified"), 1)
}

func TestWorkFailingNotifierIsRetried(t *testing.T) {
	t.Parallel()
	b := setup(t, sqlite.Options{})
	ctx := context.Background()
	inc := b.triagedIncident(t, "manual__1")
	errSlack := errors.New("slack: 503 service unavailable")
	console, slack := &recordingNotifier{name: "console"}, &recordingNotifier{name: "slack", err: errSlack}
	w := &notify.Worker{Store: b.store, Notifiers: []notify.Notifier{console, slack}}

	err := w.Work(ctx, notifyJob(inc.ID))
	require.ErrorIs(t, err, errSlack)
	require.ErrorContains(t, err, "notify "+inc.ID+" via slack")
	var cancel *rivertype.JobCancelError
	require.NotErrorAs(t, err, &cancel, "a notifier outage is retried, not cancelled")
	got, err := b.store.IncidentGetByID(ctx, inc.ID)
	require.NoError(t, err)
	require.Nil(t, got.NotifiedAt, "not marked, so the job system retries")
	require.Empty(t, b.audit(t, inc.ID, "incident.notified"))
	require.Len(t, console.sent(), 1, "the other channels were still tried")
	failed := b.audit(t, inc.ID, notify.AuditFailed)
	require.Len(t, failed, 1, "the first failure is in the incident's trail")
	require.Contains(t, string(failed[0].Detail), "503 service unavailable")
	require.Contains(t, string(failed[0].Detail), `"slack"`)

	require.ErrorIs(t, w.Work(ctx, attempt(notifyJob(inc.ID), 2)), errSlack)
	require.Len(t, b.audit(t, inc.ID, notify.AuditFailed), 1, "audited once, not per retry")

	slack.setErr(nil)
	require.NoError(t, w.Work(ctx, attempt(notifyJob(inc.ID), 3)))
	require.Len(t, slack.sent(), 1)
	require.Len(t, console.sent(), 1, "the retry does not send again where it was delivered")
	got, err = b.store.IncidentGetByID(ctx, inc.ID)
	require.NoError(t, err)
	require.NotNil(t, got.NotifiedAt)
	require.Len(t, b.audit(t, inc.ID, "incident.notified"), 1)
	require.Len(t, b.audit(t, inc.ID, notify.AuditRecovered), 1)
}

func attempt(job *river.Job[store.NotifyJobArgs], n int) *river.Job[store.NotifyJobArgs] {
	job.Attempt = n
	return job
}

// An outage longer than the job's attempts never loses the update: past
// its last attempt it is snoozed, which uses no attempt, until a day has
// passed; then it is given up, audited and logged.
func TestWorkOutageOutlastingTheAttempts(t *testing.T) {
	t.Parallel()
	b := setup(t, sqlite.Options{})
	ctx := context.Background()
	inc := b.triagedIncident(t, "manual__1")
	errSlack := errors.New("slack chat.postMessage: token_revoked")
	w := &notify.Worker{Store: b.store, Notifiers: []notify.Notifier{&recordingNotifier{name: "slack", err: errSlack}}, Now: b.clock.Now}

	job := attempt(notifyJob(inc.ID), 5)
	job.CreatedAt = b.clock.Now().Add(-time.Hour)
	err := w.Work(ctx, job)
	var snooze *rivertype.JobSnoozeError
	require.ErrorAs(t, err, &snooze, "retried later without using an attempt")
	require.Equal(t, 10*time.Minute, snooze.Duration)
	require.Empty(t, b.audit(t, inc.ID, notify.AuditAbandoned))

	job.CreatedAt = b.clock.Now().Add(-25 * time.Hour)
	err = w.Work(ctx, job)
	var cancel *rivertype.JobCancelError
	require.ErrorAs(t, err, &cancel)
	require.ErrorIs(t, err, errSlack)
	abandoned := b.audit(t, inc.ID, notify.AuditAbandoned)
	require.Len(t, abandoned, 1)
	require.Contains(t, string(abandoned[0].Detail), "token_revoked")
}

func TestWorkEveryNotifierFailing(t *testing.T) {
	t.Parallel()
	b := setup(t, sqlite.Options{})
	inc := b.triagedIncident(t, "manual__1")
	errA, errB := errors.New("a is down"), errors.New("b is down")
	w := &notify.Worker{Store: b.store, Notifiers: []notify.Notifier{
		&recordingNotifier{name: "a", err: errA}, &recordingNotifier{name: "b", err: errB},
	}}
	err := w.Work(context.Background(), notifyJob(inc.ID))
	require.ErrorIs(t, err, errA)
	require.ErrorIs(t, err, errB, "every channel's failure is reported")
}

func TestWorkCancelsJobsForMissingIncidents(t *testing.T) {
	t.Parallel()
	b := setup(t, sqlite.Options{})
	n := &recordingNotifier{name: "console"}
	w := &notify.Worker{Store: b.store, Notifiers: []notify.Notifier{n}}
	err := w.Work(context.Background(), notifyJob("inc_missing"))
	var cancel *rivertype.JobCancelError
	require.ErrorAs(t, err, &cancel)
	require.ErrorIs(t, err, store.ErrNotFound)
	require.Empty(t, n.sent())
}

func TestNotifyJobRunsOnRiver(t *testing.T) {
	t.Parallel()
	n := &recordingNotifier{name: "console"}
	workers := river.NewWorkers()
	b := setup(t, sqlite.Options{Workers: workers, Jobs: sqlite.JobOptions{MaxWorkers: 2, PollInterval: 10 * time.Millisecond}})
	ctx := context.Background()
	river.AddWorker(workers, &notify.Worker{Store: b.store, Notifiers: []notify.Notifier{n}})
	// Opening an incident enqueues its triage; this test completes triage
	// itself.
	river.AddWorker(workers, river.WorkFunc(func(context.Context, *river.Job[store.TriageJobArgs]) error { return nil }))
	require.NoError(t, b.store.StartJobs(ctx))
	t.Cleanup(func() {
		stopCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		require.NoError(t, b.store.StopJobs(stopCtx))
	})

	inc := b.triagedIncident(t, "manual__1")
	// Completing triage again (a redelivered triage job) enqueues nothing more.
	_, err := b.store.TriageComplete(ctx, &store.TriageCompleteParams{
		IncidentID: inc.ID, SessionID: inc.TriageSessionID, Status: incident.SessionCompleted, State: incident.StateEscalated,
	})
	require.NoError(t, err)

	require.Eventually(t, func() bool {
		got, err := b.store.IncidentGetByID(ctx, inc.ID)
		require.NoError(t, err)
		return got.NotifiedAt != nil
	}, 10*time.Second, 10*time.Millisecond)
	require.Eventually(t, func() bool {
		pending, err := b.store.PendingJobs(ctx, store.NotifyJobArgs{}.Kind())
		require.NoError(t, err)
		return pending == 0
	}, 10*time.Second, 10*time.Millisecond)
	require.Len(t, n.sent(), 1)
	require.Equal(t, inc.ID, n.sent()[0].Incident.ID)
}

func TestWorkTellsEachMoveOnce(t *testing.T) {
	t.Parallel()
	b := setup(t, sqlite.Options{})
	ctx := context.Background()
	inc := b.triagedIncident(t, "manual__1")
	n := &recordingNotifier{name: "slack"}
	w := &notify.Worker{Store: b.store, Notifiers: []notify.Notifier{n}}
	require.NoError(t, w.Work(ctx, notifyJob(inc.ID)))

	_, err := b.store.IncidentTransition(ctx, &store.IncidentTransitionParams{
		ID: inc.ID, To: incident.StateResolved, Actor: "alice", Reason: "fixed the view by hand",
	})
	require.NoError(t, err)
	move := &river.Job[store.NotifyJobArgs]{
		JobRow: &rivertype.JobRow{Attempt: 1, MaxAttempts: 5},
		Args:   store.NotifyJobArgs{IncidentID: inc.ID, Reason: "state:resolved", Detail: "fixed the view by hand"},
	}
	for range 2 { // the second is a redelivery
		require.NoError(t, w.Work(ctx, move))
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	require.Equal(t, []string{"triaged", "state:resolved"}, n.reasons)
	require.Equal(t, incident.StateResolved, n.reports[1].Incident.State, "the update carries the report as it stands")
}

func TestWorkHoldsNotificationsDuringASilence(t *testing.T) {
	t.Parallel()
	b := setup(t, sqlite.Options{})
	ctx := context.Background()
	inc := b.triagedIncident(t, "manual__1")
	sil, err := b.store.SilenceCreate(ctx, &incident.Silence{
		Matcher: incident.SilenceMatcher{DagGlob: "orders_*"}, Reason: "warehouse maintenance", CreatedBy: "alice",
		StartsAt: b.clock.Now(), EndsAt: b.clock.Now().Add(time.Hour),
	})
	require.NoError(t, err)
	n := &recordingNotifier{name: "slack"}
	w := &notify.Worker{Store: b.store, Notifiers: []notify.Notifier{n}, Now: b.clock.Now}

	err = w.Work(ctx, notifyJob(inc.ID))
	var snooze *rivertype.JobSnoozeError
	require.ErrorAs(t, err, &snooze, "held, to be looked at again")
	require.Empty(t, n.sent(), "nothing is sent while the silence lasts")
	got, err := b.store.IncidentGetByID(ctx, inc.ID)
	require.NoError(t, err)
	require.Nil(t, got.NotifiedAt)

	_, err = b.store.SilenceExpire(ctx, sil.ID, "alice", b.clock.Now())
	require.NoError(t, err)
	require.NoError(t, w.Work(ctx, notifyJob(inc.ID)))
	require.Len(t, n.sent(), 1, "released when the silence ends")
}

// A notifier waiting for something another process is about to store
// asks to be tried again shortly: no failure is counted or audited, unless
// it still is not ready after ten minutes.
func TestWorkNotYetIsRetriedShortly(t *testing.T) {
	t.Parallel()
	b := setup(t, sqlite.Options{})
	ctx := context.Background()
	inc := b.triagedIncident(t, "manual__1")
	notYet := fmt.Errorf("the alert's row is not stored yet: %w", notify.ErrNotYet)
	w := &notify.Worker{Store: b.store, Notifiers: []notify.Notifier{&recordingNotifier{name: "threads", err: notYet}}, Now: b.clock.Now}

	job := notifyJob(inc.ID)
	job.CreatedAt = b.clock.Now()
	var snooze *rivertype.JobSnoozeError
	require.ErrorAs(t, w.Work(ctx, job), &snooze)
	require.Equal(t, 2*time.Second, snooze.Duration)
	require.Empty(t, b.audit(t, inc.ID, notify.AuditFailed), "not a failure")

	job.CreatedAt = b.clock.Now().Add(-11 * time.Minute)
	err := w.Work(ctx, job)
	require.ErrorIs(t, err, notify.ErrNotYet)
	require.NotErrorAs(t, err, &snooze, "after ten minutes it is a failure like any other")
	require.Len(t, b.audit(t, inc.ID, notify.AuditFailed), 1)
}

// concurrencyNotifier records how many of its deliveries overlap.
type concurrencyNotifier struct {
	mu         sync.Mutex
	now, most  int
	deliveries int
}

func (n *concurrencyNotifier) Name() string { return "slow" }

func (n *concurrencyNotifier) Notify(context.Context, notify.Update) error {
	n.mu.Lock()
	n.now++
	n.most = max(n.most, n.now)
	n.mu.Unlock()
	time.Sleep(20 * time.Millisecond) // a Slack round trip: long enough to overlap
	n.mu.Lock()
	n.now--
	n.deliveries++
	n.mu.Unlock()
	return nil
}

// Two updates of one incident delivered at once would each find no message
// and post one each: the worker delivers one incident's updates one at a
// time, and other incidents' alongside.
func TestWorkDeliversOneIncidentsUpdatesOneAtATime(t *testing.T) {
	t.Parallel()
	b := setup(t, sqlite.Options{})
	ctx := context.Background()
	first := b.triagedIncident(t, "manual__1")
	second := b.triagedIncident(t, "manual__2")
	n := &concurrencyNotifier{}
	w := &notify.Worker{Store: b.store, Notifiers: []notify.Notifier{n}}
	var wg sync.WaitGroup
	for i := range 8 {
		for _, inc := range []*incident.Incident{first, second} {
			wg.Go(func() {
				job := notifyJob(inc.ID)
				job.Args.Reason = fmt.Sprintf("state:move-%d", i)
				require.NoError(t, w.Work(ctx, job))
			})
		}
	}
	wg.Wait()
	require.Equal(t, 16, n.deliveries)
	require.LessOrEqual(t, n.most, 2, "at most one delivery per incident at a time")
	require.Equal(t, 2, n.most, "the two incidents' deliveries overlap")
}
