package cli

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	classifybench "github.com/medic-sh/medic/internal/bench/classify"
	"github.com/medic-sh/medic/internal/bench/logparse"
	logscanbench "github.com/medic-sh/medic/internal/bench/logscan"
	memorybench "github.com/medic-sh/medic/internal/bench/memory"
	stormbench "github.com/medic-sh/medic/internal/bench/storm"
)

func newBenchCmd(streams IO) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure medic's parts on benchmark data",
		Long:  "Benchmarks print what they measured and how; with --json the last line is one JSON object of figures.",
	}
	cmd.AddCommand(newBenchLogparseCmd(streams), newBenchLogscanCmd(streams), newBenchMemoryCmd(streams), newBenchClassifyCmd(streams),
		newBenchStormCmd(streams))
	return cmd
}

func newBenchStormCmd(streams IO) *cobra.Command {
	var (
		events  int
		senders int
		seed    uint64
		asJSON  bool
	)
	cmd := &cobra.Command{
		Use:   "storm [--events 500]",
		Short: "Ingest throughput and storm coalescing on a replayed storm of task failures",
		Long: "Replays --events synthetic task failures (a few causes across many DAGs and runs, from --seed) " +
			"through the webhook's signature check and decoding and the ingest service, with storm coalescing " +
			"at its defaults, on a temporary SQLite database; reports events/s, p50/p99 latency per event, " +
			"events lost (sent minus recorded) and the incidents made of them.",
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if events < 1 {
				return usageError{fmt.Errorf("--events: want at least 1, got %d", events)}
			}
			res, err := stormbench.Run(cmd.Context(), stormbench.Options{Events: events, Senders: senders, Seed: seed})
			if err != nil {
				return err
			}
			if asJSON {
				return res.WriteJSON(streams.Out)
			}
			return res.WriteTable(streams.Out)
		},
	}
	cmd.Flags().IntVar(&events, "events", 500, "how many failures to send")
	cmd.Flags().IntVar(&senders, "senders", 8, "how many failures are in flight at once")
	cmd.Flags().Uint64Var(&seed, "seed", 1, "the same seed replays the same storm")
	cmd.Flags().BoolVar(&asJSON, "json", false, "end with one JSON line of figures")
	return cmd
}

func newBenchLogscanCmd(streams IO) *cobra.Command {
	var (
		size   string
		seed   int64
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "logscan [--size 100MB]",
		Short: "Throughput of tail + error extraction + redaction on a generated Airflow log with planted secrets",
		Long: "Generates an Airflow-style task log of --size bytes with planted fake secrets, streams it through " +
			"redaction (every line) and the tail, extracts the error block from the tail, and reports MB/s, " +
			"lines/s and how many planted secrets survived redaction (the target is zero).",
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			n, err := logscanbench.ParseSize(size)
			if err != nil {
				return usageError{fmt.Errorf("--size: %w", err)}
			}
			res, err := logscanbench.Run(cmd.Context(), logscanbench.Options{Size: n, Seed: seed})
			if err != nil {
				return err
			}
			if asJSON {
				return res.WriteJSON(streams.Out)
			}
			return res.WriteTable(streams.Out)
		},
	}
	cmd.Flags().StringVar(&size, "size", "100MB", "size of the generated log (e.g. 16MB, 1GB)")
	cmd.Flags().Int64Var(&seed, "seed", 1, "the same seed generates the same log")
	cmd.Flags().BoolVar(&asJSON, "json", false, "end with one JSON line of figures")
	return cmd
}

func newBenchLogparseCmd(streams IO) *cobra.Command {
	var (
		dir     string
		asJSON  bool
		systems []string
		timing  int
	)
	cmd := &cobra.Command{
		Use:   "logparse --loghub DIR",
		Short: "Template mining on Loghub-2k: GA, FGA, PA, FTA and lines/s, with Drain as the baseline",
		Long: "Runs medic's template miner (one configuration for every system) and a Drain baseline on every " +
			"DIR/<S>/<S>_2k.log_structured_corrected.csv (input: its Content column; truth: its EventTemplate column) " +
			"and prints grouping accuracy (GA), F1 grouping accuracy (FGA), parsing accuracy (PA) and F1 template " +
			"accuracy (FTA) per system and their means, as defined in Loghub's METRICS.md.",
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if dir == "" {
				return usageError{errors.New("--loghub DIR is required (a folder with one <S>/<S>_2k.log_structured_corrected.csv per system)")}
			}
			res, err := logparse.Run(cmd.Context(), dir, logparse.Options{Systems: systems, TimingRuns: timing})
			if errors.Is(err, logparse.ErrNoData) {
				return usageError{err}
			}
			if err != nil {
				return err
			}
			if asJSON {
				return res.WriteJSON(streams.Out)
			}
			if err := res.WriteTable(streams.Out); err != nil {
				return fmt.Errorf("write table: %w", err)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "loghub", "", "folder laid out like Loghub-2k (required)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "end with one JSON line of figures")
	cmd.Flags().StringSliceVar(&systems, "system", nil, "only these systems (repeatable)")
	cmd.Flags().IntVar(&timing, "timing-runs", 3, "runs per system for timing; the fastest is reported")
	return cmd
}

func newBenchMemoryCmd(streams IO) *cobra.Command {
	var (
		records string
		queries int
		dim     int
		seed    int64
		asJSON  bool
	)
	cmd := &cobra.Command{
		Use:   "memory [--records 10k,100k]",
		Short: "Memory search latency and recall@10 at several index sizes",
		Long: "Builds exact in-memory vector indexes of random normalised vectors of each size in --records and " +
			"times top-10 searches (p50, p99, mean), checking recall against a separate full scan. 1M records " +
			"at 256 dimensions need about 3 GB of memory.",
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			sizes, err := memorybench.ParseRecords(records)
			if err != nil {
				return usageError{fmt.Errorf("--records: %w", err)}
			}
			res, err := memorybench.Run(cmd.Context(), memorybench.Options{Records: sizes, Queries: queries, Dim: dim, Seed: seed})
			if err != nil {
				return err
			}
			if asJSON {
				return res.WriteJSON(streams.Out)
			}
			return res.WriteTable(streams.Out)
		},
	}
	cmd.Flags().StringVar(&records, "records", "10k,100k", "comma-separated index sizes (e.g. 10k,100k,1M)")
	cmd.Flags().IntVar(&queries, "queries", 200, "timed searches per size")
	cmd.Flags().IntVar(&dim, "dim", 256, "vector dimension")
	cmd.Flags().Int64Var(&seed, "seed", 1, "the same seed generates the same vectors and queries")
	cmd.Flags().BoolVar(&asJSON, "json", false, "end with one JSON line of figures")
	return cmd
}

func newBenchClassifyCmd(streams IO) *cobra.Command {
	var (
		cases  string
		mem    string
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "classify --cases FILE.jsonl [--memory leave-group-out]",
		Short: "Failure classification on labelled logs: accuracy, macro-F1, retry-safe precision/recall, calibration",
		Long: "Classifies the log of every case in FILE (JSON lines with id, log, label, retry_safe, remediation, " +
			"as ../shared/corpus/dev.jsonl) with no memory and no LLM, and prints accuracy, macro-F1, per-label " +
			"precision/recall/F1, the confusion matrix, retry-safe precision and recall, expected calibration " +
			"error with its reliability table, the abstention rate and cases/s. With --memory leave-group-out each " +
			"case is classified again with a memory of every other case whose group differs (as if each had been " +
			"resolved before), and the figures are printed beside the cold ones; --memory leave-one-out keeps the " +
			"case's own group in memory, showing what recall adds when a failure recurs.",
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if cases == "" {
				return usageError{errors.New("--cases FILE.jsonl is required")}
			}
			switch mem {
			case "", classifybench.MemoryLeaveGroupOut, classifybench.MemoryLeaveOneOut:
			default:
				return usageError{fmt.Errorf("--memory %q: want %s or %s", mem, classifybench.MemoryLeaveGroupOut, classifybench.MemoryLeaveOneOut)}
			}
			res, err := classifybench.Run(cmd.Context(), cases, classifybench.Options{Memory: mem})
			if err != nil {
				return err
			}
			if asJSON {
				return res.WriteJSON(streams.Out)
			}
			return res.WriteTable(streams.Out)
		},
	}
	cmd.Flags().StringVar(&cases, "cases", "", "labelled cases, one JSON object per line (required)")
	cmd.Flags().StringVar(&mem, "memory", "", "memory mode: leave-group-out or leave-one-out (default: cold, no memory)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "end with one JSON line of figures")
	return cmd
}
