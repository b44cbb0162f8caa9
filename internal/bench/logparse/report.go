package logparse

import (
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"
)

// WriteJSON writes r as one line of JSON: {"systems": [...], "mean": {...},
// "baseline": {"systems": [...], "mean": {...}}, "measured": {...}}, each
// system carrying system, ga, fga, pa, fta and lines_per_sec (plus lines,
// templates and truth_templates).
func (r *Result) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	if err := enc.Encode(r); err != nil {
		return fmt.Errorf("write benchmark json: %w", err)
	}
	return nil
}

// WriteTable writes a per-system table for our miner and for the Drain
// baseline side by side, the means, and how the numbers were measured.
func (r *Result) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "system\tGA\tFGA\tPA\tFTA\tlines/s\t\tDrain GA\tFGA\tPA\tFTA\tlines/s\tsettings\t")
	base := map[string]SystemResult{}
	for _, b := range r.Baseline.Systems {
		base[b.System] = b
	}
	for _, s := range r.Systems {
		b := base[s.System]
		tuned := "logparser"
		if !b.Tuned {
			tuned = "defaults"
		}
		fmt.Fprintf(tw, "%s\t%.4f\t%.4f\t%.4f\t%.4f\t%.0f\t\t%.4f\t%.4f\t%.4f\t%.4f\t%.0f\t%s\t\n",
			s.System, s.GA, s.FGA, s.PA, s.FTA, s.LinesPerSec,
			b.GA, b.FGA, b.PA, b.FTA, b.LinesPerSec, tuned)
	}
	m, bm := r.Mean, r.Baseline.Mean
	fmt.Fprintf(tw, "mean\t%.4f\t%.4f\t%.4f\t%.4f\t%.0f\t\t%.4f\t%.4f\t%.4f\t%.4f\t%.0f\t\t\n",
		m.GA, m.FGA, m.PA, m.FTA, meanRate(r.Systems),
		bm.GA, bm.FGA, bm.PA, bm.FTA, meanRate(r.Baseline.Systems))
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("write benchmark table: %w", err)
	}
	_, err := fmt.Fprintf(w, `
Left: medic's template miner, one configuration for every system. Right: Drain
(faithful port of logparser Drain.py); "logparser" marks its per-system
benchmark settings, "defaults" a system it has none for (Drain.py defaults).
Input: the Content column of <S>/<S>_2k.log_structured_corrected.csv; truth:
its EventTemplate column. GA, FGA, PA and FTA as in ../shared/loghub/METRICS.md,
Loghub-2.0 style (lines are grouped by identical template strings); means are
unweighted over systems. lines/s counts parsing only (adding every line and
reading its final template), one goroutine, fastest of %d run(s) per system,
excluding CSV loading and scoring; the mean row averages the per-system rates.
Measured with %s on %s/%s, GOMAXPROCS=%d.
`, r.Measured.TimingRuns, r.Measured.Go, r.Measured.OS, r.Measured.Arch, r.Measured.GOMAXPROCS)
	if err != nil {
		return fmt.Errorf("write benchmark table: %w", err)
	}
	return nil
}

func meanRate(rs []SystemResult) float64 {
	if len(rs) == 0 {
		return 0
	}
	t := 0.0
	for _, r := range rs {
		t += r.LinesPerSec
	}
	return t / float64(len(rs))
}
