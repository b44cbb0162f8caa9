package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/medic-sh/medic/internal/classify/calibrate"
)

// defaultCalibrationOut is where the generated calibration lives, relative
// to the repository root, from where "medic calibrate" is meant to be run.
var defaultCalibrationOut = filepath.Join("internal", "classify", "calibration_gen.go")

func newCalibrateCmd(streams IO) *cobra.Command {
	var (
		cases  string
		out    string
		folds  int
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "calibrate --cases FILE.jsonl [--out FILE|-] [--folds 5] [--json]",
		Short: "Fit the classifier's confidence calibration on labelled logs and write it as Go source",
		Long: "Classifies every case in FILE (JSON lines as ../shared/corpus/dev.jsonl) with the embedded rules " +
			"and no calibration, fits a monotone map from raw confidence to the probability of being right " +
			"(isotonic regression with a minimum block size and a Beta prior; abstentions by kind) and writes it " +
			"to --out as Go source (default " + defaultCalibrationOut + ", run from the repository root; - for " +
			"stdout). It prints the cases, the expected calibration error raw, calibrated on the same cases and " +
			"cross-validated over --folds folds that never split a case's group, the map and the reliability " +
			"tables; with --json the last line is one JSON object of those figures. With --out - the figures go " +
			"to stderr.",
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if cases == "" {
				return usageError{errors.New("--cases FILE.jsonl is required")}
			}
			if folds < 2 {
				return usageError{fmt.Errorf("--folds %d: cross-validation needs at least 2 folds", folds)}
			}
			rep, err := calibrate.Run(cmd.Context(), cases, calibrate.Options{Folds: folds})
			if err != nil {
				return err
			}
			src, err := calibrate.Render(rep.Calibration, rep.Params, calibrateCommand(cases, folds))
			if err != nil {
				return err
			}
			report := streams.Out
			if out == "-" {
				if _, err := streams.Out.Write(src); err != nil {
					return fmt.Errorf("write calibration to stdout: %w", err)
				}
				report = streams.Err
			} else {
				if err := writeGenerated(out, src); err != nil {
					return err
				}
				fmt.Fprintf(streams.Err, "wrote %s\n", out)
			}
			if asJSON {
				return rep.WriteJSON(report)
			}
			return rep.WriteTable(report)
		},
	}
	cmd.Flags().StringVar(&cases, "cases", "", "labelled cases, one JSON object per line (required)")
	cmd.Flags().StringVar(&out, "out", defaultCalibrationOut, "the Go file to write, - for stdout")
	cmd.Flags().IntVar(&folds, "folds", calibrate.DefaultFolds, "folds of the group-wise cross-validation")
	cmd.Flags().BoolVar(&asJSON, "json", false, "end with one JSON line of figures")
	return cmd
}

// calibrateCommand is the command line that regenerates the file, for its
// header.
func calibrateCommand(cases string, folds int) string {
	if strings.ContainsAny(cases, " \t\"'") {
		cases = strconv.Quote(cases)
	}
	c := "medic calibrate --cases " + cases
	if folds != calibrate.DefaultFolds {
		c += " --folds " + strconv.Itoa(folds)
	}
	return c
}

// writeGenerated replaces path with src in one rename, so that a failed run
// never leaves half a Go file in the tree.
func writeGenerated(path string, src []byte) error {
	dir := filepath.Dir(path)
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		if err == nil || errors.Is(err, fs.ErrNotExist) {
			return usageError{fmt.Errorf("--out %s: folder %s does not exist; run medic calibrate from the repository root, or pass --out FILE (- for stdout)", path, dir)}
		}
		return fmt.Errorf("write calibration %s: %w", path, err)
	}
	f, err := os.CreateTemp(dir, ".calibration-*.go.tmp")
	if err != nil {
		return fmt.Errorf("write calibration %s: %w", path, err)
	}
	tmp := f.Name()
	defer func() { _ = os.Remove(tmp) }() // fails harmlessly once renamed
	if _, err := f.Write(src); err != nil {
		f.Close()
		return fmt.Errorf("write calibration %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write calibration %s: %w", path, err)
	}
	if err := os.Chmod(tmp, 0o644); err != nil {
		return fmt.Errorf("write calibration %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write calibration %s: %w", path, err)
	}
	return nil
}
