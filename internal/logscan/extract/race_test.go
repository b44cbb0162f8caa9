//go:build race

package extract_test

// slowdown scales time limits under the race detector, which makes this
// CPU-bound code about ten times slower.
const slowdown = 10
