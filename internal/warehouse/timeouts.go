package warehouse

import (
	"regexp"
	"strings"
)

// timeoutPatterns recognise the messages engines print when a wait ends a
// statement. They are the engines' own wordings (PostgreSQL's "canceling
// statement due to lock timeout", "deadlock detected", "could not obtain
// lock on relation"; Snowflake's "statement or warehouse timeout").
var timeoutPatterns = []struct {
	kind TimeoutKind
	re   *regexp.Regexp
}{
	{TimeoutLock, regexp.MustCompile(`(?i)\block[ _]timeout\b`)},
	{TimeoutStatement, regexp.MustCompile(`(?i)\bstatement[ _]timeout\b|statement or warehouse timeout`)},
	{TimeoutDeadlock, regexp.MustCompile(`(?i)\bdeadlock detected\b|\bdeadlock found\b`)},
	{TimeoutLockNotAvailable, regexp.MustCompile(`(?i)could not obtain lock on`)},
	{TimeoutIdleInXact, regexp.MustCompile(`(?i)idle[- _]in[- _]transaction[- _](?:session[- _])?timeout`)},
}

// TimeoutsIn lists the timeouts and deadlocks an error text reports, one per
// kind, each with the (cleaned) line it was seen on.
func TimeoutsIn(errorText string) []Timeout {
	if len(errorText) > 256<<10 {
		errorText = errorText[len(errorText)-256<<10:]
	}
	var out []Timeout
	for _, p := range timeoutPatterns {
		loc := p.re.FindStringIndex(errorText)
		if loc == nil {
			continue
		}
		out = append(out, Timeout{Kind: p.kind, Source: "error_text", Evidence: Clean(lineAt(errorText, loc[0]), 300)})
	}
	return out
}

// lineAt returns the line of s that holds byte offset i.
func lineAt(s string, i int) string {
	start := strings.LastIndexByte(s[:i], '\n') + 1
	end := strings.IndexByte(s[i:], '\n')
	if end < 0 {
		return strings.TrimSpace(s[start:])
	}
	return strings.TrimSpace(s[start : i+end])
}
