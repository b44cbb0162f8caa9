package ingest_test

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/medic-sh/medic/internal/config"
	"github.com/medic-sh/medic/internal/incident"
	"github.com/medic-sh/medic/internal/ingest"
	"github.com/medic-sh/medic/internal/store"
	"github.com/medic-sh/medic/internal/store/sqlite"
	"github.com/medic-sh/medic/internal/store/storetest"
)

type stormBundle struct {
	clock   *storetest.Clock
	store   *sqlite.Store
	service *ingest.Service
}

func stormSetup(t *testing.T) *stormBundle {
	t.Helper()
	b := &stormBundle{clock: storetest.NewClock(pollStart)}
	var err error
	b.store, err = sqlite.Open(context.Background(), sqlite.Options{Path: filepath.Join(t.TempDir(), "medic.db"), Now: b.clock.Now})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, b.store.Close()) })
	b.service = ingest.NewService(b.store, 24*time.Hour, slog.New(slog.DiscardHandler), nil,
		ingest.WithCoalesce(config.DefaultCoalesce()))
	return b
}

// refused is one of the ways drivers say the warehouse refused them.
func refused(i int) string {
	return []string{
		`psycopg2.OperationalError: connection to server at "warehouse.internal" (10.2.3.4), port 5432 failed: Connection refused`,
		`sqlalchemy.exc.OperationalError: (psycopg2.OperationalError) could not connect to server: Connection refused
	Is the server running on host "warehouse.internal" (10.2.3.4) and accepting TCP/IP connections on port 5432?`,
		`org.postgresql.util.PSQLException: Connection to warehouse.internal:5432 refused. Check that the hostname and port are correct.`,
	}[i%3]
}

func stormEvent(dag, run, task, exception string) *incident.FailureEvent {
	return &incident.FailureEvent{
		Key:      incident.Key{Instance: "main", DagID: dag, RunID: run, TaskID: task, TryNumber: 1},
		MapIndex: -1, Source: incident.SourceCallback, Exception: exception,
	}
}

func (b *stormBundle) record(t *testing.T, ev *incident.FailureEvent) *store.EventRecordResult {
	t.Helper()
	res, err := b.service.RecordEvent(context.Background(), ev)
	require.NoError(t, err)
	return res
}

func (b *stormBundle) incidents(t *testing.T) []*incident.Incident {
	t.Helper()
	res, err := b.store.IncidentList(context.Background(), &store.IncidentListParams{Limit: store.MaxListLimit})
	require.NoError(t, err)
	return res.Incidents
}

func TestStormOneCauseIsOneIncident(t *testing.T) {
	t.Parallel()
	b := stormSetup(t)
	var last *store.EventRecordResult
	for i := range 500 {
		dag := fmt.Sprintf("dag_%02d", i%40)
		run := fmt.Sprintf("scheduled__%d", i%7)
		last = b.record(t, stormEvent(dag, run, fmt.Sprintf("task_%d", i/40), refused(i)))
		b.clock.Advance(20 * time.Millisecond) // 500 failures in 10 s
	}
	incs := b.incidents(t)
	require.Len(t, incs, 1)
	require.Equal(t, 500, incs[0].EventCount)
	require.Equal(t, 500, last.Tasks)
	require.Equal(t, 40, last.DAGs)
	require.Contains(t, last.Cause, "Connection refused")
	tasks, dags, cause, err := b.store.IncidentGroupCounts(context.Background(), incs[0].ID)
	require.NoError(t, err)
	require.Equal(t, []any{500, 40, last.Cause}, []any{tasks, dags, cause})
	// The investigation waits for the debounce after the last failure.
	require.Equal(t, b.clock.Now().Add(-20*time.Millisecond).Add(config.DefaultCoalesce().Debounce), last.TriageAt)
}

func TestStormTwoCausesAreTwoIncidents(t *testing.T) {
	t.Parallel()
	b := stormSetup(t)
	opened := 0
	for i := range 200 {
		exc := refused(i)
		dag := fmt.Sprintf("load_%02d", i%20)
		if i%2 == 1 {
			exc = "Traceback (most recent call last):\n  File \"/opt/airflow/dags/transform.py\", line 88, in clean\n    row['customer_id']\nKeyError: 'customer_id'"
			dag = fmt.Sprintf("transform_%02d", i%20)
		}
		res := b.record(t, stormEvent(dag, "manual__1", fmt.Sprintf("t%d", i), exc))
		if res.IncidentCreated {
			opened++
			require.Less(t, i, 2, "each cause opens its incident with its first failure")
		}
		b.clock.Advance(50 * time.Millisecond)
	}
	incs := b.incidents(t)
	require.Len(t, incs, 2)
	require.Equal(t, 2, opened)
	for _, in := range incs {
		require.Equal(t, 100, in.EventCount)
	}
}

func TestStormTrickleAfterMaxAgeOpensNewIncident(t *testing.T) {
	t.Parallel()
	b := stormSetup(t)
	first := b.record(t, stormEvent("a", "r1", "t1", refused(0)))
	b.clock.Advance(30 * time.Minute)
	joined := b.record(t, stormEvent("b", "r1", "t1", refused(1)))
	require.Equal(t, first.Incident.ID, joined.Incident.ID)
	require.Equal(t, "host", joined.JoinedOn)
	b.clock.Advance(31 * time.Minute)
	late := b.record(t, stormEvent("c", "r1", "t1", refused(2)))
	require.True(t, late.IncidentCreated)
	require.NotEqual(t, first.Incident.ID, late.Incident.ID)
	// A retry of a run that joined the first incident still joins it: the
	// run key keeps the 24 h window.
	retry := stormEvent("b", "r1", "t1", refused(1))
	retry.TryNumber = 2
	res := b.record(t, retry)
	require.Equal(t, first.Incident.ID, res.Incident.ID)
	require.Equal(t, "run", res.JoinedOn)
}

func TestStormCoalescingOffGroupsByRunOnly(t *testing.T) {
	t.Parallel()
	b := stormSetup(t)
	off := config.DefaultCoalesce()
	off.Enabled = false
	b.service = ingest.NewService(b.store, 24*time.Hour, slog.New(slog.DiscardHandler), nil, ingest.WithCoalesce(off))
	first := b.record(t, stormEvent("a", "r1", "t1", refused(0)))
	require.True(t, first.IncidentCreated)
	require.True(t, first.TriageAt.IsZero(), "the investigation is not held back")
	require.True(t, b.record(t, stormEvent("b", "r1", "t1", refused(0))).IncidentCreated)
	require.Equal(t, first.Incident.ID, b.record(t, stormEvent("a", "r1", "t2", refused(0))).Incident.ID)
}

// TestStormSharedDatasetIsOneIncident: two tasks of different DAGs that
// fail with unrelated errors on the same dataset join one incident when the
// dataset key is on, and stay apart when it is off.
func TestStormSharedDatasetIsOneIncident(t *testing.T) {
	t.Parallel()
	const orders = "postgres://warehouse.internal:5432/analytics.public.orders"
	lineage := func(dag, exception string, datasets ...string) *incident.FailureEvent {
		ev := stormEvent(dag, "scheduled__1", "load", exception)
		ev.Source = incident.SourceOpenLineage
		ev.Datasets = datasets
		return ev
	}
	tests := []struct {
		name     string
		keys     []string
		joined   bool
		joinedOn string
	}{
		{"dataset key on", []string{config.CoalesceKeyRun, config.CoalesceKeyDataset}, true, config.CoalesceKeyDataset},
		{"dataset key off", []string{config.CoalesceKeyRun, config.CoalesceKeySignature, config.CoalesceKeyHost}, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := stormSetup(t)
			c := config.DefaultCoalesce()
			c.Keys = tt.keys
			b.service = ingest.NewService(b.store, 24*time.Hour, slog.New(slog.DiscardHandler), nil, ingest.WithCoalesce(c))
			first := b.record(t, lineage("orders_etl", "psycopg2.errors.UniqueViolation: duplicate key value violates unique constraint \"orders_pkey\"",
				"s3://lake/raw/orders", orders))
			require.True(t, first.IncidentCreated)
			b.clock.Advance(2 * time.Second)
			second := b.record(t, lineage("revenue_daily", "psycopg2.errors.LockNotAvailable: canceling statement due to lock timeout", orders))
			require.Equal(t, tt.joined, first.Incident.ID == second.Incident.ID)
			require.Equal(t, tt.joinedOn, second.JoinedOn)
			if tt.joined {
				require.Equal(t, []any{2, 2}, []any{second.Tasks, second.DAGs})
				require.Len(t, b.incidents(t), 1)
			} else {
				require.Len(t, b.incidents(t), 2)
			}
			events, err := b.store.EventListByIncident(context.Background(), second.Incident.ID)
			require.NoError(t, err)
			require.Equal(t, []string{orders}, events[len(events)-1].Datasets, "the datasets are stored with the event")
		})
	}
}
