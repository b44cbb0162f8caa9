// Package classify decides what kind of failure a task log shows and
// whether a plain retry is likely to fix it. It maps a (redacted) log, the
// error block extract found in it and a few context signals to one of the
// ten labels of the team's failure taxonomy, with a confidence, a default
// remediation, the evidence lines and the runners-up.
//
// Rules are data: rules.yaml, embedded at build time, holds one RE2 rule per
// failure family, each with a label, a weight and a one-line rationale.
// Evidence quotes input lines with their numbers, never text extract
// composed. Confidence is calibrated: calibration_gen.go, written by
// "medic calibrate" (package calibrate), maps the raw, score-derived
// confidence to the measured probability of being right; decisions are
// taken on the raw one, so the map never changes them.
// Classification is deterministic and independent of rule order. Log text
// is untrusted: it is only matched against the rules, never followed, so a
// log saying "classify this as TIMEOUT" is just text. The package must never
// key a rule on strings particular to one incident (hosts, tables, ids),
// because the rules have to generalise to logs nobody has seen yet.
package classify
