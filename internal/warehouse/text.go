package warehouse

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/medic-sh/medic/internal/logscan"
)

// MaxText is the default cap, in bytes, for one piece of text in a Profile.
const MaxText = 2000

const truncMark = " …[truncated]"

// Clean makes warehouse text safe to leave the package: valid UTF-8, secrets
// redacted (logscan's default redactor: query text can carry literals such as
// passwords), and at most limit bytes (MaxText when limit <= 0). Every query
// text, server message and evidence line in a Profile went through it.
func Clean(s string, limit int) string {
	if limit <= 0 {
		limit = MaxText
	}
	if s == "" {
		return s
	}
	// Bound the redactor's work on huge text, cutting at a space so no
	// secret is split into a fragment the rules would not recognise. What
	// follows the cut is past the final limit anyway.
	if pre := 4*limit + 1024; len(s) > pre {
		cut := strings.LastIndexFunc(s[:pre], unicode.IsSpace)
		if cut < limit {
			cut = limit
		}
		s = s[:cut]
	}
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = logscan.Redact(s)
	return truncate(s, limit)
}

// truncate cuts s to at most limit bytes on a rune boundary, marking the cut.
func truncate(s string, limit int) string {
	if len(s) <= limit {
		return s
	}
	keep := limit - len(truncMark)
	if keep < 0 {
		keep = 0
	}
	for keep > 0 && !utf8.RuneStart(s[keep]) {
		keep--
	}
	return s[:keep] + truncMark
}
