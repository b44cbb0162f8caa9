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
	"strings"

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
}

// maxMessage bounds the message part that enters the signature; a message's
// head names the failure, its tail is usually data.
const maxMessage = 512

// Of returns the signature of an error block.
func Of(b *extract.Block) Signature {
	msg := strings.TrimSpace(b.Message)
	if i := strings.IndexByte(msg, '\n'); i >= 0 {
		msg = msg[:i]
	}
	if len(msg) > maxMessage {
		msg = msg[:maxMessage]
	}
	tmpl := template.Canonical(template.Mask(msg))
	parts := []string{b.Kind, b.ExceptionType, tmpl, frame(b.FirstUserFrame)}
	text := strings.Join(parts, " | ")
	sum := sha256.Sum256([]byte(text))
	return Signature{ID: "sig_" + hex.EncodeToString(sum[:8]), Text: text, Template: tmpl}
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
