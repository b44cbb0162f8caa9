//go:build race

package logscan_test

// raceEnabled shrinks the largest inputs under the race detector, which
// slows redaction about tenfold.
const raceEnabled = true
