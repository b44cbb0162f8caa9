// Package signature reduces an extracted error to a failure signature: the
// same failure in different runs, on different dates and hosts gets the same
// signature, and different failures get different ones. It combines the
// error's kind, its exception type, the template of its message (variable
// parts masked) and the first user-code frame. It is pure and never sees
// unredacted text: callers redact before extracting.
package signature

import (
	"crypto/sha256"
	"encoding/hex"
	"path"
	"regexp"
	"strings"
	"unicode"

	"github.com/medic-sh/medic/internal/logscan/extract"
	"github.com/medic-sh/medic/internal/logscan/template"
)

// Signature identifies a failure.
type Signature struct {
	// ID is a short, stable hash of Text.
	ID string `json:"id"`
	// Text is what the hash is taken over, readable for people:
	// kind | exception type | message template | user frame.
	Text string `json:"text"`
	// Template is the message with its variable parts masked.
	Template string `json:"template"`
	// Generic is true when the block has no exception type and its
	// message has fewer than two words (a lone "{" of a JSON dump, an empty
	// message): the signature then names little more than the kind of log,
	// unrelated failures share it, and it must not be used to say two
	// failures are the same.
	Generic bool `json:"generic,omitempty"`
}

// maxMessage bounds the message part that enters the signature; a message's
// head names the failure, its tail is usually data.
const maxMessage = 512

// Of returns the signature of an error block.
func Of(b *extract.Block) Signature {
	msg := headline(b.Message)
	if len(msg) > maxMessage {
		msg = msg[:maxMessage]
	}
	tmpl := template.Canonical(template.Mask(quoted.ReplaceAllString(msg, template.Wildcard)))
	parts := []string{b.Kind, b.ExceptionType, tmpl, frame(b.FirstUserFrame)}
	text := strings.Join(parts, " | ")
	sum := sha256.Sum256([]byte(text))
	return Signature{ID: "sig_" + hex.EncodeToString(sum[:8]), Text: text, Template: tmpl, Generic: b.ExceptionType == "" && words(tmpl) < 2}
}

// quoted matches a quoted name or value ('ANALYTICS.PUBLIC.ORDERS',
// "customer_ref"): which table or column it is varies between runs and
// pipelines while the failure stays the same.
var quoted = regexp.MustCompile(`'[^'\n]{1,200}'|"[^"\n]{1,200}"|` + "`[^`\\n]{1,200}`")

// headline is the part of a message that names the failure: its first
// line, or its first two when the first only announces what follows
// ("SQL compilation error:" then "Object 'X' does not exist"), so that
// different failures behind one generic announcement stay apart.
func headline(msg string) string {
	var lines []string
	for l := range strings.SplitSeq(strings.TrimSpace(msg), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, l)
		}
		if len(lines) == 2 {
			break
		}
	}
	switch {
	case len(lines) == 0:
		return ""
	case len(lines) == 2 && announces(lines[0]):
		return lines[0] + " " + lines[1]
	}
	return lines[0]
}

// announces reports whether a line only introduces the next: it ends with a
// colon, or it has fewer than three words once variables are masked.
func announces(line string) bool {
	if strings.HasSuffix(line, ":") {
		return true
	}
	return words(template.Mask(line)) < 3
}

// words counts the words of a masked text that have letters.
func words(masked string) int {
	n := 0
	for w := range strings.FieldsSeq(masked) {
		if w != template.Wildcard && strings.ContainsFunc(w, unicode.IsLetter) {
			n++
		}
	}
	return n
}

// frame names a user frame by file name and function, not its full path
// or line number: deployments mount DAGs in different folders, and edits
// move lines without changing the failure.
func frame(f *extract.Frame) string {
	if f == nil {
		return ""
	}
	return path.Base(strings.ReplaceAll(f.File, "\\", "/")) + ":" + f.Function
}
