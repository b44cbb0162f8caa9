package ingest

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// olDecoder reads the nested objects of an OpenLineage event with the
// callback's typed readers (fields), naming each field by its path from the
// top ("run.facets.airflow.dagRun.run_id"). The first problem sticks; later
// reads are no-ops, so a caller reads what it needs and checks err once.
type olDecoder struct {
	err *DecodeError
}

// olObject is one JSON object of the event, or an absent one (obj nil),
// whose reads all return zero values.
type olObject struct {
	d    *olDecoder
	path string
	obj  map[string]json.RawMessage
}

// root wraps the event's top-level members.
func (d *olDecoder) root(obj map[string]json.RawMessage) *olObject {
	return &olObject{d: d, obj: obj}
}

// fieldPath names member name of the object at path.
func fieldPath(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

func (d *olDecoder) fail(field, reason string, raw json.RawMessage) {
	if d.err != nil {
		return
	}
	if raw != nil {
		reason += ", got " + preview(raw)
	}
	d.err = &DecodeError{Field: field, Reason: reason}
}

// read runs one typed read of the fields helpers on o, moving its error,
// renamed to the full path, to the decoder.
func (o *olObject) read(fn func(f *fields)) {
	if o.d.err != nil || o.obj == nil {
		return
	}
	f := &fields{obj: o.obj}
	fn(f)
	if f.err != nil {
		e := *f.err
		e.Field = fieldPath(o.path, e.Field)
		o.d.err = &e
	}
}

func (o *olObject) present() bool { return o.obj != nil }

func (o *olObject) has(name string) bool {
	var ok bool
	o.read(func(f *fields) { ok = f.has(name) })
	return ok
}

func (o *olObject) str(name string) string {
	var s string
	o.read(func(f *fields) { s = f.str(name) })
	return s
}

// required reads a string that must be present and not blank.
func (o *olObject) required(name string) string {
	s := o.str(name)
	if o.d.err == nil && o.obj != nil && isBlank(s) {
		o.d.fail(fieldPath(o.path, name), "is required", nil)
	}
	return s
}

func (o *olObject) integer(name string, minimum int64, want string) (int, bool) {
	var (
		n  int
		ok bool
	)
	o.read(func(f *fields) { n, ok = f.integer(name, minimum, want) })
	return n, ok
}

func (o *olObject) timestamp(name string) *time.Time {
	var t *time.Time
	o.read(func(f *fields) { t = f.timestamp(name) })
	return t
}

func (o *olObject) raw(name string) json.RawMessage {
	var v json.RawMessage
	o.read(func(f *fields) { v = f.raw(name) })
	return v
}

// object returns member name as an object; absent or null gives an absent
// object, anything but an object is an error.
func (o *olObject) object(name string) *olObject {
	return o.d.objectAt(o.raw(name), fieldPath(o.path, name))
}

// objectAt type-checks raw, the value at path, as a JSON object without
// duplicate members.
func (d *olDecoder) objectAt(raw json.RawMessage, path string) *olObject {
	out := &olObject{d: d, path: path}
	if raw == nil || d.err != nil {
		return out
	}
	if raw[0] != '{' {
		d.fail(path, "must be a JSON object", raw)
		return out
	}
	obj, err := decodeObject(raw)
	if err != nil {
		de, ok := errors.AsType[*DecodeError](err)
		if !ok {
			de = &DecodeError{Reason: err.Error(), Err: err}
		}
		if de.Field == "" {
			d.fail(path, "is not a valid JSON object: "+de.Reason, nil)
		} else {
			d.fail(fieldPath(path, de.Field), de.Reason, nil)
		}
		return out
	}
	out.obj = obj
	return out
}

// array returns the elements of member name, an array; nil when absent.
func (o *olObject) array(name string) []json.RawMessage {
	v := o.raw(name)
	if v == nil {
		return nil
	}
	var elems []json.RawMessage
	if v[0] != '[' || json.Unmarshal(v, &elems) != nil {
		o.d.fail(fieldPath(o.path, name), "must be an array", v)
		return nil
	}
	return elems
}

// elemPath names element i of the array at path.
func elemPath(path string, i int) string { return fmt.Sprintf("%s[%d]", path, i) }

// eventTime reads an OpenLineage eventTime. Producers format it with
// Python's isoformat, which omits the offset for a naive datetime (an old
// provider's datetime.now() fallback); such a time is taken as UTC rather
// than losing the failure over it.
func (o *olObject) eventTime(name string) *time.Time {
	v := o.raw(name)
	if v == nil {
		if o.d.err == nil {
			o.d.fail(fieldPath(o.path, name), "is required", nil)
		}
		return nil
	}
	var s string
	if v[0] == '"' && json.Unmarshal(v, &s) == nil {
		if t, err := time.Parse("2006-01-02T15:04:05.999999999", s); err == nil {
			return &t
		}
	}
	return o.timestamp(name)
}
