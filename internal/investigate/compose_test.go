package investigate_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/medic-sh/medic/internal/incident"
	"github.com/medic-sh/medic/internal/investigate"
	"github.com/medic-sh/medic/internal/investigate/agents"
	"github.com/medic-sh/medic/internal/store"
)

// offsetClock is the real clock moved forward on demand: the store keeps
// real time, the investigator sees later.
type offsetClock struct{ d atomic.Int64 }

func (c *offsetClock) now() time.Time          { return time.Now().Add(time.Duration(c.d.Load())) }
func (c *offsetClock) advance(d time.Duration) { c.d.Add(int64(d)) }

// manual is a bundle without job workers, driven by calling the
// Investigator, with a clock the test moves.
func manual(t *testing.T, opt ...func(*bundleOpts)) (*testBundle, *offsetClock) {
	t.Helper()
	clock := &offsetClock{}
	return setup(t, append([]func(*bundleOpts){func(o *bundleOpts) {
		o.noJobs, o.now = true, clock.now
		o.opts.Deadline = 30 * time.Second
	}}, opt...)...), clock
}

func (b *testBundle) pending(t *testing.T, kind string) int {
	t.Helper()
	n, err := b.store.PendingJobs(context.Background(), kind)
	require.NoError(t, err)
	return n
}

// TestComposeAtTheDeadline: nobody reported. Before the deadline composing
// waits; at the deadline the specialists are timed out, the report is
// partial and names all three, and late results change nothing.
func TestComposeAtTheDeadline(t *testing.T) {
	t.Parallel()
	b, clock := manual(t)
	ctx := context.Background()
	inc := b.fail(t, testRun, undefinedColumn)
	require.NoError(t, b.inv.Command(ctx, inc.ID, inc.TriageSessionID, false))
	root, rep, kids := b.tree(t, inc)
	require.Nil(t, rep)
	require.Equal(t, incident.SessionRunning, root.Status)
	require.Len(t, kids, 3)
	require.Equal(t, 3, b.pending(t, store.SpecialistJobArgs{}.Kind()))
	require.Equal(t, 1, b.pending(t, store.ComposeJobArgs{}.Kind()))

	// The commander resumed (a redelivered job) starts nobody twice.
	require.NoError(t, b.inv.Command(ctx, inc.ID, inc.TriageSessionID, false))
	_, _, again := b.tree(t, inc)
	require.Len(t, again, 3)
	for name, k := range kids {
		require.Equal(t, k.ID, again[name].ID)
	}
	require.Len(t, b.findings(t, root.ID), 3, "orientation steps recorded once")
	require.Equal(t, 3, b.pending(t, store.SpecialistJobArgs{}.Kind()))

	err := b.inv.Compose(ctx, inc.ID, root.ID)
	var early *investigate.EarlyError
	require.ErrorAs(t, err, &early)
	require.Equal(t, *root.Deadline, early.Until)
	require.Nil(t, b.waitIncident(t, inc.ID).TriagedAt)

	clock.advance(31 * time.Second)
	require.NoError(t, b.inv.Compose(ctx, inc.ID, root.ID))
	got := b.waitIncident(t, inc.ID)
	require.NotNil(t, got.TriagedAt)
	root, rep, kids = b.tree(t, inc)
	require.Equal(t, incident.SessionPartial, root.Status)
	require.NotNil(t, rep)
	require.True(t, rep.Partial)
	require.Len(t, rep.Missing, 3)
	for _, m := range rep.Missing {
		require.Equal(t, incident.SessionTimedOut, m.Status)
		require.Contains(t, m.Reason, "did not report by the deadline")
		require.Equal(t, incident.SessionTimedOut, kids[m.Agent].Status)
	}
	require.Nil(t, rep.RootCause, "no specialist diagnosed")
	require.Contains(t, got.Summary, "partial: log-analyzer timed_out, query-profiler timed_out, owner-notifier timed_out")
	require.Equal(t, 1, b.pending(t, store.NotifyJobArgs{}.Kind()))

	// The specialists' jobs run late: their sessions are final, nothing
	// changes; composing again does nothing either.
	for _, k := range kids {
		require.NoError(t, b.inv.Specialist(ctx, store.SpecialistJobArgs{IncidentID: inc.ID, SessionID: k.ID, Agent: k.Agent}, 1, 5, time.Now()))
		require.Empty(t, b.findings(t, k.ID))
	}
	require.NoError(t, b.inv.Compose(ctx, inc.ID, root.ID))
	require.NoError(t, b.inv.Command(ctx, inc.ID, inc.TriageSessionID, false))
	require.Equal(t, 1, b.pending(t, store.NotifyJobArgs{}.Kind()))
	_, again2, _ := b.tree(t, inc)
	require.Equal(t, rep.ComposedAt, again2.ComposedAt, "the report is composed once")
}

func (b *testBundle) waitIncident(t *testing.T, id string) *incident.Incident {
	t.Helper()
	inc, err := b.store.IncidentGetByID(context.Background(), id)
	require.NoError(t, err)
	return inc
}

// TestComposeWhenAllReported runs each specialist by hand: the last one's
// finish makes the composition due, and it is complete.
func TestComposeWhenAllReported(t *testing.T) {
	t.Parallel()
	b, _ := manual(t)
	ctx := context.Background()
	inc := b.fail(t, testRun, undefinedColumn)
	require.NoError(t, b.inv.Command(ctx, inc.ID, inc.TriageSessionID, false))
	root, _, kids := b.tree(t, inc)
	for _, k := range kids {
		require.NoError(t, b.inv.Specialist(ctx, store.SpecialistJobArgs{IncidentID: inc.ID, SessionID: k.ID, Agent: k.Agent}, 1, 5, time.Now().Add(time.Hour)))
	}
	require.NoError(t, b.inv.Compose(ctx, inc.ID, root.ID), "all reported: no need to wait for the deadline")
	root, rep, _ := b.tree(t, inc)
	require.Equal(t, incident.SessionCompleted, root.Status)
	require.False(t, rep.Partial)
	require.Equal(t, agents.LogAnalyzer, rep.RootCause.Source)
}

// TestComposeResumesAfterACrashBetweenFinishAndComplete: the root holds its
// report but the incident was never completed; composing again completes
// it from the stored report.
func TestComposeResumesAfterACrashBetweenFinishAndComplete(t *testing.T) {
	t.Parallel()
	b, _ := manual(t)
	ctx := context.Background()
	inc := b.fail(t, testRun, undefinedColumn)
	require.NoError(t, b.inv.Command(ctx, inc.ID, inc.TriageSessionID, false))
	_, _, kids := b.tree(t, inc)
	for _, k := range kids {
		require.NoError(t, b.inv.Specialist(ctx, store.SpecialistJobArgs{IncidentID: inc.ID, SessionID: k.ID, Agent: k.Agent}, 1, 5, time.Now().Add(time.Hour)))
	}
	stored := []byte(`{"status":"completed","summary":"composed before the crash","severity":"high","commander":"incident-commander","specialists":[],"diagnostic":{"steps":[]}}`)
	_, err := b.store.SessionFinish(ctx, &store.SessionFinishParams{ID: inc.TriageSessionID, Status: incident.SessionCompleted, Result: stored})
	require.NoError(t, err)

	require.NoError(t, b.inv.Command(ctx, inc.ID, inc.TriageSessionID, false), "a redelivered commander completes the triage")
	got := b.waitIncident(t, inc.ID)
	require.NotNil(t, got.TriagedAt)
	require.Equal(t, "composed before the crash", got.Summary)
	require.Equal(t, incident.SeverityHigh, got.Severity)
}

func TestResumeComposesOverdueInvestigations(t *testing.T) {
	t.Parallel()
	b, clock := manual(t)
	ctx := context.Background()
	inc := b.fail(t, testRun, undefinedColumn)
	require.NoError(t, b.inv.Command(ctx, inc.ID, inc.TriageSessionID, false))

	n, err := b.inv.Resume(ctx)
	require.NoError(t, err)
	require.Zero(t, n, "nothing is overdue yet: the jobs are live")

	clock.advance(time.Hour)
	n, err = b.inv.Resume(ctx)
	require.NoError(t, err)
	require.Equal(t, 4, n, "the root composed and its three children timed out")
	require.NotNil(t, b.waitIncident(t, inc.ID).TriagedAt)
	n, err = b.inv.Resume(ctx)
	require.NoError(t, err)
	require.Zero(t, n)
}

func TestCommandWithoutAnInvestigation(t *testing.T) {
	t.Parallel()
	b, _ := manual(t)
	ctx := context.Background()
	res, err := b.ingest.RecordEvent(ctx, &incident.FailureEvent{
		Key:      incident.Key{Instance: "staging", DagID: "orders_etl", RunID: testRun, TaskID: "load", TryNumber: 1},
		MapIndex: -1, Source: incident.SourceCallback,
	})
	require.NoError(t, err)
	inc := res.Incident
	require.NoError(t, b.inv.Command(ctx, inc.ID, inc.TriageSessionID, false))
	got := b.waitIncident(t, inc.ID)
	require.NotNil(t, got.TriagedAt)
	require.Equal(t, `triage failed: airflow instance "staging" is not configured`, got.Summary)
	root, rep, kids := b.tree(t, inc)
	require.Equal(t, incident.SessionFailed, root.Status)
	require.Equal(t, `airflow instance "staging" is not configured`, root.Error)
	require.Empty(t, kids, "nothing was delegated")
	require.Equal(t, incident.SessionFailed, rep.Status)
	require.Contains(t, rep.NextAction, "medic could not investigate it")

	require.ErrorIs(t, b.inv.Command(ctx, "inc_missing", "ses_missing", false), store.ErrNotFound)
}
