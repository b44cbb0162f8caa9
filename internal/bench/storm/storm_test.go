package storm_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/medic-sh/medic/internal/bench/storm"
)

func TestRunCoalescesEachCause(t *testing.T) {
	t.Parallel()
	res, err := storm.Run(context.Background(), storm.Options{Events: 200, Seed: 7, Dir: t.TempDir()})
	require.NoError(t, err)
	require.Equal(t, 200, res.Events)
	require.Equal(t, 200, res.Recorded)
	require.Zero(t, res.Lost)
	require.Equal(t, res.Causes, res.Incidents, "one incident per cause")
	require.Greater(t, res.EventsPerSec, 0.0)
	require.GreaterOrEqual(t, res.P99Ms, res.P50Ms)
	var out bytes.Buffer
	require.NoError(t, res.WriteJSON(&out))
	for _, k := range []string{`"events":`, `"lost":`, `"incidents":`, `"events_per_sec":`, `"p99_ms":`} {
		require.Contains(t, out.String(), k)
	}
}

func TestRunRefusesEmptyStorm(t *testing.T) {
	t.Parallel()
	_, err := storm.Run(context.Background(), storm.Options{Events: 0})
	require.Error(t, err)
}
