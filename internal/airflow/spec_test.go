package airflow_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
	"github.com/stretchr/testify/require"

	"github.com/medic-sh/medic/internal/sharedtest"
)

// The conformance harness: every request the client makes is routed and
// validated against the real OpenAPI document of its version, and answered
// with a spec-shaped body that is itself validated as a response. Paths the
// specs do not describe are answered outside it, as real Airflow does: POST
// /auth/token (the auth manager's own app) and /api/v2/version on 2.x (404).

var farFuture = time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC)

var (
	specMu     sync.Mutex
	specRoutes = map[int]routers.Router{}
)

func specRouter(t *testing.T, version int) routers.Router {
	t.Helper()
	dir := sharedtest.Dir(t, "specs", "airflow")
	specMu.Lock()
	defer specMu.Unlock()
	if r, ok := specRoutes[version]; ok {
		return r
	}
	file, server := "airflow-2.10.0-api-v1.yaml", "/api/v1"
	if version == 3 {
		file, server = "airflow-3.2.1-api-v2.yaml", "/"
	}
	doc, err := openapi3.NewLoader().LoadFromFile(filepath.Join(dir, file))
	require.NoError(t, err)
	doc.Security = nil
	if version == 3 {
		doc.OpenAPI = "3.0.3" // the file uses 3.0-style nullable throughout
		seen := map[*openapi3.Schema]bool{}
		for _, sr := range doc.Components.Schemas {
			downgradeTo30(sr, seen)
		}
		for _, item := range doc.Paths.Map() {
			for _, p := range item.Parameters {
				downgradeTo30(p.Value.Schema, seen)
			}
			for _, op := range item.Operations() {
				for _, p := range op.Parameters {
					downgradeTo30(p.Value.Schema, seen)
					// trigger_dag_run's dag_id has no type; kin-openapi then
					// cannot decode the value ("empty value is not allowed").
					if sc := p.Value.Schema; sc != nil && sc.Value != nil && sc.Value.Type == nil {
						sc.Value.Type = &openapi3.Types{openapi3.TypeString}
					}
				}
				if op.RequestBody != nil && op.RequestBody.Value != nil {
					for _, mt := range op.RequestBody.Value.Content {
						downgradeTo30(mt.Schema, seen)
					}
				}
				for _, resp := range op.Responses.Map() {
					if resp.Value != nil {
						for _, mt := range resp.Value.Content {
							downgradeTo30(mt.Schema, seen)
						}
					}
				}
			}
		}
	}
	doc.Servers = openapi3.Servers{{URL: server}}
	r, err := legacy.NewRouter(doc, openapi3.AllowExtraSiblingFields("const", "prefixItems", "examples"))
	require.NoError(t, err)
	specRoutes[version] = r
	return r
}

// downgradeTo30 rewrites the few JSON Schema 2020-12 forms left in the 3.1
// file: anyOf [X, {type: null}] becomes a nullable anyOf [X], and a numeric
// exclusiveMinimum/Maximum becomes minimum/maximum with the boolean flag.
func downgradeTo30(ref *openapi3.SchemaRef, seen map[*openapi3.Schema]bool) {
	if ref == nil || ref.Value == nil || seen[ref.Value] {
		return
	}
	s := ref.Value
	seen[s] = true
	kept := s.AnyOf[:0:0]
	for _, b := range s.AnyOf {
		if b.Value != nil && b.Value.Type != nil && b.Value.Type.Is("null") {
			s.Nullable = true
			continue
		}
		kept = append(kept, b)
	}
	if len(s.AnyOf) > 0 {
		s.AnyOf = kept
	}
	if v := s.ExclusiveMin.Value; v != nil { // numeric bound → minimum + flag
		s.Min = ptr(*v)
		s.WithExclusiveMin(true)
	}
	if v := s.ExclusiveMax.Value; v != nil {
		s.Max = ptr(*v)
		s.WithExclusiveMax(true)
	}
	for _, group := range [][]*openapi3.SchemaRef{s.AnyOf, s.OneOf, s.AllOf} {
		for _, b := range group {
			downgradeTo30(b, seen)
		}
	}
	for _, p := range s.Properties {
		downgradeTo30(p, seen)
	}
	downgradeTo30(s.Items, seen)
	if s.AdditionalProperties.Schema != nil {
		downgradeTo30(s.AdditionalProperties.Schema, seen)
	}
}

// specAnswer produces a response for one operation.
type specAnswer func(r *http.Request, params map[string]string, body map[string]any) (status int, ctype string, payload []byte)

type specServer struct {
	t       *testing.T
	version int
	router  routers.Router
	answers map[string]specAnswer

	mu         sync.Mutex
	ops        map[string]int
	violations []string
	bodies     map[string][]map[string]any
}

func newSpecServer(t *testing.T, version int, answers map[string]specAnswer) *specServer {
	return &specServer{
		t: t, version: version, router: specRouter(t, version), answers: answers,
		ops: map[string]int{}, bodies: map[string][]map[string]any{},
	}
}

func (s *specServer) violate(format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.violations = append(s.violations, fmt.Sprintf(format, args...))
}

func (s *specServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.URL.Path == "/auth/token" && s.version == 3:
		writeJSON(w, 201, map[string]any{"access_token": fakeJWT(farFuture, "1")})
		return
	case r.URL.Path == "/api/v2/version" && s.version == 2:
		w.WriteHeader(http.StatusNotFound)
		return
	}
	route, params, err := s.router.FindRoute(r)
	if err != nil {
		s.violate("%s %s: no route: %v", r.Method, r.URL.RequestURI(), err)
		w.WriteHeader(599)
		return
	}
	op := route.Operation.OperationID
	opts := &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, MultiError: true}
	in := &openapi3filter.RequestValidationInput{Request: r, PathParams: params, Route: route, Options: opts}
	if err := openapi3filter.ValidateRequest(r.Context(), in); err != nil {
		s.violate("%s request: %v", op, err)
	}
	var body map[string]any
	if r.Body != nil {
		raw, _ := io.ReadAll(r.Body)
		if len(raw) > 0 {
			_ = json.Unmarshal(raw, &body)
		}
	}
	s.mu.Lock()
	s.ops[op]++
	s.bodies[op] = append(s.bodies[op], body)
	s.mu.Unlock()
	answer, ok := s.answers[op]
	if !ok {
		s.violate("%s: the test has no answer", op)
		w.WriteHeader(599)
		return
	}
	decoded := make(map[string]string, len(params))
	for k, v := range params {
		if u, err := url.PathUnescape(v); err == nil {
			v = u
		}
		decoded[k] = v
	}
	status, ctype, payload := answer(r, decoded, body)
	w.Header().Set("Content-Type", ctype)
	w.WriteHeader(status)
	_, _ = w.Write(payload)
	if ctype == "application/x-ndjson" {
		for _, line := range bytes.Split(bytes.TrimSpace(payload), []byte("\n")) {
			var e struct{ Event *string }
			if json.Unmarshal(line, &e) != nil || e.Event == nil {
				s.violate("%s response: ndjson line %q", op, line)
			}
		}
		return
	}
	rin := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in, Status: status,
		Header: w.Header(), Body: io.NopCloser(bytes.NewReader(payload)), Options: opts,
	}
	if err := openapi3filter.ValidateResponse(r.Context(), rin); err != nil {
		s.violate("%s response (the test's fixture): %v", op, err)
	}
}

func (s *specServer) require(t *testing.T, ops ...string) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	require.Empty(t, s.violations)
	var missing []string
	for _, op := range ops {
		if s.ops[op] == 0 {
			missing = append(missing, op)
		}
	}
	sort.Strings(missing)
	require.Empty(t, missing, "operations never called")
}

func (s *specServer) lastBody(op string) map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	if b := s.bodies[op]; len(b) > 0 {
		return b[len(b)-1]
	}
	return nil
}

func jsonAnswer(v any) specAnswer {
	return func(*http.Request, map[string]string, map[string]any) (int, string, []byte) {
		return jsonBytes(200, v)
	}
}

func jsonBytes(status int, v any) (int, string, []byte) {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return status, "application/json", b
}

// pagedAnswer serves total items, at most the requested limit per page.
func pagedAnswer(key string, total int, item func(i int) map[string]any) specAnswer {
	return func(r *http.Request, _ map[string]string, body map[string]any) (int, string, []byte) {
		offset, limit := 0, 100
		if body != nil {
			if v, ok := body["page_offset"].(float64); ok {
				offset = int(v)
			}
			if v, ok := body["page_limit"].(float64); ok {
				limit = int(v)
			}
		}
		if q := r.URL.Query(); q.Has("limit") {
			_, _ = fmt.Sscan(q.Get("offset"), &offset)
			_, _ = fmt.Sscan(q.Get("limit"), &limit)
		}
		items := []map[string]any{}
		for i := offset; i < min(total, offset+limit); i++ {
			items = append(items, item(i))
		}
		return jsonBytes(200, map[string]any{key: items, "total_entries": total})
	}
}
