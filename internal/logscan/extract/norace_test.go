//go:build !race

package extract_test

// slowdown scales time limits under the race detector; 1 without it.
const slowdown = 1
