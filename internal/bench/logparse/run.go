// Package logparse benchmarks medic's log template miner on labelled
// Loghub-2k data, side by side with a faithful Drain baseline, using the
// exact GA, FGA, PA and FTA definitions of ../shared/loghub/METRICS.md.
//
// It reads data in place and never writes into the data directory. Our
// miner runs with one configuration for every system; only the Drain
// baseline uses per-system settings, because that is how its published
// numbers were produced.
//
// The CLI (medic bench logparse --loghub DIR [--json]) is a thin wrapper:
//
//	res, err := logparse.Run(ctx, dir, logparse.Options{})
//	if err != nil { ... }
//	if asJSON {
//		err = res.WriteJSON(stdout)
//	} else {
//		err = res.WriteTable(stdout)
//	}
package logparse

import (
	"context"
	"fmt"
	"runtime"
	"time"

	"github.com/medic-sh/medic/internal/logscan/template"
	"github.com/medic-sh/medic/internal/logscan/template/drain"
)

// Options configures a benchmark run.
type Options struct {
	// Systems, when not empty, restricts the run to these system names.
	Systems []string
	// TimingRuns is how many times each parser is run per system to time it
	// (default 5); the fastest run is reported, since one pass over 2,000
	// lines takes milliseconds and is easily disturbed. Scores come from the
	// first run, and every run starts from an empty parser.
	TimingRuns int
}

// SystemResult is one parser's result on one system.
type SystemResult struct {
	System string `json:"system"`
	Scores
	// LinesPerSec is lines divided by parsing time: adding every line and
	// reading each line's final template, not loading or scoring.
	LinesPerSec float64 `json:"lines_per_sec"`
	// Lines is the number of labelled lines.
	Lines int `json:"lines"`
	// Templates is the number of distinct predicted templates.
	Templates int `json:"templates"`
	// TruthTemplates is the number of distinct ground-truth templates.
	TruthTemplates int `json:"truth_templates"`
	// Tuned reports, for the baseline, whether logparser has benchmark
	// settings for this system (otherwise Drain's defaults were used).
	Tuned bool `json:"tuned,omitempty"`
}

// Summary is one parser's results over all systems.
type Summary struct {
	Systems []SystemResult `json:"systems"`
	// Mean is the unweighted mean over systems.
	Mean Scores `json:"mean"`
}

// Result is a whole benchmark run: our miner at the top level, Drain under
// "baseline".
type Result struct {
	Summary
	Baseline Summary `json:"baseline"`
	// Measured says where and how the rates were measured.
	Measured Environment `json:"measured"`
}

// Environment describes a benchmark run's conditions.
type Environment struct {
	Go         string `json:"go"`
	OS         string `json:"os"`
	Arch       string `json:"arch"`
	GOMAXPROCS int    `json:"gomaxprocs"`
	TimingRuns int    `json:"timing_runs"`
}

// Run benchmarks our miner and the Drain baseline on every system under
// dir, i.e. every <dir>/<S>/<S>_2k.log_structured_corrected.csv, in system
// name order.
func Run(ctx context.Context, dir string, opts Options) (*Result, error) {
	systems, err := Discover(dir)
	if err != nil {
		return nil, err
	}
	if len(opts.Systems) > 0 {
		want := map[string]bool{}
		for _, s := range opts.Systems {
			want[s] = true
		}
		kept := systems[:0]
		for _, s := range systems {
			if want[s] {
				kept = append(kept, s)
			}
		}
		systems = kept
		if len(systems) == 0 {
			return nil, fmt.Errorf("benchmark %s: none of the systems %v found: %w", dir, opts.Systems, ErrNoData)
		}
	}
	if opts.TimingRuns < 1 {
		opts.TimingRuns = 5
	}
	res := &Result{Measured: Environment{
		Go: runtime.Version(), OS: runtime.GOOS, Arch: runtime.GOARCH,
		GOMAXPROCS: runtime.GOMAXPROCS(0), TimingRuns: opts.TimingRuns,
	}}
	for _, s := range systems {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("benchmark %s: %w", s, context.Cause(ctx))
		}
		ds, err := Load(dir, s)
		if err != nil {
			return nil, err
		}
		ours, err := evaluate(ds, opts.TimingRuns, ParseMiner)
		if err != nil {
			return nil, err
		}
		res.Systems = append(res.Systems, ours)
		cfg, tuned := drain.LoghubConfig(s)
		base, err := evaluate(ds, opts.TimingRuns, func(lines []string) ([]string, error) {
			return ParseDrain(cfg, lines)
		})
		if err != nil {
			return nil, err
		}
		base.Tuned = tuned
		res.Baseline.Systems = append(res.Baseline.Systems, base)
	}
	res.Mean = mean(res.Systems)
	res.Baseline.Mean = mean(res.Baseline.Systems)
	return res, nil
}

// ParseFunc turns lines into one predicted template per line.
type ParseFunc func(lines []string) ([]string, error)

// ParseMiner runs medic's template miner, in its one configuration, over
// lines and returns each line's final template.
func ParseMiner(lines []string) ([]string, error) {
	m := template.New(template.Options{})
	ids := make([]string, len(lines))
	for i, l := range lines {
		ids[i] = m.Add(l).ID
	}
	final := map[string]string{}
	out := make([]string, len(lines))
	for i, id := range ids {
		t, ok := final[id]
		if !ok {
			tm, found := m.Lookup(id)
			if !found {
				return nil, fmt.Errorf("miner lost template %s", id)
			}
			t = tm.Template
			final[id] = t
		}
		out[i] = t
	}
	return out, nil
}

// ParseDrain runs the Drain baseline with cfg over lines.
func ParseDrain(cfg drain.Config, lines []string) ([]string, error) {
	p, err := drain.New(cfg)
	if err != nil {
		return nil, err
	}
	return p.Parse(lines), nil
}

func evaluate(ds *Dataset, runs int, parse ParseFunc) (SystemResult, error) {
	if runs < 1 {
		runs = 1
	}
	var pred []string
	var best time.Duration
	for r := range runs {
		start := time.Now()
		out, err := parse(ds.Content)
		d := time.Since(start)
		if err != nil {
			return SystemResult{}, fmt.Errorf("parse %s: %w", ds.System, err)
		}
		if r == 0 {
			pred = out
			best = d
		}
		best = min(best, d)
	}
	sc, err := Score(ds.Truth, pred)
	if err != nil {
		return SystemResult{}, fmt.Errorf("score %s: %w", ds.System, err)
	}
	res := SystemResult{
		System:         ds.System,
		Scores:         sc,
		Lines:          len(ds.Content),
		Templates:      distinct(pred),
		TruthTemplates: distinct(ds.Truth),
	}
	if best > 0 {
		res.LinesPerSec = float64(len(ds.Content)) / best.Seconds()
	}
	return res, nil
}

func distinct(xs []string) int {
	seen := make(map[string]struct{}, len(xs))
	for _, x := range xs {
		seen[x] = struct{}{}
	}
	return len(seen)
}

func mean(rs []SystemResult) Scores {
	var m Scores
	if len(rs) == 0 {
		return m
	}
	for _, r := range rs {
		m.GA += r.GA
		m.FGA += r.FGA
		m.PA += r.PA
		m.FTA += r.FTA
	}
	n := float64(len(rs))
	return Scores{GA: m.GA / n, FGA: m.FGA / n, PA: m.PA / n, FTA: m.FTA / n}
}
