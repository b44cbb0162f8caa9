package mcpserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/medic-sh/medic/internal/config"
	"github.com/medic-sh/medic/internal/loopback"
)

// Authenticator finds the identity of a bearer token; httpapi's and the
// configuration's token lookups both fit.
type Authenticator interface {
	Authenticate(token string) (Identity, bool)
}

// ConfigTokens authenticates against the configuration's auth.tokens, with
// the same roles as the API and each token's mcp_writes.
type ConfigTokens struct{ Config *config.Config }

var _ Authenticator = ConfigTokens{}

// Authenticate implements Authenticator with config.Config.Token's
// constant-time lookup.
func (c ConfigTokens) Authenticate(token string) (Identity, bool) {
	t, ok := c.Config.Token(token)
	if !ok {
		return Identity{}, false
	}
	return Identity{Name: t.Name, Role: t.Role, Writes: t.MCPWrites}, true
}

// HTTPOptions configure the streamable HTTP handler.
type HTTPOptions struct {
	// Auth authenticates bearer tokens. Nil is loopback mode, as the API's
	// without tokens: only requests from and addressed to this machine are
	// served, as a read-only "local" admin.
	Auth Authenticator
	// SessionTimeout closes sessions idle this long; 30 minutes when zero.
	SessionTimeout time.Duration
	// MaxBodyBytes bounds request bodies; 1 MiB when zero.
	MaxBodyBytes int64
}

// localIdentity is the caller in loopback mode.
var localIdentity = Identity{Name: "local", Role: config.RoleAdmin}

// HTTPHandler serves MCP over streamable HTTP, to be mounted at /mcp. Each
// request is authenticated with a bearer token (or, in loopback mode,
// checked to be local); a session belongs to the token that opened it, and
// its tools are those the token may see. DNS rebinding is refused: the
// SDK's localhost protection (a Host that is not local on a local
// connection), a cross-origin check on every POST (Origin and
// Sec-Fetch-Site against Host), and in loopback mode the Host must be
// local.
func (s *Server) HTTPHandler(opts HTTPOptions) http.Handler {
	if opts.SessionTimeout <= 0 {
		opts.SessionTimeout = 30 * time.Minute
	}
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = 1 << 20
	}
	mcpHandler := mcp.NewStreamableHTTPHandler(func(r *http.Request) *mcp.Server {
		id, ok := identityOf(auth.TokenInfoFromContext(r.Context()))
		switch {
		case ok:
		case opts.Auth == nil:
			id = localIdentity // loopbackOnly let it through
		default:
			return nil
		}
		return s.servedAs(id)
	}, &mcp.StreamableHTTPOptions{Logger: s.log, SessionTimeout: opts.SessionTimeout, MaxRequestBodyBytes: opts.MaxBodyBytes})
	var h http.Handler = mcpHandler
	if opts.Auth == nil {
		h = s.loopbackOnly(h)
	} else {
		h = auth.RequireBearerToken(s.verifier(opts.Auth), &auth.RequireBearerTokenOptions{AllowMissingExpiration: true})(h)
		h = s.auditUnauthorized(h)
	}
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "cross-origin request refused: medic's MCP endpoint only answers MCP clients, not web pages", http.StatusForbidden)
	}))
	return cop.Handler(h)
}

// servedAs is the SDK server of id's HTTP sessions, made on first use.
func (s *Server) servedAs(id Identity) *mcp.Server {
	s.mu.Lock()
	defer s.mu.Unlock()
	if srv, ok := s.served[id]; ok {
		return srv
	}
	if s.served == nil {
		s.served = map[Identity]*mcp.Server{}
	}
	srv := s.MCP(id)
	s.served[id] = srv
	return srv
}

// Close ends every HTTP session, so that a stopping daemon does not wait
// on clients' open streams (or leave their sessions behind).
func (s *Server) Close() {
	s.mu.Lock()
	servers := make([]*mcp.Server, 0, len(s.served))
	for _, srv := range s.served {
		servers = append(servers, srv)
	}
	s.mu.Unlock()
	for _, srv := range servers {
		for ss := range srv.Sessions() {
			_ = ss.Close()
		}
	}
}

// Keys of the token information medic's verifier fills in.
const (
	extraRole   = "medic_role"
	extraWrites = "medic_mcp_writes"
)

// verifier turns a bearer token into the SDK's token information: the
// token's name is the session's user, so that no other token can take
// over its session.
func (s *Server) verifier(a Authenticator) auth.TokenVerifier {
	return func(_ context.Context, token string, _ *http.Request) (*auth.TokenInfo, error) {
		id, ok := a.Authenticate(token)
		if !ok {
			return nil, fmt.Errorf("unknown bearer token: check the token against auth.tokens in medic's configuration: %w", auth.ErrInvalidToken)
		}
		return tokenInfo(id), nil
	}
}

func tokenInfo(id Identity) *auth.TokenInfo {
	return &auth.TokenInfo{
		UserID: id.Name, Scopes: []string{string(id.Role)},
		Extra: map[string]any{extraRole: string(id.Role), extraWrites: id.Writes},
	}
}

// identityOf reads the identity medic's verifier put in the token
// information.
func identityOf(ti *auth.TokenInfo) (Identity, bool) {
	if ti == nil || ti.UserID == "" {
		return Identity{}, false
	}
	role, _ := ti.Extra[extraRole].(string)
	writes, _ := ti.Extra[extraWrites].(bool)
	id := Identity{Name: ti.UserID, Role: config.Role(role), Writes: writes}
	return id, validRole(id.Role)
}

// auditUnauthorized records requests refused for a missing or unknown
// token; the token itself is never recorded.
func (s *Server) auditUnauthorized(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		if rec.status != http.StatusUnauthorized {
			return
		}
		why := "no bearer token"
		if strings.TrimSpace(r.Header.Get("Authorization")) != "" {
			why = "unknown bearer token"
		}
		c := &call{id: Identity{Name: "anonymous"}}
		args, _ := json.Marshal(map[string]string{"remote_addr": r.RemoteAddr, "method": r.Method})
		if err := s.audit(r.Context(), "(http)", c, "refused", why, args); err != nil {
			s.log.ErrorContext(r.Context(), "mcp refusal not audited", "error", err)
		}
	})
}

// statusRecorder remembers a response's status.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach Flush for event streams.
func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// loopbackOnly serves, without tokens, only a request from this machine
// that names this machine as its host; its sessions are the local
// identity's.
func (s *Server) loopbackOnly(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := checkLoopback(r); err != nil {
			http.Error(w, err.Error(), http.StatusForbidden)
			return
		}
		next.ServeHTTP(w, r)
	})
}

var errNotLocal = errors.New("medic has no API tokens configured, so /mcp only answers requests from this machine addressed to localhost: configure auth.tokens to serve other hosts")

func checkLoopback(r *http.Request) error {
	if !loopback.Peer(r) || !loopback.Host(r.Host) {
		return errNotLocal
	}
	return nil
}
