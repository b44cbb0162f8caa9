package investigate_test

import (
	"cmp"
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/medic-sh/medic/internal/classify"
	"github.com/medic-sh/medic/internal/incident"
	"github.com/medic-sh/medic/internal/investigate"
	"github.com/medic-sh/medic/internal/investigate/agents"
)

// barrier lets n engines through only once all n have arrived: if the
// specialists did not run concurrently, none would pass it.
type barrier struct {
	n       int
	mu      sync.Mutex
	arrived int
	all     chan struct{}
}

func newBarrier(n int) *barrier { return &barrier{n: n, all: make(chan struct{})} }

func (b *barrier) wait(ctx context.Context, within time.Duration) error {
	b.mu.Lock()
	b.arrived++
	if b.arrived == b.n {
		close(b.all)
	}
	b.mu.Unlock()
	select {
	case <-b.all:
		return nil
	case <-time.After(within):
		return errors.New("the other specialists never started: they do not run concurrently")
	case <-ctx.Done():
		return ctx.Err()
	}
}

// TestTimelineSpecialistsRunConcurrently injects a failure at t0 and expects
// a commander session with three child sessions that run at the same time
// (each engine waits at a barrier until all three have started, and their
// recorded run intervals overlap), each reporting with evidence, and the
// report composed well within the deadline.
func TestTimelineSpecialistsRunConcurrently(t *testing.T) {
	t.Parallel()
	bar := newBarrier(3)
	deadline := 20 * time.Second
	b := setup(t, func(o *bundleOpts) {
		o.opts.Deadline = deadline
		o.wrap = func(_ string, e investigate.Engine) investigate.Engine {
			return engineFunc{spec: e.Spec(), run: func(ctx context.Context, task *investigate.Task) (*investigate.Result, error) {
				if err := bar.wait(ctx, 10*time.Second); err != nil {
					return nil, err
				}
				return e.Run(ctx, task)
			}}
		}
	})
	t0 := time.Now()
	inc := b.fail(t, testRun, undefinedColumn)
	got := b.waitTriaged(t, inc.ID, deadline)
	elapsed := time.Since(t0)
	require.Less(t, elapsed, deadline/2, "composed well within the deadline")

	root, rep, kids := b.tree(t, inc)
	require.Equal(t, incident.SessionCompleted, root.Status)
	require.Equal(t, 1, root.Depth)
	require.NotNil(t, root.Deadline)
	require.WithinDuration(t, t0.Add(deadline), *root.Deadline, 5*time.Second)
	require.Len(t, kids, 3)
	var starts, ends []time.Time
	for _, name := range []string{agents.LogAnalyzer, agents.QueryProfiler, agents.OwnerNotifier} {
		k := kids[name]
		require.NotNil(t, k, "no %s session", name)
		require.Equal(t, incident.SessionCompleted, k.Status, "%s: %s", name, k.Error)
		res := result(t, k)
		require.Equal(t, name, res.Agent)
		require.NotEmpty(t, res.Summary)
		starts, ends = append(starts, res.StartedAt), append(ends, res.FinishedAt)
	}
	latestStart, earliestEnd := starts[0], ends[0]
	for i := range starts {
		if starts[i].After(latestStart) {
			latestStart = starts[i]
		}
		if ends[i].Before(earliestEnd) {
			earliestEnd = ends[i]
		}
	}
	require.True(t, latestStart.Before(earliestEnd), "the three runs overlap: last start %s, first end %s", latestStart, earliestEnd)

	// The commander oriented itself; the specialists did the rest, each in
	// its own session.
	rootSteps := b.findings(t, root.ID)
	require.Len(t, rootSteps, 3)
	for _, s := range []string{"resolve", "run_summary", "failed_tasks"} {
		require.Contains(t, rootSteps, s)
	}
	la := b.findings(t, kids[agents.LogAnalyzer].ID)
	for _, s := range []string{"frequency", "log_excerpt", "history"} {
		require.Contains(t, la, s)
	}
	require.Contains(t, b.findings(t, kids[agents.QueryProfiler].ID), "warehouse")
	require.Contains(t, b.findings(t, kids[agents.OwnerNotifier].ID), "owners")

	require.NotNil(t, rep)
	require.False(t, rep.Partial)
	require.Empty(t, rep.Missing)
	require.Equal(t, incident.SessionCompleted, rep.Status)
	require.NotNil(t, rep.RootCause)
	require.Equal(t, classify.SchemaChange, rep.RootCause.Label)
	require.Equal(t, agents.LogAnalyzer, rep.RootCause.Source)
	require.NotEmpty(t, rep.RootCause.Evidence)
	require.Contains(t, rep.RootCause.Summary, "customer_idd")
	require.NotNil(t, rep.Owner)
	require.Equal(t, "data-eng", rep.Owner.Name)
	require.NotNil(t, rep.Impact)
	require.Equal(t, []string{"report"}, rep.Impact.Blocked)
	require.Equal(t, "tier1", rep.Impact.Tier)
	require.Equal(t, incident.SeverityHigh, got.Severity, "severity from the impact: a tier1 DAG")
	require.Contains(t, rep.NextAction, "data-eng")
	require.Contains(t, rep.NextAction, "load")
	require.NotNil(t, rep.Warehouse)
	require.False(t, rep.Warehouse.Configured)
	d := rep.Diagnostic
	require.Equal(t, "orders_etl › load (PostgresOperator), try 1, run "+testRun, d.Stage)
	require.NotNil(t, d.FailureTime)
	require.Contains(t, d.ErrorSummary, "customer_idd")
	require.GreaterOrEqual(t, len(d.Steps), 8)
	require.Contains(t, d.Classification, "SCHEMA_CHANGE")
	require.Contains(t, d.RecommendedResolution, "schema_migration")
	require.Len(t, rep.Specialists, 3)
	require.Equal(t, rep.Summary, got.Summary)
	require.Equal(t, incident.StateEscalated, got.State)

	// Every session posted its progress: started, steps, findings,
	// finished; the commander its spawns.
	kinds := map[string]map[incident.SessionEventKind]int{}
	for _, ev := range b.events(t, root.ID) {
		if kinds[ev.Agent] == nil {
			kinds[ev.Agent] = map[incident.SessionEventKind]int{}
		}
		kinds[ev.Agent][ev.Kind]++
	}
	require.Equal(t, 3, kinds[root.Agent][incident.SessionEventSpawned])
	for _, name := range []string{agents.LogAnalyzer, agents.QueryProfiler, agents.OwnerNotifier} {
		require.Equal(t, 1, kinds[name][incident.SessionEventStarted], name)
		require.Equal(t, 1, kinds[name][incident.SessionEventFinished], name)
		require.Positive(t, kinds[name][incident.SessionEventProgress]+kinds[name][incident.SessionEventFinding], name)
	}
}

// TestTimelineHangingSpecialistYieldsPartialReport: the query-profiler hangs
// (or ignores its context, or panics); the report comes on time without it,
// marked partial, saying which specialist is missing and why.
func TestTimelineHangingSpecialistYieldsPartialReport(t *testing.T) {
	t.Parallel()
	spec := investigate.NewQueryProfiler(nil, nil).Spec()
	stuck := make(chan struct{})
	t.Cleanup(func() { close(stuck) })
	tests := []struct {
		name   string
		engine investigate.Engine
		// timeout is the specialists' timeout (1s when zero).
		timeout time.Duration
		status  incident.SessionStatus
		// reason is a regular expression the missing specialist's reason
		// matches.
		reason string
	}{
		{name: "hangs until cut", engine: hanging(spec), status: incident.SessionTimedOut, reason: "query-profiler took longer than its 1s timeout"},
		{
			name: "hangs until the deadline", engine: hanging(spec), timeout: time.Hour, status: incident.SessionTimedOut,
			// The specialist's own cut and the compose job at the deadline
			// race; either way it is timed out at the deadline.
			reason: `query-profiler did not (finish|report) by the (investigation's )?deadline`,
		},
		{
			name: "ignores its context", status: incident.SessionTimedOut, reason: "query-profiler took longer than its 1s timeout",
			engine: engineFunc{spec: spec, run: func(context.Context, *investigate.Task) (*investigate.Result, error) {
				<-stuck
				return nil, errors.New("too late")
			}},
		},
		{
			name: "panics", status: incident.SessionFailed, reason: "engine panicked: warehouse driver exploded",
			engine: engineFunc{spec: spec, run: func(context.Context, *investigate.Task) (*investigate.Result, error) {
				panic("warehouse driver exploded")
			}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			deadline := 6 * time.Second
			timeout := cmp.Or(tt.timeout, time.Second)
			b := setup(t, func(o *bundleOpts) {
				o.opts = investigate.Options{Deadline: deadline, SpecialistTimeout: timeout, Grace: 200 * time.Millisecond}
				o.engines = map[string]investigate.Engine{agents.QueryProfiler: tt.engine}
			})
			t0 := time.Now()
			inc := b.fail(t, testRun, undefinedColumn)
			got := b.waitTriaged(t, inc.ID, deadline+5*time.Second)
			// On time: bounded by the deadline plus slack for job pickup on
			// a loaded machine (River's scheduler runs every 5s), against
			// engines that would otherwise run for an hour.
			require.Less(t, time.Since(t0), deadline+5*time.Second, "the report is on time")

			_, rep, kids := b.tree(t, inc)
			require.Equal(t, tt.status, kids[agents.QueryProfiler].Status)
			require.Equal(t, incident.SessionCompleted, kids[agents.LogAnalyzer].Status)
			require.Equal(t, incident.SessionCompleted, kids[agents.OwnerNotifier].Status)
			require.NotNil(t, rep)
			require.True(t, rep.Partial)
			require.Equal(t, incident.SessionPartial, rep.Status)
			require.Len(t, rep.Missing, 1)
			require.Equal(t, agents.QueryProfiler, rep.Missing[0].Agent)
			require.Equal(t, tt.status, rep.Missing[0].Status)
			require.Regexp(t, tt.reason, rep.Missing[0].Reason)
			require.Contains(t, got.Summary, "partial: query-profiler "+string(tt.status))
			require.NotNil(t, rep.RootCause, "the other specialists' findings are composed")
			require.Equal(t, classify.SchemaChange, rep.RootCause.Label)
			require.Contains(t, rep.NextAction, "this report lacks query-profiler")
		})
	}
}

// TestTimelineUserSpecialist drops in a fifth YAML file: the user's
// specialist runs as a fourth child, on a built-in engine.
func TestTimelineUserSpecialist(t *testing.T) {
	t.Parallel()
	b := setup(t, func(o *bundleOpts) {
		o.agentFiles = map[string]string{"escalation.yaml": `name: escalation-checker
role: specialist
engine: owner-notifier
instructions: Find who to page for tier-1 DAGs.
tools: [owners_lookup, lineage_impact]
timeout: 10s
`}
	})
	inc := b.fail(t, testRun, undefinedColumn)
	b.waitTriaged(t, inc.ID, 20*time.Second)
	_, rep, kids := b.tree(t, inc)
	require.Len(t, kids, 4)
	require.Equal(t, incident.SessionCompleted, kids["escalation-checker"].Status)
	require.Equal(t, "owner-notifier", result(t, kids["escalation-checker"]).Engine)
	require.Len(t, rep.Specialists, 4)
	require.False(t, rep.Partial)
}
