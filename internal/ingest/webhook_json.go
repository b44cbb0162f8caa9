package ingest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/medic-sh/medic/internal/incident"
)

// DecodeError says what is wrong with a reported failure, precisely enough
// for the reporter's author to fix it. It always matches incident.ErrInvalid
// with errors.Is, and also the underlying JSON error when there is one.
type DecodeError struct {
	// Field is the JSON field at fault, or "" when the body as a whole is.
	Field string
	// Reason completes the sentence "<Field> ...", or stands alone when Field
	// is empty.
	Reason string
	// Err is the cause: a JSON syntax error, or the validation error.
	Err error
}

// Error renders "dag_id is required" or "body is not valid JSON: ...".
func (e *DecodeError) Error() string {
	if e.Field == "" {
		return e.Reason
	}
	return e.Field + " " + e.Reason
}

// Unwrap exposes incident.ErrInvalid and the cause.
func (e *DecodeError) Unwrap() []error {
	switch {
	case e.Err == nil:
		return []error{incident.ErrInvalid}
	case errors.Is(e.Err, incident.ErrInvalid):
		return []error{e.Err}
	}
	return []error{incident.ErrInvalid, e.Err}
}

// decodeObject reads body as exactly one JSON object, keeping each member's
// raw value. Duplicate members are refused: which one wins differs between
// JSON libraries, so the sender and medic could disagree on the identity.
func decodeObject(body []byte) (map[string]json.RawMessage, error) {
	if !utf8.Valid(body) {
		return nil, &DecodeError{Reason: "body is not valid UTF-8"}
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	tok, err := dec.Token()
	if errors.Is(err, io.EOF) {
		return nil, &DecodeError{Reason: "body is empty: want a JSON object"}
	}
	if err != nil {
		return nil, syntaxError(err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, &DecodeError{Reason: "body must be a JSON object, got " + tokenKind(tok)}
	}
	obj := make(map[string]json.RawMessage)
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, syntaxError(err)
		}
		key, ok := tok.(string)
		if !ok {
			return nil, &DecodeError{Reason: "body is not valid JSON: object key is not a string"}
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, syntaxError(err)
		}
		if _, dup := obj[key]; dup {
			return nil, &DecodeError{Field: strconv.Quote(key), Reason: "appears more than once"}
		}
		obj[key] = raw
	}
	if _, err := dec.Token(); err != nil {
		return nil, syntaxError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, &DecodeError{Reason: "body has data after the JSON object: send exactly one object", Err: err}
	}
	return obj, nil
}

func syntaxError(err error) *DecodeError {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return &DecodeError{Reason: "body is not valid JSON: it ends before the object is complete", Err: err}
	}
	return &DecodeError{Reason: "body is not valid JSON: " + err.Error(), Err: err}
}

func tokenKind(tok json.Token) string {
	switch v := tok.(type) {
	case json.Delim:
		if v == '[' {
			return "an array"
		}
		return string(v)
	case string:
		return "a string"
	case float64, json.Number:
		return "a number"
	case bool:
		return "a boolean"
	case nil:
		return "null"
	}
	return fmt.Sprintf("%T", tok)
}

// fields reads typed members out of a decoded object. The first problem
// sticks; later reads are no-ops, so a caller reads every field and checks
// err once.
type fields struct {
	obj map[string]json.RawMessage
	err *DecodeError
}

// raw returns the member's value, or nil when it is absent or null.
func (f *fields) raw(name string) json.RawMessage {
	if f.err != nil {
		return nil
	}
	v, ok := f.obj[name]
	if !ok || string(v) == "null" {
		return nil
	}
	return v
}

func (f *fields) fail(name, reason string, raw json.RawMessage) {
	if f.err == nil {
		if raw != nil {
			reason += ", got " + preview(raw)
		}
		f.err = &DecodeError{Field: name, Reason: reason}
	}
}

// has reports whether the member is present and not null.
func (f *fields) has(name string) bool { return f.raw(name) != nil }

func (f *fields) str(name string) string {
	v := f.raw(name)
	if v == nil {
		return ""
	}
	var s string
	if v[0] != '"' || json.Unmarshal(v, &s) != nil {
		f.fail(name, "must be a string", v)
		return ""
	}
	return s
}

// integer reads a whole number in [minimum, MaxInt32]; want describes it in
// the error.
func (f *fields) integer(name string, minimum int64, want string) (int, bool) {
	v := f.raw(name)
	if v == nil {
		return 0, false
	}
	n, err := strconv.ParseInt(string(v), 10, 32)
	if err != nil || n < minimum {
		f.fail(name, "must be "+want, v)
		return 0, false
	}
	return int(n), true
}

func (f *fields) timestamp(name string) *time.Time {
	v := f.raw(name)
	if v == nil {
		return nil
	}
	var s string
	if v[0] != '"' || json.Unmarshal(v, &s) != nil {
		f.fail(name, `must be an RFC 3339 timestamp string such as "2026-05-01T00:00:00Z"`, v)
		return nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		f.fail(name, `must be an RFC 3339 timestamp with a time zone, such as "2026-05-01T00:00:00+00:00"`, v)
		return nil
	}
	t = t.UTC()
	return &t
}

func (f *fields) strings(name string) []string {
	v := f.raw(name)
	if v == nil {
		return nil
	}
	var elems []json.RawMessage
	if v[0] != '[' || json.Unmarshal(v, &elems) != nil {
		f.fail(name, "must be an array of strings", v)
		return nil
	}
	out := make([]string, 0, len(elems))
	for i, e := range elems {
		var s string
		if len(e) == 0 || e[0] != '"' || json.Unmarshal(e, &s) != nil {
			f.fail(fmt.Sprintf("%s[%d]", name, i), "must be a string", e)
			return nil
		}
		out = append(out, s)
	}
	return out
}

// preview quotes a bounded prefix of an offending value for an error
// message. The value is already JSON, so it cannot break the message's own
// encoding.
func preview(raw json.RawMessage) string {
	const maxPreview = 64
	s := string(raw)
	if len(s) <= maxPreview {
		return s
	}
	return truncateUTF8(s, maxPreview, "…")
}

// truncateUTF8 cuts s to at most n bytes, on a rune boundary, ending with
// marker when it had to cut.
func truncateUTF8(s string, n int, marker string) string {
	if len(s) <= n {
		return s
	}
	cut := max(n-len(marker), 0)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + marker
}

// truncateRunes cuts s to at most n runes.
func truncateRunes(s string, n int) string {
	i := 0
	for pos := range s {
		if i == n {
			return s[:pos]
		}
		i++
	}
	return s
}
