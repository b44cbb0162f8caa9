package calibrate

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	benchclassify "github.com/medic-sh/medic/internal/bench/classify"
	"github.com/medic-sh/medic/internal/classify"
)

// DefaultFolds is the number of folds of the cross-validation.
const DefaultFolds = 5

// Options configures Run.
type Options struct {
	// Folds is the number of group-wise folds; DefaultFolds when 0.
	Folds int
	// Params are the fit's settings; DefaultParams when zero.
	Params Params
}

// Report is what Run measured and fitted.
type Report struct {
	Cases int `json:"cases"`
	Folds int `json:"folds"`
	// ECERaw, ECECalibrated and ECECrossValidated are the expected
	// calibration errors of the raw confidences, of the fitted map on the
	// cases it was fitted on, and of out-of-fold maps.
	ECERaw            float64 `json:"ece_raw"`
	ECECalibrated     float64 `json:"ece_calibrated"`
	ECECrossValidated float64 `json:"ece_cv"`
	// The reliability tables of the three.
	ReliabilityRaw            []benchclassify.Bin `json:"reliability_raw"`
	ReliabilityCalibrated     []benchclassify.Bin `json:"reliability_calibrated"`
	ReliabilityCrossValidated []benchclassify.Bin `json:"reliability_cv"`
	// Knots and Abstentions are the fitted map.
	Knots       []classify.Knot                 `json:"knots"`
	Abstentions map[classify.Abstention]float64 `json:"abstentions"`
	// Calibration is the map with its fit figures and Params the settings
	// it was fitted with, as Render writes them.
	Calibration classify.Calibration `json:"-"`
	Params      Params               `json:"-"`
}

// Run classifies every case of casesPath with the embedded rules and no
// calibration, exactly as "medic bench classify" does, fits a calibration
// to the answers and measures it.
func Run(ctx context.Context, casesPath string, opts Options) (*Report, error) {
	if opts.Folds == 0 {
		opts.Folds = DefaultFolds
	}
	if opts.Params == (Params{}) {
		opts.Params = DefaultParams
	}
	cases, err := benchclassify.ReadCases(casesPath)
	if err != nil {
		return nil, err
	}
	keys, err := groupKeys(casesPath, cases)
	if err != nil {
		return nil, err
	}
	folds, err := Folds(keys, opts.Folds)
	if err != nil {
		return nil, err
	}
	raw, err := classify.New(classify.DefaultRules(), classify.WithoutCalibration())
	if err != nil {
		return nil, err
	}
	points := make([]Point, 0, len(cases))
	for _, k := range cases {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("calibrate on %s: %w", casesPath, err)
		}
		d := benchclassify.Diagnose(raw, k.Log)
		points = append(points, Point{Raw: d.RawConfidence, Correct: string(d.Label) == k.Label, Abstention: d.Abstention()})
	}
	return measure(points, folds, opts), nil
}

// measure fits points and fills a report.
func measure(points []Point, folds []int, opts Options) *Report {
	cal := Fit(points, opts.Params)
	rawConf := make([]float64, len(points))
	for i, pt := range points {
		rawConf[i] = pt.Raw
	}
	r := &Report{Cases: len(points), Folds: opts.Folds, Knots: cal.Knots, Abstentions: cal.Abstentions, Params: opts.Params}
	r.ReliabilityRaw, r.ECERaw = reliability(points, rawConf)
	r.ReliabilityCalibrated, r.ECECalibrated = reliability(points, Apply(cal, points))
	r.ReliabilityCrossValidated, r.ECECrossValidated = reliability(points, CrossValidate(points, folds, opts.Folds, opts.Params))
	cal.Fit = classify.CalibrationFit{
		Cases: r.Cases, Folds: r.Folds,
		ECERaw: round4(r.ECERaw), ECECalibrated: round4(r.ECECalibrated), ECECrossValidated: round4(r.ECECrossValidated),
	}
	r.Calibration = cal
	return r
}

// reliability scores confidences with the bench's own binning, so that the
// figures here and those of "medic bench classify" are the same measure.
// The bench counts a prediction correct when its label equals the truth;
// the points carry that already, so the labels stand for it.
func reliability(points []Point, conf []float64) ([]benchclassify.Bin, float64) {
	preds := make([]benchclassify.Prediction, len(points))
	for i, pt := range points {
		preds[i] = benchclassify.Prediction{Label: "right", Predicted: "wrong", Confidence: conf[i]}
		if pt.Correct {
			preds[i].Predicted = "right"
		}
	}
	return benchclassify.Calibration(preds)
}

// groupKeys reads the group of every case of path, in the order of cases:
// the case's "group" field, or its id alone when it has none.
func groupKeys(path string, cases []benchclassify.Case) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open cases: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 1<<20), 16<<20)
	keys := make([]string, 0, len(cases))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		var k struct {
			ID    string `json:"id"`
			Group string `json:"group"`
		}
		if err := json.Unmarshal([]byte(line), &k); err != nil {
			return nil, fmt.Errorf("%s:%d: decode case: %w", path, n, err)
		}
		if i := len(keys); i >= len(cases) || cases[i].ID != k.ID {
			return nil, fmt.Errorf("%s:%d: case %q changed while it was read; run again", path, n, k.ID)
		}
		key := "case " + k.ID
		if k.Group != "" {
			key = "group " + k.Group
		}
		keys = append(keys, key)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read cases %s: %w", path, err)
	}
	if len(keys) != len(cases) {
		return nil, fmt.Errorf("read cases %s: %d cases, then %d; the file changed while it was read, run again", path, len(cases), len(keys))
	}
	return keys, nil
}

// WriteTable writes the figures, the fitted map and the reliability tables
// before and after calibration for people.
func (r *Report) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "cases\t%d\n", r.Cases)
	fmt.Fprintf(tw, "ece raw\t%.3f\n", r.ECERaw)
	fmt.Fprintf(tw, "ece calibrated (in sample)\t%.3f\n", r.ECECalibrated)
	fmt.Fprintf(tw, "ece calibrated (%d-fold cv by group)\t%.3f\n\n", r.Folds, r.ECECrossValidated)

	fmt.Fprintln(tw, "raw\tcalibrated")
	for _, k := range r.Knots {
		fmt.Fprintf(tw, "%.4f\t%.4f\n", k.Raw, k.Calibrated)
	}
	for _, k := range classify.Abstentions() {
		fmt.Fprintf(tw, "UNKNOWN (%s) %.2f\t%.4f\n", k, k.RawConfidence(), r.Abstentions[k])
	}
	fmt.Fprintln(tw)

	fmt.Fprintln(tw, "reliability\traw count\tconfidence\taccuracy\tcalibrated count\tconfidence\taccuracy\tcv count\tconfidence\taccuracy")
	for i, b := range r.ReliabilityRaw {
		c, v := r.ReliabilityCalibrated[i], r.ReliabilityCrossValidated[i]
		fmt.Fprintf(tw, "[%.1f,%.1f)\t%d\t%.3f\t%.3f\t%d\t%.3f\t%.3f\t%d\t%.3f\t%.3f\n",
			b.Lo, b.Hi, b.Count, b.Confidence, b.Accuracy, c.Count, c.Confidence, c.Accuracy, v.Count, v.Confidence, v.Accuracy)
	}
	return tw.Flush()
}

// WriteJSON writes the report as one JSON line.
func (r *Report) WriteJSON(w io.Writer) error {
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("encode calibration report: %w", err)
	}
	_, err = w.Write(append(b, '\n'))
	return err
}
