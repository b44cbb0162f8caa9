package logparse

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/medic-sh/medic/internal/sharedtest"
)

// drainPublished is the Drain table of ../shared/loghub/METRICS.md: logparser
// Drain.py with its benchmark settings on the corrected Loghub-2k files.
var drainPublished = map[string]Scores{
	"Android":     {GA: 0.8305, FGA: 0.7842, PA: 0.5475, FTA: 0.5410},
	"Apache":      {GA: 1.0000, FGA: 1.0000, PA: 0.6935, FTA: 0.5000},
	"BGL":         {GA: 0.9625, FGA: 0.8333, PA: 0.3420, FTA: 0.2105},
	"HDFS":        {GA: 0.9975, FGA: 0.8667, PA: 0.3545, FTA: 0.2667},
	"HPC":         {GA: 0.8870, FGA: 0.7527, PA: 0.6355, FTA: 0.3656},
	"Mac":         {GA: 0.7865, FGA: 0.7973, PA: 0.2175, FTA: 0.1986},
	"OpenStack":   {GA: 0.7325, FGA: 0.1170, PA: 0.0185, FTA: 0.0175},
	"Proxifier":   {GA: 0.5265, FGA: 0.5385, PA: 0.0000, FTA: 0.0000},
	"Spark":       {GA: 0.9200, FGA: 0.7692, PA: 0.3595, FTA: 0.3692},
	"Thunderbird": {GA: 0.9550, FGA: 0.7734, PA: 0.0465, FTA: 0.2477},
	"Windows":     {GA: 0.9970, FGA: 0.9320, PA: 0.4620, FTA: 0.4078},
	"Zookeeper":   {GA: 0.9665, FGA: 0.8542, PA: 0.4970, FTA: 0.3542},
}

// The miner's means on the 12 systems when this test was last updated,
// minus a small margin: a regression guard, not a target.
const (
	minerMeanGA = 0.948 - 0.005
	minerMeanPA = 0.926 - 0.005
)

// TestLoghub runs the whole benchmark on the shared Loghub-2k data. The
// Drain port must reproduce the published Drain numbers (four decimals,
// every metric), and the miner must keep its measured accuracy.
func TestLoghub(t *testing.T) {
	t.Parallel()
	dir := sharedtest.Dir(t, "loghub")
	// One timing run: the rates are reported, not asserted, and the race
	// detector makes extra runs slow.
	res, err := Run(context.Background(), dir, Options{TimingRuns: 1})
	require.NoError(t, err)

	seen := 0
	for _, b := range res.Baseline.Systems {
		want, ok := drainPublished[b.System]
		if !ok {
			continue
		}
		seen++
		require.True(t, b.Tuned, b.System)
		require.InDelta(t, want.GA, b.GA, 0.00051, "%s Drain GA", b.System)
		require.InDelta(t, want.FGA, b.FGA, 0.00051, "%s Drain FGA", b.System)
		require.InDelta(t, want.PA, b.PA, 0.00051, "%s Drain PA", b.System)
		require.InDelta(t, want.FTA, b.FTA, 0.00051, "%s Drain FTA", b.System)
	}
	require.Equal(t, len(drainPublished), seen, "all 12 published systems present")

	var table strings.Builder
	require.NoError(t, res.WriteTable(&table))
	t.Logf("Loghub-2k benchmark:\n%s", table.String())
	require.GreaterOrEqual(t, res.Mean.GA, minerMeanGA)
	require.GreaterOrEqual(t, res.Mean.PA, minerMeanPA)
	require.Greater(t, res.Mean.GA, res.Baseline.Mean.GA)
	require.Greater(t, res.Mean.PA, res.Baseline.Mean.PA)
}
