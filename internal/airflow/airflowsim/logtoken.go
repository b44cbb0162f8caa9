package airflowsim

import (
	"bytes"
	"compress/zlib"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"strings"
)

// logMeta is what a log continuation token carries.
type logMeta struct {
	EndOfLog     bool `json:"end_of_log"`
	LogPos       int  `json:"log_pos"`
	DownloadLogs bool `json:"download_logs,omitempty"`
}

var errBadSignature = errors.New("bad signature")

// badSignature is the text both versions answer a forged token with.
const badSignature = "Bad Signature. Please use only the tokens provided by the API."

// The token format is itsdangerous' URLSafeSerializer with its defaults:
// base64url(compact JSON) "." base64url(HMAC-SHA1(key, payload)), with the key
// derived as SHA1("itsdangerous" + "signer" + secret). A payload starting with
// "." is zlib-compressed. Only the secret differs from a real deployment.

func (s *Server) signerKey() []byte {
	h := sha1.New()
	h.Write([]byte("itsdangerous"))
	h.Write([]byte("signer"))
	h.Write(s.secret)
	return h.Sum(nil)
}

func (s *Server) signLogToken(m logMeta) string {
	data, _ := json.Marshal(m)
	payload := base64.RawURLEncoding.EncodeToString(data)
	mac := hmac.New(sha1.New, s.signerKey())
	mac.Write([]byte(payload))
	return payload + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

func (s *Server) parseLogToken(tok string) (logMeta, error) {
	i := strings.LastIndexByte(tok, '.')
	if i <= 0 {
		return logMeta{}, errBadSignature
	}
	payload, sig := tok[:i], tok[i+1:]
	got, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil {
		return logMeta{}, errBadSignature
	}
	mac := hmac.New(sha1.New, s.signerKey())
	mac.Write([]byte(payload))
	if !hmac.Equal(got, mac.Sum(nil)) {
		return logMeta{}, errBadSignature
	}
	compressed := strings.HasPrefix(payload, ".")
	data, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(payload, "."))
	if err != nil {
		return logMeta{}, errBadSignature
	}
	if compressed {
		zr, err := zlib.NewReader(bytes.NewReader(data))
		if err != nil {
			return logMeta{}, errBadSignature
		}
		data, err = io.ReadAll(io.LimitReader(zr, 1<<16))
		if err != nil {
			return logMeta{}, errBadSignature
		}
	}
	var m logMeta
	if err := json.Unmarshal(data, &m); err != nil || m.LogPos < 0 {
		return logMeta{}, errBadSignature
	}
	return m, nil
}
