package airflow_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sync/errgroup"

	"github.com/medic-sh/medic/internal/airflow"
)

// flaky answers status (with headers) for the first n requests, then 200.
func flaky(n int64, status int, header map[string]string) http.Handler {
	var seen atomic.Int64
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if seen.Add(1) <= n {
			for k, v := range header {
				w.Header().Set(k, v)
			}
			problem(w, status, http.StatusText(status), "try later")
			return
		}
		if r.Method == http.MethodPost {
			writeJSON(w, 200, dagRunJSON("etl", "medic-1", "queued"))
			return
		}
		writeJSON(w, 200, dagRunJSON("etl", "r1", "failed"))
	})
}

func getRun(c *airflow.Client) error {
	_, err := c.GetDagRun(context.Background(), "etl", "r1")
	return err
}

func trigger(c *airflow.Client) error {
	_, err := c.TriggerDagRun(context.Background(), "etl", airflow.TriggerRequest{RunID: "medic-1"})
	return err
}

func TestRetries(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		h         http.Handler
		call      func(*airflow.Client) error
		hits      int64
		wantErr   error // nil: success
		retryable bool
	}{
		{"503 with Retry-After seconds", flaky(2, 503, map[string]string{"Retry-After": "1"}), getRun, 3, nil, false},
		{"503 with Retry-After date", flaky(1, 503, map[string]string{"Retry-After": time.Now().Add(time.Hour).UTC().Format(http.TimeFormat)}), getRun, 2, nil, false},
		{"429", flaky(2, 429, nil), getRun, 3, nil, false},
		{"502 on a read", flaky(1, 502, nil), getRun, 2, nil, false},
		{"500 on a read", flaky(1, 500, nil), getRun, 2, nil, false},
		{"503 on a write: the server did not act", flaky(1, 503, nil), trigger, 2, nil, false},
		{"429 on a write", flaky(1, 429, nil), trigger, 2, nil, false},
		{"500 on a write is not retried", flaky(1, 500, nil), trigger, 1, errAny, false},
		{"504 on a write is not retried", flaky(1, 504, nil), trigger, 1, errAny, false},
		{"404 is not retried", flaky(9, 404, nil), getRun, 1, airflow.ErrNotFound, false},
		{"400 is not retried", flaky(9, 400, nil), getRun, 1, airflow.ErrBadRequest, false},
		{"409 is not retried", flaky(9, 409, nil), trigger, 1, airflow.ErrConflict, false},
		{"exhausted", flaky(99, 503, nil), getRun, 4, errAny, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, tt.h, nil)
			start := time.Now()
			err := tt.call(b.client)
			require.Less(t, time.Since(start), 2*time.Second, "Retry-After is capped by MaxBackoff")
			require.Equal(t, tt.hits, b.hits.Load())
			if tt.wantErr == nil {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			if !errors.Is(tt.wantErr, errAny) {
				require.ErrorIs(t, err, tt.wantErr)
			}
			require.Equal(t, tt.retryable, airflow.IsRetryable(err))
			var ae *airflow.APIError
			require.ErrorAs(t, err, &ae)
			require.Equal(t, "test", ae.Instance)
		})
	}
}

var errAny = errors.New("any error")

func TestWriteWithUnknownOutcomeSaysCheckState(t *testing.T) {
	t.Parallel()
	b := setup(t, flaky(1, 500, nil), nil)
	err := trigger(b.client)
	require.ErrorContains(t, err, "trigger dag etl run medic-1")
	require.ErrorContains(t, err, "check the current state before repeating it")
	require.False(t, airflow.IsRetryable(err))
}

// hang blocks until the client gives up. The body is drained first: only
// then does the server notice a closed connection.
var hang = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	<-r.Context().Done()
})

func TestTimeoutPerAttempt(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		call      func(*airflow.Client) error
		hits      int64
		retryable bool
	}{
		{"read is retried", getRun, 2, true},
		{"write is not retried: it may have happened", trigger, 1, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, hang, func(o *airflow.Options) { o.Timeout, o.MaxRetries = 50*time.Millisecond, 1 })
			start := time.Now()
			err := tt.call(b.client)
			require.Less(t, time.Since(start), 2*time.Second)
			require.ErrorContains(t, err, "attempt timed out after 50ms")
			require.NotErrorIs(t, err, context.Canceled)
			require.Equal(t, tt.retryable, airflow.IsRetryable(err))
			require.Eventually(t, func() bool { return b.hits.Load() == tt.hits }, time.Second, time.Millisecond)
		})
	}
}

func TestCancelDuringBackoff(t *testing.T) {
	t.Parallel()
	b := setup(t, flaky(99, 503, map[string]string{"Retry-After": "30"}), func(o *airflow.Options) {
		o.MaxBackoff = time.Minute
	})
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		for b.hits.Load() == 0 {
			time.Sleep(time.Millisecond)
		}
		cancel()
	}()
	start := time.Now()
	_, err := b.client.GetDagRun(ctx, "etl", "r1")
	require.ErrorIs(t, err, context.Canceled)
	require.Less(t, time.Since(start), 5*time.Second)
	require.EqualValues(t, 1, b.hits.Load())
}

func TestConnectionRefusedIsRetriedEvenForWrites(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	logs := &syncBuffer{}
	c, err := airflow.New(airflow.Options{
		Name: "down", BaseURL: "http://" + addr, Version: "2", MaxRetries: 2,
		MinBackoff: time.Millisecond, MaxBackoff: time.Millisecond, HTTPClient: &http.Client{Transport: &http.Transport{}},
		Logger: slog.New(slog.NewTextHandler(logs, nil)),
	})
	require.NoError(t, err)
	err = trigger(c)
	require.Error(t, err)
	require.True(t, airflow.IsRetryable(err), "the request never reached Airflow")
	require.ErrorContains(t, err, "airflow down: trigger dag etl")
	require.ErrorContains(t, err, "connection refused")
	require.Equal(t, 2, strings.Count(logs.String(), "retrying"), "a write that was never sent is retried")
}

func TestConcurrencyBound(t *testing.T) {
	t.Parallel()
	var inflight, peak atomic.Int64
	release := make(chan struct{})
	b := setup(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := inflight.Add(1)
		defer inflight.Add(-1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		<-release
		writeJSON(w, 200, dagRunJSON("etl", "r1", "failed"))
	}), func(o *airflow.Options) { o.MaxConcurrency = 3 })
	var once sync.Once
	unblock := func() { once.Do(func() { close(release) }) }
	t.Cleanup(unblock) // runs before the server is closed
	var g errgroup.Group
	for range 12 {
		g.Go(func() error { return getRun(b.client) })
	}
	require.Eventually(t, func() bool { return inflight.Load() == 3 }, 2*time.Second, time.Millisecond)
	unblock()
	require.NoError(t, g.Wait())
	require.EqualValues(t, 3, peak.Load())
	require.EqualValues(t, 12, b.hits.Load())
}

func TestRateLimit(t *testing.T) {
	t.Parallel()
	b := setup(t, flaky(0, 0, nil), func(o *airflow.Options) { o.RateLimit, o.Burst = 50, 1 })
	start := time.Now()
	for range 6 {
		require.NoError(t, getRun(b.client))
	}
	// 1 immediately, then 5 at 20ms intervals.
	require.GreaterOrEqual(t, time.Since(start), 90*time.Millisecond)
}
