package airflowsim

import (
	"crypto/hmac"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strings"
	"time"
)

// JWT settings of the simple auth manager's defaults.
const (
	jwtAudience = "apache-airflow"
	jwtIssuer   = "airflowsim"
	jwtLeeway   = 10 * time.Second // [api_auth] jwt_leeway
)

var (
	errTokenExpired = errors.New("token expired")
	errTokenInvalid = errors.New("invalid token")
)

// authenticate checks credentials for a protected route and writes the
// version's error when they fail.
func (s *Server) authenticate(w http.ResponseWriter, r *http.Request) bool {
	if s.version == 2 {
		u, p, ok := r.BasicAuth()
		if ok && s.credentialsOK(u, p) {
			return true
		}
		// connexion's check_authentication raises Unauthenticated with the
		// last backend's headers (basic_auth: WWW-Authenticate: Basic).
		w.Header().Set("WWW-Authenticate", "Basic")
		s.problem(w, http.StatusUnauthorized, "Unauthorized", nil, "Unauthenticated")
		return false
	}
	token := ""
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, rest, _ := strings.Cut(h, " ")
		if strings.EqualFold(scheme, "Bearer") {
			token = strings.TrimSpace(rest)
		}
	} else if c, err := r.Cookie("_token"); err == nil {
		token = c.Value
	}
	if token == "" {
		w.Header().Set("WWW-Authenticate", "Bearer")
		s.detail(w, http.StatusUnauthorized, "Not authenticated")
		return false
	}
	switch err := s.verifyJWT(token); {
	case err == nil:
		return true
	case errors.Is(err, errTokenExpired):
		s.detail(w, http.StatusUnauthorized, "Token Expired")
	default:
		s.detail(w, http.StatusForbidden, "Invalid JWT token")
	}
	return false
}

func (s *Server) credentialsOK(u, p string) bool {
	uok := subtle.ConstantTimeCompare([]byte(u), []byte(s.opts.Username)) == 1
	pok := subtle.ConstantTimeCompare([]byte(p), []byte(s.opts.Password)) == 1
	return uok && pok
}

// handleToken is the simple auth manager's POST /auth/token: a strict
// {"username", "password"} body as JSON or a form, 201 {"access_token"}.
func (s *Server) handleToken(w http.ResponseWriter, r *http.Request) {
	media, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	var fields map[string]any
	var errs []valErr
	if media == "application/x-www-form-urlencoded" || media == "multipart/form-data" {
		if err := r.ParseForm(); err != nil {
			errs = append(errs, valErr{Type: "missing", Loc: []any{"body"}, Msg: "Field required"})
		}
		fields = map[string]any{}
		for k, v := range r.PostForm {
			fields[k] = v[0]
		}
	} else {
		b := readBody(r, false)
		errs = append(errs, b.errs...)
		if b.whole != nil {
			fields, _ = b.whole.(map[string]any)
		}
	}
	if len(errs) == 0 {
		for _, k := range []string{"username", "password"} {
			v, ok := fields[k]
			switch {
			case !ok:
				errs = append(errs, valErr{Type: "missing", Loc: []any{"body", k}, Msg: "Field required", Input: fields})
			case !isString(v):
				errs = append(errs, valErr{Type: "string_type", Loc: []any{"body", k}, Msg: "Input should be a valid string", Input: v})
			}
		}
		for k, v := range fields {
			if k != "username" && k != "password" {
				errs = append(errs, valErr{Type: "extra_forbidden", Loc: []any{"body", k}, Msg: "Extra inputs are not permitted", Input: v})
			}
		}
	}
	if len(errs) > 0 {
		writeJSON(w, http.StatusUnprocessableEntity, map[string][]valErr{"detail": errs})
		return
	}
	u, p := fields["username"].(string), fields["password"].(string)
	if u == "" || p == "" {
		s.detail(w, http.StatusBadRequest, "Username and password must be provided")
		return
	}
	if !s.credentialsOK(u, p) {
		s.detail(w, http.StatusUnauthorized, "Invalid credentials")
		return
	}
	writeJSON(w, http.StatusCreated, map[string]string{"access_token": s.IssueToken(u)})
}

func isString(v any) bool { _, ok := v.(string); return ok }

// IssueToken returns a JWT for sub as POST /auth/token would, valid for
// Options.TokenTTL from Clock(); tests use it to skip the login round trip.
func (s *Server) IssueToken(sub string) string {
	now := s.clock().UTC()
	s.mu.Lock()
	jti := s.nextSeq()
	s.mu.Unlock()
	claims := map[string]any{
		"sub": sub,
		"iss": jwtIssuer,
		"aud": jwtAudience,
		"iat": now.Unix(),
		"nbf": now.Unix(),
		"exp": now.Add(s.opts.TokenTTL).Unix(),
		"jti": hex.EncodeToString(hmacSHA512(s.secret, fmt.Appendf(nil, "jti-%d", jti))[:16]),
	}
	return s.signJWT(claims)
}

func (s *Server) signJWT(claims map[string]any) string {
	enc := base64.RawURLEncoding
	header, _ := json.Marshal(map[string]string{"alg": "HS512", "typ": "JWT"})
	payload, _ := json.Marshal(claims)
	signing := enc.EncodeToString(header) + "." + enc.EncodeToString(payload)
	return signing + "." + enc.EncodeToString(hmacSHA512(s.secret, []byte(signing)))
}

// verifyJWT checks the signature first and the times second, as PyJWT does,
// so a forged expired token is invalid rather than expired.
func (s *Server) verifyJWT(token string) error {
	enc := base64.RawURLEncoding
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return errTokenInvalid
	}
	hb, err := enc.DecodeString(parts[0])
	if err != nil {
		return errTokenInvalid
	}
	var header struct {
		Alg string `json:"alg"`
	}
	if json.Unmarshal(hb, &header) != nil || header.Alg != "HS512" {
		return errTokenInvalid
	}
	sig, err := enc.DecodeString(parts[2])
	if err != nil || !hmac.Equal(sig, hmacSHA512(s.secret, []byte(parts[0]+"."+parts[1]))) {
		return errTokenInvalid
	}
	pb, err := enc.DecodeString(parts[1])
	if err != nil {
		return errTokenInvalid
	}
	var c struct {
		Sub string  `json:"sub"`
		Aud any     `json:"aud"`
		Exp float64 `json:"exp"`
		Nbf float64 `json:"nbf"`
	}
	if json.Unmarshal(pb, &c) != nil || c.Sub == "" || !audienceOK(c.Aud) {
		return errTokenInvalid
	}
	now := s.clock()
	if c.Exp == 0 || now.After(time.Unix(int64(c.Exp), 0).Add(jwtLeeway)) {
		return errTokenExpired
	}
	if c.Nbf != 0 && now.Add(jwtLeeway).Before(time.Unix(int64(c.Nbf), 0)) {
		return errTokenInvalid
	}
	return nil
}

func audienceOK(aud any) bool {
	switch a := aud.(type) {
	case string:
		return a == jwtAudience
	case []any:
		for _, x := range a {
			if x == jwtAudience {
				return true
			}
		}
	}
	return false
}

func hmacSHA512(key, msg []byte) []byte {
	m := hmac.New(sha512.New, key)
	m.Write(msg)
	return m.Sum(nil)
}
