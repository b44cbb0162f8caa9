// Package spectest checks HTTP traffic against the real Airflow REST API
// specifications (the OpenAPI files in the team's shared directory): every
// request and every response that passes through SpecValidator.Middleware is
// validated with kin-openapi, and each mismatch is recorded as a violation.
//
// It exists for tests only: the airflowsim contract tests and the Go client's
// client-versus-stand-in tests. It lives in its own package so that no product
// binary links kin-openapi, and it must never be imported by non-test code.
//
// Usage:
//
//	v := spectest.NewSpecValidator(t, 3) // 2 → airflow-2.10.0-api-v1.yaml, 3 → airflow-3.2.1-api-v2.yaml
//	srv := httptest.NewServer(v.Middleware(sim))
//	... drive the client against srv.URL ...
//	v.RequireNoViolations(t)
//
// The spec files are found with sharedtest.Dir, so the test skips when the
// shared directory is absent (and fails under CI=true).
//
// The loaded documents are patched where real Airflow and its own spec
// disagree, so that faithful traffic is not reported as a violation. Each
// patch is listed in Quirks and applied in fixups.go; read those before
// adding a new one, and prefer fixing the stand-in over patching the spec.
package spectest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"

	"github.com/medic-sh/medic/internal/sharedtest"
)

// SpecFile returns the file name of the OpenAPI document for an Airflow major
// version (2 or 3), relative to the shared specs/airflow directory.
func SpecFile(version int) string {
	if version == 3 {
		return "airflow-3.2.1-api-v2.yaml"
	}
	return "airflow-2.10.0-api-v1.yaml"
}

// Quirks describes, one line each, how the loaded specifications are changed
// before validation and why. Reported in test logs so that nobody mistakes a
// patched rule for the spec's own.
var Quirks = []string{
	"both: doc.Security is cleared and operation security is accepted by a no-op AuthenticationFunc; " +
		"the stand-in checks credentials itself and its 401/403 bodies are validated like any other response",
	"v1: servers is replaced by one relative server \"/api/v1\" (the spec's own value, made explicit for the router)",
	"v1: the top-level security names GoogleOpenID but the scheme is declared as GoogleOpenId (spec typo); harmless once security is cleared",
	"v1: Error.detail is made nullable: connexion sends \"detail\": null (e.g. 401 Unauthorized, 404 TaskInstance not found), the spec says string",
	"v1: error responses are declared as application/json but connexion serves application/problem+json; the validator checks them against the application/json schema",
	"v2: openapi 3.1.0 is downgraded to 3.0.3 after loading, because the file uses 3.0-style nullable throughout (see DEPENDENCIES.md)",
	"v2: schemas written as 3.1 {type: 'null'} inside anyOf lose that branch and the parent is made nullable (3.0.3 has no null type)",
	"v2: application/x-ndjson bodies are declared as a string; the validator also checks that every line is a JSON object with a string \"event\"",
	"v2: trigger_dag_run's dag_id path parameter schema has no type (only a title); it is given type string, or no value decodes",
	"v2: const, prefixItems and examples (JSON Schema 2020-12 keywords) are allowed as extra sibling fields of the 3.0.3 document",
	"v2: numeric exclusiveMinimum/exclusiveMaximum (3.1 form) become minimum/maximum plus the boolean modifier",
	"v2: const: '~' on the batch routes' path parameters is not enforced by kin-openapi in 3.0 mode; the stand-in enforces it (422)",
}

// loaded holds one parsed, patched document and its router. Loading the v2
// file takes long enough that it is done once per process and shared.
type loaded struct {
	doc    *openapi3.T
	router routers.Router
}

var (
	cacheMu sync.Mutex
	cache   = map[string]*loaded{}
	ndjson  sync.Once
)

func load(dir string, version int) (*loaded, error) {
	path := filepath.Join(dir, SpecFile(version))
	cacheMu.Lock()
	defer cacheMu.Unlock()
	if l, ok := cache[path]; ok {
		return l, nil
	}
	ndjson.Do(func() { openapi3filter.RegisterBodyDecoder("application/x-ndjson", openapi3filter.PlainBodyDecoder) })

	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromFile(path)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", path, err)
	}
	doc.Security = nil
	if version == 3 {
		fixV2(doc)
	} else {
		fixV1(doc)
	}
	// The v2 file keeps a few JSON Schema 2020-12 keywords that a 3.0.3
	// document may not carry; let them through instead of deleting them.
	router, err := legacy.NewRouter(doc, openapi3.AllowExtraSiblingFields("const", "prefixItems", "examples"))
	if err != nil {
		return nil, fmt.Errorf("build router for %s: %w", path, err)
	}
	l := &loaded{doc: doc, router: router}
	cache[path] = l
	return l, nil
}

// Violation is one mismatch between traffic and the specification.
type Violation struct {
	Kind   string // "route" (no operation in the spec), "request" or "response"
	Method string
	Path   string // escaped request path
	Status int    // response status; 0 for request and route violations
	Err    string
}

func (v Violation) String() string {
	if v.Status != 0 {
		return fmt.Sprintf("%s %s %s → %d: %s", v.Kind, v.Method, v.Path, v.Status, v.Err)
	}
	return fmt.Sprintf("%s %s %s: %s", v.Kind, v.Method, v.Path, v.Err)
}

// SpecValidator validates traffic against one Airflow API version. It is safe
// for concurrent use by the handlers it wraps.
type SpecValidator struct {
	version int
	spec    *loaded

	mu          sync.Mutex
	violations  []Violation
	operations  map[string]int
	undocPrefix []string
}

// NewSpecValidator loads the specification for an Airflow major version (2 or
// 3) from the shared directory. It skips tb when the directory is missing
// (fails under CI=true) and fails tb when the file cannot be loaded.
//
// For version 3, requests under /auth/ (the token endpoint, which the public
// spec only references) pass unvalidated; add others with AllowUndocumented.
func NewSpecValidator(tb testing.TB, version int) *SpecValidator {
	tb.Helper()
	if version != 2 && version != 3 {
		tb.Fatalf("spectest: version must be 2 or 3, got %d", version)
	}
	dir := sharedtest.Dir(tb, "specs", "airflow")
	l, err := load(dir, version)
	if err != nil {
		tb.Fatalf("spectest: %v", err)
	}
	v := &SpecValidator{version: version, spec: l, operations: map[string]int{}}
	if version == 3 {
		v.undocPrefix = append(v.undocPrefix, "/auth/")
	}
	return v
}

// Version returns the Airflow major version the validator checks against.
func (v *SpecValidator) Version() int { return v.version }

// AllowUndocumented lets requests whose path starts with prefix pass without
// validation (for endpoints that real Airflow serves outside its public spec).
func (v *SpecValidator) AllowUndocumented(prefix string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.undocPrefix = append(v.undocPrefix, prefix)
}

// Middleware returns a handler that validates each request before passing a
// copy of it to next, and validates the response next wrote. It never changes
// what next receives or what the client gets back; violations are only
// recorded. Streaming responses are passed through as they are written
// (Flush is honoured) and validated when the handler returns.
func (v *SpecValidator) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if v.undocumented(r.URL.Path) {
			next.ServeHTTP(w, r)
			return
		}
		body, err := io.ReadAll(r.Body)
		_ = r.Body.Close()
		if err != nil {
			v.add(Violation{Kind: "request", Method: r.Method, Path: r.URL.EscapedPath(), Err: "read body: " + err.Error()})
		}
		r.Body = io.NopCloser(bytes.NewReader(body))

		input := v.validateRequest(r, body)

		rec := &recorder{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rec, r)
		if input != nil {
			v.validateResponse(r, input, rec)
		}
	})
}

func (v *SpecValidator) undocumented(path string) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	for _, p := range v.undocPrefix {
		if strings.HasPrefix(path, p) {
			return true
		}
	}
	return false
}

func (v *SpecValidator) options() *openapi3filter.Options {
	return &openapi3filter.Options{
		AuthenticationFunc:  openapi3filter.NoopAuthenticationFunc,
		SkipSettingDefaults: true,
		MultiError:          true,
	}
}

// validateRequest validates a clone of r (so defaults or decoding never leak
// into what the handler sees) and returns the input for response validation,
// or nil when the request matches no operation.
func (v *SpecValidator) validateRequest(r *http.Request, body []byte) *openapi3filter.RequestValidationInput {
	clone := r.Clone(r.Context())
	clone.Body = io.NopCloser(bytes.NewReader(body))
	clone.ContentLength = int64(len(body))
	route, params, err := v.spec.router.FindRoute(clone)
	if err != nil {
		v.add(Violation{Kind: "route", Method: r.Method, Path: r.URL.EscapedPath(), Err: err.Error()})
		return nil
	}
	v.mu.Lock()
	v.operations[route.Operation.OperationID]++
	v.mu.Unlock()
	input := &openapi3filter.RequestValidationInput{
		Request:    clone,
		PathParams: params,
		Route:      route,
		Options:    v.options(),
	}
	if err := openapi3filter.ValidateRequest(context.WithoutCancel(r.Context()), input); err != nil {
		v.add(Violation{Kind: "request", Method: r.Method, Path: r.URL.EscapedPath(), Err: flatten(err)})
	}
	return input
}

func (v *SpecValidator) validateResponse(r *http.Request, input *openapi3filter.RequestValidationInput, rec *recorder) {
	if rec.status == 0 || !rec.wrote {
		// The handler gave up (e.g. the client went away during a hang
		// fault); there is no response to check.
		return
	}
	header := rec.Header().Clone()
	ct := header.Get("Content-Type")
	media, _, _ := strings.Cut(ct, ";")
	media = strings.TrimSpace(strings.ToLower(media))
	if v.version == 2 && media == "application/problem+json" {
		header.Set("Content-Type", "application/json")
	}
	rin := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: input,
		Status:                 rec.status,
		Header:                 header,
		Options:                &openapi3filter.Options{MultiError: true, IncludeResponseStatus: false},
	}
	rin.SetBodyBytes(rec.body.Bytes())
	viol := func(msg string) {
		v.add(Violation{Kind: "response", Method: r.Method, Path: r.URL.EscapedPath(), Status: rec.status, Err: msg})
	}
	if err := openapi3filter.ValidateResponse(context.WithoutCancel(r.Context()), rin); err != nil {
		viol(flatten(err))
	}
	if media == "application/x-ndjson" {
		for i, line := range bytes.Split(rec.body.Bytes(), []byte("\n")) {
			if len(bytes.TrimSpace(line)) == 0 {
				continue
			}
			var m map[string]any
			if err := json.Unmarshal(line, &m); err != nil {
				viol(fmt.Sprintf("ndjson line %d is not a JSON object: %v", i+1, err))
				continue
			}
			if _, ok := m["event"].(string); !ok {
				viol(fmt.Sprintf("ndjson line %d has no string \"event\"", i+1))
			}
		}
	}
}

func (v *SpecValidator) add(x Violation) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.violations = append(v.violations, x)
}

// Violations returns every recorded violation, formatted one per string, in
// the order they were seen.
func (v *SpecValidator) Violations() []string { return v.filter("") }

// RequestViolations returns only the request and route violations: useful
// when a test deliberately sends an invalid request and wants to check that
// the spec also considers it invalid.
func (v *SpecValidator) RequestViolations() []string {
	return append(v.filter("route"), v.filter("request")...)
}

// ResponseViolations returns only the response violations: the server said
// something the spec does not allow.
func (v *SpecValidator) ResponseViolations() []string { return v.filter("response") }

func (v *SpecValidator) filter(kind string) []string {
	v.mu.Lock()
	defer v.mu.Unlock()
	out := []string{}
	for _, x := range v.violations {
		if kind == "" || x.Kind == kind {
			out = append(out, x.String())
		}
	}
	return out
}

// Reset forgets the recorded violations (not the operation counts).
func (v *SpecValidator) Reset() {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.violations = nil
}

// Operations returns the spec operationIds that matched at least one request,
// sorted; tests use it to prove which endpoints they exercised.
func (v *SpecValidator) Operations() []string {
	v.mu.Lock()
	defer v.mu.Unlock()
	out := make([]string, 0, len(v.operations))
	for id := range v.operations {
		out = append(out, id)
	}
	sort.Strings(out)
	return out
}

// RequireNoViolations fails tb, listing every violation and the active
// quirks, when any violation was recorded.
func (v *SpecValidator) RequireNoViolations(tb testing.TB) {
	tb.Helper()
	if got := v.Violations(); len(got) > 0 {
		tb.Fatalf("spectest: %d violation(s) of %s:\n  %s\n(patched spec rules: %s)",
			len(got), SpecFile(v.version), strings.Join(got, "\n  "), strings.Join(Quirks, "; "))
	}
}

// flatten renders kin-openapi's (multi-)errors on one line each.
func flatten(err error) string {
	var me openapi3.MultiError
	if errors.As(err, &me) {
		parts := make([]string, 0, len(me))
		for _, e := range me {
			parts = append(parts, flatten(e))
		}
		return strings.Join(parts, " | ")
	}
	return strings.Join(strings.Fields(err.Error()), " ")
}

// recorder passes a response through to the client while keeping a copy for
// validation.
type recorder struct {
	http.ResponseWriter
	status int
	wrote  bool
	body   bytes.Buffer
}

func (r *recorder) WriteHeader(code int) {
	if !r.wrote {
		r.status = code
		r.wrote = true
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(p []byte) (int, error) {
	if !r.wrote {
		r.wrote = true
	}
	r.body.Write(p)
	return r.ResponseWriter.Write(p)
}

func (r *recorder) Flush() {
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }
