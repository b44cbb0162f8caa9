package classify

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestScoreTiny(t *testing.T) {
	t.Parallel()
	preds := []Prediction{
		{Label: "TIMEOUT", Predicted: "TIMEOUT", Confidence: 0.95, RetrySafe: true, PredRetrySafe: true},
		{Label: "TIMEOUT", Predicted: "INFRA", Confidence: 0.55, RetrySafe: false, PredRetrySafe: true},
		{Label: "INFRA", Predicted: "INFRA", Confidence: 0.55, RetrySafe: true, PredRetrySafe: false},
		{Label: "UNKNOWN", Predicted: "UNKNOWN", Confidence: 0.15},
	}
	m := Score(preds)
	require.Equal(t, 4, m.N)
	require.InDelta(t, 0.75, m.Accuracy, 1e-9)
	require.InDelta(t, 0.25, m.AbstentionRate, 1e-9)
	// TIMEOUT: p=1/1, r=1/2, f1=2/3; INFRA: p=1/2, r=1/1, f1=2/3; UNKNOWN: 1.
	require.InDelta(t, 2.0/3, m.PerLabel["TIMEOUT"].F1, 1e-9)
	require.InDelta(t, 0.5, m.PerLabel["INFRA"].Precision, 1e-9)
	require.InDelta(t, (2.0/3+2.0/3+1)/3, m.MacroF1, 1e-9)
	// Retry-safe: predicted true twice, one right; truly safe twice, one found.
	require.InDelta(t, 0.5, m.RetrySafePrecision, 1e-9)
	require.InDelta(t, 0.5, m.RetrySafeRecall, 1e-9)
	require.Equal(t, 1, m.Confusion["TIMEOUT"]["INFRA"])
	// Bins: [0.9,1) acc 1 conf .95 (n1); [0.5,0.6) acc .5 conf .55 (n2);
	// [0.1,0.2) acc 1 conf .15 (n1). ECE = (0.05 + 2*0.05 + 0.85)/4.
	require.InDelta(t, (0.05+2*0.05+0.85)/4, m.ECE, 1e-9)
	require.Equal(t, 2, m.Reliability[5].Count)
}

func TestCalibrationEdges(t *testing.T) {
	t.Parallel()
	bins, ece := Calibration([]Prediction{{Label: "A", Predicted: "A", Confidence: 1}, {Label: "A", Predicted: "B", Confidence: 0}})
	require.Equal(t, 1, bins[9].Count)
	require.Equal(t, 1, bins[0].Count)
	require.InDelta(t, 0, ece, 1e-9)
	m := Score(nil)
	require.Equal(t, 0, m.N)
}

func TestRunSmallFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	p := filepath.Join(dir, "cases.jsonl")
	recs := []Case{
		{ID: "a", Log: "ERROR: deadlock detected", Label: "UPSTREAM_UNAVAILABLE", RetrySafe: true, Remediation: "retry_with_backoff"},
		{ID: "b", Log: "OSError: [Errno 28] No space left on device", Label: "RESOURCE", Remediation: "retry_with_more_resources"},
		{ID: "c", Log: "Celery command failed", Label: "UNKNOWN", Remediation: "escalate"},
	}
	var buf bytes.Buffer
	for _, r := range recs {
		b, err := json.Marshal(r)
		require.NoError(t, err)
		buf.Write(append(b, '\n'))
	}
	require.NoError(t, os.WriteFile(p, buf.Bytes(), 0o600))

	res, err := Run(context.Background(), p, Options{KeepCases: true})
	require.NoError(t, err)
	require.Equal(t, 3, res.N)
	require.InDelta(t, 1.0, res.Accuracy, 1e-9)
	require.InDelta(t, 1.0, res.RetrySafePrecision, 1e-9)
	require.Len(t, res.Cases, 3)

	var out bytes.Buffer
	require.NoError(t, res.WriteJSON(&out))
	require.Equal(t, 1, bytes.Count(out.Bytes(), []byte("\n")))
	var got map[string]any
	require.NoError(t, json.Unmarshal(out.Bytes(), &got))
	for _, k := range []string{"cases", "accuracy", "macro_f1", "retry_safe_precision", "retry_safe_recall", "ece", "abstention_rate", "per_label"} {
		require.Contains(t, got, k)
	}
	out.Reset()
	require.NoError(t, res.WriteTable(&out))
	require.Contains(t, out.String(), "confusion")
	require.Contains(t, out.String(), "reliability")

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = Run(ctx, p, Options{})
	require.ErrorIs(t, err, context.Canceled)
}

func TestReadCasesErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	_, err := ReadCases(filepath.Join(dir, "missing.jsonl"))
	require.Error(t, err)
	bad := filepath.Join(dir, "bad.jsonl")
	require.NoError(t, os.WriteFile(bad, []byte("{\"id\":\"x\",\"label\":\"NOPE\"}\n"), 0o600))
	_, err = ReadCases(bad)
	require.Error(t, err)
	empty := filepath.Join(dir, "empty.jsonl")
	require.NoError(t, os.WriteFile(empty, []byte("\n"), 0o600))
	_, err = ReadCases(empty)
	require.Error(t, err)
}

// TestMemoryModes checks that leave-group-out never recalls a case's own
// group while leave-one-out does, on a file where the only way to classify
// the vague cases is to remember their group's other member.
func TestMemoryModes(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	p := filepath.Join(dir, "cases.jsonl")
	vague := "widget.exceptions.FrobnicationError: the frobnicator rejected batch 12 of the nightly load"
	recs := []Case{
		{ID: "a1", Log: vague, Label: "CODE_ERROR", Remediation: "fix_code", Group: "frob"},
		{ID: "a2", Log: strings.ReplaceAll(vague, "12", "40"), Label: "CODE_ERROR", Remediation: "fix_code", Group: "frob"},
		{ID: "b", Log: "OSError: [Errno 28] No space left on device", Label: "RESOURCE", Remediation: "retry_with_more_resources"},
	}
	var buf bytes.Buffer
	for _, r := range recs {
		b, err := json.Marshal(r)
		require.NoError(t, err)
		buf.Write(append(b, '\n'))
	}
	require.NoError(t, os.WriteFile(p, buf.Bytes(), 0o600))

	cold, err := Run(context.Background(), p, Options{KeepCases: true})
	require.NoError(t, err)
	require.Equal(t, "cold", cold.Mode)
	require.Equal(t, "UNKNOWN", cold.Cases[0].Predicted, "no rule knows the frobnicator")

	lgo, err := Run(context.Background(), p, Options{KeepCases: true, Memory: MemoryLeaveGroupOut})
	require.NoError(t, err)
	require.Equal(t, 0, lgo.Memory.WithPrecedent, "a1 and a2 share a group, so neither may recall the other")
	require.Equal(t, "UNKNOWN", lgo.Cases[0].Predicted)
	require.InDelta(t, cold.Accuracy, lgo.Memory.Cold.Accuracy, 1e-9)

	loo, err := Run(context.Background(), p, Options{KeepCases: true, Memory: MemoryLeaveOneOut})
	require.NoError(t, err)
	require.Equal(t, 2, loo.Memory.Exact, "each frob case recalls the other by signature")
	require.Equal(t, 2, loo.Memory.Fixed)
	require.Equal(t, "CODE_ERROR", loo.Cases[0].Predicted)
	require.Equal(t, "CODE_ERROR", loo.Cases[1].Predicted)
	require.Greater(t, loo.Accuracy, cold.Accuracy)

	var out bytes.Buffer
	require.NoError(t, loo.WriteTable(&out))
	require.Contains(t, out.String(), "with memory")

	_, err = Run(context.Background(), p, Options{Memory: "everything"})
	require.ErrorContains(t, err, "unknown memory mode")
}
