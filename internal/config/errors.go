package config

import (
	"errors"
	"fmt"
	"strings"
)

// The kinds of configuration problem. Every error returned by Parse, Load and
// Validate matches one of them with errors.Is, so callers never need to look
// at message text.
var (
	// ErrUnknownKey is a key that no field of the configuration carries,
	// usually a typo.
	ErrUnknownKey = errors.New("unknown key")
	// ErrDuplicateKey is a key given twice in one mapping, or a secret given
	// both inline and as *_file or *_env.
	ErrDuplicateKey = errors.New("duplicate key")
	// ErrWrongType is a value that cannot be decoded into its key's type,
	// such as "four" for an integer or "7d" for a duration.
	ErrWrongType = errors.New("wrong type")
	// ErrSecretSource is a *_file or *_env secret that could not be read.
	ErrSecretSource = errors.New("secret source")
	// ErrSyntax is a file that is not well-formed YAML.
	ErrSyntax = errors.New("YAML syntax error")
	// ErrMultipleDocuments is a file holding more than one YAML document.
	ErrMultipleDocuments = errors.New("multiple documents")
	// ErrInvalid is a value of the right type that Validate rejects.
	ErrInvalid = errors.New("invalid value")
)

// FieldError is one problem with one configuration key. Its message reads
// like "medic.yaml:12: airflow.instances[0].pasword: unknown key (did you
// mean "password"?)" and never contains a secret.
type FieldError struct {
	// File is the configuration file name as given to Parse or Load; empty
	// when the value did not come from a file.
	File string
	// Line is the 1-based line of the key in File; 0 when unknown.
	Line int
	// Env is the environment variable that set the value, when one did.
	Env string
	// Path is the YAML path of the key, such as "airflow.instances[0].url";
	// empty for problems with the document as a whole.
	Path string
	// Err says what is wrong; it matches one of the Err* kinds.
	Err error
}

// Error renders the problem as "file:line: path: what is wrong".
func (e *FieldError) Error() string {
	var b strings.Builder
	switch {
	case e.File != "" && e.Line > 0:
		fmt.Fprintf(&b, "%s:%d: ", e.File, e.Line)
	case e.File != "":
		fmt.Fprintf(&b, "%s: ", e.File)
	case e.Line > 0:
		fmt.Fprintf(&b, "line %d: ", e.Line)
	}
	if e.Path != "" {
		b.WriteString(e.Path)
		if e.Env != "" {
			fmt.Fprintf(&b, " (set by %s)", e.Env)
		}
		b.WriteString(": ")
	}
	b.WriteString(e.Err.Error())
	return b.String()
}

// Unwrap returns Err, so errors.Is finds the kind of problem.
func (e *FieldError) Unwrap() error { return e.Err }

// problem is an error whose message is written for people while its kind
// (and cause, if any) stay reachable through errors.Is and errors.As.
type problem struct {
	kind  error
	msg   string
	cause error
}

func newProblem(kind error, format string, args ...any) *problem {
	return &problem{kind: kind, msg: fmt.Sprintf(format, args...)}
}

func (p *problem) Error() string {
	if p.cause != nil {
		return p.msg + ": " + p.cause.Error()
	}
	return p.msg
}

func (p *problem) Unwrap() []error {
	if p.cause != nil {
		return []error{p.kind, p.cause}
	}
	return []error{p.kind}
}

// position records where a configuration value came from, so that problems
// found after decoding (by Validate) can still point at a line.
type position struct {
	line int
	env  string
}

// positions maps YAML paths to where their values were set.
type positions map[string]position

// locate fills File, Line and Env of e from the closest recorded ancestor of
// its path: a problem with a key the file left at its default points at the
// enclosing mapping.
func (p positions) locate(e *FieldError, file string) {
	for path := e.Path; path != ""; path = parentPath(path) {
		pos, ok := p[path]
		if !ok {
			continue
		}
		if pos.env != "" {
			e.Env = pos.env
			return
		}
		e.File, e.Line = file, pos.line
		return
	}
	e.File = file
}

// parentPath strips the last element of a YAML path:
// "a.b[2].c" → "a.b[2]" → "a.b" → "a" → "".
func parentPath(path string) string {
	i := strings.LastIndexAny(path, ".[")
	if i < 0 {
		return ""
	}
	return path[:i]
}

// joinPath appends a key to a YAML path.
func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// Problems returns the *FieldError problems held in an error from Load,
// Parse or Validate, in order, for callers that show them one by one (such
// as a --json listing). Other errors, such as a YAML syntax error, give none.
func Problems(err error) []*FieldError {
	var out []*FieldError
	var walk func(error)
	walk = func(e error) {
		// A type switch, not errors.As: the walk must stop at each
		// *FieldError and descend into every branch of a join.
		switch e := e.(type) { //nolint:errorlint // see above
		case *FieldError:
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

// joinFieldErrors returns nil for no problems and their errors.Join otherwise,
// which prints one problem per line.
func joinFieldErrors(errs []*FieldError) error {
	if len(errs) == 0 {
		return nil
	}
	all := make([]error, len(errs))
	for i, e := range errs {
		all[i] = e
	}
	return errors.Join(all...)
}
