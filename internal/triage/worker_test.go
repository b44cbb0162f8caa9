package triage_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"github.com/stretchr/testify/require"

	"github.com/medic-sh/medic/internal/airflow/airflowsim"
	"github.com/medic-sh/medic/internal/incident"
	"github.com/medic-sh/medic/internal/store"
	"github.com/medic-sh/medic/internal/triage"
)

func triageJob(inc *incident.Incident, attempt, maxAttempts int) *river.Job[store.TriageJobArgs] {
	return &river.Job[store.TriageJobArgs]{
		JobRow: &rivertype.JobRow{Attempt: attempt, MaxAttempts: maxAttempts},
		Args:   store.TriageJobArgs{IncidentID: inc.ID, SessionID: inc.TriageSessionID},
	}
}

func TestWorkerRetriesUntilTheLastAttempt(t *testing.T) {
	t.Parallel()
	b := setup(t, 2)
	inc := b.failRun(t, "orders_etl", testRun, undefinedColumn)
	b.sim.SetFault(airflowsim.Fault{Status: http.StatusServiceUnavailable})
	w := &triage.Worker{Runner: b.runner}
	ctx := context.Background()

	for attempt := 1; attempt < 3; attempt++ {
		err := w.Work(ctx, triageJob(inc, attempt, 3))
		require.ErrorIs(t, err, triage.ErrRetryLater, "attempt %d", attempt)
		require.Nil(t, b.incident(t, inc.ID).TriagedAt)
	}
	require.NoError(t, w.Work(ctx, triageJob(inc, 3, 3)), "the last attempt finishes partial")
	require.Equal(t, incident.SessionPartial, b.session(t, inc.TriageSessionID).Status)
	require.Equal(t, incident.StateEscalated, b.incident(t, inc.ID).State)
}

func TestWorkerCancelsJobsForMissingIncidents(t *testing.T) {
	t.Parallel()
	b := setup(t, 2)
	w := &triage.Worker{Runner: b.runner}
	err := w.Work(context.Background(), triageJob(&incident.Incident{ID: "inc_gone", TriageSessionID: "ses_gone"}, 1, 5))
	var cancel *rivertype.JobCancelError
	require.ErrorAs(t, err, &cancel, "retrying cannot bring the incident back")
	require.ErrorIs(t, err, store.ErrNotFound)
}

func TestWorkerNextRetryBacksOff(t *testing.T) {
	t.Parallel()
	w := &triage.Worker{}
	delay := func(attempt int) time.Duration {
		return time.Until(w.NextRetry(triageJob(&incident.Incident{}, attempt, 10)))
	}
	require.InDelta(t, 2*time.Second, delay(1), float64(time.Second))
	require.InDelta(t, 8*time.Second, delay(3), float64(time.Second))
	require.InDelta(t, 256*time.Second, delay(8), float64(time.Second))
	require.InDelta(t, 256*time.Second, delay(20), float64(time.Second), "capped")
}
