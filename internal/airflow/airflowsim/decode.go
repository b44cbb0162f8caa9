package airflowsim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// body decodes a JSON request body field by field, collecting errors in
// both versions' words: connexion/marshmallow for 2.x (the first error is
// reported), pydantic for 3.x (all of them). Fields are read once each; then
// done reports keys nobody read.
type body struct {
	raw    map[string]json.RawMessage
	whole  any
	errs   []valErr
	read   map[string]bool
	absent bool
}

const maxBody = 1 << 20

// readBody parses r's body. A missing or non-object body is an error unless
// optional; the returned body is usable either way (errors are recorded).
func readBody(r *http.Request, optional bool) *body {
	b := &body{raw: map[string]json.RawMessage{}, read: map[string]bool{}}
	data, err := io.ReadAll(io.LimitReader(r.Body, maxBody))
	if err != nil {
		b.errs = append(b.errs, valErr{Type: "missing", Loc: []any{"body"}, Msg: "Field required", v1: "Request body could not be read"})
		return b
	}
	data = bytes.TrimSpace(data)
	if len(data) == 0 {
		b.absent = true
		if !optional {
			b.errs = append(b.errs, valErr{Type: "missing", Loc: []any{"body"}, Msg: "Field required", v1: "Request body must not be empty"})
		}
		return b
	}
	if err := json.Unmarshal(data, &b.whole); err != nil {
		b.errs = append(b.errs, valErr{
			Type: "json_invalid", Loc: []any{"body", 0}, Msg: "JSON decode error", Input: map[string]any{},
			Ctx: map[string]any{"error": "Expecting value"}, v1: "Failed to decode JSON object: " + err.Error(),
		})
		return b
	}
	if err := json.Unmarshal(data, &b.raw); err != nil {
		b.errs = append(b.errs, valErr{
			Type: "model_attributes_type", Loc: []any{"body"}, Input: b.whole,
			Msg: "Input should be a valid dictionary or object to extract fields from",
			v1:  fmt.Sprintf("%s is not of type 'object'", pyValue(b.whole)),
		})
	}
	return b
}

func (b *body) fail(name, typ, msg, v1 string, input any, ctx map[string]any) {
	b.errs = append(b.errs, valErr{Type: typ, Loc: []any{"body", name}, Msg: msg, Input: input, Ctx: ctx, v1: v1})
}

func (b *body) get(name string) (any, bool) {
	b.read[name] = true
	raw, ok := b.raw[name]
	if !ok {
		return nil, false
	}
	var v any
	_ = json.Unmarshal(raw, &v)
	return v, true
}

// present reports whether the key is in the body at all (even as null).
func (b *body) present(name string) bool {
	_, ok := b.raw[name]
	return ok
}

// boolean reads a bool; 3.x accepts pydantic's lax strings ("true", "yes",
// "0"...), 2.x only JSON booleans.
func (b *body) boolean(version int, name string, def bool) bool {
	v, ok := b.get(name)
	if !ok {
		return def
	}
	switch x := v.(type) {
	case bool:
		return x
	case string:
		if version == 3 {
			switch strings.ToLower(x) {
			case "1", "on", "t", "true", "y", "yes":
				return true
			case "0", "off", "f", "false", "n", "no":
				return false
			}
			b.fail(name, "bool_parsing", "Input should be a valid boolean, unable to interpret input", "", x, nil)
			return def
		}
	case float64:
		if version == 3 && (x == 0 || x == 1) {
			return x == 1
		}
	}
	b.fail(name, "bool_type", "Input should be a valid boolean", fmt.Sprintf("%s is not of type 'boolean' - '%s'", pyValue(v), name), v, nil)
	return def
}

// str reads a string; null is allowed when nullable.
func (b *body) str(name string, nullable bool) (string, bool) {
	v, ok := b.get(name)
	if !ok || (v == nil && nullable) {
		return "", false
	}
	if s, isStr := v.(string); isStr {
		return s, true
	}
	b.fail(name, "string_type", "Input should be a valid string", fmt.Sprintf("%s is not of type 'string' - '%s'", pyValue(v), name), v, nil)
	return "", false
}

// datetime reads an RFC 3339 date-time with an offset; null is allowed.
func (b *body) datetime(name string) *time.Time {
	s, ok := b.str(name, true)
	if !ok {
		return nil
	}
	t, err := parseDateTime(s)
	if err != nil {
		if _, naive := time.Parse("2006-01-02T15:04:05", s); naive == nil {
			b.fail(name, "timezone_aware", "Input should have timezone info", fmt.Sprintf("'%s' is not a 'date-time' - '%s'", s, name), s, nil)
		} else {
			b.fail(name, "datetime_from_date_parsing", "Input should be a valid datetime or date, invalid character in year", fmt.Sprintf("'%s' is not a 'date-time' - '%s'", s, name), s, map[string]any{"error": "invalid character in year"})
		}
		return nil
	}
	return &t
}

// strings reads a list of strings; null is allowed.
func (b *body) strings(name string, minItems int) ([]string, bool) {
	v, ok := b.get(name)
	if !ok || v == nil {
		return nil, false
	}
	list, isList := v.([]any)
	if !isList {
		b.fail(name, "list_type", "Input should be a valid list", fmt.Sprintf("%s is not of type 'array' - '%s'", pyValue(v), name), v, nil)
		return nil, false
	}
	if len(list) < minItems {
		b.fail(name, "too_short", fmt.Sprintf("List should have at least %d item after validation, not %d", minItems, len(list)),
			fmt.Sprintf("[] is too short - '%s'", name), v, map[string]any{"field_type": "List", "min_length": minItems, "actual_length": len(list)})
		return nil, false
	}
	out := make([]string, 0, len(list))
	for i, item := range list {
		s, isStr := item.(string)
		if !isStr {
			b.errs = append(b.errs, valErr{
				Type: "string_type", Loc: []any{"body", name, i}, Msg: "Input should be a valid string", Input: item,
				v1: fmt.Sprintf("%s is not of type 'string' - '%s/%d'", pyValue(item), name, i),
			})
			continue
		}
		out = append(out, s)
	}
	return out, true
}

// integer reads an int with a lower bound.
func (b *body) integer(name string, def, minimum int) int {
	v, ok := b.get(name)
	if !ok || v == nil {
		return def
	}
	f, isNum := v.(float64)
	if !isNum || f != float64(int(f)) {
		b.fail(name, "int_type", "Input should be a valid integer", fmt.Sprintf("%s is not of type 'integer' - '%s'", pyValue(v), name), v, nil)
		return def
	}
	if int(f) < minimum {
		b.fail(name, "greater_than_equal", fmt.Sprintf("Input should be greater than or equal to %d", minimum),
			fmt.Sprintf("%d is less than the minimum of %d - '%s'", int(f), minimum, name), v, map[string]any{"ge": minimum})
		return def
	}
	return int(f)
}

// number reads a float; null is allowed.
func (b *body) number(name string) *float64 {
	v, ok := b.get(name)
	if !ok || v == nil {
		return nil
	}
	f, isNum := v.(float64)
	if !isNum {
		b.fail(name, "float_type", "Input should be a valid number", fmt.Sprintf("%s is not of type 'number' - '%s'", pyValue(v), name), v, nil)
		return nil
	}
	return &f
}

// object reads a JSON object; null is allowed.
func (b *body) object(name string) (map[string]any, bool) {
	v, ok := b.get(name)
	if !ok || v == nil {
		return nil, false
	}
	m, isObj := v.(map[string]any)
	if !isObj {
		b.fail(name, "dict_type", "Input should be a valid dictionary", fmt.Sprintf("%s is not of type 'object' - '%s'", pyValue(v), name), v, nil)
		return nil, false
	}
	return m, true
}

// unknown records every key no accessor read: pydantic's extra_forbidden, or
// marshmallow's "Unknown field." for 2.x schemas that raise on unknowns.
func (b *body) unknown() {
	keys := make([]string, 0, len(b.raw))
	for k := range b.raw {
		if !b.read[k] {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		var v any
		_ = json.Unmarshal(b.raw[k], &v)
		b.fail(k, "extra_forbidden", "Extra inputs are not permitted", fmt.Sprintf("{'%s': ['Unknown field.']}", k), v, nil)
	}
}

// query reads URL query parameters with the same error conventions.
type query struct {
	vals url.Values
	errs []valErr
}

func newQuery(r *http.Request) *query { return &query{vals: r.URL.Query()} }

func (q *query) fail(name, typ, msg, v1 string, input any, ctx map[string]any) {
	q.errs = append(q.errs, valErr{Type: typ, Loc: []any{"query", name}, Msg: msg, Input: input, Ctx: ctx, v1: v1})
}

func (q *query) has(name string) bool { return q.vals.Has(name) }

func (q *query) integer(name string, def, minimum int) int {
	if !q.vals.Has(name) {
		return def
	}
	s := q.vals.Get(name)
	n, err := strconv.Atoi(s)
	if err != nil {
		q.fail(name, "int_parsing", "Input should be a valid integer, unable to parse string as an integer",
			fmt.Sprintf("Wrong type, expected 'integer' for query parameter '%s'", name), s, nil)
		return def
	}
	if n < minimum {
		q.fail(name, "greater_than_equal", fmt.Sprintf("Input should be greater than or equal to %d", minimum),
			fmt.Sprintf("%d is less than the minimum of %d", n, minimum), s, map[string]any{"ge": minimum})
		return def
	}
	return n
}

func (q *query) boolean(name string, def bool) bool {
	if !q.vals.Has(name) {
		return def
	}
	s := q.vals.Get(name)
	switch strings.ToLower(s) {
	case "1", "on", "t", "true", "y", "yes":
		return true
	case "0", "off", "f", "false", "n", "no":
		return false
	}
	q.fail(name, "bool_parsing", "Input should be a valid boolean, unable to interpret input",
		fmt.Sprintf("Wrong type, expected 'boolean' for query parameter '%s'", name), s, nil)
	return def
}

func (q *query) datetime(name string) *time.Time {
	if !q.vals.Has(name) {
		return nil
	}
	s := q.vals.Get(name)
	t, err := parseDateTime(s)
	if err != nil {
		q.fail(name, "datetime_from_date_parsing", "Input should be a valid datetime or date, invalid character in year",
			fmt.Sprintf("'%s' is not a 'date-time'", s), s, map[string]any{"error": "invalid character in year"})
		return nil
	}
	return &t
}

func (q *query) number(name string) *float64 {
	if !q.vals.Has(name) {
		return nil
	}
	s := q.vals.Get(name)
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		q.fail(name, "float_parsing", "Input should be a valid number, unable to parse string as a number",
			fmt.Sprintf("Wrong type, expected 'number' for query parameter '%s'", name), s, nil)
		return nil
	}
	return &f
}

// list returns a repeatable parameter's values; with splitCommas each value
// is also split on commas (2.x accepted state=running,queued).
func (q *query) list(name string, splitCommas bool) []string {
	var out []string
	for _, v := range q.vals[name] {
		if splitCommas {
			for _, p := range strings.Split(v, ",") {
				if p = strings.TrimSpace(p); p != "" {
					out = append(out, p)
				}
			}
			continue
		}
		out = append(out, v)
	}
	return out
}

func parseDateTime(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, err
	}
	return t.UTC().Truncate(time.Microsecond), nil
}

// pyValue renders a decoded JSON value roughly as Python's repr, for 2.x
// messages.
func pyValue(v any) string {
	switch x := v.(type) {
	case nil:
		return "None"
	case bool:
		if x {
			return "True"
		}
		return "False"
	case string:
		return pyRepr(x)
	case float64:
		if x == float64(int64(x)) {
			return strconv.FormatInt(int64(x), 10)
		}
		return strconv.FormatFloat(x, 'g', -1, 64)
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = pyValue(e)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = pyRepr(k) + ": " + pyValue(x[k])
		}
		return "{" + strings.Join(parts, ", ") + "}"
	}
	return fmt.Sprint(v)
}
