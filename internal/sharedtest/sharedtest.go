// Package sharedtest finds the team's shared data directory (../shared next
// to the repository) for tests and benchmarks. The data is read in place and
// never copied into the repository. When the directory is absent a test skips
// with a message, except under CI=true, where it fails: CI must never pass by
// silently skipping the contract tests.
package sharedtest

import (
	"os"
	"path/filepath"
	"testing"
)

// EnvDir overrides the location of the shared directory.
const EnvDir = "MEDIC_SHARED_DIR"

// Find returns the shared directory, or "" when it cannot be found. It looks at
// $MEDIC_SHARED_DIR, then for a "shared" directory beside the repository root
// (the nearest parent holding go.mod).
func Find() string {
	if d := os.Getenv(EnvDir); d != "" {
		if isDir(d) {
			return d
		}
		return ""
	}
	wd, err := os.Getwd()
	if err != nil {
		return ""
	}
	for dir := wd; ; dir = filepath.Dir(dir) {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			cand := filepath.Join(filepath.Dir(dir), "shared")
			if isDir(cand) {
				return cand
			}
			return ""
		}
		if filepath.Dir(dir) == dir {
			return ""
		}
	}
}

// Dir returns the shared directory joined with elem, skipping the test when it
// is missing (failing it when CI=true).
func Dir(tb testing.TB, elem ...string) string {
	tb.Helper()
	root := Find()
	p := ""
	if root != "" {
		p = filepath.Join(append([]string{root}, elem...)...)
		if _, err := os.Stat(p); err != nil {
			p = ""
		}
	}
	if p == "" {
		msg := "shared data " + filepath.Join(elem...) + " not found (set " + EnvDir + " or place ../shared beside the repository)"
		if os.Getenv("CI") == "true" {
			tb.Fatal(msg + "; CI=true requires it")
		}
		tb.Skip(msg)
	}
	return p
}

func isDir(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}
