package httpapi

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"net/http"
	"strings"

	"github.com/medic-sh/medic/internal/config"
	"github.com/medic-sh/medic/internal/loopback"
)

// Identity is who made an API request, kept in the request context for the
// audit trail.
type Identity struct {
	// Name is the token's configured name, "webhook" for a signed callback,
	// or "local" in loopback mode. It is never the token itself.
	Name string
	Role config.Role
}

// Identities that do not come from a token.
var (
	localIdentity   = Identity{Name: "local", Role: config.RoleAdmin}
	webhookIdentity = Identity{Name: "webhook", Role: config.RoleOperator}
)

// IdentityFromContext returns the authenticated caller of the API request
// ctx belongs to.
func IdentityFromContext(ctx context.Context) (Identity, bool) {
	st := stateFrom(ctx)
	if st == nil || st.identity.Name == "" {
		return Identity{}, false
	}
	return st.identity, true
}

// roleRank orders roles; a role may do everything a lower one may.
var roleRank = map[config.Role]int{config.RoleViewer: 1, config.RoleOperator: 2, config.RoleAdmin: 3}

// authenticator holds the configured tokens as SHA-256 sums, so a lookup
// compares fixed-length values in constant time and the plain tokens are not
// kept around in the handler.
type authenticator struct {
	tokens []tokenEntry
}

type tokenEntry struct {
	name string
	role config.Role
	sum  [sha256.Size]byte
}

func newAuthenticator(tokens []config.Token) (*authenticator, error) {
	a := &authenticator{}
	names := map[string]bool{}
	for i, t := range tokens {
		switch {
		case t.Name == "":
			return nil, fmt.Errorf("httpapi: API token #%d has no name: name every token so the audit trail can say who acted", i+1)
		case names[t.Name]:
			return nil, fmt.Errorf("httpapi: two API tokens are named %q: names must be unique", t.Name)
		case roleRank[t.Role] == 0:
			return nil, fmt.Errorf("httpapi: API token %q has unknown role %q: want viewer, operator or admin", t.Name, t.Role)
		case !t.Token.IsSet():
			return nil, fmt.Errorf("httpapi: API token %q has an empty value", t.Name)
		}
		names[t.Name] = true
		e := tokenEntry{name: t.Name, role: t.Role, sum: sha256.Sum256([]byte(t.Token.Reveal()))}
		for _, other := range a.tokens {
			if other.sum == e.sum {
				return nil, fmt.Errorf("httpapi: API tokens %q and %q have the same value: give each its own", other.name, t.Name)
			}
		}
		a.tokens = append(a.tokens, e)
	}
	return a, nil
}

// loopback reports whether no tokens are configured.
func (a *authenticator) loopback() bool { return len(a.tokens) == 0 }

// lookup finds the token presented. It looks at every token whatever
// matches, so the time taken says nothing about which one did.
func (a *authenticator) lookup(presented string) (tokenEntry, bool) {
	sum := sha256.Sum256([]byte(presented))
	var (
		found tokenEntry
		ok    bool
	)
	for _, t := range a.tokens {
		if subtle.ConstantTimeCompare(sum[:], t.sum[:]) == 1 {
			found, ok = t, true
		}
	}
	return found, ok
}

// api guards an endpoint with a minimum role and records the caller.
func (s *server) api(need config.Role, h handlerFunc) http.Handler {
	return s.handle(func(w http.ResponseWriter, r *http.Request) error {
		id, err := s.authorize(r, need)
		if err != nil {
			return err
		}
		stateFrom(r.Context()).identity = id
		return h(w, r)
	})
}

// authorize checks the bearer token for the role need, or in loopback mode
// that the request really is local.
func (s *server) authorize(r *http.Request, need config.Role) (Identity, error) {
	if s.auth.loopback() {
		if err := checkLoopback(r); err != nil {
			return Identity{}, err
		}
		return localIdentity, nil
	}
	presented, ok := bearerToken(r.Header.Get("Authorization"))
	if !ok {
		return Identity{}, &apiError{
			status: http.StatusUnauthorized, code: codeUnauthorized,
			message: "missing bearer token: send Authorization: Bearer <token>",
			headers: map[string]string{"WWW-Authenticate": `Bearer realm="medic"`},
		}
	}
	t, ok := s.auth.lookup(presented)
	if !ok {
		return Identity{}, &apiError{
			status: http.StatusUnauthorized, code: codeUnauthorized,
			message: "unknown bearer token: check the token against auth.tokens in medic's configuration",
			headers: map[string]string{"WWW-Authenticate": `Bearer realm="medic", error="invalid_token"`},
		}
	}
	if roleRank[t.role] < roleRank[need] {
		return Identity{}, &apiError{
			status: http.StatusForbidden, code: codeForbidden,
			message: fmt.Sprintf("token %q has role %s; this endpoint needs %s or above", t.name, t.role, need),
			headers: map[string]string{"WWW-Authenticate": `Bearer realm="medic", error="insufficient_scope"`},
		}
	}
	return Identity{Name: t.name, Role: t.role}, nil
}

func bearerToken(header string) (string, bool) {
	scheme, tok, ok := strings.Cut(strings.TrimSpace(header), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	tok = strings.TrimSpace(tok)
	return tok, tok != ""
}

// checkLoopback refuses, in loopback mode, a request from another address
// (the listener should make that impossible; this holds if it does not) or
// one naming a host other than this machine, which is how a web page uses DNS
// rebinding to reach a local service.
func checkLoopback(r *http.Request) error {
	if !loopback.Peer(r) {
		return &apiError{
			status: http.StatusForbidden, code: codeForbidden,
			message: "medic has no API tokens configured, so it only answers requests from this machine: " +
				"configure auth.tokens to serve other hosts",
		}
	}
	if !loopback.Host(r.Host) {
		return &apiError{
			status: http.StatusForbidden, code: codeForbidden,
			message: "medic has no API tokens configured, so it only answers requests addressed to localhost or a loopback address",
		}
	}
	return nil
}
