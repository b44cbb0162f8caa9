package llm

import (
	"errors"
	"fmt"
	"strings"

	"github.com/medic-sh/medic/internal/config"
	"github.com/medic-sh/medic/internal/logscan"
)

// ErrTimeout is the cause recorded when one model request hits
// ClientConfig.Timeout.
var ErrTimeout = errors.New("model request timed out")

// APIError is a failed model request. Retryable says whether the same
// request may succeed later (timeouts, connection errors, 429 and 5xx) or
// not (other 4xx, malformed or oversized responses). Its message never holds
// the API key: server text is scrubbed of it and redacted before it is kept.
type APIError struct {
	Provider Provider
	// URL is the endpoint, without any user information.
	URL string
	// Status is the HTTP status of the last attempt, 0 when there was no
	// response.
	Status    int
	Retryable bool
	// Attempts is how many requests were sent.
	Attempts int
	Err      error
}

func (e *APIError) Error() string {
	kind := "not retryable"
	if e.Retryable {
		kind = "retryable"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s chat via %s", e.Provider, e.URL)
	if e.Status != 0 {
		fmt.Fprintf(&b, ": HTTP %d", e.Status)
	}
	fmt.Fprintf(&b, " (%s", kind)
	if e.Attempts > 1 {
		fmt.Fprintf(&b, ", after %d attempts", e.Attempts)
	}
	fmt.Fprintf(&b, "): %v", e.Err)
	return b.String()
}

func (e *APIError) Unwrap() error { return e.Err }

// IsRetryable reports whether err is an APIError worth retrying.
func IsRetryable(err error) bool {
	var ae *APIError
	return errors.As(err, &ae) && ae.Retryable
}

// maxSnippet is how much of a server's error body an error quotes.
const maxSnippet = 300

// snippet returns the start of a response body for an error message, with
// the API key (which some servers echo back) removed and the rest redacted.
func snippet(b []byte, key config.Secret) string {
	s := strings.TrimSpace(scrub(string(b), key))
	if len(s) > maxSnippet {
		s = truncateUTF8(s, maxSnippet) + "…"
	}
	if s == "" {
		return "(empty body)"
	}
	return s
}

// scrub removes every occurrence of key from s, then applies the log
// redactor, which also catches keys it never saw (sk-..., sk-ant-...).
func scrub(s string, key config.Secret) string {
	if k := key.Reveal(); k != "" {
		s = strings.ReplaceAll(s, k, "[redacted]")
	}
	return logscan.Redact(s)
}

// truncateUTF8 cuts s to at most n bytes without splitting a character.
func truncateUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !isRuneStart(s[n]) {
		n--
	}
	return s[:n]
}

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }

// noKey is for snippets of bodies that cannot hold the key.
var noKey config.Secret
