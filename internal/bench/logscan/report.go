package logscanbench

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
)

// WriteTable writes the result for people: one line per stage, then the
// secrets and the tail's root.
func (r *Result) WriteTable(w io.Writer) error {
	verdict := "PASS"
	if !r.Pass {
		verdict = "FAIL"
	}
	fmt.Fprintf(w, "medic bench logscan: %.1f MB generated Airflow-style log (seed %d), one goroutine, GOMAXPROCS=%d\n",
		float64(r.Bytes)/1e6, r.Seed, r.GOMAXPROCS)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "stage\tseconds\tMB/s\t\n")
	for _, st := range []struct {
		name string
		sec  float64
	}{{"read+split", r.SplitSeconds}, {"redact", r.RedactSeconds}, {"tail", r.TailSeconds}, {"extract", r.ExtractSeconds}} {
		fmt.Fprintf(tw, "%s\t%.3f\t%s\t\n", st.name, st.sec, rate(r.Bytes, st.sec))
	}
	fmt.Fprintf(tw, "total\t%.3f\t%s\t\n", r.Seconds, rate(r.Bytes, r.Seconds))
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("write table: %w", err)
	}
	fmt.Fprintf(w, "lines: %d (%.0f lines/s)\n", r.Lines, r.LinesPerSec)
	fmt.Fprintf(w, "secrets: %d planted, %d missed\n", r.SecretsPlanted, r.SecretsMissed)
	for _, m := range r.Missed {
		fmt.Fprintf(w, "  missed: %s\n", m)
	}
	root := r.RootReason
	if r.RootKind != "" {
		root = fmt.Sprintf("%s %s (confidence %.2f)", r.RootKind, r.RootException, r.Confidence)
	}
	fmt.Fprintf(w, "tail: %d lines kept (truncated: %t), %d error blocks, root: %s\n", r.TailLinesKept, r.TailTruncated, r.Blocks, root)
	_, err := fmt.Fprintf(w, "%s: %.1f MB/s against a target of %d MB/s per core, %d secrets missed\n",
		verdict, r.MBPerSec, TargetMBPerSec, r.SecretsMissed)
	return err
}

func rate(bytes int64, sec float64) string {
	if sec <= 0 {
		return "-"
	}
	return strconv.FormatFloat(float64(bytes)/1e6/sec, 'f', 1, 64)
}

// WriteJSON writes the result as one JSON object on one line.
func (r *Result) WriteJSON(w io.Writer) error {
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("encode result: %w", err)
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// ParseSize reads a size such as "100MB", "1.5GB", "512KiB" or "1048576".
// Decimal units (kB, MB, GB) are powers of 1000, binary ones (KiB, MiB, GiB)
// of 1024; case does not matter.
func ParseSize(s string) (int64, error) {
	t := strings.TrimSpace(strings.ToLower(s))
	units := []struct {
		suffix string
		mult   float64
	}{
		{"kib", 1 << 10},
		{"mib", 1 << 20},
		{"gib", 1 << 30},
		{"kb", 1e3},
		{"mb", 1e6},
		{"gb", 1e9},
		{"k", 1e3},
		{"m", 1e6},
		{"g", 1e9},
		{"b", 1},
	}
	mult := 1.0
	for _, u := range units {
		if rest, ok := strings.CutSuffix(t, u.suffix); ok {
			t, mult = strings.TrimSpace(rest), u.mult
			break
		}
	}
	f, err := strconv.ParseFloat(t, 64)
	if err != nil || f <= 0 || f*mult > 1<<40 {
		return 0, fmt.Errorf("size %q: want a positive number of bytes up to 1 TiB, like 100MB or 512KiB", s)
	}
	return int64(f * mult), nil
}
