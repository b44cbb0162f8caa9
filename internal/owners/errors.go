package owners

import (
	"errors"
	"fmt"
	"strings"
)

// The kinds of ownership-file problem. Every *RuleError matches one of them
// with errors.Is.
var (
	// ErrSyntax is a file that is not well-formed YAML, or holds more than
	// one document.
	ErrSyntax = errors.New("YAML syntax error")
	// ErrUnknownKey is a key the format does not have, usually a typo.
	ErrUnknownKey = errors.New("unknown key")
	// ErrDuplicateKey is a key given twice in one mapping, or a rule name
	// used twice.
	ErrDuplicateKey = errors.New("duplicate key")
	// ErrWrongType is a value of the wrong shape, such as a list where a
	// string belongs.
	ErrWrongType = errors.New("wrong type")
	// ErrBadPattern is a dag, task, table or dataset pattern that does not
	// compile.
	ErrBadPattern = errors.New("bad pattern")
	// ErrInvalid is a value of the right type that is not allowed, such as a
	// tier of 7 or a rule without any match; Resolve also returns it for an
	// Input without a DAG id.
	ErrInvalid = errors.New("invalid value")
	// ErrTooLarge is a file, or a list in it, over its size limit.
	ErrTooLarge = errors.New("too large")
)

// RuleError is one problem in an ownership file. It reads like
// "owners.yaml:14: rules[2] (payments-core): match.dag: bad pattern: …".
type RuleError struct {
	// File is the file name given to ParseRules or LoadRules.
	File string
	// Line is the 1-based line of the offending key or value; 0 if unknown.
	Line int
	// Rule names the rule, as "rules[2] (payments-core)"; empty for problems
	// outside a rule.
	Rule string
	// Path is the key inside the rule (or the document), such as
	// "match.dag".
	Path string
	// Err says what is wrong; it matches one of the Err* kinds.
	Err error
}

// Error renders the problem as "file:line: rule: path: what is wrong".
func (e *RuleError) Error() string {
	var b strings.Builder
	switch {
	case e.File != "" && e.Line > 0:
		fmt.Fprintf(&b, "%s:%d: ", e.File, e.Line)
	case e.File != "":
		fmt.Fprintf(&b, "%s: ", e.File)
	case e.Line > 0:
		fmt.Fprintf(&b, "line %d: ", e.Line)
	}
	if e.Rule != "" {
		b.WriteString(e.Rule)
		b.WriteString(": ")
	}
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString(e.Err.Error())
	return b.String()
}

// Unwrap returns Err, so errors.Is finds the kind of problem.
func (e *RuleError) Unwrap() error { return e.Err }

// kindError is a message for people whose kind stays reachable by errors.Is.
type kindError struct {
	kind error
	msg  string
}

func (k *kindError) Error() string { return k.msg }
func (k *kindError) Unwrap() error { return k.kind }

func problemf(kind error, format string, args ...any) error {
	return &kindError{kind: kind, msg: fmt.Sprintf(format, args...)}
}

// RuleErrors returns the problems held in an error from ParseRules or
// LoadRules, in file order, for callers that list them one by one.
func RuleErrors(err error) []*RuleError {
	var out []*RuleError
	var walk func(error)
	walk = func(e error) {
		// A type switch, not errors.As: the walk must stop at each
		// *RuleError and descend into every branch of a join.
		switch e := e.(type) { //nolint:errorlint // see above
		case *RuleError:
			out = append(out, e)
		case interface{ Unwrap() []error }:
			for _, inner := range e.Unwrap() {
				walk(inner)
			}
		case interface{ Unwrap() error }:
			walk(e.Unwrap())
		}
	}
	if err != nil {
		walk(err)
	}
	return out
}
