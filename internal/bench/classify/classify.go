// Package classify benchmarks medic's failure classifier on a labelled JSONL
// corpus (the fields of ../shared/corpus: id, log, label, retry_safe,
// remediation). Each log is split into lines, redacted and extracted exactly
// as the triage path does, then classified; the package scores labels,
// retry safety and calibration. It reads the corpus in place and never
// writes to it or copies its text anywhere.
package classify

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	cls "github.com/medic-sh/medic/internal/classify"
	"github.com/medic-sh/medic/internal/logscan"
	"github.com/medic-sh/medic/internal/logscan/extract"
	"github.com/medic-sh/medic/internal/memory"
)

// Options configures a run.
type Options struct {
	// Classifier is the classifier under test; the embedded rules when nil.
	Classifier *cls.Classifier
	// KeepCases keeps every case's prediction in Result.Cases.
	KeepCases bool
	// Memory is "" (cold: no memory), MemoryLeaveGroupOut or
	// MemoryLeaveOneOut.
	Memory string
	// Recall tunes how memory changes a diagnosis (the defaults when zero).
	Recall memory.RecallOptions
}

// Case is one labelled record of the corpus. Unknown fields are ignored.
type Case struct {
	ID          string `json:"id"`
	Log         string `json:"log"`
	Label       string `json:"label"`
	RetrySafe   bool   `json:"retry_safe"`
	Remediation string `json:"remediation"`
	Hard        bool   `json:"hard,omitempty"`
	// Group names cases that are variants of one failure; leave-group-out
	// memory never lets a case recall its own group. A case without one is
	// its own group.
	Group string `json:"group,omitempty"`
}

// Prediction is the classifier's answer for one case.
type Prediction struct {
	ID              string  `json:"id"`
	Label           string  `json:"label"`
	Predicted       string  `json:"predicted"`
	Confidence      float64 `json:"confidence"`
	RawConfidence   float64 `json:"raw_confidence"`
	RetrySafe       bool    `json:"retry_safe"`
	PredRetrySafe   bool    `json:"pred_retry_safe"`
	Remediation     string  `json:"remediation"`
	PredRemediation string  `json:"pred_remediation"`
	Hard            bool    `json:"hard,omitempty"`
	Reason          string  `json:"reason"`
}

// Result is the outcome of a run.
type Result struct {
	Metrics
	// CasesPerSec is cases divided by the time spent splitting, redacting,
	// extracting and classifying (not reading the file).
	CasesPerSec float64 `json:"cases_per_sec"`
	// Mode is "cold" or "memory:" followed by the memory mode.
	Mode string `json:"mode"`
	// Memory, in a memory mode, says what recall changed.
	Memory *MemoryStats `json:"memory,omitempty"`
	Cases  []Prediction `json:"-"`
}

// Run reads casesPath and classifies every case.
func Run(ctx context.Context, casesPath string, opts Options) (*Result, error) {
	cases, err := ReadCases(casesPath)
	if err != nil {
		return nil, err
	}
	c := opts.Classifier
	if c == nil {
		c = cls.Default()
	}
	switch opts.Memory {
	case "":
	case MemoryLeaveGroupOut, MemoryLeaveOneOut:
		return runWithMemory(ctx, casesPath, cases, c, opts)
	default:
		return nil, fmt.Errorf("classify bench: unknown memory mode %q (want %s or %s)", opts.Memory, MemoryLeaveGroupOut, MemoryLeaveOneOut)
	}
	preds := make([]Prediction, 0, len(cases))
	start := time.Now()
	for _, k := range cases {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("classify bench %s: %w", casesPath, err)
		}
		d := Diagnose(c, k.Log)
		preds = append(preds, predict(k, d))
	}
	elapsed := time.Since(start)
	res := &Result{Metrics: Score(preds), Mode: "cold"}
	if s := elapsed.Seconds(); s > 0 {
		res.CasesPerSec = float64(len(preds)) / s
	}
	if opts.KeepCases {
		res.Cases = preds
	}
	return res, nil
}

func predict(k Case, d cls.Diagnosis) Prediction {
	return Prediction{
		ID: k.ID, Label: k.Label, Predicted: string(d.Label), Confidence: d.Confidence, RawConfidence: d.RawConfidence,
		RetrySafe: k.RetrySafe, PredRetrySafe: d.RetrySafe,
		Remediation: k.Remediation, PredRemediation: string(d.Remediation),
		Hard: k.Hard, Reason: d.Reason,
	}
}

// Diagnose runs the triage path on one raw log: split, redact, extract,
// classify.
func Diagnose(c *cls.Classifier, log string) cls.Diagnosis {
	lines := strings.Split(strings.ReplaceAll(log, "\r\n", "\n"), "\n")
	lines = logscan.RedactLines(lines)
	return c.Classify(cls.Input{Lines: lines, Extract: extract.Extract(lines)})
}

// ReadCases reads a JSONL file of cases; blank lines are skipped.
func ReadCases(path string) ([]Case, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open cases: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 1<<20), 16<<20)
	var out []Case
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		var k Case
		if err := json.Unmarshal([]byte(line), &k); err != nil {
			return nil, fmt.Errorf("%s:%d: decode case: %w", path, n, err)
		}
		if !cls.Label(k.Label).Valid() {
			return nil, fmt.Errorf("%s:%d: case %q has unknown label %q", path, n, k.ID, k.Label)
		}
		out = append(out, k)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read cases %s: %w", path, err)
	}
	if len(out) == 0 {
		return nil, errors.New("read cases " + path + ": no cases")
	}
	return out, nil
}
