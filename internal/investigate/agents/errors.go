package agents

import (
	"errors"
	"fmt"
)

// Problems a definition can have. Every *Error matches one of them with
// errors.Is.
var (
	// ErrSyntax is a file that is not YAML, or not one mapping.
	ErrSyntax = errors.New("not a valid agent definition")
	// ErrUnknownKey is a key no definition has.
	ErrUnknownKey = errors.New("unknown key")
	// ErrUnknownTool is a tool the registry does not hold.
	ErrUnknownTool = errors.New("unknown tool")
	// ErrCommanderOnly is a commander-only tool (invoke_agent) given to a
	// specialist.
	ErrCommanderOnly = errors.New("tool reserved for the commander")
	// ErrUnknownEngine is an engine medic does not have, or an agent that
	// would have nothing to run.
	ErrUnknownEngine = errors.New("unknown engine")
	// ErrDuplicate is a second definition of a name in the same place.
	ErrDuplicate = errors.New("duplicate agent")
	// ErrInvalid is any other bad value.
	ErrInvalid = errors.New("invalid value")
)

// Error is one problem of one definition file, with where it is.
type Error struct {
	// File is the definition's file: "builtin/log-analyzer.yaml" for an
	// embedded one, else the path it was read from.
	File string
	// Line is the 1-based line of the key at fault, 0 when unknown.
	Line int
	// Field is the key at fault ("tools[2]"), "" for the whole file.
	Field string
	Err   error
}

func (e *Error) Error() string {
	loc := e.File
	if e.Line > 0 {
		loc = fmt.Sprintf("%s:%d", e.File, e.Line)
	}
	if e.Field != "" {
		return fmt.Sprintf("%s: %s: %v", loc, e.Field, e.Err)
	}
	return fmt.Sprintf("%s: %v", loc, e.Err)
}

// Unwrap returns the problem.
func (e *Error) Unwrap() error { return e.Err }

// problem is a message that matches a sentinel.
type problem struct {
	kind error
	msg  string
}

func (p *problem) Error() string { return p.msg }
func (p *problem) Unwrap() error { return p.kind }

func problemf(kind error, format string, args ...any) error {
	return &problem{kind: kind, msg: fmt.Sprintf(format, args...)}
}
