package template

import (
	"encoding/csv"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/medic-sh/medic/internal/sharedtest"
)

// loghubLines reads the Content column of every Loghub-2k system under the
// shared data directory (skipping when it is absent).
func loghubLines(tb testing.TB) []string {
	tb.Helper()
	dir := sharedtest.Dir(tb, "loghub")
	files, err := filepath.Glob(filepath.Join(dir, "*", "*_2k.log_structured_corrected.csv"))
	if err != nil || len(files) == 0 {
		tb.Skipf("no Loghub files under %s", dir)
	}
	var lines []string
	for _, f := range files {
		lines = append(lines, readContent(tb, f)...)
	}
	return lines
}

func readContent(tb testing.TB, path string) []string {
	tb.Helper()
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	header, err := r.Read()
	if err != nil {
		tb.Fatal(err)
	}
	col := -1
	for i, h := range header {
		if h == "Content" {
			col = i
		}
	}
	if col < 0 {
		tb.Fatalf("%s has no Content column", path)
	}
	var out []string
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, rec[col])
	}
}

// BenchmarkMinerAdd feeds all Loghub-2k lines (24,000 lines from 12
// systems) through one miner, over and over, and reports lines per second:
// the steady state of a long-running miner, where most lines hit a known
// template.
func BenchmarkMinerAdd(b *testing.B) {
	lines := loghubLines(b)
	m := New(Options{})
	for _, l := range lines {
		m.Add(l)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		m.Add(lines[i%len(lines)])
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lines/s")
}

// BenchmarkMinerAddCold measures a fresh miner per pass over the 24,000
// lines: template creation, matching and merging included.
func BenchmarkMinerAddCold(b *testing.B) {
	lines := loghubLines(b)
	b.ReportAllocs()
	b.ResetTimer()
	n := 0
	for i := 0; i < b.N; i++ {
		m := New(Options{})
		for _, l := range lines {
			m.Add(l)
		}
		n += len(lines)
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "lines/s")
}
