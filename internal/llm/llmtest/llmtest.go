// Package llmtest provides scripted fake model servers for tests: one speaks
// OpenAI's chat completions API, the other Anthropic's Messages API. Each
// records every request, checks it against the rules of its protocol (a
// request breaking them is answered 400 and listed by Violations), and
// answers from a script. It is for tests only and never talks to a real
// model.
package llmtest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/medic-sh/medic/internal/llm"
)

// Protocol is the wire protocol a Server speaks.
type Protocol = llm.Provider

// The protocols.
const (
	OpenAI    = llm.ProviderOpenAI
	Anthropic = llm.ProviderAnthropic
)

// Reply is one scripted answer.
type Reply struct {
	Text      string
	ToolCalls []llm.ToolCall
	// StopReason is sent as given; empty means the protocol's usual reason
	// for a reply with or without tool calls.
	StopReason string
	Usage      llm.Usage
	// Status, when set and not 200, makes this an error reply with Body (or
	// a short message) as its body.
	Status int
	// Body, when set, is sent verbatim instead of an encoded reply.
	Body string
	// Header is added to the response, e.g. Retry-After.
	Header map[string]string
	// Delay holds the answer back; it ends early when the client hangs up.
	Delay time.Duration
}

// Script decides the reply to request n (from 1).
type Script func(n int, req *Received) Reply

// Sequence answers with replies in order, then with 500 "script exhausted".
func Sequence(replies ...Reply) Script {
	return func(n int, _ *Received) Reply {
		if n > len(replies) {
			return Reply{Status: http.StatusInternalServerError, Body: "llmtest: script exhausted"}
		}
		return replies[n-1]
	}
}

// Repeat answers every request with r.
func Repeat(r Reply) Script { return func(int, *Received) Reply { return r } }

// ToolResult is one tool result a request carried back to the model.
type ToolResult struct {
	CallID  string
	Content string
	// IsError is Anthropic's is_error; OpenAI's protocol has no such field.
	IsError bool
}

// Received is one request as the server saw it.
type Received struct {
	Header http.Header
	Body   []byte
	Model  string
	System string
	// Tools are the names of the tools offered.
	Tools []string
	// UserTexts are the text contents of user messages, in order.
	UserTexts   []string
	ToolResults []ToolResult
	MaxTokens   int
	// Problems are the protocol rules the request broke.
	Problems []string
}

// Server is a scripted fake model server.
type Server struct {
	*httptest.Server
	protocol Protocol
	key      string
	script   Script

	mu       sync.Mutex
	received []*Received
}

// New starts a server speaking p that answers from script and closes when
// the test ends. When key is set, requests must carry it (bearer token for
// OpenAI, x-api-key for Anthropic); others are answered 401 with a body
// that echoes the key they sent, as some real servers do.
func New(t testing.TB, p Protocol, key string, script Script) *Server {
	t.Helper()
	if p != OpenAI && p != Anthropic {
		t.Fatalf("llmtest: unknown protocol %q", p)
	}
	s := &Server{protocol: p, key: key, script: script}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

// Client returns a client of the server's protocol pointed at it. cfg's
// BaseURL and Provider are set by Client; the rest is used as given.
func (s *Server) Client(t testing.TB, cfg llm.ClientConfig) llm.Client {
	t.Helper()
	cfg.BaseURL, cfg.Provider = s.URL, s.protocol
	c, err := llm.New(cfg)
	if err != nil {
		t.Fatalf("llmtest: %v", err)
	}
	return c
}

// Requests returns every request received so far.
func (s *Server) Requests() []*Received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.received)
}

// Violations returns every protocol problem seen so far, prefixed with the
// request number.
func (s *Server) Violations() []string {
	var out []string
	for i, r := range s.Requests() {
		for _, p := range r.Problems {
			out = append(out, fmt.Sprintf("request %d: %s", i+1, p))
		}
	}
	return out
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 64<<20))
	rec := &Received{Header: r.Header.Clone(), Body: body}
	wantPath := "/v1/chat/completions"
	if s.protocol == Anthropic {
		wantPath = "/v1/messages"
	}
	if r.Method != http.MethodPost || r.URL.Path != wantPath {
		rec.Problems = append(rec.Problems, fmt.Sprintf("%s %s, want POST %s", r.Method, r.URL.Path, wantPath))
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		rec.Problems = append(rec.Problems, fmt.Sprintf("Content-Type %q, want application/json", ct))
	}
	if s.protocol == OpenAI {
		checkOpenAI(rec)
	} else {
		checkAnthropic(rec)
	}
	s.mu.Lock()
	s.received = append(s.received, rec)
	n := len(s.received)
	s.mu.Unlock()

	if got, ok := s.authorized(r); !ok {
		writeError(w, s.protocol, http.StatusUnauthorized, fmt.Sprintf("invalid api key %q", got))
		return
	}
	if len(rec.Problems) > 0 {
		writeError(w, s.protocol, http.StatusBadRequest, fmt.Sprint(rec.Problems))
		return
	}
	reply := s.script(n, rec)
	if reply.Delay > 0 {
		t := time.NewTimer(reply.Delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-r.Context().Done():
			return
		}
	}
	for k, v := range reply.Header {
		w.Header().Set(k, v)
	}
	w.Header().Set("Content-Type", "application/json")
	if reply.Status != 0 && reply.Status != http.StatusOK {
		msg := reply.Body
		if msg == "" {
			msg = http.StatusText(reply.Status)
		}
		writeError(w, s.protocol, reply.Status, msg)
		return
	}
	if reply.Body != "" {
		_, _ = io.WriteString(w, reply.Body)
		return
	}
	var out any
	if s.protocol == OpenAI {
		out = encodeOpenAI(n, rec.Model, reply)
	} else {
		out = encodeAnthropic(n, rec.Model, reply)
	}
	_ = json.NewEncoder(w).Encode(out)
}

// authorized checks the request's key and returns the one it sent.
func (s *Server) authorized(r *http.Request) (string, bool) {
	if s.key == "" {
		return "", true
	}
	got := r.Header.Get("x-api-key")
	if s.protocol == OpenAI {
		got = r.Header.Get("Authorization")
		if len(got) > len("Bearer ") {
			got = got[len("Bearer "):]
		}
	}
	return got, got == s.key
}

// writeError answers in the protocol's error format.
func writeError(w http.ResponseWriter, p Protocol, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if p == OpenAI {
		_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{"message": msg, "type": "llmtest_error"}})
		return
	}
	_ = json.NewEncoder(w).Encode(map[string]any{"type": "error", "error": map[string]any{"type": "llmtest_error", "message": msg}})
}
