package ingest

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// SignatureHeader carries the webhook body's HMAC-SHA256, as
// "sha256=<lowercase hex>", keyed with the shared webhook secret.
const SignatureHeader = "X-Medic-Signature"

const signaturePrefix = "sha256="

// Signature verification errors. Every error VerifySignature returns wraps
// exactly one of them.
var (
	// ErrSignatureMissing means the request carried no signature at all.
	ErrSignatureMissing = errors.New("signature missing")
	// ErrSignatureInvalid means a signature was present but malformed or did
	// not match the body.
	ErrSignatureInvalid = errors.New("signature invalid")
)

// Sign returns the SignatureHeader value for body under secret. Airflow-side
// code computes the same thing; tests and the simulator use this.
func Sign(secret, body []byte) string {
	return signaturePrefix + hex.EncodeToString(mac(secret, body))
}

// VerifySignature checks header against the HMAC-SHA256 of body under secret
// in constant time. An empty secret verifies nothing: it fails closed.
func VerifySignature(secret []byte, body []byte, header string) error {
	header = strings.TrimSpace(header)
	if header == "" {
		return fmt.Errorf("no %s header: sign the raw body with the shared webhook secret: %w", SignatureHeader, ErrSignatureMissing)
	}
	if len(secret) == 0 {
		return fmt.Errorf("no webhook secret is configured to check %s against: %w", SignatureHeader, ErrSignatureInvalid)
	}
	hexSum, ok := strings.CutPrefix(header, signaturePrefix)
	if !ok {
		return fmt.Errorf("%s must look like %s<64 hex digits>: %w", SignatureHeader, signaturePrefix, ErrSignatureInvalid)
	}
	if len(hexSum) != hex.EncodedLen(sha256.Size) {
		return fmt.Errorf("%s must hold %d hex digits after %s, got %d characters: %w",
			SignatureHeader, hex.EncodedLen(sha256.Size), signaturePrefix, len(hexSum), ErrSignatureInvalid)
	}
	got, err := hex.DecodeString(hexSum)
	if err != nil {
		return fmt.Errorf("%s is not hexadecimal after %s: %w", SignatureHeader, signaturePrefix, ErrSignatureInvalid)
	}
	if !hmac.Equal(got, mac(secret, body)) {
		return fmt.Errorf("%s does not match the body: check the shared secret and that the exact bytes sent were signed: %w",
			SignatureHeader, ErrSignatureInvalid)
	}
	return nil
}

func mac(secret, body []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return m.Sum(nil)
}
