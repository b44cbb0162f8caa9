package airflowsim_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/medic-sh/medic/internal/airflow/airflowsim"
	"github.com/medic-sh/medic/internal/airflow/airflowsim/spectest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var versions = []int{2, 3}

// fakeClock is a settable clock for Options.Clock.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 5, 4, 8, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// testBundle is one stand-in behind the spec validator and an httptest
// server, with a logged-in client.
type testBundle struct {
	t       *testing.T
	version int
	sim     *airflowsim.Server
	val     *spectest.SpecValidator
	srv     *httptest.Server
	clock   *fakeClock
	token   string

	mu       sync.Mutex
	failures []airflowsim.TaskFailure
}

func setup(t *testing.T, version int, opts ...func(*airflowsim.Options)) *testBundle {
	t.Helper()
	b := &testBundle{t: t, version: version, clock: newFakeClock()}
	o := airflowsim.Options{Version: version, Username: "medic", Password: "s3cret", Clock: b.clock.Now}
	for _, f := range opts {
		f(&o)
	}
	b.sim = airflowsim.New(o)
	b.sim.OnTaskFailed(func(f airflowsim.TaskFailure) {
		b.mu.Lock()
		defer b.mu.Unlock()
		b.failures = append(b.failures, f)
	})
	b.val = spectest.NewSpecValidator(t, version)
	b.srv = httptest.NewServer(b.val.Middleware(b.sim))
	t.Cleanup(b.srv.Close)
	if version == 3 {
		b.token = b.login("medic", "s3cret")
	}
	return b
}

func (b *testBundle) callbacks() []airflowsim.TaskFailure {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]airflowsim.TaskFailure(nil), b.failures...)
}

func (b *testBundle) login(user, pass string) string {
	b.t.Helper()
	r := b.request(http.MethodPost, "/auth/token", map[string]string{"username": user, "password": pass}, nil, false)
	require.Equal(b.t, http.StatusCreated, r.status, string(r.body))
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	require.NoError(b.t, json.Unmarshal(r.body, &tok))
	require.NotEmpty(b.t, tok.AccessToken)
	return tok.AccessToken
}

// api prefixes a path with the version's /api/vN.
func (b *testBundle) api(path string) string { return b.sim.APIPrefix() + path }

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) object(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(r.body, &m), string(r.body))
	return m
}

// get and post send authenticated requests to the API.
func (b *testBundle) get(path string, hdr ...string) response {
	return b.request(http.MethodGet, b.api(path), nil, hdr, true)
}

func (b *testBundle) post(path string, body any, hdr ...string) response {
	return b.request(http.MethodPost, b.api(path), body, hdr, true)
}

// request sends one request; body is JSON-encoded unless it is a string
// (sent as is) or nil; hdr are key, value pairs.
func (b *testBundle) request(method, path string, body any, hdr []string, auth bool) response {
	b.t.Helper()
	var rd io.Reader
	switch x := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(x)
	default:
		data, err := json.Marshal(x)
		require.NoError(b.t, err)
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, b.srv.URL+path, rd)
	require.NoError(b.t, err)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if auth {
		if b.version == 3 {
			req.Header.Set("Authorization", "Bearer "+b.token)
		} else {
			req.SetBasicAuth("medic", "s3cret")
		}
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := b.srv.Client().Do(req)
	require.NoError(b.t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(b.t, err)
	return response{status: resp.StatusCode, header: resp.Header, body: data}
}

// esc percent-encodes a path segment like Python's quote(s, safe="").
func esc(s string) string {
	var out strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-_.~", c) >= 0 {
			out.WriteByte(c)
			continue
		}
		fmt.Fprintf(&out, "%%%02X", c)
	}
	return out.String()
}

// etlDAG is the small DAG most tests use: extract → transform → load, with
// one retry on transform.
func etlDAG() airflowsim.DAG {
	return airflowsim.DAG{
		ID: "etl", Description: "test ETL", Owners: []string{"data-eng"}, Tags: []string{"test", "tier-2"}, Schedule: "0 2 * * *",
		Tasks: []airflowsim.Task{
			{ID: "extract", Operator: "PythonOperator", Downstream: []string{"transform"}},
			{ID: "transform", Operator: "PostgresOperator", Downstream: []string{"load"}, Retries: 1, RetryDelay: time.Minute},
			{ID: "load", Operator: "PythonOperator"},
		},
	}
}

func day(n int) time.Time { return time.Date(2026, 5, n, 2, 0, 0, 0, time.UTC) }

func schedID(n int) string { return "scheduled__" + day(n).Format("2006-01-02T15:04:05") + "+00:00" }

// unrepr undoes Python's repr() of a str, as a 2.x client must to read log
// content.
func unrepr(t *testing.T, s string) (string, int) {
	t.Helper()
	require.NotEmpty(t, s)
	quote := s[0]
	require.Contains(t, "'\"", string(quote))
	var out strings.Builder
	for i := 1; i < len(s); i++ {
		c := s[i]
		if c == quote {
			return out.String(), i + 1
		}
		if c != '\\' {
			out.WriteByte(c)
			continue
		}
		i++
		switch s[i] {
		case 'n':
			out.WriteByte('\n')
		case 'r':
			out.WriteByte('\r')
		case 't':
			out.WriteByte('\t')
		case 'x', 'u', 'U':
			n := map[byte]int{'x': 2, 'u': 4, 'U': 8}[s[i]]
			v, err := strconv.ParseUint(s[i+1:i+1+n], 16, 32)
			require.NoError(t, err)
			out.WriteRune(rune(v))
			i += n
		default:
			out.WriteByte(s[i])
		}
	}
	t.Fatalf("unterminated repr string")
	return "", 0
}

// unwrapV1Content parses "[('host', 'text')]" into host and text.
func unwrapV1Content(t *testing.T, content string) (string, string) {
	t.Helper()
	require.True(t, strings.HasPrefix(content, "[("), content[:min(len(content), 40)])
	rest := content[2:]
	host, n := unrepr(t, rest)
	rest = rest[n:]
	require.True(t, strings.HasPrefix(rest, ", "))
	text, n := unrepr(t, rest[2:])
	require.Equal(t, ")]", rest[2+n:])
	return host, text
}

// tokenMeta reads the (signed, not encrypted) JSON payload of a log
// continuation token.
func tokenMeta(t *testing.T, tok string) map[string]any {
	t.Helper()
	payload, _, ok := strings.Cut(tok, ".")
	require.True(t, ok, tok)
	data, err := base64.RawURLEncoding.DecodeString(payload)
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(data, &m))
	return m
}
