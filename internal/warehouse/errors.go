package warehouse

import "fmt"

// ErrorKind classifies why a section of a profile could not be read.
type ErrorKind string

// Error kinds. Unavailable, Timeout and Canceled are worth retrying later;
// the others need a person (a grant, a fix to the query) before a retry
// helps.
const (
	ErrorUnavailable ErrorKind = "unavailable" // could not connect, connection lost, too many connections
	ErrorTimeout     ErrorKind = "timeout"     // statement_timeout, lock_timeout or the caller's deadline
	ErrorRejected    ErrorKind = "rejected"    // the SQL guard refused the query; it was never sent
	ErrorPermission  ErrorKind = "permission"  // the profiler's role may not read this
	ErrorCanceled    ErrorKind = "canceled"    // the caller gave up before the read finished
	ErrorQuery       ErrorKind = "query"       // any other failure of the query
)

// Error is one part of a profile that could not be read. Its message is
// redacted and capped; Unwrap gives the underlying error for errors.As
// (for example to *sqlguard.RejectError).
type Error struct {
	// Section is the part of the profile: "connect", "server", "activity",
	// "locks", "tables", "statements", "query".
	Section   string    `json:"section"`
	Kind      ErrorKind `json:"kind"`
	Retryable bool      `json:"retryable"`
	Message   string    `json:"message"`
	Err       error     `json:"-"`
}

// NewError builds an Error for section, cleaning err's text. Retryable
// follows from kind.
func NewError(section string, kind ErrorKind, err error) *Error {
	msg := ""
	if err != nil {
		msg = Clean(err.Error(), 500)
	}
	return &Error{
		Section:   section,
		Kind:      kind,
		Retryable: kind == ErrorUnavailable || kind == ErrorTimeout || kind == ErrorCanceled,
		Message:   msg,
		Err:       err,
	}
}

func (e *Error) Error() string {
	return fmt.Sprintf("warehouse %s: %s: %s", e.Section, e.Kind, e.Message)
}

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }
