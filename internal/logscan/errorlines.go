package logscan

import "strings"

// errorMarkers are substrings that mark a line as part of an error report.
var errorMarkers = []string{
	"Traceback (most recent call last)", "ERROR", "CRITICAL", "Exception", "Error:", "error:",
	"FAILED", "Failure in", "Caused by:", "return code", "killed", "Killed", "OOMKilled", "Timeout", "timed out",
}

// ErrorLines returns the indexes of lines that look like they carry the
// failure, in order. It is a first heuristic; structured error-block
// extraction replaces it.
func ErrorLines(lines []string) []int {
	var out []int
	for i, l := range lines {
		for _, m := range errorMarkers {
			if strings.Contains(l, m) {
				out = append(out, i)
				break
			}
		}
	}
	return out
}
