package extract_test

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/medic-sh/medic/internal/logscan"
	"github.com/medic-sh/medic/internal/logscan/extract"
	"github.com/medic-sh/medic/internal/sharedtest"
)

// minCorpusCoverage is the share of the shared dev corpus for which Extract
// finds a root, as measured when the extractor was written (151 of 152,
// 0.99) less a margin for rule changes. A drop below it means a change
// lost whole families of errors.
const minCorpusCoverage = 0.93

// kindForSystem maps the corpus's system field to the kind a root of that
// system would most likely have; systems without one are not compared.
var kindForSystem = map[string]string{
	"postgres": extract.KindPostgres, "snowflake": extract.KindSnowflake, "bigquery": extract.KindBigQuery,
	"dbt": extract.KindDbt, "spark": extract.KindSpark, "k8s": extract.KindKubernetes, "airflow": extract.KindAirflow,
}

// TestCorpus runs every shared dev log through Tail and Extract: no panic,
// bounded time, and a root for at least minCorpusCoverage of them. The
// figures are logged; the labels are not used.
func TestCorpus(t *testing.T) {
	t.Parallel()
	path := filepath.Join(sharedtest.Dir(t, "corpus"), "dev.jsonl")
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	var n, found, compared, agree int
	var slowest time.Duration
	for sc.Scan() {
		var rec struct {
			ID, Log, System string
		}
		require.NoError(t, json.Unmarshal(sc.Bytes(), &rec))
		n++
		start := time.Now()
		tail, err := logscan.Tail(strings.NewReader(rec.Log), logscan.TailOptions{MaxLines: 2000})
		require.NoError(t, err)
		res := extract.Extract(tail.Lines)
		slowest = max(slowest, time.Since(start))
		checkInvariants(t, tail.Lines, res)
		if res.Root == nil {
			t.Logf("no root: %s", rec.ID)
			continue
		}
		found++
		if want, ok := kindForSystem[rec.System]; ok {
			compared++
			if res.Root.Kind == want {
				agree++
			}
		}
	}
	require.NoError(t, sc.Err())
	require.Positive(t, n)
	coverage := float64(found) / float64(n)
	t.Logf("corpus coverage: root found for %d of %d logs (%.3f); root kind matches the system for %d of %d; slowest log %v",
		found, n, coverage, agree, compared, slowest)
	require.GreaterOrEqual(t, coverage, minCorpusCoverage)
}
