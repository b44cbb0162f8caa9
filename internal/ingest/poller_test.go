package ingest_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/medic-sh/medic/internal/airflow"
	"github.com/medic-sh/medic/internal/airflow/airflowsim"
	"github.com/medic-sh/medic/internal/incident"
	"github.com/medic-sh/medic/internal/ingest"
	"github.com/medic-sh/medic/internal/store"
	"github.com/medic-sh/medic/internal/store/sqlite"
	"github.com/medic-sh/medic/internal/store/storetest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// pollStart is the shared clock's time when a poller test begins.
var pollStart = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

type pollBundle struct {
	version int
	clock   *storetest.Clock
	sim     *airflowsim.Server
	client  *airflow.Client
	dbPath  string
	store   *sqlite.Store
	service *ingest.Service
	arrived atomic.Int64 // requests that reached the stand-in

	closeOnce sync.Once
	callbacks atomic.Int64 // failures the stand-in reported as callbacks
}

func pollSetup(t *testing.T, version int) *pollBundle {
	t.Helper()
	b := &pollBundle{version: version, clock: storetest.NewClock(pollStart)}
	b.sim = airflowsim.New(airflowsim.Options{Version: version, Username: "medic", Password: "pw", Clock: b.clock.Now})
	b.sim.OnTaskFailed(func(airflowsim.TaskFailure) { b.callbacks.Add(1) })
	require.NoError(t, b.sim.AddDAG(airflowsim.DAG{
		ID: "orders_etl", Owners: []string{"data-eng"},
		Tasks: []airflowsim.Task{
			{ID: "extract", Downstream: []string{"load"}},
			{ID: "load", Downstream: []string{"report"}},
			{ID: "report"},
		},
	}))
	require.NoError(t, b.sim.AddDAG(airflowsim.DAG{
		ID: "finance",
		Tasks: []airflowsim.Task{
			{ID: "build_report", Downstream: []string{"notify"}},
			{ID: "export_ledger", Downstream: []string{"notify"}},
			{ID: "notify"},
		},
	}))
	srv := httptest.NewServer(drainBody(b.sim, &b.arrived))
	t.Cleanup(srv.Close)
	transport := &http.Transport{}
	t.Cleanup(transport.CloseIdleConnections)
	var err error
	b.client, err = airflow.New(airflow.Options{
		Name: "main", BaseURL: srv.URL, Version: fmt.Sprint(version), Username: "medic", Password: "pw",
		Timeout: 5 * time.Second, MaxRetries: -1, RateLimit: -1, HTTPClient: &http.Client{Transport: transport}, Clock: b.clock.Now,
	})
	require.NoError(t, err)
	b.dbPath = filepath.Join(t.TempDir(), "medic.db")
	b.store, err = sqlite.Open(context.Background(), sqlite.Options{Path: b.dbPath, Now: b.clock.Now})
	require.NoError(t, err)
	t.Cleanup(b.closeStore)
	b.service = ingest.NewService(b.store, 24*time.Hour, slog.New(slog.DiscardHandler), nil)
	return b
}

func (b *pollBundle) closeStore() {
	b.closeOnce.Do(func() { _ = b.store.Close() })
}

// drainBody reads a request's body before h sees it, so net/http notices a
// client that gives up on a hung request (the stand-in's Hang fault waits for
// the request's context); it also counts arrivals, which the stand-in only
// records once answered.
func drainBody(h http.Handler, arrived *atomic.Int64) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived.Add(1)
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		h.ServeHTTP(w, r)
	})
}

func (b *pollBundle) poller(rec ingest.Recorder, opt ...func(*ingest.PollerOptions)) *ingest.Poller {
	opts := ingest.PollerOptions{
		Instance: "main", Interval: time.Hour, Lookback: 24 * time.Hour,
		Logger: slog.New(slog.DiscardHandler), Now: b.clock.Now,
	}
	for _, f := range opt {
		f(&opts)
	}
	if rec == nil {
		rec = b.service
	}
	return ingest.NewPoller(b.client, rec, b.store, opts)
}

// startRun runs a DAG run that ends at the clock's now.
func (b *pollBundle) startRun(t *testing.T, dagID, runID string, outcomes map[string][]airflowsim.Outcome) *airflowsim.DagRun {
	t.Helper()
	r, err := b.sim.StartRun(dagID, runID, b.clock.Now().Add(-time.Hour), outcomes)
	require.NoError(t, err)
	return r
}

func (b *pollBundle) mark(t *testing.T) (time.Time, bool) {
	t.Helper()
	m, ok, err := b.store.PollerMarkGet(context.Background(), "main")
	require.NoError(t, err)
	return m, ok
}

// events returns every stored failure event, by task "dag/run/task".
func (b *pollBundle) events(t *testing.T) map[string]*incident.FailureEvent {
	t.Helper()
	ctx := context.Background()
	list, err := b.store.IncidentList(ctx, &store.IncidentListParams{Limit: store.MaxListLimit})
	require.NoError(t, err)
	out := map[string]*incident.FailureEvent{}
	for _, inc := range list.Incidents {
		evs, err := b.store.EventListByIncident(ctx, inc.ID)
		require.NoError(t, err)
		for _, e := range evs {
			out[e.DagID+"/"+e.RunID+"/"+e.TaskID] = e
		}
	}
	return out
}

func (b *pollBundle) incidents(t *testing.T) int {
	t.Helper()
	list, err := b.store.IncidentList(context.Background(), &store.IncidentListParams{})
	require.NoError(t, err)
	return list.Total
}

var (
	failLoad = map[string][]airflowsim.Outcome{"load": {airflowsim.Failure("")}}
	succeed  = map[string][]airflowsim.Outcome{}
)

func versionName(v int) string { return fmt.Sprintf("airflow%d", v) }

func TestPollFirstPollReachesBackLookback(t *testing.T) {
	t.Parallel()
	for _, v := range []int{2, 3} {
		t.Run(versionName(v), func(t *testing.T) {
			t.Parallel()
			b := pollSetup(t, v)
			ctx := context.Background()
			b.startRun(t, "orders_etl", "scheduled__too_old", failLoad) // ends 30 h before the poll
			b.clock.Advance(28 * time.Hour)
			recent := b.startRun(t, "orders_etl", "scheduled__recent", failLoad)
			b.clock.Advance(time.Hour)
			b.startRun(t, "orders_etl", "scheduled__ok", succeed)
			two := b.startRun(t, "finance", "manual__two_failures", map[string][]airflowsim.Outcome{
				"build_report": {airflowsim.Failure("")}, "export_ledger": {airflowsim.Failure("")},
			})
			b.clock.Advance(time.Hour)
			_, ok := b.mark(t)
			require.False(t, ok)

			n, err := b.poller(nil).PollOnce(ctx)
			require.NoError(t, err)
			require.Equal(t, 3, n)

			evs := b.events(t)
			require.Len(t, evs, 3, "only failed tasks of failed runs in the lookback: %v", evs)
			load := evs["orders_etl/scheduled__recent/load"]
			require.NotNil(t, load)
			require.Equal(t, incident.SourcePoller, load.Source)
			require.Equal(t, incident.Key{Instance: "main", DagID: "orders_etl", RunID: "scheduled__recent", TaskID: "load", TryNumber: 1}, load.Key)
			require.Equal(t, recent.TaskInstance("load").EndDate, load.OccurredAt.UTC())
			require.NotNil(t, load.LogicalDate)
			require.Equal(t, recent.LogicalDate, load.LogicalDate.UTC())
			require.Equal(t, 1, load.Deliveries)
			require.Contains(t, evs, "finance/manual__two_failures/build_report")
			require.Contains(t, evs, "finance/manual__two_failures/export_ledger")
			require.NotContains(t, evs, "orders_etl/scheduled__recent/report", "upstream_failed is not a failure of its own")
			require.Equal(t, 2, b.incidents(t), "one incident per failed run")

			mark, ok := b.mark(t)
			require.True(t, ok)
			require.Equal(t, two.EndDate, mark.UTC(), "the mark is the newest failed run's end")

			b.closeStore()
			reopened, err := sqlite.Open(ctx, sqlite.Options{Path: b.dbPath})
			require.NoError(t, err)
			defer func() { require.NoError(t, reopened.Close()) }()
			kept, ok, err := reopened.PollerMarkGet(ctx, "main")
			require.NoError(t, err)
			require.True(t, ok, "the mark survives a restart")
			require.Equal(t, mark, kept)
		})
	}
}

func TestPollAgainRecordsNothingNew(t *testing.T) {
	t.Parallel()
	for _, v := range []int{2, 3} {
		t.Run(versionName(v), func(t *testing.T) {
			t.Parallel()
			b := pollSetup(t, v)
			ctx := context.Background()
			// build_report fails early while export_ledger keeps the run going
			// for ten more minutes: the failure ends well before its run.
			b.startRun(t, "finance", "manual__long", map[string][]airflowsim.Outcome{
				"build_report":  {{State: airflowsim.StateFailed, Duration: time.Minute}},
				"export_ledger": {{State: airflowsim.StateSuccess, Duration: 11 * time.Minute}},
			})
			b.startRun(t, "orders_etl", "scheduled__1", failLoad)
			p := b.poller(nil)

			n, err := p.PollOnce(ctx)
			require.NoError(t, err)
			require.Equal(t, 2, n)
			mark, _ := b.mark(t)

			for range 3 {
				b.clock.Advance(time.Minute)
				n, err = p.PollOnce(ctx)
				require.NoError(t, err)
				require.Zero(t, n)
			}
			for key, e := range b.events(t) {
				require.Equal(t, 1, e.Deliveries, "%s: re-reading the overlap is not another delivery", key)
			}
			again, _ := b.mark(t)
			require.Equal(t, mark, again)

			b.clock.Advance(time.Hour)
			newer := b.startRun(t, "orders_etl", "scheduled__2", failLoad)
			n, err = p.PollOnce(ctx)
			require.NoError(t, err)
			require.Equal(t, 1, n, "only the new failure")
			evs := b.events(t)
			require.Len(t, evs, 3)
			for key, e := range evs {
				require.Equal(t, 1, e.Deliveries, key)
			}
			moved, _ := b.mark(t)
			require.Equal(t, newer.EndDate, moved.UTC())

			// A restarted medic has no memory: the overlap it re-reads is
			// deduplicated on identity, so nothing is new.
			n, err = b.poller(nil).PollOnce(ctx)
			require.NoError(t, err)
			require.Zero(t, n)
			require.Len(t, b.events(t), 3)
		})
	}
}

func TestPollFindsSilentKills(t *testing.T) {
	t.Parallel()
	for _, v := range []int{2, 3} {
		t.Run(versionName(v), func(t *testing.T) {
			t.Parallel()
			b := pollSetup(t, v)
			b.startRun(t, "orders_etl", "scheduled__oom", map[string][]airflowsim.Outcome{"load": {{
				State: airflowsim.StateFailed, Log: airflowsim.LogOOMGrowth(48_000_000), ExitCode: -9, SilentKill: true,
			}}})
			require.Zero(t, b.callbacks.Load(), "a SIGKILLed task sends no callback")

			n, err := b.poller(nil).PollOnce(context.Background())
			require.NoError(t, err)
			require.Equal(t, 1, n)
			e := b.events(t)["orders_etl/scheduled__oom/load"]
			require.NotNil(t, e, "the poller sees what callbacks miss")
			require.Equal(t, incident.SourcePoller, e.Source)
		})
	}
}

// listPath is the path the client lists failed runs on.
func listPath(version int) (method, path string) {
	if version == 3 {
		return http.MethodGet, "/api/v2/dags/~/dagRuns"
	}
	return http.MethodPost, "/api/v1/dags/~/dagRuns/list"
}

func TestPollListingFailsKeepsTheMark(t *testing.T) {
	t.Parallel()
	for _, v := range []int{2, 3} {
		t.Run(versionName(v), func(t *testing.T) {
			t.Parallel()
			b := pollSetup(t, v)
			ctx := context.Background()
			before := pollStart.Add(-3 * time.Hour)
			require.NoError(t, b.store.PollerMarkSet(ctx, "main", before))
			b.startRun(t, "orders_etl", "scheduled__1", failLoad)
			method, path := listPath(v)
			b.sim.SetFault(airflowsim.Fault{Method: method, PathPrefix: path, Status: http.StatusInternalServerError})
			p := b.poller(nil)

			n, err := p.PollOnce(ctx)
			require.Error(t, err)
			var ae *airflow.APIError
			require.ErrorAs(t, err, &ae)
			require.Equal(t, http.StatusInternalServerError, ae.Status)
			require.ErrorContains(t, err, "poll main")
			require.Zero(t, n)
			mark, _ := b.mark(t)
			require.Equal(t, before, mark, "a failed poll does not move the mark")
			require.Empty(t, b.events(t))
			st := p.State()
			require.Equal(t, "main", st.Instance)
			require.False(t, st.LastPoll.IsZero())
			require.True(t, st.LastSuccess.IsZero(), "no poll went well yet")
			require.Contains(t, st.LastError, "500")

			b.sim.ClearFaults()
			n, err = p.PollOnce(ctx)
			require.NoError(t, err)
			require.Equal(t, 1, n, "the next poll catches up")
			st = p.State()
			require.Empty(t, st.LastError)
			require.Equal(t, st.LastPoll, st.LastSuccess)
			require.Equal(t, 1, st.Recorded)
			reg := prometheus.NewRegistry()
			reg.MustRegister(ingest.NewPollerCollector([]*ingest.Poller{p}))
			mfs, err := reg.Gather()
			require.NoError(t, err)
			got := map[string]float64{}
			for _, mf := range mfs {
				got[mf.GetName()] = mf.GetMetric()[0].GetGauge().GetValue()
			}
			require.InDelta(t, 1, got["medic_poller_up"], 0)
			require.InDelta(t, float64(st.LastSuccess.Unix()), got["medic_poller_last_success_timestamp_seconds"], 1)
		})
	}
}

func TestPollOneRunFailingIsRetried(t *testing.T) {
	t.Parallel()
	for _, v := range []int{2, 3} {
		t.Run(versionName(v), func(t *testing.T) {
			t.Parallel()
			b := pollSetup(t, v)
			ctx := context.Background()
			older := b.startRun(t, "orders_etl", "scheduled__older", failLoad)
			b.clock.Advance(time.Hour)
			newer := b.startRun(t, "orders_etl", "scheduled__newer", failLoad)
			b.clock.Advance(time.Minute)
			b.sim.SetFault(airflowsim.Fault{
				PathPrefix: b.sim.APIPrefix() + "/dags/orders_etl/dagRuns/scheduled__older/taskInstances",
				Status:     http.StatusBadGateway, Count: 1,
			})
			p := b.poller(nil)

			n, err := p.PollOnce(ctx)
			require.ErrorContains(t, err, "list task instances of orders_etl/scheduled__older")
			require.Equal(t, 1, n, "the other run's failure is recorded")
			_, ok := b.mark(t)
			require.False(t, ok, "the mark does not move past a run that was not read")
			require.Len(t, b.events(t), 1)

			n, err = p.PollOnce(ctx)
			require.NoError(t, err)
			require.Equal(t, 1, n, "the skipped run is read on the next poll")
			evs := b.events(t)
			require.Len(t, evs, 2)
			require.Equal(t, 1, evs["orders_etl/scheduled__newer/load"].Deliveries)
			mark, ok := b.mark(t)
			require.True(t, ok)
			require.Equal(t, newer.EndDate, mark.UTC())
			require.True(t, mark.After(older.EndDate))
		})
	}
}

// flakyRecorder fails the first failures calls, then records through rec.
type flakyRecorder struct {
	rec      ingest.Recorder
	failures atomic.Int64
	calls    atomic.Int64
}

var errStoreDown = errors.New("store is down")

func (f *flakyRecorder) RecordEvent(ctx context.Context, ev *incident.FailureEvent) (*store.EventRecordResult, error) {
	f.calls.Add(1)
	if f.failures.Add(-1) >= 0 {
		return nil, errStoreDown
	}
	return f.rec.RecordEvent(ctx, ev)
}

func TestPollRecorderFailureIsRetried(t *testing.T) {
	t.Parallel()
	b := pollSetup(t, 3)
	ctx := context.Background()
	b.startRun(t, "orders_etl", "scheduled__1", failLoad)
	rec := &flakyRecorder{rec: b.service}
	rec.failures.Store(1)
	p := b.poller(rec)

	n, err := p.PollOnce(ctx)
	require.ErrorIs(t, err, errStoreDown)
	require.Zero(t, n)
	_, ok := b.mark(t)
	require.False(t, ok)

	n, err = p.PollOnce(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, n, "a failure the store refused is not remembered as seen")
	require.Equal(t, int64(2), rec.calls.Load())
}

// countingSource counts the polls that reach Airflow.
type countingSource struct {
	ingest.PollSource
	lists atomic.Int64
}

func (c *countingSource) ListFailedDagRuns(ctx context.Context, since time.Time) ([]airflow.DagRun, error) {
	c.lists.Add(1)
	return c.PollSource.ListFailedDagRuns(ctx, since)
}

func TestPollerStartStop(t *testing.T) {
	t.Parallel()
	b := pollSetup(t, 2)
	b.startRun(t, "orders_etl", "scheduled__1", failLoad)
	src := &countingSource{PollSource: b.client}
	p := ingest.NewPoller(src, b.service, b.store, ingest.PollerOptions{
		Instance: "main", Interval: 10 * time.Millisecond, Lookback: 24 * time.Hour,
		Logger: slog.New(slog.DiscardHandler), Now: b.clock.Now,
	})
	ctx, cancel := context.WithCancel(context.Background())

	p.Stop() // before Start: nothing to stop
	require.NoError(t, p.Start(ctx))
	require.ErrorContains(t, p.Start(ctx), "already started")
	cancel() // the poller outlives the context that started it; Stop ends it

	require.Eventually(t, func() bool { return len(b.events(t)) == 1 }, 5*time.Second, 5*time.Millisecond, "the first poll runs at start")
	polls := src.lists.Load
	seen := polls()
	require.Eventually(t, func() bool { return polls() >= seen+4 }, 5*time.Second, 5*time.Millisecond, "it polls every interval")

	p.Stop()
	p.Stop() // idempotent
	stopped := polls()
	require.Never(t, func() bool { return polls() != stopped }, 100*time.Millisecond, 10*time.Millisecond, "no poll after Stop")
	require.Equal(t, 1, b.events(t)["orders_etl/scheduled__1/load"].Deliveries)
}

func TestPollerStopCancelsAPollInFlight(t *testing.T) {
	t.Parallel()
	for _, v := range []int{2, 3} {
		t.Run(versionName(v), func(t *testing.T) {
			t.Parallel()
			b := pollSetup(t, v)
			b.sim.SetFault(airflowsim.Fault{Hang: true})
			p := b.poller(nil)
			require.NoError(t, p.Start(context.Background()))
			require.Eventually(t, func() bool { return b.arrived.Load() > 0 }, 5*time.Second, 5*time.Millisecond)

			done := make(chan struct{})
			go func() { p.Stop(); close(done) }()
			select {
			case <-done:
			case <-time.After(5 * time.Second):
				t.Fatal("Stop waited for a hung Airflow instead of cancelling the poll")
			}
			_, ok := b.mark(t)
			require.False(t, ok)
		})
	}
}

func TestPollerStartRefusesZeroInterval(t *testing.T) {
	t.Parallel()
	b := pollSetup(t, 2)
	p := b.poller(nil, func(o *ingest.PollerOptions) { o.Interval = 0 })
	require.ErrorContains(t, p.Start(context.Background()), "interval")
	p.Stop()
}
