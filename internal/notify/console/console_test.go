package console_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/medic-sh/medic/internal/incident"
	"github.com/medic-sh/medic/internal/notify"
	"github.com/medic-sh/medic/internal/notify/console"
	"github.com/medic-sh/medic/internal/report"
	"github.com/medic-sh/medic/internal/triage"
)

func newReport(t *testing.T, id string) *report.Report {
	t.Helper()
	at := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	data, err := json.Marshal(triage.LogExcerpt{
		TaskID: "load", TryNumber: 1, FirstLine: 3, TailLines: 9,
		Lines:    []string{"Traceback (most recent call last):", "KeyError: 'currency_code'"},
		Headline: "KeyError: 'currency_code'",
	})
	require.NoError(t, err)
	inc := &incident.Incident{
		ID: id, State: incident.StateEscalated, Severity: incident.SeverityHigh, Title: "finance.export_ledger failed (run manual__1)",
		Instance: "main", DagID: "finance", RunID: "manual__1", FirstTaskID: "export_ledger", EventCount: 1,
		Owner: "finance-data", Summary: "finance.export_ledger failed: KeyError: 'currency_code'", CreatedAt: at, UpdatedAt: at,
	}
	return report.New(inc, nil, []*incident.Finding{
		{Step: triage.StepLogExcerpt, Data: data},
		{Step: triage.StepFrequency, Error: "airflow main: 503 Service Unavailable"},
	}, "https://medic.example.com")
}

// chunkWriter records each Write separately. It is not safe for concurrent
// use, so the race detector catches a notifier that writes concurrently.
type chunkWriter struct{ chunks []string }

func (w *chunkWriter) Write(p []byte) (int, error) {
	w.chunks = append(w.chunks, string(p))
	return len(p), nil
}

func TestNotifyWritesTheTextReport(t *testing.T) {
	t.Parallel()
	w := &chunkWriter{}
	n := console.New(w)
	require.Equal(t, "console", n.Name())
	r := newReport(t, "inc_0001")

	require.NoError(t, n.Notify(context.Background(), notify.Update{Report: r, Reason: notify.ReasonTriaged}))

	var want strings.Builder
	require.NoError(t, report.WriteText(&want, r))
	require.Equal(t, []string{want.String()}, w.chunks, "one write holding the whole report")
	out := w.chunks[0]
	for _, s := range []string{
		"INCIDENT inc_0001  [HIGH · escalated]",
		"finance.export_ledger failed: KeyError: 'currency_code'",
		"owner: finance-data",
		"    │ KeyError: 'currency_code'",
		"  ! frequency: airflow main: 503 Service Unavailable",
		"https://medic.example.com/api/v1/incidents/inc_0001",
	} {
		require.Contains(t, out, s)
	}
}

func TestNotifyConcurrentReportsDoNotInterleave(t *testing.T) {
	t.Parallel()
	w := &chunkWriter{}
	n := console.New(w)
	var wg sync.WaitGroup
	for i := range 8 {
		r := newReport(t, fmt.Sprintf("inc_%04d", i))
		wg.Go(func() {
			require.NoError(t, n.Notify(context.Background(), notify.Update{Report: r, Reason: notify.ReasonTriaged}))
		})
	}
	wg.Wait()
	require.Len(t, w.chunks, 8)
	seen := map[string]bool{}
	for _, c := range w.chunks {
		require.Equal(t, 1, strings.Count(c, "INCIDENT "), "each write is one whole report")
		require.True(t, strings.HasPrefix(c, "───"))
		seen[strings.Fields(strings.SplitN(c, "INCIDENT ", 2)[1])[0]] = true
	}
	require.Len(t, seen, 8)
}

type brokenWriter struct{}

var errClosed = errors.New("stdout closed")

func (brokenWriter) Write([]byte) (int, error) { return 0, errClosed }

func TestNotifyReportsWriteErrors(t *testing.T) {
	t.Parallel()
	err := console.New(brokenWriter{}).Notify(context.Background(), notify.Update{Report: newReport(t, "inc_0001"), Reason: notify.ReasonTriaged})
	require.ErrorIs(t, err, errClosed)
	require.ErrorContains(t, err, "console: write report of inc_0001")
}
