package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"slices"
	"strings"
)

// readBody reads a JSON request body of at most s.maxBody bytes.
//
// Requiring Content-Type application/json is a defence, not pedantry: a web
// page can send a cross-site text/plain POST without asking, but not a JSON
// one, so a loopback-mode medic cannot be driven by a page in a local browser.
func (s *server) readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	return s.readBodyOf(w, r, "application/json")
}

// readBodyOf reads a request body of media type want, of at most
// s.maxBody bytes.
func (s *server) readBodyOf(w http.ResponseWriter, r *http.Request, want string) ([]byte, error) {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != want {
		return nil, &apiError{
			status: http.StatusUnsupportedMediaType, code: codeUnsupportedMedia,
			message: "Content-Type must be " + want,
		}
	}
	tooLarge := &apiError{
		status: http.StatusRequestEntityTooLarge, code: codePayloadTooLarge,
		message: fmt.Sprintf("request body is larger than %d bytes", s.maxBody),
	}
	if r.ContentLength > s.maxBody {
		return nil, tooLarge
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.maxBody))
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return nil, tooLarge
		}
		return nil, &apiError{
			status: http.StatusBadRequest, code: codeBadRequest,
			message: "could not read the request body", err: err,
		}
	}
	return body, nil
}

// decodeStrict decodes body, a single JSON object, into v, a pointer to a
// struct. Unlike a callback, a request to medic's own API must not carry
// fields medic does not know: a typo would otherwise be silently ignored.
func decodeStrict(body []byte, v any) error {
	invalid := func(msg string) error {
		return &apiError{status: http.StatusBadRequest, code: codeInvalidPayload, message: msg}
	}
	var members map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&members); err != nil || members == nil {
		return invalid("body must be a JSON object")
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return invalid("body has data after the JSON object: send exactly one object")
	}
	known := jsonFields(v)
	for name := range members {
		if !slices.Contains(known, name) {
			return invalid(fmt.Sprintf("unknown field %q: known fields are %s", clip(name, 64), strings.Join(known, ", ")))
		}
	}
	if err := json.Unmarshal(body, v); err != nil {
		if ute, ok := errors.AsType[*json.UnmarshalTypeError](err); ok && ute.Field != "" {
			return invalid(fmt.Sprintf("%s must be a JSON %s", ute.Field, jsonKind(ute.Type)))
		}
		return invalid("body is not valid JSON")
	}
	return nil
}

// jsonFields lists the JSON names of a struct's fields, in order.
func jsonFields(v any) []string {
	t := reflect.TypeOf(v).Elem()
	var out []string
	for f := range t.Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name != "" && name != "-" {
			out = append(out, name)
		}
	}
	return out
}

func jsonKind(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Float32, reflect.Float64:
		return "number"
	case reflect.Slice, reflect.Array:
		return "array"
	}
	return "object"
}
