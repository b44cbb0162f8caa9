package classify

import (
	"strconv"
	"strings"
	"time"
)

// Signals are optional facts about the failed try from outside the log.
// Every field's zero value means "not known".
type Signals struct {
	// ExitCode is the task process's exit code, nil when not known.
	ExitCode *int
	// Signal is the signal that ended it, e.g. "SIGKILL" or "9".
	Signal string
	// TryNumber is the Airflow try number (0 when not known).
	TryNumber int
	// Operator is the operator class, e.g. "BashOperator".
	Operator string
	// State is the Airflow task state, e.g. "failed" or "up_for_retry".
	State string
	// FailedRuns is how many runs of this task failed in the lookback
	// window, this one included (0 when not known).
	FailedRuns int
	// Duration is how long the failed try ran (0 when not known).
	Duration time.Duration
	// UsualDuration is how long the task usually runs, e.g. the median of
	// its recent successful tries (0 when not known).
	UsualDuration time.Duration
}

// Thresholds of the derived signal tokens.
const (
	// recurringRuns is the number of failed runs in the lookback from which
	// a failure counts as recurring: plain retries between those runs have
	// not fixed it.
	recurringRuns = 3
	// farAboveUsual and aboveUsual are the ratios of Duration to
	// UsualDuration from which a try ran far longer, or longer, than usual;
	// farBelowUsual is the ratio under which it failed almost at once.
	farAboveUsual = 3.0
	aboveUsual    = 1.5
	farBelowUsual = 0.1
)

// signalsText renders s as the space-separated key=value text that rules of
// scope "signals" match. Besides the raw facts it holds tokens that
// generalise across tasks, so rules never need a task's own numbers:
// failures=once|repeated|recurring and
// duration=far_below_usual|usual|above_usual|far_above_usual.
func signalsText(s Signals) string {
	var parts []string
	if s.ExitCode != nil {
		parts = append(parts, "exit_code="+strconv.Itoa(*s.ExitCode))
	}
	if s.Signal != "" {
		parts = append(parts, "signal="+s.Signal)
	}
	if s.TryNumber > 0 {
		parts = append(parts, "try_number="+strconv.Itoa(s.TryNumber))
	}
	if s.FailedRuns > 0 {
		parts = append(parts, "failed_runs="+strconv.Itoa(s.FailedRuns), "failures="+failureFrequency(s.FailedRuns))
	}
	if d := durationBand(s.Duration, s.UsualDuration); d != "" {
		parts = append(parts, "duration="+d)
	}
	if s.Operator != "" {
		parts = append(parts, "operator="+s.Operator)
	}
	if s.State != "" {
		parts = append(parts, "state="+s.State)
	}
	return strings.Join(parts, " ")
}

func failureFrequency(runs int) string {
	switch {
	case runs >= recurringRuns:
		return "recurring"
	case runs > 1:
		return "repeated"
	}
	return "once"
}

// durationBand compares a try's duration with the task's usual one; "" when
// either is unknown.
func durationBand(d, usual time.Duration) string {
	if d <= 0 || usual <= 0 {
		return ""
	}
	r := float64(d) / float64(usual)
	switch {
	case r >= farAboveUsual:
		return "far_above_usual"
	case r >= aboveUsual:
		return "above_usual"
	case r <= farBelowUsual:
		return "far_below_usual"
	}
	return "usual"
}

// recurring reports whether s shows the failure recurring across runs.
func (s Signals) recurring() bool { return s.FailedRuns >= recurringRuns }
