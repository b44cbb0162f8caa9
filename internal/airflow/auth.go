package airflow

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// authMode says which credentials a request carries.
type authMode int

const (
	// authAPI: the instance's normal credentials for its version: the static
	// token, else basic auth on Airflow 2, else a JWT on Airflow 3.
	authAPI authMode = iota
	// authDetect: version probe of /api/v2/version, which needs no auth; only
	// a static token is sent (a proxy may demand it).
	authDetect
	// authBasicOrStatic: the static token or basic auth (the /api/v1 probe).
	authBasicOrStatic
	// authNone: nothing (the login itself).
	authNone
)

// tokenRefreshMargin is how long before its exp a JWT is replaced. Airflow's
// default lifetime is 24h and its leeway 10s.
const tokenRefreshMargin = time.Minute

// tokenSource caches the Airflow 3 JWT obtained from POST /auth/token.
type tokenSource struct {
	c *Client

	mu    sync.Mutex
	token string
	exp   time.Time // zero when the token carries no exp

	current atomic.Pointer[string] // token, for redaction without mu
}

// get returns a usable token, logging in when there is none, when it is about
// to expire, or when stale (the token a request was just refused with) is the
// cached one. fresh reports that this call performed the login, so a refusal
// of the token is a configuration problem rather than an expiry.
func (ts *tokenSource) get(ctx context.Context, stale string) (tok string, fresh bool, err error) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if ts.token != "" && ts.token != stale &&
		(ts.exp.IsZero() || ts.c.now().Add(tokenRefreshMargin).Before(ts.exp)) {
		return ts.token, false, nil
	}
	tok, err = ts.c.login(ctx)
	if err != nil {
		return "", false, err
	}
	ts.token, ts.exp = tok, jwtExpiry(tok)
	ts.current.Store(&tok)
	if !ts.exp.IsZero() && !ts.c.now().Add(tokenRefreshMargin).Before(ts.exp) {
		// Already "expired" by our clock: the clocks disagree. Rely on the
		// server's 401 instead of logging in before every request.
		ts.c.log.WarnContext(ctx, "airflow token expires before it can be used by this host's clock; check clock sync",
			"token_expires_at", ts.exp.UTC().Format(time.RFC3339))
		ts.exp = time.Time{}
	}
	return tok, true, nil
}

type loginBody struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

type loginResponse struct {
	AccessToken string `json:"access_token"`
}

// login exchanges username/password for a JWT at POST {base}/auth/token
// (not under /api/v2: the auth manager mounts its own app). Simple and FAB
// auth managers both answer 201 {"access_token": …}.
func (c *Client) login(ctx context.Context) (string, error) {
	const op = "log in (POST /auth/token)"
	var out loginResponse
	err := c.doJSON(ctx, &request{
		op: op, method: http.MethodPost, rawPath: "/auth/token", auth: authNone,
		body: loginBody{Username: c.username, Password: c.password},
		// A login creates nothing server-side, so it is safe to retry.
		idempotent: true,
	}, &out)
	var ae *APIError
	if errors.As(err, &ae) {
		switch ae.Status {
		case http.StatusUnauthorized, http.StatusBadRequest, http.StatusUnprocessableEntity:
			ae.hint, ae.config = "check the instance's username/password", true
		case http.StatusNotFound, http.StatusMethodNotAllowed:
			ae.hint, ae.config = "this instance has no /auth/token login (another auth manager?); configure a static token instead", true
		}
	}
	if err != nil {
		return "", err
	}
	if out.AccessToken == "" {
		return "", &APIError{
			Op: op, Instance: c.name, Status: http.StatusOK, Title: "no access_token in the login response",
			config: true, hint: "is the base url an Airflow 3 api-server?",
		}
	}
	c.log.InfoContext(ctx, "airflow login succeeded")
	return out.AccessToken, nil
}

// jwtExpiry reads the exp claim of a JWT without verifying it (medic only
// needs to know when to log in again). It returns zero when absent.
func jwtExpiry(tok string) time.Time {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return time.Time{}
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return time.Time{}
	}
	var claims struct {
		Exp json.Number `json:"exp"`
	}
	if json.Unmarshal(payload, &claims) != nil {
		return time.Time{}
	}
	f, err := claims.Exp.Float64()
	if err != nil || f <= 0 {
		return time.Time{}
	}
	sec := int64(f)
	return time.Unix(sec, int64((f-float64(sec))*1e9))
}

// credential is what one attempt sends.
type credential struct {
	header string // Authorization value, "" for none
	jwt    string // the JWT used, to invalidate it on refusal
	fresh  bool   // the JWT was obtained by this call
}

// loginMode reports whether requests to major use JWTs from /auth/token.
func (c *Client) loginMode(major int) bool {
	return major >= 3 && c.static == "" && c.username != ""
}

// credentialFor picks the Authorization header for one attempt. stale is a
// JWT the server refused, forcing a new login.
func (c *Client) credentialFor(ctx context.Context, mode authMode, major int, stale string) (credential, error) {
	switch {
	case mode == authNone:
		return credential{}, nil
	case c.static != "":
		return credential{header: "Bearer " + c.static}, nil
	case mode == authDetect || c.username == "":
		return credential{}, nil
	case mode == authAPI && major >= 3:
		tok, fresh, err := c.tokens.get(ctx, stale)
		if err != nil {
			return credential{}, err
		}
		return credential{header: "Bearer " + tok, jwt: tok, fresh: fresh}, nil
	}
	raw := base64.StdEncoding.EncodeToString([]byte(c.username + ":" + c.password))
	return credential{header: "Basic " + raw}, nil
}

// secrets lists the strings that must never leave the client.
func (c *Client) secrets() []string {
	out := make([]string, 0, 3)
	for _, s := range []string{c.password, c.static} {
		if len(s) >= 4 { // shorter strings would redact ordinary words
			out = append(out, s)
		}
	}
	// Read without tokens.mu: errors are built while a login holds it.
	if tok := c.tokens.current.Load(); tok != nil {
		out = append(out, *tok)
	}
	return out
}

// redact removes the configured secrets from server-provided text.
func (c *Client) redact(s string) string {
	for _, sec := range c.secrets() {
		s = strings.ReplaceAll(s, sec, "[REDACTED]")
	}
	return s
}
