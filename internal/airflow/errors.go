package airflow

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"unicode"
)

// Sentinel errors matched with errors.Is against an *APIError, by HTTP status.
var (
	ErrNotFound     = errors.New("airflow: not found")           // 404
	ErrUnauthorized = errors.New("airflow: unauthorized")        // 401
	ErrForbidden    = errors.New("airflow: forbidden")           // 403
	ErrConflict     = errors.New("airflow: conflict")            // 409
	ErrBadRequest   = errors.New("airflow: bad request")         // 400 and 422
	ErrConfig       = errors.New("airflow: configuration error") // medic or Airflow is set up wrongly
)

// APIError is a failed call to one Airflow instance. Status is the HTTP status,
// or 0 when no response was received (Err then holds the transport error).
// Retryable says whether the same call may succeed later; it is false for
// writes whose outcome is unknown.
type APIError struct {
	Op       string // what was attempted, with its input ("get dag run etl/manual__…")
	Instance string // Options.Name
	Status   int
	Title    string // Airflow 2 problem title, or the HTTP status text
	Detail   string // Airflow 2 problem detail, or Airflow 3 "detail" rendered as text
	// Retryable says a later identical call may succeed.
	Retryable bool
	// Err is the transport error when Status is 0.
	Err error

	hint   string // what the operator should do
	config bool   // a setup problem rather than a passing failure
}

// Error names the instance, the operation, the status and what to do. It never
// contains credentials: bodies are scrubbed of the configured secrets before
// they are stored in Title and Detail.
func (e *APIError) Error() string {
	var b strings.Builder
	b.WriteString("airflow ")
	b.WriteString(e.Instance)
	b.WriteString(": ")
	b.WriteString(e.Op)
	b.WriteString(": ")
	if e.Status == 0 {
		if e.Err != nil {
			b.WriteString(e.Err.Error())
		} else {
			b.WriteString("no response")
		}
	} else {
		b.WriteString(strconv.Itoa(e.Status))
		if e.Title != "" {
			b.WriteString(" ")
			b.WriteString(e.Title)
		}
		if e.Detail != "" && e.Detail != e.Title {
			b.WriteString(": ")
			b.WriteString(e.Detail)
		}
	}
	if e.hint != "" {
		b.WriteString(" (")
		b.WriteString(e.hint)
		b.WriteString(")")
	}
	return b.String()
}

// Unwrap returns the transport error, if any.
func (e *APIError) Unwrap() error { return e.Err }

// Is matches the package sentinels by status.
func (e *APIError) Is(target error) bool {
	switch target {
	case ErrNotFound:
		return e.Status == http.StatusNotFound
	case ErrUnauthorized:
		return e.Status == http.StatusUnauthorized
	case ErrForbidden:
		return e.Status == http.StatusForbidden
	case ErrConflict:
		return e.Status == http.StatusConflict
	case ErrBadRequest:
		return e.Status == http.StatusBadRequest || e.Status == http.StatusUnprocessableEntity
	case ErrConfig:
		return e.config
	}
	return false
}

// IsRetryable reports whether a later identical call may succeed where err
// failed (overload, a restart, a network blip), after the client's own
// retries were used up. It is false for a write whose outcome is unknown.
func IsRetryable(err error) bool {
	var ae *APIError
	return errors.As(err, &ae) && ae.Retryable
}

// maxErrorText bounds the title and detail kept from an error body.
const maxErrorText = 1024

// parseErrorBody extracts a title and detail from either error style:
// Airflow 2 problem JSON {"type","title","status","detail"} and Airflow 3
// FastAPI {"detail": string | object | [validation errors]}. Anything else is
// kept as (bounded, printable) text. The 422 "input" field is never rendered:
// it echoes the request, which for a login carries the password.
func parseErrorBody(body []byte) (title, detail string) {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return "", ""
	}
	var obj map[string]json.RawMessage
	if body[0] != '{' || json.Unmarshal(body, &obj) != nil {
		return "", cleanText(string(body))
	}
	if raw, ok := obj["title"]; ok {
		var s string
		if json.Unmarshal(raw, &s) == nil {
			title = cleanText(s)
		}
	}
	if raw, ok := obj["detail"]; ok {
		detail = cleanText(renderDetail(raw))
	}
	if title == "" && detail == "" {
		if raw, ok := obj["message"]; ok { // proxies and gateways
			detail = cleanText(renderDetail(raw))
		}
	}
	return title, detail
}

// renderDetail turns a FastAPI detail value into one line of text.
func renderDetail(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return ""
	}
	switch raw[0] {
	case '"':
		var s string
		_ = json.Unmarshal(raw, &s)
		return s
	case '[':
		var items []json.RawMessage
		if json.Unmarshal(raw, &items) != nil {
			return string(raw)
		}
		parts := make([]string, 0, len(items))
		for _, it := range items {
			parts = append(parts, renderValidationItem(it))
		}
		return strings.Join(parts, "; ")
	case '{':
		var m map[string]json.RawMessage
		if json.Unmarshal(raw, &m) != nil {
			return string(raw)
		}
		// Database errors: {"reason","statement","orig_error","message"}.
		var parts []string
		for _, k := range []string{"reason", "message", "msg"} {
			if v, ok := m[k]; ok {
				if s := renderDetail(v); s != "" {
					parts = append(parts, s)
				}
			}
		}
		if len(parts) > 0 {
			return strings.Join(parts, ": ")
		}
		keys := make([]string, 0, len(m))
		for k := range m {
			if k != "input" {
				keys = append(keys, k)
			}
		}
		sort.Strings(keys)
		for _, k := range keys {
			parts = append(parts, k+"="+renderDetail(m[k]))
		}
		return strings.Join(parts, " ")
	}
	return string(raw)
}

// renderValidationItem renders one pydantic error as "loc.path: msg".
func renderValidationItem(raw json.RawMessage) string {
	var v struct {
		Loc []any  `json:"loc"`
		Msg string `json:"msg"`
	}
	if json.Unmarshal(raw, &v) != nil || v.Msg == "" {
		return renderDetail(raw)
	}
	loc := make([]string, 0, len(v.Loc))
	for _, l := range v.Loc {
		loc = append(loc, fmt.Sprint(l))
	}
	if len(loc) == 0 {
		return v.Msg
	}
	return strings.Join(loc, ".") + ": " + v.Msg
}

// cleanText makes server text safe for one log line: valid UTF-8, no control
// characters, bounded length.
func cleanText(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.Map(func(r rune) rune {
		if r == '\n' || r == '\t' || r == '\r' {
			return ' '
		}
		if unicode.IsControl(r) {
			return -1
		}
		return r
	}, s)
	s = strings.TrimSpace(s)
	if len(s) > maxErrorText {
		cut := maxErrorText
		for cut > 0 && !isRuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return s
}

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }

// statusHint says what to do about a failed call, by status.
func statusHint(status int, loginMode bool) string {
	switch status {
	case http.StatusUnauthorized:
		if loginMode {
			return "check the instance's username/password"
		}
		return "check the instance's username/password or API token"
	case http.StatusForbidden:
		return "the Airflow user lacks permission for this; grant it a role that allows it"
	case http.StatusNotFound:
		return "check that the DAG, run and task ids exist on this instance"
	case http.StatusConflict:
		return "it already exists or conflicts with the current state; use a new run id or re-read the state"
	case http.StatusTooManyRequests, http.StatusServiceUnavailable:
		return "the instance or a proxy in front of it is overloaded; try again later"
	case http.StatusBadRequest, http.StatusUnprocessableEntity:
		return "Airflow rejected the request; check the input"
	}
	if status >= 500 {
		return "Airflow failed; check the api-server/webserver logs"
	}
	return ""
}
