package classify

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestCalibrationChangesOnlyConfidence: a classifier reports the mapped
// confidence and keeps the raw one, and every decision is the same with
// or without the map.
func TestCalibrationChangesOnlyConfidence(t *testing.T) {
	t.Parallel()
	squash := Calibration{
		Knots:       []Knot{{Raw: 0.4, Calibrated: 0.1}, {Raw: 0.9, Calibrated: 0.2}},
		Abstentions: map[Abstention]float64{AbstainNoMatch: 0.05, AbstainWrapperOnly: 0.5, AbstainEmpty: 0.6, AbstainWeak: 0.07},
	}
	squashed, err := New(DefaultRules(), WithCalibration(squash))
	require.NoError(t, err)
	raw, err := New(DefaultRules(), WithoutCalibration())
	require.NoError(t, err)
	tests := []struct {
		name string
		in   Input
		kind Abstention
	}{
		{"labelled", Input{Lines: []string{"requests.exceptions.HTTPError: 429 Client Error: Too Many Requests for url: https://api.example.com/x"}}, ""},
		{"retry-safe at a low calibrated confidence", Input{Lines: []string{"ERROR: deadlock detected"}}, ""},
		{"empty", Input{}, AbstainEmpty},
		{"no rule matched", Input{Lines: []string{"all is well"}}, AbstainNoMatch},
		{"wrapper only", Input{Lines: []string{"AirflowException: Celery command failed on host: worker-1"}}, AbstainWrapperOnly},
		{"weak", Input{Signals: Signals{Duration: time.Hour, UsualDuration: time.Minute}}, AbstainWeak},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a, b := squashed.Classify(tt.in), raw.Classify(tt.in)
			require.Equal(t, tt.kind, a.Abstention(), a.Reason)
			require.Equal(t, b.RawConfidence, b.Confidence, "no calibration: confidence is raw")
			require.Equal(t, b.RawConfidence, a.RawConfidence)
			require.Equal(t, squash.Apply(a.RawConfidence, a.Abstention()), a.Confidence)
			if tt.kind != "" {
				require.Equal(t, tt.kind.RawConfidence(), a.RawConfidence)
				require.Equal(t, squash.Abstentions[tt.kind], a.Confidence)
			}
			b.Confidence = a.Confidence
			require.Equal(t, b, a, "only the confidence differs")
		})
	}
}

func TestDefaultUsesTheEmbeddedCalibration(t *testing.T) {
	t.Parallel()
	cal := EmbeddedCalibration()
	d := Classify(Input{Lines: []string{"OSError: [Errno 28] No space left on device"}})
	require.Equal(t, cal.Apply(d.RawConfidence, ""), d.Confidence)
	// EmbeddedCalibration hands out a copy.
	cal.Knots = append(cal.Knots[:0], Knot{Raw: 0, Calibrated: 0})
	require.Equal(t, d, Classify(Input{Lines: []string{"OSError: [Errno 28] No space left on device"}}))
}

func TestCalibrationWithOptionIsCopied(t *testing.T) {
	t.Parallel()
	cal := Calibration{Knots: []Knot{{Raw: 0.5, Calibrated: 0.5}}}
	c, err := New(DefaultRules(), WithCalibration(cal))
	require.NoError(t, err)
	before := c.Classify(Input{Lines: []string{"ERROR: deadlock detected"}})
	cal.Knots[0].Calibrated = 0.01
	require.Equal(t, before, c.Classify(Input{Lines: []string{"ERROR: deadlock detected"}}))
	require.InDelta(t, 0.5, before.Confidence, 1e-9)
}
