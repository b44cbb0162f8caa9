package extract_test

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/medic-sh/medic/internal/logscan/extract"
)

// TestBadInput feeds logs that are empty, huge, binary or pathologically
// nested: Extract must not panic and must stay within its bounds. A hang
// is caught by go test's timeout; speed is measured by `medic bench
// logscan`, not asserted here.
func TestBadInput(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		lines func() []string
		root  bool
	}{
		{"nil", func() []string { return nil }, false},
		{"empty line", func() []string { return []string{""} }, false},
		{"blank lines", func() []string { return strings.Split(strings.Repeat("\n", 5000), "\n") }, false},
		{"one 50 MB line", func() []string {
			return []string{"[2024-05-01, 02:00:03 UTC] {load.py:9} ERROR - payload: " + strings.Repeat(`{"k": "v"}, `, 5<<20)}
		}, true},
		{"binary garbage", binaryGarbage, false},
		{"deeply chained python", chainedPython, true},
		{"one traceback with 100k frames", hugeTraceback, true},
		{"java with 5k caused-bys", deepJava, true},
		{"a traceback cut after its header", func() []string { return []string{"Traceback (most recent call last):"} }, true},
		{"only frames", func() []string {
			return []string{`  File "/app/a.py", line 1, in <module>`, `    main()`, `  File "/app/a.py", line 9, in main`}
		}, true},
		{"regex bait", regexBait, true},
		{"keyword soup", keywordSoup, true},
		{"500k short lines", func() []string {
			return strings.Split(strings.Repeat("INFO - row ok\n", 500000), "\n")
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			lines := tt.lines()
			res := extract.Extract(lines) // a hang is caught by go test's timeout; speed is benchmarked
			checkInvariants(t, lines, res)
			if tt.root {
				require.NotNil(t, res.Root)
			} else {
				require.Nil(t, res.Root)
				require.Equal(t, extract.NoErrorBlock, res.Reason)
			}
		})
	}
}

func binaryGarbage() []string {
	r := rand.New(rand.NewPCG(1, 2))
	b := make([]byte, 4<<20)
	for i := range b {
		b[i] = byte(r.UintN(256))
		if b[i] == 'E' || b[i] == 'F' || b[i] == 'T' {
			b[i] = 'x' // no accidental "ERROR", "FATAL" or "Traceback" fragments
		}
	}
	return strings.Split(string(b), "\n")
}

func chainedPython() []string {
	var b strings.Builder
	for i := range 10000 {
		fmt.Fprintf(&b, "Traceback (most recent call last):\n  File \"/app/x.py\", line %d, in f%d\n    g()\nValueError: level %d\n\n", i, i, i)
		b.WriteString("During handling of the above exception, another exception occurred:\n\n")
	}
	b.WriteString("Traceback (most recent call last):\n  File \"/app/x.py\", line 1, in top\nRuntimeError: top\n")
	return strings.Split(b.String(), "\n")
}

func hugeTraceback() []string {
	lines := []string{"Traceback (most recent call last):"}
	for i := range 100000 {
		lines = append(lines, fmt.Sprintf(`  File "/app/rec.py", line %d, in rec`, i), "    return rec(n - 1)")
	}
	return append(lines, "RecursionError: maximum recursion depth exceeded")
}

func deepJava() []string {
	lines := []string{"java.lang.RuntimeException: outer", "\tat com.acme.Main.main(Main.java:1)"}
	for i := range 5000 {
		lines = append(lines, fmt.Sprintf("Caused by: java.lang.IllegalStateException: level %d", i), "\tat com.acme.Deep.f(Deep.java:2)", "\t... 1 more")
	}
	return lines
}

func regexBait() []string {
	return []string{
		strings.Repeat("[", 10000) + strings.Repeat("a.", 4000) + "Error:",
		strings.Repeat(`File "`, 2000),
		strings.Repeat("Caused by: ", 2000),
		strings.Repeat("000000 (00000): ", 1000),
		"ERROR: " + strings.Repeat("at x.y(", 3000),
	}
}

// keywordSoup is the most expensive input per byte: every line long and
// full of the words the detectors look for before running their patterns.
func keywordSoup() []string {
	words := []string{
		"ERROR:", "Traceback (most recent call last)", `File "x", line 1`, "at a.B(C.java:1)", "Caused by: ",
		"Reason: OOMKilled", "Warning", "Status:", "stage failure", "Lost executor", "google.", "BigQuery",
		"): ", "psycopg", "does not exist", "Exception", "Error", "FAILED", "Database Error in model m (p)",
		"Got 1 result, configured to fail if != 0", "Task exited with return code -9", "/",
	}
	line := strings.Repeat(strings.Join(words, " ")+" ", 16)[:extract.MaxLineBytes]
	lines := make([]string, extract.MaxScanLines)
	for i := range lines {
		lines[i] = line
	}
	return lines
}

// FuzzExtract checks that no input panics Extract or breaks its bounds.
func FuzzExtract(f *testing.F) {
	logs, _ := filepath.Glob("testdata/*.log")
	for _, p := range logs {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(string(b))
		}
	}
	f.Add("Traceback (most recent call last):\n  File \"x\", line 1, in y\nKeyError: 'a'\n\nDuring handling of the above exception, another exception occurred:\n\nTraceback (most recent call last):\nValueError")
	f.Add("Exception in thread \"main\" a.B: c\n\tat a.B.c(B.java:1)\nCaused by: d.E\n\t... 1 more")
	f.Add("Reason: OOMKilled\nExit Code: 137\n\"reason\": \"Evicted\"")
	f.Add("ERROR:  relation \"x\" does not exist\nLINE 1: select\n        ^\nHINT:  h\n002003 (42S02): q: SQL compilation error:\n")
	f.Add("Database Error in model m (models/m.sql)\n  boom\nDone. PASS=0 WARN=0 ERROR=1 SKIP=0 TOTAL=1")
	f.Add("{\"event\":\"x\",\"error_detail\":[{\"exc_type\":\"A\",\"frames\":[{\"filename\":\"f\",\"lineno\":1}]}]}")
	f.Fuzz(func(t *testing.T, log string) {
		lines := strings.Split(log, "\n")
		res := extract.Extract(lines)
		checkInvariants(t, lines, res)
	})
}
