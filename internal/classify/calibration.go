package classify

import (
	"maps"
	"slices"
)

// Abstention is the kind of an UNKNOWN answer. Each kind has one fixed raw
// confidence, so a calibration maps kinds, not scores, for abstentions.
type Abstention string

// The kinds of abstention.
const (
	// AbstainEmpty: there were no log lines and no signals.
	AbstainEmpty Abstention = "empty"
	// AbstainNoMatch: no rule matched; often a failure family the rules do
	// not know yet.
	AbstainNoMatch Abstention = "no_match"
	// AbstainWrapperOnly: only generic wrappers ("Celery command failed")
	// matched, which usually really means the log shows no cause.
	AbstainWrapperOnly Abstention = "wrapper_only"
	// AbstainWeak: the best label's evidence was too weak or contradicted.
	AbstainWeak Abstention = "weak"
)

// Raw confidences of the abstention kinds: hand-set estimates of how often
// each kind is right to say UNKNOWN. A calibration replaces them with what
// was measured; they remain the prior it shrinks towards.
var abstentionRaw = map[Abstention]float64{
	AbstainEmpty:       0.9,
	AbstainWrapperOnly: 0.8,
	AbstainNoMatch:     0.4,
	AbstainWeak:        0.35,
}

// Abstentions returns the kinds of abstention in a fixed order.
func Abstentions() []Abstention {
	return []Abstention{AbstainEmpty, AbstainNoMatch, AbstainWrapperOnly, AbstainWeak}
}

// RawConfidence is the uncalibrated confidence of an abstention of kind k.
func (k Abstention) RawConfidence() float64 { return abstentionRaw[k] }

// Knot is one point of a calibration map.
type Knot struct {
	Raw        float64
	Calibrated float64
}

// CalibrationFit records what a calibration was fitted on, for the reader
// of the generated file and for anyone checking it is current.
type CalibrationFit struct {
	// Cases is how many labelled cases the map was fitted on.
	Cases int
	// Folds is the number of group-wise folds of the cross-validation.
	Folds int
	// ECERaw, ECECalibrated and ECECrossValidated are the expected
	// calibration errors (10 equal-width bins) of the raw confidences, of
	// the calibrated ones on the fitting cases, and of out-of-fold
	// calibrated ones.
	ECERaw            float64
	ECECalibrated     float64
	ECECrossValidated float64
}

// Calibration maps raw confidences to calibrated probabilities that the
// diagnosis is right. The zero value is the identity. A Calibration is
// read-only once built.
type Calibration struct {
	// Knots, ascending in Raw and non-decreasing in Calibrated, define a
	// piecewise-linear map for labelled diagnoses; it is flat beyond the
	// first and last knot. No knots means the identity.
	Knots []Knot
	// Abstentions holds the calibrated confidence of each abstention kind;
	// a kind not listed keeps its raw confidence.
	Abstentions map[Abstention]float64
	// Fit describes the data the map was fitted on.
	Fit CalibrationFit
}

// Labelled maps the raw confidence of a labelled diagnosis.
func (c *Calibration) Labelled(raw float64) float64 {
	k := c.Knots
	switch {
	case len(k) == 0:
		return raw
	case raw <= k[0].Raw:
		return k[0].Calibrated
	case raw >= k[len(k)-1].Raw:
		return k[len(k)-1].Calibrated
	}
	// The first knot at or above raw; raw lies strictly inside the range.
	i, _ := slices.BinarySearchFunc(k, raw, func(a Knot, r float64) int {
		switch {
		case a.Raw < r:
			return -1
		case a.Raw > r:
			return 1
		}
		return 0
	})
	hi, lo := k[i], k[i-1]
	if hi.Raw == lo.Raw {
		return hi.Calibrated
	}
	t := (raw - lo.Raw) / (hi.Raw - lo.Raw)
	return lo.Calibrated + t*(hi.Calibrated-lo.Calibrated)
}

// Abstained maps the confidence of an abstention of kind k.
func (c *Calibration) Abstained(k Abstention) float64 {
	if p, ok := c.Abstentions[k]; ok {
		return p
	}
	return k.RawConfidence()
}

// Apply is the confidence a classifier with c reports for an answer of raw
// confidence raw and abstention kind k ("" for a labelled answer), rounded
// as diagnoses are.
func (c *Calibration) Apply(raw float64, k Abstention) float64 {
	if k != "" {
		return round3(c.Abstained(k))
	}
	return round3(c.Labelled(raw))
}

// clone copies c so that a caller's later edits cannot reach a Classifier.
func (c Calibration) clone() Calibration {
	c.Knots = slices.Clone(c.Knots)
	c.Abstentions = maps.Clone(c.Abstentions)
	return c
}

// EmbeddedCalibration returns a copy of the calibration fitted for the
// embedded rules (calibration_gen.go, written by "medic calibrate").
func EmbeddedCalibration() Calibration { return embeddedCalibration.clone() }

// Option configures a Classifier.
type Option func(*Classifier)

// WithCalibration makes the classifier report confidences through c. The
// default is EmbeddedCalibration, which was fitted for the embedded rules;
// a classifier with other rules should be given its own fit or none.
func WithCalibration(c Calibration) Option {
	return func(cl *Classifier) { cl.cal = c.clone() }
}

// WithoutCalibration makes the classifier report raw confidences, as
// "medic calibrate" needs them to fit a map.
func WithoutCalibration() Option { return WithCalibration(Calibration{}) }
