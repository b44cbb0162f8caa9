package ingest_test

import (
	"context"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/medic-sh/medic/internal/incident"
	"github.com/medic-sh/medic/internal/ingest"
	"github.com/medic-sh/medic/internal/store"
	"github.com/medic-sh/medic/internal/store/sqlite"
	"github.com/medic-sh/medic/internal/store/storetest"
)

type serviceBundle struct {
	clock   *storetest.Clock
	store   *sqlite.Store
	reg     *prometheus.Registry
	service *ingest.Service
}

func serviceSetup(t *testing.T, window time.Duration) *serviceBundle {
	t.Helper()
	b := &serviceBundle{clock: storetest.NewClock(pollStart), reg: prometheus.NewRegistry()}
	var err error
	b.store, err = sqlite.Open(context.Background(), sqlite.Options{Path: filepath.Join(t.TempDir(), "medic.db"), Now: b.clock.Now})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, b.store.Close()) })
	b.service = ingest.NewService(b.store, window, slog.New(slog.DiscardHandler), b.reg)
	return b
}

// counts reads medic_failure_events_total by "source/result".
func (b *serviceBundle) counts(t *testing.T) map[string]float64 {
	t.Helper()
	families, err := b.reg.Gather()
	require.NoError(t, err)
	out := map[string]float64{}
	for _, mf := range families {
		if mf.GetName() != "medic_failure_events_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			out[labels["source"]+"/"+labels["result"]] = m.GetCounter().GetValue()
		}
	}
	return out
}

func callback(run, task string, try int) *incident.FailureEvent {
	return &incident.FailureEvent{
		Key:      incident.Key{Instance: "main", DagID: "orders_etl", RunID: run, TaskID: task, TryNumber: try},
		MapIndex: -1, Source: incident.SourceCallback,
	}
}

func TestRecordEventRedacts(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name             string
		exception, url   string
		secrets          []string
		wantExc, wantURL []string // placeholders that must appear
	}{
		{
			name:      "connection string and password",
			exception: `psycopg2.OperationalError: connection to postgresql://etl:hunter2@db.internal:5432/wh failed; password=Tr0ub4dor`,
			url:       "https://airflow.example.com/log?dag_id=orders_etl&token=abcd1234secret",
			secrets:   []string{"hunter2", "Tr0ub4dor", "abcd1234secret"},
			wantExc:   []string{"postgresql://etl:[REDACTED:", "]@db.internal", "password=[REDACTED:"},
			wantURL:   []string{"dag_id=orders_etl", "token=[REDACTED:"},
		},
		{
			name:      "cloud keys and a basic-auth log url",
			exception: "botocore.exceptions.ClientError: AccessDenied for AKIAIOSFODNN7EXAMPLE",
			url:       "https://admin:s3cretpw@airflow.example.com/log",
			secrets:   []string{"AKIAIOSFODNN7EXAMPLE", "s3cretpw"},
			wantExc:   []string{"AccessDenied for [REDACTED:"},
			wantURL:   []string{"https://admin:[REDACTED:", "]@airflow.example.com/log"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := serviceSetup(t, 24*time.Hour)
			ctx := context.Background()
			ev := callback("manual__1", "load", 1)
			ev.Exception, ev.LogURL = tt.exception, tt.url

			res, err := b.service.RecordEvent(ctx, ev)
			require.NoError(t, err)
			require.True(t, res.IncidentCreated)
			require.Equal(t, tt.exception, ev.Exception, "the caller's event is not changed")

			stored, err := b.store.EventListByIncident(ctx, res.Incident.ID)
			require.NoError(t, err)
			require.Len(t, stored, 1)
			for _, s := range tt.secrets {
				require.NotContains(t, stored[0].Exception, s)
				require.NotContains(t, stored[0].LogURL, s)
				require.NotContains(t, res.Event.Exception, s)
			}
			for _, p := range tt.wantExc {
				require.Contains(t, stored[0].Exception, p)
			}
			for _, p := range tt.wantURL {
				require.Contains(t, stored[0].LogURL, p)
			}
		})
	}
}

func TestRecordEventRedactsWhatADuplicateAdds(t *testing.T) {
	t.Parallel()
	b := serviceSetup(t, 24*time.Hour)
	ctx := context.Background()
	poll := callback("manual__1", "load", 1)
	poll.Source = incident.SourcePoller
	_, err := b.service.RecordEvent(ctx, poll)
	require.NoError(t, err)

	cb := callback("manual__1", "load", 1)
	cb.Exception = "OperationalError: postgresql://etl:hunter2@db/wh"
	res, err := b.service.RecordEvent(ctx, cb)
	require.NoError(t, err)
	require.True(t, res.Duplicate)
	stored, err := b.store.EventListByIncident(ctx, res.Incident.ID)
	require.NoError(t, err)
	require.Len(t, stored, 1)
	require.NotContains(t, stored[0].Exception, "hunter2", "the exception the callback adds to the poller's event is redacted too")
	require.Contains(t, stored[0].Exception, "OperationalError: postgresql://etl:[REDACTED:")
	require.Equal(t, 2, stored[0].Deliveries)
}

func TestRecordEventCounts(t *testing.T) {
	t.Parallel()
	b := serviceSetup(t, 24*time.Hour)
	ctx := context.Background()
	require.Empty(t, b.counts(t))

	_, err := b.service.RecordEvent(ctx, callback("manual__1", "load", 1))
	require.NoError(t, err)
	_, err = b.service.RecordEvent(ctx, callback("manual__1", "load", 1))
	require.NoError(t, err)
	poll := callback("manual__1", "report", 1)
	poll.Source = incident.SourcePoller
	_, err = b.service.RecordEvent(ctx, poll)
	require.NoError(t, err)

	bad := callback("manual__1", "load", 0)
	_, err = b.service.RecordEvent(ctx, bad)
	require.ErrorIs(t, err, incident.ErrInvalid)
	require.ErrorContains(t, err, "record failure main|orders_etl|manual__1|load|0")
	noDag := callback("manual__1", "load", 1)
	noDag.DagID = ""
	_, err = b.service.RecordEvent(ctx, noDag)
	require.ErrorIs(t, err, incident.ErrInvalid)

	require.Equal(t, map[string]float64{
		"callback/new": 1, "callback/duplicate": 1, "callback/rejected": 2, "poller/new": 1,
	}, b.counts(t))

	list, err := b.store.IncidentList(ctx, &store.IncidentListParams{})
	require.NoError(t, err)
	require.Equal(t, 1, list.Total, "rejected events open nothing")
}

func TestNewServiceWithoutRegistry(t *testing.T) {
	t.Parallel()
	b := serviceSetup(t, time.Hour)
	svc := ingest.NewService(b.store, time.Hour, slog.New(slog.DiscardHandler), nil)
	res, err := svc.RecordEvent(context.Background(), callback("manual__1", "load", 1))
	require.NoError(t, err)
	require.True(t, res.IncidentCreated)
}

func TestRecordEventAppliesTheWindow(t *testing.T) {
	t.Parallel()
	b := serviceSetup(t, time.Hour)
	ctx := context.Background()
	first, err := b.service.RecordEvent(ctx, callback("manual__1", "load", 1))
	require.NoError(t, err)
	b.clock.Advance(30 * time.Minute)
	retry, err := b.service.RecordEvent(ctx, callback("manual__1", "load", 2))
	require.NoError(t, err)
	require.False(t, retry.IncidentCreated)
	require.Equal(t, first.Incident.ID, retry.Incident.ID, "a retry within the window joins the incident")
	b.clock.Advance(time.Hour)
	late, err := b.service.RecordEvent(ctx, callback("manual__1", "load", 3))
	require.NoError(t, err)
	require.True(t, late.IncidentCreated, "after the window a failure of the same run opens a new incident")
}

func TestRequestTriageAppliesTheWindow(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		after   time.Duration
		window  time.Duration // in the request; 0 takes the service's
		created bool
	}{
		{name: "inside the service window", after: 30 * time.Minute, created: false},
		{name: "after the service window", after: 2 * time.Hour, created: true},
		{name: "a wider window in the request", after: 2 * time.Hour, window: 24 * time.Hour, created: false},
		{name: "a narrower window in the request", after: 30 * time.Minute, window: 10 * time.Minute, created: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := serviceSetup(t, time.Hour)
			ctx := context.Background()
			first, err := b.service.RequestTriage(ctx, &store.TriageRequestParams{Instance: "main", DagID: "orders_etl", RunID: "manual__1", Actor: "alice"})
			require.NoError(t, err)
			require.True(t, first.Created)
			require.Equal(t, first.Incident.TriageSessionID, first.Session.ID)

			b.clock.Advance(tt.after)
			p := &store.TriageRequestParams{Instance: "main", DagID: "orders_etl", RunID: "manual__1", Actor: "bob", Window: tt.window}
			again, err := b.service.RequestTriage(ctx, p)
			require.NoError(t, err)
			require.Equal(t, tt.window, p.Window, "the caller's params are not changed")
			require.Equal(t, tt.created, again.Created)
			if tt.created {
				require.NotEqual(t, first.Incident.ID, again.Incident.ID)
			} else {
				require.Equal(t, first.Incident.ID, again.Incident.ID)
				require.Equal(t, first.Session.ID, again.Session.ID)
			}
		})
	}
}

func TestRequestTriageRejectsInvalid(t *testing.T) {
	t.Parallel()
	b := serviceSetup(t, time.Hour)
	_, err := b.service.RequestTriage(context.Background(), &store.TriageRequestParams{Instance: "main", RunID: "manual__1"})
	require.ErrorIs(t, err, incident.ErrInvalid)
	require.ErrorContains(t, err, "request triage of /manual__1")
}
