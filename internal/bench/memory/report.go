package memorybench

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
)

// WriteTable writes the result for people: one line per index size.
func (r *Result) WriteTable(w io.Writer) error {
	verdict := "PASS"
	if !r.Pass {
		verdict = "FAIL"
	}
	fmt.Fprintf(w, "medic bench memory: exact cosine top-%d, %d queries per size (seed %d), %d workers, GOMAXPROCS=%d\n",
		r.K, r.Queries, r.Seed, r.Workers, r.GOMAXPROCS)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "records\tdim\tp50 ms\tp99 ms\tmean ms\tmax ms\trecall@%d\tvectors MB\theap MB\tbuild s\t\n", r.K)
	for _, s := range r.Sizes {
		fmt.Fprintf(tw, "%d\t%d\t%.2f\t%.2f\t%.2f\t%.2f\t%.3f (%d)\t%.1f\t%.1f\t%.2f\t\n",
			s.Records, s.Dim, s.P50Millis, s.P99Millis, s.MeanMillis, s.MaxMillis, s.Recall, s.RecallChecks,
			float64(s.VectorBytes)/1e6, float64(s.HeapBytes)/1e6, s.BuildSeconds)
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("write table: %w", err)
	}
	_, err := fmt.Fprintf(w, "target: p99 <= %.0f ms up to %d records, recall 1.0: %s\n", r.TargetMS, TargetRecords, verdict)
	if err != nil {
		return fmt.Errorf("write table: %w", err)
	}
	return nil
}

// WriteJSON writes the result as one line of JSON.
func (r *Result) WriteJSON(w io.Writer) error {
	if err := json.NewEncoder(w).Encode(r); err != nil {
		return fmt.Errorf("write json: %w", err)
	}
	return nil
}

// ErrBadRecords is returned by ParseRecords for input it cannot read.
var ErrBadRecords = errors.New("bad records list")

// ParseRecords reads a comma-separated list of sizes with optional k and M
// suffixes, e.g. "10k,100k,1M", for a --records flag.
func ParseRecords(s string) ([]int, error) {
	var out []int
	for part := range strings.SplitSeq(s, ",") {
		p := strings.TrimSpace(part)
		mult := 1
		switch {
		case strings.HasSuffix(p, "k"), strings.HasSuffix(p, "K"):
			mult, p = 1_000, p[:len(p)-1]
		case strings.HasSuffix(p, "m"), strings.HasSuffix(p, "M"):
			mult, p = 1_000_000, p[:len(p)-1]
		}
		n, err := strconv.Atoi(p)
		if err != nil || n <= 0 || n > 100_000_000/mult {
			return nil, fmt.Errorf("%w: %q: want positive sizes like 10k,100k,1M (at most 100M)", ErrBadRecords, part)
		}
		out = append(out, n*mult)
	}
	return out, nil
}
