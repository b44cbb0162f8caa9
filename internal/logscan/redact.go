// Package logscan reads failed-task logs: it redacts secrets and picks out
// the lines that explain a failure. Log text is untrusted data: logscan never
// interprets it as instructions and never lets an unredacted secret out.
//
// This is the first set of redaction rules, applied to everything medic
// stores or shows; later work extends it (more rules, a keyword prefilter,
// operator rules from config) behind the same Redact function.
package logscan

import (
	"regexp"
	"strings"
)

type rule struct {
	name string
	re   *regexp.Regexp
	// keep is the number of leading capture groups kept verbatim (a key name
	// and its separator); the rest of the match becomes the placeholder.
	keep bool
}

var rules = []rule{
	{name: "private_key", re: regexp.MustCompile(`-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(?:-----END [A-Z ]*PRIVATE KEY-----|$)`)},
	{name: "aws_access_key", re: regexp.MustCompile(`\b(?:AKIA|ASIA)[0-9A-Z]{16}\b`)},
	{name: "slack_token", re: regexp.MustCompile(`\bxox[abposr]-[0-9A-Za-z-]{10,}`)},
	{name: "github_token", re: regexp.MustCompile(`\b(?:gh[pousr]_[0-9A-Za-z]{30,}|github_pat_[0-9A-Za-z_]{30,})`)},
	{name: "jwt", re: regexp.MustCompile(`\beyJ[0-9A-Za-z_-]{8,}\.eyJ[0-9A-Za-z_-]{8,}\.[0-9A-Za-z_-]{8,}`)},
	{name: "auth_header", keep: true, re: regexp.MustCompile(`(?i)(authorization["']?\s*[:=]\s*["']?(?:bearer|basic|token)\s+)[^\s"',;]+`)},
	{name: "url_password", keep: true, re: regexp.MustCompile(`([a-zA-Z][a-zA-Z0-9+.-]*://[^\s:/@'"]+:)[^\s@/'"]+(@)`)},
	{name: "secret_pair", keep: true, re: regexp.MustCompile(`(?i)((?:password|passwd|pwd|secret|token|api[_-]?key|access[_-]?key|private[_-]?key|client[_-]?secret)["']?\s*[:=]\s*["']?)[^\s"',;&}]{3,}`)},
}

// Redact replaces every secret the rules recognise with a stable placeholder
// such as [REDACTED:aws_access_key].
func Redact(s string) string {
	for _, r := range rules {
		if r.keep {
			s = r.re.ReplaceAllStringFunc(s, func(m string) string {
				sub := r.re.FindStringSubmatch(m)
				out := sub[1] + "[REDACTED:" + r.name + "]"
				if len(sub) > 2 {
					out += sub[2]
				}
				return out
			})
			continue
		}
		s = r.re.ReplaceAllString(s, "[REDACTED:"+r.name+"]")
	}
	return s
}

// RedactLines redacts each line of a slice in place and returns it.
func RedactLines(lines []string) []string {
	for i, l := range lines {
		lines[i] = Redact(l)
	}
	return lines
}

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
